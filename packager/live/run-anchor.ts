/**
 * Where an encoder run's media time lands on the channel's wall-clock timeline (PDT and DASH
 * availabilityStartTime share it): the run's offset, in seconds after availabilityStartTime.
 *
 * A real-time source cannot deliver media before it happened, so for every fragment
 *   arrival − (availabilityStartTime + offset + its media end) ≥ 0
 * must hold; the tightest offset satisfying that is the minimum of (arrival − media end) over
 * the fragments. Anchoring on the FIRST fragment alone (what a naive origin does) absorbs the
 * encoder's start-up stall: later fragments then arrive "before" their own PDT end and players
 * under-report latency. So the run observes every fragment of its first segment (the segmenter
 * holds that segment back, see timeline-shift.ts) and fixes the offset to the minimum seen, never
 * before the end of the previous run. What start-up leaves over is caught by the availability
 * gate (availability-gate.ts): no part is published before its PDT end.
 *
 * Epoch-locked channels (`--epoch`, redundant origins): the offset is also rounded UP to the
 * segment grid (`gridSec`), so the run's first segment starts on a multiple of the segment
 * duration after the epoch and its number is that multiple. Every origin with the same epoch
 * then numbers the same wall-clock interval alike, whenever it started. Rounding up (never down)
 * keeps PDT honest; the gate holds the run's parts for what was added (less than one segment).
 */
export interface RunAnchorOptions {
  /** Wall clock, epoch ms. */
  now: () => number;
  /** Epoch ms of media time 0 on the channel timeline. */
  availabilityStartTime: number;
  /** The offset can never be below this (end of the previous run's media, seconds). */
  notBeforeSec: () => number;
  /** Epoch lock: the offset is a multiple of this (the segment duration, seconds). */
  gridSec?: number;
}

export class RunAnchor {
  private min?: number;
  private fixed?: number;
  private observed = 0;

  constructor(private readonly opts: RunAnchorOptions) {}

  /** A fragment whose media ends at `endSec` (run time, seconds) has just arrived. */
  observe(endSec: number): void {
    if (this.fixed !== undefined) return;
    const v = (this.opts.now() - this.opts.availabilityStartTime) / 1000 - endSec;
    if (this.min === undefined || v < this.min) this.min = v;
    this.observed++;
  }

  /** Fixes the offset on the first call (minimum observed, not before the previous run) and returns it. */
  fix(): number {
    if (this.fixed === undefined) {
      const seen = this.min ?? (this.opts.now() - this.opts.availabilityStartTime) / 1000;
      const tight = Math.max(seen, this.opts.notBeforeSec());
      const grid = this.opts.gridSec;
      // 1e-9: a value already on the grid (float noise) stays where it is
      this.fixed = grid !== undefined ? Math.ceil(tight / grid - 1e-9) * grid : tight;
    }
    return this.fixed;
  }

  /** The offset, once fixed. */
  get offsetSec(): number | undefined {
    return this.fixed;
  }

  /** Epoch lock: the number of the run's first segment (offset / grid), once fixed. */
  get segmentNumber(): number | undefined {
    const grid = this.opts.gridSec;
    return grid !== undefined && this.fixed !== undefined ? Math.round(this.fixed / grid) : undefined;
  }

  /** Fragments observed before the offset was fixed. */
  get observations(): number {
    return this.observed;
  }
}
