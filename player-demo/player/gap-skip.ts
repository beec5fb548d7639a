/**
 * Where playback jumps when it cannot go on by itself: the playhead sits before buffered media (a
 * resync, a hole), or it stalled just short of the end of its buffered range while later media is
 * buffered beyond a hole. The second is what an encoder restart leaves on live: the new run starts
 * after a gap, and the element waits on the last fraction of a second of the old run (where audio
 * and video do not both reach) for media that never comes, so "nothing buffered ahead" never holds.
 */

/** A stalled playhead this close to the end of its range counts as at the end. */
export const STALLED_NEAR_END_SEC = 0.5;

export interface BufferedRange {
  start: number;
  end: number;
}

/**
 * The time to seek to, or null to stay. `liveTargetSec`: on live, land that far behind the end of
 * the later range (the latency target), not at its oldest media. `seeking`: the element is in a
 * seek it has no media for yet; a position a little before a range's start counts as inside it
 * otherwise (playback runs across such a sliver), but a seek there never completes (seen in CI:
 * a live join 0.09 s before the buffered media once its start moved, waiting for good).
 */
export function gapSkipTarget(
  ranges: readonly BufferedRange[],
  currentTime: number,
  opts: { stalled: boolean; seeking?: boolean; liveTargetSec?: number },
): number | null {
  const t = currentTime;
  const slack = opts.seeking ? 0 : 0.1;
  const here = ranges.find((r) => t >= r.start - slack && t <= r.end);
  const ahead = here ? here.end - t : 0;
  if (ahead > 0 && !(opts.stalled && ahead < STALLED_NEAR_END_SEC)) return null;
  const from = here ? here.end : t;
  for (const r of ranges) {
    if (r.start > from && r.end - r.start > 0.2) {
      const target = opts.liveTargetSec ?? Infinity;
      return Math.max(r.start + 0.05, r.end - target);
    }
  }
  return null;
}
