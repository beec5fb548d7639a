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
    const s = t.segments[i]!;
    if (!s.complete && s.parts.length === 0) continue;
    const last = s.parts[s.parts.length - 1];
    return last ? { msn: s.number, part: last.index } : { msn: s.number };
  }
  return undefined;
}

/**
 * The next Partial Segment to be produced (the EXT-X-PRELOAD-HINT target): the part after
 * the last part of the segment in progress, or part 0 of the segment after the last complete one.
 */
export function nextPart(t: RenditionTimeline): { msn: number; part: number } | undefined {
  const last = t.segments[t.segments.length - 1];
  if (!last) return undefined;
  if (last.complete) return { msn: last.number + 1, part: 0 };
  const lastPart = last.parts[last.parts.length - 1];
  return { msn: last.number, part: lastPart ? lastPart.index + 1 : 0 };
}
