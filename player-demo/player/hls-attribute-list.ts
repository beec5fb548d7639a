/**
 * Reading an HLS attribute list (RFC 8216bis §4.2), `NAME=value,NAME="quoted, string",…`, as
 * name → value with the quotes of a quoted-string removed: what the player reads from tags
 * m3u8-parser does not keep (EXT-X-KEY details, CHANNELS, EXT-X-IMAGE-STREAM-INF, EXT-X-TILES).
 */
export function readAttributeList(list: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g))
    out.set(m[1], m[2].startsWith('"') ? m[2].slice(1, -1) : m[2]);
  return out;
}
