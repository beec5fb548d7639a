/**
 * Publishes a rendition's events (parts, segment ends) in order, none before its time: a part
 * becomes visible (playlists, blocking reloads, held requests, chunked segment streams) only
 * once the wall clock has reached its PROGRAM-DATE-TIME end, because a real-time source cannot
 * have produced it earlier. With a good run anchor (run-anchor.ts) the gate almost never waits;
 * when the encoder catches up after a start-up stall it holds the early parts back for the few
 * milliseconds that keep PDT honest.
 */
export interface GateOptions {
  now?: () => number;
  /** Timer (injectable for tests): calls fn after ms; returns a cancel function. */
  schedule?: (fn: () => void, ms: number) => () => void;
}

interface Pending {
  at: number;
  run: () => void;
}

const realSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

export class AvailabilityGate {
  private readonly queue: Pending[] = [];
  private cancel?: () => void;
  private drained: (() => void)[] = [];
  private readonly now: () => number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  /** Events that had to wait, and the longest wait (ms): how far off the anchor was. */
  held = 0;
  maxWaitMs = 0;

  constructor(opts: GateOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.schedule = opts.schedule ?? realSchedule;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Runs `run` once the clock reaches `at` (epoch ms; 0 = no constraint) and every earlier event has run. */
  push(at: number, run: () => void): void {
    if (this.queue.length === 0 && this.now() >= at) {
      run();
      return;
    }
    if (at > this.now()) {
      this.held++;
      this.maxWaitMs = Math.max(this.maxWaitMs, at - this.now());
    }
    this.queue.push({ at, run });
    this.arm();
  }

  /** Calls `cb` once nothing is pending (at once if nothing is). */
  whenDrained(cb: () => void): void {
    if (this.queue.length === 0) cb();
    else this.drained.push(cb);
  }

  /** Runs everything pending now (the channel is stopping). */
  flushNow(): void {
    this.cancel?.();
    this.cancel = undefined;
    while (this.queue.length > 0) this.queue.shift()!.run();
    this.notifyDrained();
  }

  private arm(): void {
    if (this.cancel || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].at - this.now());
    // +1: timers may fire up to a millisecond early against Date.now(); drain() re-arms if so.
    this.cancel = this.schedule(
      () => {
        this.cancel = undefined;
        this.drain();
      },
      wait === 0 ? 0 : Math.ceil(wait) + 1,
    );
  }

  private drain(): void {
    while (this.queue.length > 0 && this.now() >= this.queue[0].at) this.queue.shift()!.run();
    if (this.queue.length > 0) this.arm();
    else this.notifyDrained();
  }

  private notifyDrained(): void {
    for (const cb of this.drained.splice(0)) cb();
  }
}
