import { StreamedgeError } from '../errors.js';
import {
  paths,
  seconds,
  type AdBreak,
  type Presentation,
  type RenditionTimeline,
  type Segment,
} from '../media/presentation.js';
import { attributeList, decimal, quoted, type AttributeValue } from './attribute-list.js';
import { cueTags } from './cue-tags.js';
import { interstitialTags, liveInterstitialTags } from './interstitials.js';
import { keyAttributes } from './key-tags.js';
import { liveEdge, nextPart } from './live-edge.js';
import { playlistTiming } from './server-control.js';
import { extinf } from './target-duration.js';
import { findTimeline } from './timeline-lookup.js';
import { withQuery, type UriOptions } from './uri-options.js';

export interface MediaPlaylistOptions extends UriOptions {
  /**
   * LL-HLS delta update request (`_HLS_skip=YES|v2`, RFC 8216bis 6.2.5.1). Honoured only for
   * live low-latency playlists (the ones that advertise CAN-SKIP-UNTIL); ignored otherwise, as
   * the spec requires. Segments lying entirely beyond the Skip Boundary (CAN-SKIP-UNTIL seconds
   * before the end of the last complete segment) are replaced by EXT-X-SKIP. `v2` also asks to
   * skip EXT-X-DATERANGE tags: we do not advertise CAN-SKIP-DATERANGES, so every ad break's tags
   * stay in a delta update and `v2` differs from YES only by carrying the (then REQUIRED, here
   * empty) RECENTLY-REMOVED-DATERANGES attribute.
   */
  skip?: 'YES' | 'v2';
  /**
   * Live: EXT-X-DISCONTINUITY-SEQUENCE, the number of discontinuities that have slid out of the
   * window (the model only holds the window, so the caller counts them). Default 0.
   * (Not in `Presentation`: it is state of the live window, not of the media.)
   */
  discontinuitySequence?: number;
}

/** Parts of segments whose start lies within this many target durations of the end are listed. */
const PART_WINDOW_TARGET_DURATIONS = 3;
const EPS = 1e-6;

/**
 * The media playlist of one rendition (`<rendition>/index.m3u8`): VOD, live sliding window, or
 * LL-HLS (parts, preload hint, rendition reports, delta updates). URIs are relative to the
 * playlist, which lives beside its init segment and media segments.
 */
export function writeMediaPlaylist(p: Presentation, renditionId: string, opts: MediaPlaylistOptions = {}): string {
  const t = findTimeline(p, renditionId);
  const live = p.type === 'live';
  const lowLatency = live && p.live?.lowLatency === true;
  const { complete, inProgress } = splitWindow(p, t);
  const ts = t.rendition.timescale;
  const timing = playlistTiming(p, t);

  // Times relative to the start of the window, in seconds.
  const starts: number[] = [];
  let parentEnd = 0;
  for (const s of complete) {
    starts.push(parentEnd);
    parentEnd += seconds(s.duration, ts);
  }
  const inProgressParts = lowLatency && inProgress ? inProgress.parts : [];
  const playlistEnd = parentEnd + inProgressParts.reduce((sum, part) => sum + seconds(part.duration, ts), 0);

  let skipped = 0;
  if (lowLatency && opts.skip) {
    // RFC 8216bis 6.2.5.1: segments further from the end of the last Parent Segment than the
    // Skip Boundary are replaced. We skip a segment only when all of it lies beyond the boundary.
    while (skipped < complete.length) {
      const end = starts[skipped] + seconds(complete[skipped].duration, ts);
      if (parentEnd - end < timing.canSkipUntil - EPS) break;
      skipped++;
    }
  }

  const version = skipped > 0 ? 9 : 6; // 6: EXT-X-MAP outside an I-frame playlist; 9: EXT-X-SKIP
  const lines: string[] = ['#EXTM3U', `#EXT-X-VERSION:${version}`, `#EXT-X-TARGETDURATION:${timing.targetDuration}`];
  if (lowLatency) {
    lines.push(
      '#EXT-X-SERVER-CONTROL:' +
        attributeList([
          ['CAN-BLOCK-RELOAD', 'YES'],
          ['CAN-SKIP-UNTIL', decimal(timing.canSkipUntil)],
          ['HOLD-BACK', decimal(timing.holdBack)],
          ['PART-HOLD-BACK', decimal(timing.partHoldBack)],
        ]),
      `#EXT-X-PART-INF:PART-TARGET=${decimal(timing.partTarget)}`,
    );
  }
  const first = complete[0] ?? inProgress;
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${first ? first.number : 0}`);
  if (live) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${opts.discontinuitySequence ?? 0}`);
  else lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  if (p.protection) lines.push(`#EXT-X-KEY:${keyAttributes(p.protection, '../', opts)}`);
  lines.push(`#EXT-X-MAP:${attributeList([['URI', quoted(withQuery('init.mp4', opts))]])}`);
  if (skipped > 0) {
    lines.push(
      '#EXT-X-SKIP:' +
        attributeList([
          ['SKIPPED-SEGMENTS', skipped],
          ['RECENTLY-REMOVED-DATERANGES', opts.skip === 'v2' ? quoted('') : undefined],
        ]),
    );
  }

  // VOD: the ad cues, dated from dateOrigin (given once, on the first segment)
  const postRoll = !live && p.interstitial !== undefined && p.postRoll === true;
  const dated = live || (p.adBreaks?.length ?? 0) > 0 || postRoll;
  if (dated) lines.push(...adBreakTags(p.adBreaks ?? []));
  if (live && p.adBreaks?.length) lines.push(...liveInterstitialTags(p.adBreaks, p.interstitial));
  if (!live && p.interstitial && (p.adBreaks?.length || postRoll)) {
    const end = postRoll ? (p.dateOrigin ?? 0) + (p.duration ?? 0) * 1000 : undefined;
    lines.push(...interstitialTags(p.adBreaks ?? [], p.interstitial, end));
  }

  const cueBreaks = p.hlsCueTags && p.adBreaks?.length ? p.adBreaks : undefined;
  const segmentTags = (s: Segment) => {
    if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (live || (dated && s === first)) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${programDateTime(p, s, ts)}`);
    // (a segment still in production: as long as a segment should be)
    if (cueBreaks) lines.push(...cueTags(cueBreaks, s.start / ts, s.complete ? s.duration / ts : p.segmentDuration));
  };
  const partTags = (s: Segment) => {
    for (const part of s.parts) {
      lines.push(
        '#EXT-X-PART:' +
          attributeList([
            ['DURATION', extinf(seconds(part.duration, ts))],
            ['URI', quoted(withQuery(`seg-${s.number}.${part.index}.m4s`, opts))],
            ['INDEPENDENT', part.independent ? 'YES' : undefined],
          ]),
      );
    }
  };

  for (let i = skipped; i < complete.length; i++) {
    const s = complete[i];
    segmentTags(s);
    if (lowLatency && playlistEnd - starts[i] <= PART_WINDOW_TARGET_DURATIONS * timing.targetDuration + EPS) {
      partTags(s);
    }
    lines.push(`#EXTINF:${extinf(seconds(s.duration, ts))},`, withQuery(`seg-${s.number}.m4s`, opts));
  }

  if (lowLatency) {
    if (inProgress && inProgress.parts.length > 0) {
      segmentTags(inProgress);
      partTags(inProgress);
    }
    const hint = nextPart(t, { segment: p.segmentDuration, part: p.partDuration });
    if (hint) {
      lines.push(
        '#EXT-X-PRELOAD-HINT:' +
          attributeList([
            ['TYPE', 'PART'],
            ['URI', quoted(withQuery(`seg-${hint.msn}.${hint.part}.m4s`, opts))],
          ]),
      );
    }
    for (const other of p.timelines) {
      if (other === t) continue;
      const edge = liveEdge(other);
      if (!edge) continue;
      lines.push(
        '#EXT-X-RENDITION-REPORT:' +
          attributeList([
            ['URI', quoted(withQuery(`../${paths.mediaPlaylist(other.rendition.id)}`, opts))],
            ['LAST-MSN', edge.msn],
            ['LAST-PART', edge.part],
          ]),
      );
    }
  }

  if (!live) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** Complete segments of the window, and the segment still being produced (live, last only). */
function splitWindow(p: Presentation, t: RenditionTimeline): { complete: Segment[]; inProgress?: Segment } {
  const segs = t.segments;
  const last = segs[segs.length - 1];
  const inProgress = last && !last.complete ? last : undefined;
  const complete = inProgress ? segs.slice(0, -1) : segs;
  const stray = complete.find((s) => !s.complete);
  if (stray || (inProgress && p.type !== 'live')) {
    const s = stray ?? inProgress!;
    throw new StreamedgeError(
      'INVALID_PRESENTATION',
      `Rendition "${t.rendition.id}" of "${p.id}": segment ${s.number} is incomplete but only the last segment of a live window may be`,
    );
  }
  return { complete, inProgress };
}

/**
 * A live channel's ad breaks, or a VOD asset's ad cues, as EXT-X-DATERANGE tags (RFC 8216bis 4.4.5.1, and 4.4.5.1.1 for
 * SCTE-35): one with SCTE35-OUT and PLANNED-DURATION from the cue on, and once the return is
 * decided a second with the same ID, its END-DATE, DURATION and SCTE35-IN. Every tag repeats the
 * START-DATE (REQUIRED); tags of one ID agree on every attribute they share. They come before
 * the first segment: a DATERANGE is placed by its dates, not by where it stands.
 */
function adBreakTags(breaks: readonly AdBreak[]): string[] {
  const lines: string[] = [];
  for (const b of breaks) {
    const id: [string, AttributeValue] = ['ID', quoted(`splice-${b.eventId}`)];
    const start: [string, AttributeValue] = ['START-DATE', quoted(new Date(b.startDate).toISOString())];
    lines.push(
      '#EXT-X-DATERANGE:' +
        attributeList([
          id,
          start,
          ...(b.plannedDuration !== undefined ? [['PLANNED-DURATION', decimal(b.plannedDuration)] as const] : []),
          ['SCTE35-OUT', b.scte35Out],
        ]),
    );
    if (b.end)
      lines.push(
        '#EXT-X-DATERANGE:' +
          attributeList([
            id,
            start,
            ['END-DATE', quoted(new Date(b.end.date).toISOString())],
            ['DURATION', decimal((b.end.date - b.startDate) / 1000)],
            ['SCTE35-IN', b.end.scte35In],
          ]),
      );
  }
  return lines;
}

/** EXT-X-PROGRAM-DATE-TIME value: ISO 8601 in UTC with milliseconds. */
export function programDateTime(p: Presentation, s: Segment, timescale: number): string {
  const ms = s.programDateTime ?? (p.live?.availabilityStartTime ?? p.dateOrigin ?? 0) + (s.start / timescale) * 1000;
  return new Date(Math.round(ms)).toISOString();
}
