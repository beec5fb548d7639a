/**
 * Content types the origin serves, by file name. Manifests get the registered HLS/DASH types
 * (RFC 8216 §4, ISO/IEC 23009-1 Annex C), CMAF media segments `video/iso.segment`
 * (RFC 8216bis / IANA), init segments `video/mp4` (or `audio/mp4` in an audio rendition folder),
 * thumbnail sheets `image/jpeg`.
 */
const BY_EXTENSION: Record<string, string> = {
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
  m4a: 'audio/mp4',
  json: 'application/json',
  vtt: 'text/vtt',
  jpg: 'image/jpeg',
  txt: 'text/plain; charset=utf-8',
};

export function contentTypeFor(fileName: string, renditionFolder?: string): string {
  const dot = fileName.lastIndexOf('.');
  const ext = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  if (ext === 'mp4' && renditionFolder === 'audio') return 'audio/mp4';
  return BY_EXTENSION[ext] ?? 'application/octet-stream';
}

export function isManifest(fileName: string): boolean {
  return fileName.endsWith('.m3u8') || fileName.endsWith('.mpd');
}

/** Media (init or segment or part, a thumbnail sheet): immutable once published. */
export function isMedia(fileName: string): boolean {
  return (
    fileName.endsWith('.m4s') || fileName.endsWith('.mp4') || fileName.endsWith('.m4a') || fileName.endsWith('.jpg')
  );
}
