import { StreamedgeError } from '../errors.js';
import type { Segment } from '../media/presentation.js';

/** One `<S>` of a SegmentTimeline: `t` only when the segment does not start where the previous ended. */
export interface TimelineEntry {
  t?: number;
  d: number;
  /** Repeat count (additional segments of the same duration back to back); 0 when absent. */
  r: number;
}

/**
 * Run-length compressed SegmentTimeline (ISO/IEC 23009-1 5.3.9.6) of consecutive segments.
 * The first entry always carries `t`; later ones only after a gap or jump in media time.
 * Segment numbers must be consecutive, since $Number$ counts `<S>` entries.
 */
export function segmentTimeline(segments: readonly Segment[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  let expectedStart: number | undefined;
  let prev: Segment | undefined;
  for (const s of segments) {
    if (prev && s.number !== prev.number + 1) {
      throw new StreamedgeError(
        'INVALID_PRESENTATION',
        `Segment numbers must be consecutive for a DASH $Number$ template: ${prev.number} is followed by ${s.number}`,
      );
    }
    const last = out[out.length - 1];
    if (last && s.start === expectedStart && s.duration === last.d) {
      last.r++;
    } else {
      out.push(s.start === expectedStart ? { d: s.duration, r: 0 } : { t: s.start, d: s.duration, r: 0 });
    }
    expectedStart = s.start + s.duration;
    prev = s;
  }
  return out;
}
