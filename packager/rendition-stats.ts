/**
 * Measured bit rates of a rendition from its segments (Apple HLS authoring: BANDWIDTH is the peak
 * segment bit rate, AVERAGE-BANDWIDTH the average over the whole rendition).
 */
import type { Segment } from '../src/media/presentation.js';

export interface MeasuredBandwidth {
  /** Max over segments of bytes*8 / duration, bits/s (rounded up). */
  peak: number;
  /** Total bytes*8 / total duration, bits/s (rounded up). */
  average: number;
}

export function measureBandwidth(segments: readonly Segment[], timescale: number): MeasuredBandwidth {
  let peak = 0;
  let bytes = 0;
  let ticks = 0;
  for (const s of segments) {
    if (s.duration <= 0) continue;
    peak = Math.max(peak, (s.bytes * 8 * timescale) / s.duration);
    bytes += s.bytes;
    ticks += s.duration;
  }
  return { peak: Math.ceil(peak), average: ticks > 0 ? Math.ceil((bytes * 8 * timescale) / ticks) : 0 };
}
