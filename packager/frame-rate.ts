/**
 * The frame rate a ladder is encoded at, judged from the source's own frame timestamps.
 *
 * A phone records variable frame rate (VFR): about 30 frames a second, fewer in low light or when
 * the encoder drops some. ffprobe's `avg_frame_rate` is then the average (e.g. 26.25), and a
 * Matroska copy states that average as its `r_frame_rate` too; encoding at the average drops
 * frames where the source ran at its full rate and gives playlists an odd FRAME-RATE. The ladder
 * is encoded at constant frame rate (segments of equal frame counts, GOPs aligned across rungs),
 * so a VFR source is encoded at its full rate, the rate of its fastest sustained run of frames,
 * snapped to a standard rate; frames are repeated where the source had none.
 */

/** Standard rates a variable source's full rate snaps to (within 2 %). */
const STANDARD_RATES: [number, number][] = [
  [24000, 1001],
  [24, 1],
  [25, 1],
  [30000, 1001],
  [30, 1],
  [48, 1],
  [50, 1],
  [60000, 1001],
  [60, 1],
];

/** Fewer timestamps than this say nothing about the rate: the stream's stated rate stands. */
const MIN_INTERVALS = 8;

/** The highest rate a variable source is encoded at (Apple's authoring spec stops at 60). */
const MAX_VARIABLE_FPS = 60;

export interface FrameRateVerdict {
  /** The constant rate to encode at. */
  frameRate: [number, number];
  /** Present when the source's frames come at a variable rate. */
  variable?: {
    /** Frames per second of the source over the timestamps read. */
    averageFps: number;
    /** Its full rate: the rate of its fastest sustained run of frames, before snapping. */
    fullFps: number;
  };
}

/**
 * Judges a source's frame rate from its video timestamps (seconds, any order: B-frames reorder
 * them) and the rate its container states (undefined when it states none).
 *
 * Constant when the frames come at their full rate on average (within 2 %): the stated rate
 * stands (its exact ratio, e.g. 30000/1001; also right for field-coded interlaced streams, whose
 * packets are fields). Variable otherwise: the full rate, snapped to a standard rate.
 */
export function judgeFrameRate(timestamps: number[], stated: [number, number] | undefined): FrameRateVerdict {
  const fallback: FrameRateVerdict = { frameRate: stated ?? [30, 1] };
  const pts = [...new Set(timestamps.filter((t) => Number.isFinite(t)))].sort((a, b) => a - b);
  const intervals: number[] = [];
  for (let i = 1; i < pts.length; i++) intervals.push(pts[i] - pts[i - 1]);
  if (intervals.length < MIN_INTERVALS) return fallback;

  // The full rate: the 10th-percentile interval, then the mean of the intervals within 20 % of
  // it (a millisecond time base rounds 29.97 fps to 33 and 34 ms; their mean is 33.37).
  const sorted = [...intervals].sort((a, b) => a - b);
  const p10 = sorted[Math.floor(sorted.length * 0.1)];
  const near = sorted.filter((d) => d >= p10 * 0.8 && d <= p10 * 1.2);
  const fullInterval = near.reduce((s, d) => s + d, 0) / near.length;
  if (!(fullInterval > 0)) return fallback;
  const fullFps = 1 / fullInterval;
  const averageFps = intervals.length / (pts[pts.length - 1] - pts[0]);

  if (averageFps >= fullFps * 0.98) {
    // constant: keep the stated rate when it is that one (or names the frames of a field-coded stream)
    return stated ? fallback : { frameRate: snapRate(fullFps) };
  }
  return { frameRate: snapRate(Math.min(fullFps, MAX_VARIABLE_FPS)), variable: { averageFps, fullFps } };
}

/** The standard rate within 2 % of fps, else fps itself to the thousandth. */
export function snapRate(fps: number): [number, number] {
  let best: [number, number] | undefined;
  let bestError = Infinity;
  for (const rate of STANDARD_RATES) {
    const error = Math.abs(rate[0] / rate[1] - fps) / fps;
    if (error < bestError) {
      best = rate;
      bestError = error;
    }
  }
  if (best && bestError <= 0.02) return best;
  const num = Math.max(1, Math.round(fps * 1000));
  const d = gcd(num, 1000);
  return [num / d, 1000 / d];
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
