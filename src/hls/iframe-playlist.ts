import { StreamedgeError } from '../errors.js';
import { seconds, type Presentation, type RenditionTimeline } from '../media/presentation.js';
import { attributeList, quoted } from './attribute-list.js';
import { keyAttributes } from './key-tags.js';
import { extinf, targetDuration } from './target-duration.js';
import { findTimeline } from './timeline-lookup.js';
import { withQuery, type UriOptions } from './uri-options.js';

/** True when the rendition is video and at least one complete segment lists key frames. */
export function hasIFrames(t: RenditionTimeline): boolean {
  return t.rendition.kind === 'video' && t.segments.some((s) => s.complete && (s.iframes?.length ?? 0) > 0);
}

/**
 * The I-frame playlist of a video rendition (`<rendition>/iframes.m3u8`, RFC 8216bis 4.4.3.6):
 * one entry per key frame, addressed with EXT-X-BYTERANGE into the segment file that holds it.
 * Version 5: EXT-X-MAP in a playlist with EXT-X-I-FRAMES-ONLY (BYTERANGE and I-FRAMES-ONLY need 4).
 * Live presentations get a window without EXT-X-ENDLIST (complete segments only).
 */
export function writeIFramePlaylist(p: Presentation, renditionId: string, opts: UriOptions = {}): string {
  const t = findTimeline(p, renditionId);
  if (!hasIFrames(t)) {
    throw new StreamedgeError(
      'NO_IFRAMES',
      `Rendition "${renditionId}" of "${p.id}" has no key frame index, so it has no I-frame playlist`,
    );
  }
  const ts = t.rendition.timescale;
  const segments = t.segments.filter((s) => s.complete);
  const durations = segments.flatMap((s) => (s.iframes ?? []).map((f) => seconds(f.duration, ts)));
  const lines = ['#EXTM3U', '#EXT-X-VERSION:5', `#EXT-X-TARGETDURATION:${targetDuration(durations)}`];
  if (p.type === 'vod') lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  lines.push('#EXT-X-I-FRAMES-ONLY', '#EXT-X-INDEPENDENT-SEGMENTS');
  if (p.protection) lines.push(`#EXT-X-KEY:${keyAttributes(p.protection, '../', opts)}`);
  lines.push(`#EXT-X-MAP:${attributeList([['URI', quoted(withQuery('init.mp4', opts))]])}`);
  for (const s of segments) {
    let first = true;
    for (const f of s.iframes ?? []) {
      if (first && s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      first = false;
      lines.push(
        `#EXTINF:${extinf(seconds(f.duration, ts))},`,
        `#EXT-X-BYTERANGE:${f.length}@${f.offset}`,
        withQuery(`seg-${s.number}.m4s`, opts),
      );
    }
  }
  if (p.type === 'vod') lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/**
 * Bit rates of the I-frame stream for EXT-X-I-FRAME-STREAM-INF: peak = the largest
 * bytes*8/duration of any one I-frame entry (each entry is a "segment" of that playlist),
 * average = all I-frame bytes over the total I-frame duration.
 */
export function iframeBandwidth(t: RenditionTimeline): { peak: number; average: number } {
  const ts = t.rendition.timescale;
  let peak = 0;
  let bytes = 0;
  let units = 0;
  for (const s of t.segments) {
    if (!s.complete) continue;
    for (const f of s.iframes ?? []) {
      if (f.duration <= 0) continue;
      peak = Math.max(peak, (f.length * 8) / seconds(f.duration, ts));
      bytes += f.length;
      units += f.duration;
    }
  }
  return { peak: Math.ceil(peak), average: units > 0 ? Math.ceil((bytes * 8) / seconds(units, ts)) : 0 };
}
