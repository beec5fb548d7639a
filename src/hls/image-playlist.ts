import {
  livePictureSegments,
  paths,
  seconds,
  thumbnailSheetName,
  thumbnailSheetSec,
  type Presentation,
  type ThumbnailTrack,
} from '../media/presentation.js';
import { attributeList, decimal, quoted } from './attribute-list.js';
import { programDateTime } from './media-playlist.js';
import { partHoldBack, partTarget } from './server-control.js';
import { extinf, targetDuration } from './target-duration.js';
import { withQuery, type UriOptions } from './uri-options.js';

/**
 * The image media playlist of a thumbnail track (the Image Media Playlist specification v0.4,
 * the HLS extension Roku, Shaka Player and the AWS Elemental encoders read; RFC 8216bis has no
 * image streams): one JPEG sheet per entry, `EXT-X-IMAGES-ONLY`, and before each sheet's EXTINF
 * an `EXT-X-TILES` with one picture's RESOLUTION, the LAYOUT (columns×rows) and the DURATION of
 * one picture. EXTINF is the time the sheet covers; the last one ends with the media. Live
 * channels: see `writeLiveImagePlaylist`.
 */
export function writeImagePlaylist(p: Presentation, opts: UriOptions = {}): string {
  const t = p.thumbnails;
  if (!t) throw new Error(`${p.id}: the presentation has no thumbnail track`);
  if (p.type === 'live') return writeLiveImagePlaylist(p, t, opts);
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
 * Live: one picture per segment of the first video rendition, listed with that segment's
 * number (the media sequence), duration and PROGRAM-DATE-TIME, so a client places each picture
 * where its segment is; a sliding window, no ENDLIST. A segment whose picture is missing is an
 * EXT-X-GAP (RFC 8216bis §4.4.4.7: not to be loaded).
 */
function writeLiveImagePlaylist(p: Presentation, t: ThumbnailTrack, opts: UriOptions): string {
  const listed = livePictureSegments(p);
  const segments = listed?.segments ?? [];
  const ts = listed?.timescale ?? 1;
  const durations = segments.map((s) => seconds(s.duration, ts));
  const tiles = `#EXT-X-TILES:${attributeList([
    ['RESOLUTION', `${t.width}x${t.height}`],
    ['LAYOUT', '1x1'],
  ])}`;
  const td = targetDuration(durations);
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${td}`];
  if (p.live?.lowLatency) lines.push(...lowLatencyTiming(p, td));
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${segments[0]?.number ?? 0}`, '#EXT-X-IMAGES-ONLY');
  segments.forEach((s, i) => {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${programDateTime(p, s, ts)}`, tiles);
    if (!t.pictures?.has(s.number)) lines.push('#EXT-X-GAP');
    lines.push(`#EXTINF:${extinf(durations[i])},`, withQuery(thumbnailSheetName(s.number), opts));
  });
  return lines.join('\n') + '\n';
}

/**
 * A low-latency channel's image playlist states the media playlists' PART-HOLD-BACK (and their
 * PART-TARGET, which that attribute requires), though it has no parts of its own: Shaka Player
 * takes a live presentation's delay from the first live playlist it loads, which can be this one,
 * and without them it played three segments behind (6 s on `npm start`'s channel) instead of at
 * PART-HOLD-BACK. No attribute of RFC 8216bis §4.4.3.7-8 forbids a playlist with no parts from
 * carrying them; HOLD-BACK (three target durations) goes with them, as in the media playlists.
 * No blocking reload is offered: the image playlist is polled.
 */
function lowLatencyTiming(p: Presentation, td: number): string[] {
  return [
    '#EXT-X-SERVER-CONTROL:' +
      attributeList([
        ['HOLD-BACK', decimal(3 * td)],
        ['PART-HOLD-BACK', decimal(partHoldBack(p))],
      ]),
    `#EXT-X-PART-INF:PART-TARGET=${decimal(partTarget(p))}`,
  ];
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
