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
 */
export interface RunAnchorOptions {
  /** Wall clock, epoch ms. */
  now: () => number;
  /** Epoch ms of media time 0 on the channel timeline. */
  availabilityStartTime: number;
  /** The offset can never be below this (end of the previous run's media, seconds). */
  notBeforeSec: () => number;
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
      this.fixed = Math.max(seen, this.opts.notBeforeSec());
    }
    return this.fixed;
  }

  /** The offset, once fixed. */
  get offsetSec(): number | undefined {
    return this.fixed;
  }

  /** Fragments observed before the offset was fixed. */
  get observations(): number {
    return this.observed;
  }
}
