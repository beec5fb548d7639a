/**
 * One SourceBuffer's queue of operations (appends, removals, timestampOffset, append window), run
 * one after another as MSE requires: each waits for the one before it to end (`updateend`). An
 * append that finds the buffer full (QuotaExceededError) frees what lies 10 s behind the
 * playhead and tries once more.
 */

/** The narrowest append window set: MSE has no empty one. */
const MIN_WINDOW_SEC = 0.001;

export class AppendQueue {
  private chain: Promise<void> = Promise.resolve();
  /** The init segment last appended (its URL and range): a chunk that needs another gets it first. */
  initKey?: string;
  /** The timestampOffset the next appends get (set when queued). */
  currentOffset = 0;
  /** Frames before this are dropped from every append (dropBefore), Period windows or not. */
  private floorSec = 0;
  constructor(
    private readonly sb: SourceBuffer,
    private readonly video: HTMLMediaElement,
  ) {}

  append(bytes: Uint8Array): Promise<void> {
    this.chain = this.chain.then(() => this.appendNow(bytes));
    return this.chain;
  }

  private async appendNow(bytes: Uint8Array): Promise<void> {
    try {
      await this.op(() => this.sb.appendBuffer(bytes as unknown as BufferSource));
    } catch (e) {
      if ((e as DOMException).name !== 'QuotaExceededError') throw e;
      await this.trimBehind(10);
      await this.op(() => this.sb.appendBuffer(bytes as unknown as BufferSource));
    }
  }

  /** Removes everything buffered from `t` on (queued behind pending appends). */
  removeFrom(t: number): Promise<void> {
    this.chain = this.chain.then(async () => {
      const b = this.sb.buffered;
      if (b.length > 0 && b.end(b.length - 1) > t) await this.op(() => this.sb.remove(t, Infinity));
    });
    return this.chain;
  }

  /**
   * Removes what is buffered past the range holding `t` (everything from `t` when no range holds
   * it), queued behind pending appends and worked out when it runs: an append queued before it
   * may still extend that range, and what it adds is kept (a loop may already go on from its end).
   */
  removeAhead(t: number): Promise<void> {
    this.chain = this.chain.then(async () => {
      const from = this.rangeEndAt(t) ?? t;
      const b = this.sb.buffered;
      if (b.length > 0 && b.end(b.length - 1) > from) await this.op(() => this.sb.remove(from, Infinity));
    });
    return this.chain;
  }

  /** The following appends' media times are moved by `sec` (MSE timestampOffset). */
  offset(sec: number): Promise<void> {
    this.currentOffset = sec;
    this.chain = this.chain.then(() => {
      if (this.sb.timestampOffset !== sec) this.sb.timestampOffset = sec;
    });
    return this.chain;
  }

  /**
   * Frames outside [start, end) are dropped from the following appends (MSE append window: a DASH
   * Period's bounds). A floor set by dropBefore() still holds: the window starts at it if later.
   */
  window(start: number, end: number): Promise<void> {
    // (a chunk wholly before the floor keeps a sliver of its window: MSE has no empty one)
    const from = Math.min(Math.max(0, start, this.floorSec), end - MIN_WINDOW_SEC);
    this.chain = this.chain.then(() => this.setWindow(from, end));
    return this.chain;
  }

  /**
   * Frames before `t` are dropped from the following appends until dropBefore(0), whatever
   * Period windows are set meanwhile (an audio switch: the new track's first chunk replaces the
   * old one's audio from `t` on, not under the playhead). 0 also opens the window's end.
   */
  dropBefore(t: number): Promise<void> {
    this.floorSec = t;
    this.chain = this.chain.then(() => this.setWindow(t, Infinity));
    return this.chain;
  }

  private setWindow(start: number, end: number): void {
    // (the start may not be set at or past the end, nor the end at or before the start)
    this.sb.appendWindowEnd = Infinity;
    this.sb.appendWindowStart = start;
    this.sb.appendWindowEnd = end;
  }

  /** The end of the buffered range holding media time `t` (within 0.1 s), or undefined. */
  rangeEndAt(t: number): number | undefined {
    const b = this.sb.buffered;
    for (let i = 0; i < b.length; i++) if (t >= b.start(i) - 0.1 && t <= b.end(i)) return b.end(i);
    return undefined;
  }

  /** What this SourceBuffer holds: [start, end] per range. */
  ranges(): [number, number][] {
    const b = this.sb.buffered;
    return Array.from({ length: b.length }, (_, i): [number, number] => [b.start(i), b.end(i)]);
  }

  /** End of the last buffered range, or undefined while nothing is buffered. */
  bufferedEnd(): number | undefined {
    const b = this.sb.buffered;
    return b.length ? b.end(b.length - 1) : undefined;
  }

  async trimBehind(keepSec: number): Promise<void> {
    const end = this.video.currentTime - keepSec;
    if (end <= 0 || this.sb.buffered.length === 0 || this.sb.buffered.start(0) >= end) return;
    await this.op(() => this.sb.remove(0, end));
  }

  private op(run: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.sb.removeEventListener('updateend', done);
        this.sb.removeEventListener('error', fail);
        resolve();
      };
      const fail = () => {
        this.sb.removeEventListener('updateend', done);
        this.sb.removeEventListener('error', fail);
        reject(new Error('SourceBuffer error'));
      };
      this.sb.addEventListener('updateend', done);
      this.sb.addEventListener('error', fail);
      run();
    });
  }
}
