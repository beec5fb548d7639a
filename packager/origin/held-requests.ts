/**
 * Requests parked on a live rendition until it reaches a position (a blocking playlist reload
 * for part P of segment M, a request for the hinted part): Varnish's waiting list, with the
 * answer built once per group of equal requests.
 *
 * - Requests are bucketed by position and, inside a position, grouped when they are held (same
 *   playlist variant, same encoding, same headers: byte-identical answers). The window's
 *   part/segment events schedule one flush (in a microtask, after the channel has updated its
 *   state); the flush asks, per position, whether its requests can be answered now and, per
 *   group, builds ONE PreparedResponse and writes it to every request of the group: the wake does
 *   no per-request lookup, and waking N requests is N socket writes of shared bytes (HTTP/1.1) or
 *   N streams answered with one shared header block and body (HTTP/2).
 * - Deadlines: requests are kept in arrival order with one timer for the oldest; since every
 *   request of a rendition waits the same time (3 target durations), arrival order is deadline
 *   order.
 * - A client that goes away is removed at once (its response's 'close').
 * - Closing the window answers everything still held.
 */
import type { RenditionWindow } from '../live/rendition-window.js';
import type { PreparedResponse } from './prepared-response.js';
import { WakeBatch, type HeldResponse } from './wake-batch.js';

export interface HeldRequest<T> {
  readonly msn: number;
  /** Part index, or SEGMENT_END for "the whole segment". */
  readonly part: number;
  readonly res: HeldResponse;
  /** Requests with equal groups get byte-identical answers: one response is built per group and flush. */
  readonly group: string;
  readonly deadline: number;
  readonly data: T;
  done: boolean;
}

export interface HeldRequestsOptions<T> {
  /**
   * Called during a flush for each held position: the answer for its requests now (built once per
   * group), or undefined to keep holding them.
   */
  answer(msn: number, part: number): ((h: HeldRequest<T>) => PreparedResponse) | undefined;
  /** The answer when a request's deadline passes. */
  expired(h: HeldRequest<T>): PreparedResponse;
  /** The answer for requests still held when the window closes. */
  closed(h: HeldRequest<T>): PreparedResponse;
  /** Held count changed (metrics gauge). */
  onHeldChange?(delta: number): void;
  /**
   * After a flush wrote `count` responses (`bytes` body bytes): `delaysMs` are the delays from the
   * window's last event to each write.
   */
  onAnswered?(count: number, bytes: number, delaysMs: number[]): void;
  now?: () => number;
}

function keyOf(msn: number, part: number): number {
  return msn * 0x10000 + Math.min(part, 0xffff);
}

/** The held requests of one position, by group. */
type Bucket<T> = Map<string, Set<HeldRequest<T>>>;

export class HeldRequests<T> {
  private readonly buckets = new Map<number, Bucket<T>>();
  /** Arrival (= deadline) order; answered entries are skipped lazily. */
  private order: HeldRequest<T>[] = [];
  private head = 0;
  private timer?: NodeJS.Timeout;
  private timerAt = Infinity;
  private flushQueued = false;
  private size_ = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly onEvent = (): void => this.schedule();
  private readonly onClosed = (): void => this.close();
  /** The held request of each response, for the one shared 'close' listener (no closure per request). */
  private readonly byResponse = new WeakMap<HeldResponse, HeldRequest<T>>();
  /** A client that goes away while held is unlinked at once; after its answer this is a no-op. */
  private readonly onResponseClose: (this: HeldResponse) => void;

  constructor(
    private readonly w: RenditionWindow,
    private readonly opts: HeldRequestsOptions<T>,
  ) {
    this.now = opts.now ?? Date.now;
    const byResponse = this.byResponse;
    const unlink = (h: HeldRequest<T>): void => this.unlink(h);
    this.onResponseClose = function (this: HeldResponse) {
      const h = byResponse.get(this);
      if (!h || h.done) return;
      h.done = true;
      unlink(h);
    };
    w.on('part', this.onEvent);
    w.on('complete', this.onEvent);
    w.on('closed', this.onClosed);
  }

  get size(): number {
    return this.size_;
  }

  /** Parks a request (the caller has taken the response over from the framework). */
  hold(msn: number, part: number, res: HeldResponse, group: string, timeoutMs: number, data: T): HeldRequest<T> {
    const h: HeldRequest<T> = { msn, part, res, group, deadline: this.now() + timeoutMs, data, done: false };
    if (this.closed) {
      this.finish([h], () => this.opts.closed(h));
      return h;
    }
    const key = keyOf(msn, part);
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = new Map<string, Set<HeldRequest<T>>>()));
    let members = bucket.get(group);
    if (!members) bucket.set(group, (members = new Set<HeldRequest<T>>()));
    members.add(h);
    this.order.push(h);
    this.size_++;
    this.opts.onHeldChange?.(1);
    this.byResponse.set(res, h);
    res.on('close', this.onResponseClose);
    this.arm();
    return h;
  }

  private unlink(h: HeldRequest<T>): void {
    const key = keyOf(h.msn, h.part);
    const bucket = this.buckets.get(key);
    const members = bucket?.get(h.group);
    if (members?.delete(h)) {
      if (members.size === 0) bucket!.delete(h.group);
      if (bucket!.size === 0) this.buckets.delete(key);
      this.size_--;
      this.opts.onHeldChange?.(-1);
    }
  }

  private schedule(): void {
    if (this.flushQueued || this.size_ === 0) return;
    this.flushQueued = true;
    // A microtask: the producer's event handler (and the channel's version bump) completes first.
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Answers every bucket whose position is now answerable. */
  flush(): void {
    if (this.size_ === 0) return;
    const since = this.w.lastEventAt;
    const batch = new WakeBatch();
    const delays: number[] = [];
    let bytes = 0;
    for (const [key, bucket] of this.buckets) {
      const any = bucket.values().next().value!.values().next().value!;
      const build = this.opts.answer(any.msn, any.part);
      if (!build) continue;
      this.buckets.delete(key);
      let n = 0;
      for (const members of bucket.values()) n += members.size;
      this.size_ -= n;
      this.opts.onHeldChange?.(-n);
      for (const members of bucket.values()) {
        let r: PreparedResponse | undefined;
        for (const h of members) {
          h.done = true;
          r ??= build(h);
          if (batch.write(h.res, r)) {
            delays.push(performance.now() - since);
            bytes += r.body.length;
          }
        }
      }
    }
    // Every answer is on the wire: now the per-response bookkeeping and metrics.
    batch.finish();
    if (delays.length > 0) this.opts.onAnswered?.(delays.length, bytes, delays);
  }

  /** Answers requests that are not in a bucket any more (expired, closed), grouped the same way. */
  private finish(list: HeldRequest<T>[], make: (h: HeldRequest<T>) => PreparedResponse): void {
    const memo = new Map<string, PreparedResponse>();
    const batch = new WakeBatch();
    for (const h of list) {
      h.done = true;
      let r = memo.get(h.group);
      if (!r) memo.set(h.group, (r = make(h)));
      batch.write(h.res, r);
    }
    batch.finish();
  }

  private arm(): void {
    while (this.head < this.order.length && this.order[this.head].done) this.head++;
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    const next = this.order[this.head];
    if (!next) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && this.timerAt <= next.deadline) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next.deadline;
    this.timer = setTimeout(() => this.expire(), Math.max(0, next.deadline - this.now()));
    this.timer.unref?.();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.now();
    const due: HeldRequest<T>[] = [];
    while (this.head < this.order.length) {
      const h = this.order[this.head];
      if (!h.done) {
        if (h.deadline > now) break;
        this.unlink(h);
        due.push(h);
      }
      this.head++;
    }
    if (due.length > 0) {
      // Satisfied at the last moment (an event whose flush has not run yet) beats a timeout.
      const late = new Map<number, ((h: HeldRequest<T>) => PreparedResponse) | undefined>();
      const answered: HeldRequest<T>[] = [];
      const expired: HeldRequest<T>[] = [];
      for (const h of due) {
        const key = keyOf(h.msn, h.part);
        if (!late.has(key)) late.set(key, this.opts.answer(h.msn, h.part));
        (late.get(key) ? answered : expired).push(h);
      }
      if (answered.length > 0) this.finish(answered, (h) => late.get(keyOf(h.msn, h.part))!(h));
      if (expired.length > 0) this.finish(expired, (h) => this.opts.expired(h));
    }
    this.arm();
  }

  /** Answers everything still held (the window is closing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.w.off('part', this.onEvent);
    this.w.off('complete', this.onEvent);
    this.w.off('closed', this.onClosed);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const all: HeldRequest<T>[] = [];
    for (const bucket of this.buckets.values())
      for (const members of bucket.values()) for (const h of members) all.push(h);
    this.buckets.clear();
    if (all.length > 0) {
      this.size_ = 0;
      this.opts.onHeldChange?.(-all.length);
      this.finish(all, (h) => this.opts.closed(h));
    }
    this.order = [];
    this.head = 0;
  }
}
