import type { RenditionTimeline } from '../media/presentation.js';

/**
 * Where a live rendition currently ends, in LL-HLS terms (RFC 8216bis 4.4.5.4
 * EXT-X-RENDITION-REPORT, 6.2.5.2 blocking reload): the Media Sequence Number of the last
 * Media Segment or Partial Segment present, and the Part Index of its last Partial Segment.
 */
export interface LiveEdge {
  /** LAST-MSN: the newest segment that is complete or has at least one part. */
  msn: number;
  /** LAST-PART: index of the newest part of segment `msn`; undefined when it has no parts. */
  part?: number;
}

export function liveEdge(t: RenditionTimeline): LiveEdge | undefined {
  for (let i = t.segments.length - 1; i >= 0; i--) {
    const s = t.segments[i];
    if (!s.complete && s.parts.length === 0) continue;
    const last = s.parts[s.parts.length - 1];
    return last ? { msn: s.number, part: last.index } : { msn: s.number };
  }
  return undefined;
}

/** Target durations (seconds) the hint rule works with. */
export interface PartTargets {
  /** Target segment duration (seconds). */
  segment: number;
  /** Target part duration (seconds). */
  part: number;
}

/**
 * The next Partial Segment the server expects to produce (the EXT-X-PRELOAD-HINT target,
 * RFC 8216bis 4.4.5.3): part 0 of the next segment when the last segment is complete or when
 * the producer marked the newest part as its segment's last (`Part.last`: it knows the next
 * fragment opens a new segment, from the frames it has); the next part of the segment in
 * progress when the producer said more follow. Without that mark, a guess: part 0 of the next
 * segment when the segment in progress is within half a part of its target duration.
 *
 * `targets` are the configured segment and part durations; without them they are inferred from
 * the window (median complete-segment duration, longest listed part), and when the window has
 * no complete segment or no part yet the plain "next part" is hinted.
 */
export function nextPart(t: RenditionTimeline, targets?: PartTargets): { msn: number; part: number } | undefined {
  const last = t.segments[t.segments.length - 1];
  if (!last) return undefined;
  if (last.complete) return { msn: last.number + 1, part: 0 };
  const lastPart = last.parts[last.parts.length - 1];
  if (!lastPart) return { msn: last.number, part: 0 };
  if (lastPart.last !== undefined) {
    return lastPart.last ? { msn: last.number + 1, part: 0 } : { msn: last.number, part: lastPart.index + 1 };
  }
  const tg = targets ?? inferTargets(t);
  if (tg) {
    const ts = t.rendition.timescale;
    let produced = 0;
    for (const p of last.parts) produced += p.duration;
    if (produced / ts >= tg.segment - tg.part / 2 - 1e-9) return { msn: last.number + 1, part: 0 };
  }
  return { msn: last.number, part: lastPart.index + 1 };
}

/** Segment and part targets as a live window shows them (undefined when it cannot tell). */
export function inferTargets(t: RenditionTimeline): PartTargets | undefined {
  const ts = t.rendition.timescale;
  const durations: number[] = [];
  let part = 0;
  for (const s of t.segments) {
    if (s.complete) durations.push(s.duration / ts);
    for (const p of s.parts) part = Math.max(part, p.duration / ts);
  }
  if (durations.length === 0 || part === 0) return undefined;
  durations.sort((a, b) => a - b);
  const mid = durations.length >> 1;
  const segment = durations.length % 2 === 1 ? durations[mid] : (durations[mid - 1] + durations[mid]) / 2;
  return { segment, part };
}
