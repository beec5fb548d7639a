/**
 * A waiting list of requests parked until a rendition reaches a position (segment number, part
 * index): Varnish's waiting list, not polling. The producer calls `advance()` on every part and
 * segment event; every waiter whose position has been reached is resolved in the same tick.
 * Waiters are bucketed by position, so an advance touches only the buckets it satisfies (with
 * 10,000 players all waiting for the next part there is one bucket).
 * Timeouts share ONE timer: waiters are kept in deadline order (they mostly arrive in it: one
 * rendition's waits all last 3 target durations, so insertion is an append), the timer is armed
 * for the earliest, and resolved waiters are skipped lazily. No timer per waiter.
 */

/** Part index used for "the whole segment is complete" (sorts after every real part). */
export const SEGMENT_END = 0xffff;

export type WaitOutcome = 'reached' | 'timeout' | 'aborted' | 'closed';

interface Waiter {
  resolve(outcome: WaitOutcome): void;
  key: number;
  deadline: number;
  done: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
}

function keyOf(msn: number, part: number): number {
  // Parts per segment stay far below 2^16; msn * 2^16 + part is exact in a double up to msn 2^37.
  return msn * 0x10000 + Math.min(part, SEGMENT_END);
}

export class PositionWaiters {
  private readonly buckets = new Map<number, Set<Waiter>>();
  private size_ = 0;
  private reachedKey = -1;
  private closed = false;
  /** Waiters by deadline, ascending; entries before `head` and resolved ones are spent. */
  private queue: Waiter[] = [];
  private head = 0;
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  /** Called when the number of held waiters changes (metrics). */
  onSizeChange?: (delta: number) => void;

  get size(): number {
    return this.size_;
  }

  /**
   * Resolves 'reached' once advance() reaches (msn, part) — immediately if it already has —
   * 'timeout' after timeoutMs, 'aborted' when signal fires, 'closed' when the list is closed.
   */
  wait(msn: number, part: number, timeoutMs: number, signal?: AbortSignal): Promise<WaitOutcome> {
    const key = keyOf(msn, part);
    if (key <= this.reachedKey) return Promise.resolve('reached');
    if (this.closed) return Promise.resolve('closed');
    if (signal?.aborted) return Promise.resolve('aborted');
    return new Promise<WaitOutcome>((resolve) => {
      const w: Waiter = { key, deadline: Date.now() + timeoutMs, done: false, resolve: () => undefined, signal };
      w.resolve = (outcome) => {
        this.remove(w);
        resolve(outcome);
      };
      this.enqueue(w);
      if (signal) {
        w.onAbort = () => w.resolve('aborted');
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      let bucket = this.buckets.get(key);
      if (!bucket) this.buckets.set(key, (bucket = new Set()));
      bucket.add(w);
      this.size_++;
      this.onSizeChange?.(1);
      this.arm();
    });
  }

  /** Inserts `w` in deadline order (an append when it is the latest, the usual case). */
  private enqueue(w: Waiter): void {
    const q = this.queue;
    if (q.length === this.head || q[q.length - 1].deadline <= w.deadline) {
      q.push(w);
      return;
    }
    let lo = this.head;
    let hi = q.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (q[mid].deadline <= w.deadline) lo = mid + 1;
      else hi = mid;
    }
    q.splice(lo, 0, w);
  }

  /** Arms the one timer for the earliest deadline still waiting (none when nobody waits). */
  private arm(): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head].done) this.head++;
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    const next = this.queue[this.head];
    if (!next) {
      this.disarm();
      return;
    }
    if (this.timer && this.timerAt <= next.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next.deadline;
    this.timer = setTimeout(() => this.expire(), Math.max(0, next.deadline - Date.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.head < this.queue.length) {
      const w = this.queue[this.head];
      if (!w.done && w.deadline > now) break;
      this.head++; // before resolving: the last resolve empties the queue
      if (!w.done) w.resolve('timeout');
    }
    this.arm();
  }

  /** Whether the producer has reached (msn, part) or anything later. */
  reached(msn: number, part: number): boolean {
    return keyOf(msn, part) <= this.reachedKey;
  }

  /** The producer reached (msn, part): wake everyone waiting for it or anything earlier. */
  advance(msn: number, part: number): void {
    const key = keyOf(msn, part);
    if (key > this.reachedKey) this.reachedKey = key;
    if (this.size_ === 0) return;
    for (const [k, bucket] of this.buckets) {
      if (k > key) continue;
      for (const w of [...bucket]) w.resolve('reached');
    }
  }

  /**
   * Forget the reached position (a new encoder run restarts part numbering inside a segment it
   * never completed); waiters stay parked.
   */
  rewind(msn: number, part: number): void {
    this.reachedKey = Math.min(this.reachedKey, keyOf(msn, part) - 1);
  }

  close(): void {
    this.closed = true;
    for (const bucket of [...this.buckets.values()]) for (const w of [...bucket]) w.resolve('closed');
  }

  private remove(w: Waiter): void {
    const bucket = this.buckets.get(w.key);
    if (!bucket || !bucket.delete(w)) return;
    w.done = true;
    if (bucket.size === 0) this.buckets.delete(w.key);
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
    this.size_--;
    this.onSizeChange?.(-1);
    if (this.size_ === 0) {
      // nobody waits: no timer keeps the process alive, and the queue starts afresh
      this.disarm();
      this.queue = [];
      this.head = 0;
    }
  }
}
