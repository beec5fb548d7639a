import {
  paths,
  thumbnailSheetName,
  thumbnailSheetSec,
  type Presentation,
  type ThumbnailTrack,
} from '../media/presentation.js';
import { attributeList, quoted } from './attribute-list.js';
import { extinf, targetDuration } from './target-duration.js';
import { withQuery, type UriOptions } from './uri-options.js';

/**
 * The image media playlist of a thumbnail track (the Image Media Playlist specification v0.4,
 * the HLS extension Roku, Shaka Player and the AWS Elemental encoders read; RFC 8216bis has no
 * image streams): one JPEG sheet per entry, `EXT-X-IMAGES-ONLY`, and before each sheet's EXTINF
 * an `EXT-X-TILES` with one picture's RESOLUTION, the LAYOUT (columns×rows) and the DURATION of
 * one picture. EXTINF is the time the sheet covers; the last one ends with the media.
 */
export function writeImagePlaylist(p: Presentation, opts: UriOptions = {}): string {
  const t = p.thumbnails;
  if (!t) throw new Error(`${p.id}: the presentation has no thumbnail track`);
  const durations = sheetDurations(t, p.duration ?? 0);
  const tiles = `#EXT-X-TILES:${attributeList([
    ['RESOLUTION', `${t.width}x${t.height}`],
    ['LAYOUT', `${t.columns}x${t.rows}`],
    ['DURATION', t.intervalSec.toFixed(3)],
  ])}`;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${targetDuration(durations)}`,
    '#EXT-X-MEDIA-SEQUENCE:1',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-IMAGES-ONLY',
  ];
  durations.forEach((d, i) => lines.push(tiles, `#EXTINF:${extinf(d)},`, withQuery(thumbnailSheetName(i + 1), opts)));
  lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/**
 * The multivariant playlist's `EXT-X-IMAGE-STREAM-INF` for the track: RESOLUTION is one
 * picture's size (the spec's, and what Shaka multiplies by the layout), CODECS "jpeg".
 */
export function imageStreamInf(t: ThumbnailTrack, pathPrefix: string, opts: UriOptions): string {
  return (
    '#EXT-X-IMAGE-STREAM-INF:' +
    attributeList([
      ['BANDWIDTH', t.bandwidth],
      ['RESOLUTION', `${t.width}x${t.height}`],
      ['CODECS', quoted('jpeg')],
      ['URI', quoted(withQuery(`${pathPrefix}${paths.mediaPlaylist(t.id)}`, opts))],
    ])
  );
}

/** Seconds each sheet covers, in order: whole sheets, then whatever of the media is left. */
export function sheetDurations(t: ThumbnailTrack, durationSec: number): number[] {
  const whole = thumbnailSheetSec(t);
  return Array.from({ length: t.sheets }, (_, i) => Math.max(0, Math.min(whole, durationSec - i * whole)));
}
