/**
 * Request coalescing: at most one fill per cache key at a time. The first request for a key
 * creates the fill (the leader); every other request for the key attaches to it. A fill leaves
 * the table once its outcome is settled in the store, so later requests find the stored object.
 * Also counts requests held waiting for an upstream response head, under a cap.
 */
import type { Fill } from './fill.js';

export class Coalescer {
  private readonly fills = new Map<string, Fill>();
  /**
   * Fills whose object was just stored, kept briefly: a request that looked the key up in the
   * store just before the commit and reaches the table just after the fill left it would
   * otherwise start a second upstream fetch. Such a request reads the completed fill instead.
   */
  private readonly recent = new Map<string, Fill>();
  private heldNow = 0;

  constructor(
    private readonly maxHeld: number,
    private readonly lingerMs = 2000,
  ) {}

  /** Fills in flight. */
  get size(): number {
    return this.fills.size;
  }
  get held(): number {
    return this.heldNow;
  }

  /** The fill in flight for `key` (not a recently completed one). */
  get(key: string): Fill | undefined {
    return this.fills.get(key);
  }

  all(): IterableIterator<Fill> {
    return this.fills.values();
  }

  /**
   * Forget recently completed fills: all of them (after a purge: their bytes may be what was
   * purged), or those stored under one of `storeKeys` (evicted: the object is gone from the store,
   * so its bytes are not answered from the fill either).
   */
  forgetRecent(storeKeys?: readonly string[]): void {
    if (storeKeys === undefined) {
      this.recent.clear();
      return;
    }
    const gone = new Set(storeKeys);
    for (const [key, fill] of this.recent) if (gone.has(key) || gone.has(fill.storeKey)) this.recent.delete(key);
  }

  /**
   * The fill for `key`, creating (and starting) it with `create` if none is in flight.
   * `acceptRecent`: a request that found nothing in the store may read a fill that completed
   * and was stored a moment ago (never one that found a stale entry: it wants a fresh fetch).
   */
  join(key: string, create: () => Fill, acceptRecent = false): { fill: Fill; leader: boolean; recent?: boolean } {
    const inFlight = this.fills.get(key);
    const existing = inFlight ?? (acceptRecent ? this.recent.get(key) : undefined);
    if (existing) {
      existing.readers++;
      return { fill: existing, leader: false, ...(inFlight ? {} : { recent: true }) };
    }
    const fill = create();
    fill.readers++;
    this.fills.set(key, fill);
    const leave = (stored: boolean) => {
      if (this.fills.get(key) === fill) this.fills.delete(key);
      if (!stored) return;
      this.recent.set(key, fill);
      setTimeout(() => {
        if (this.recent.get(key) === fill) this.recent.delete(key);
      }, this.lingerMs).unref();
    };
    void fill.stored.then(leave, () => leave(false));
    fill.start();
    return { fill, leader: true };
  }

  /** Try to hold one more request; false when the cap is reached. */
  hold(): boolean {
    if (this.heldNow >= this.maxHeld) return false;
    this.heldNow++;
    return true;
  }

  release(): void {
    this.heldNow--;
  }

  cancelAll(reason: string): void {
    for (const f of this.fills.values()) f.cancel(reason);
    this.fills.clear();
    this.recent.clear();
  }
}
