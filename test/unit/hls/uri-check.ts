/** Every URI in an HLS playlist: URI lines and URI="..." attributes. */
export function playlistUris(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!line.startsWith('#')) uris.push(line);
    for (const m of line.matchAll(/URI="([^"]*)"/g)) uris.push(m[1]);
  }
  return uris;
}
