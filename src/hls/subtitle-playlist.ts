import { seconds, type Presentation } from '../media/presentation.js';
import { extinf, targetDuration } from './target-duration.js';
import { withQuery, type UriOptions } from './uri-options.js';

/**
 * The media playlist of a VOD subtitle track (RFC 8216bis 3.1.4 WebVTT segments): one WebVTT
 * segment per video segment, same numbers and durations, so subtitle and video segments line up.
 */
export function writeSubtitlePlaylist(p: Presentation, trackId: string, opts: UriOptions = {}): string {
  const video = p.timelines.find((t) => t.rendition.kind === 'video');
  if (!video) throw new Error(`subtitle track ${trackId}: the presentation has no video timeline`);
  const ts = video.rendition.timescale;
  const durations = video.segments.map((s) => seconds(s.duration, ts));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    `#EXT-X-TARGETDURATION:${targetDuration(durations)}`,
    `#EXT-X-MEDIA-SEQUENCE:${video.segments[0]?.number ?? 1}`,
    '#EXT-X-PLAYLIST-TYPE:VOD',
  ];
  video.segments.forEach((s, i) =>
    lines.push(`#EXTINF:${extinf(durations[i])},`, withQuery(`seg-${s.number}.vtt`, opts)),
  );
  lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}
