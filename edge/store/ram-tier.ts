import type { CountMinSketch } from './count-min-sketch.js';
import { LruList, type LruNode } from './lru-list.js';

/**
 * The RAM tier: W-TinyLFU over a byte budget.
 *
 * New entries enter a small window LRU (1% of the budget by default). What falls out of the window
 * is a candidate for the main area, a segmented LRU (probation 20% / protected 80%). When the main
 * area is full the candidate competes with the main area's eviction victim by estimated frequency
 * (the shared count-min sketch): the candidate is admitted only if it is more popular, so a scan
 * of one-hit wonders cannot push out the hot set. A hit in probation promotes to protected;
 * protected overflow demotes back to probation.
 *
 * The tier does not count accesses itself: the owner increments the sketch on every request.
 */
type Area = 'window' | 'probation' | 'protected';

interface Node<V> extends LruNode {
  key: string;
  value: V;
  area: Area;
}

export interface RamTierOptions {
  capacityBytes: number;
  /** Fraction of the budget for the window LRU (default 0.01). */
  windowFraction?: number;
  /** Fraction of the main area that is protected (default 0.8). */
  protectedFraction?: number;
}

export class RamTier<V> {
  private readonly map = new Map<string, Node<V>>();
  private readonly window = new LruList<Node<V>>();
  private readonly probation = new LruList<Node<V>>();
  private readonly protectedList = new LruList<Node<V>>();
  private readonly windowCap: number;
  private readonly mainCap: number;
  private readonly protectedCap: number;

  constructor(
    private readonly sketch: CountMinSketch,
    opts: RamTierOptions,
  ) {
    const cap = Math.max(0, opts.capacityBytes);
    this.windowCap = Math.floor(cap * (opts.windowFraction ?? 0.01));
    this.mainCap = cap - this.windowCap;
    this.protectedCap = Math.floor(this.mainCap * (opts.protectedFraction ?? 0.8));
  }

  get bytes(): number {
    return this.window.bytes + this.probation.bytes + this.protectedList.bytes;
  }

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Returns the value and records the hit in the LRU structure (not in the sketch). */
  get(key: string): V | undefined {
    const n = this.map.get(key);
    if (!n) return undefined;
    if (n.area === 'window') this.window.touch(n);
    else if (n.area === 'protected') this.protectedList.touch(n);
    else {
      this.probation.remove(n);
      n.area = 'protected';
      this.protectedList.push(n);
      this.demoteProtectedOverflow();
    }
    return n.value;
  }

  /** Reads without changing recency. */
  peek(key: string): V | undefined {
    return this.map.get(key)?.value;
  }

  /** Replaces the value of a present key in place (same recency); returns false if absent. */
  replace(key: string, value: V, size: number): boolean {
    const n = this.map.get(key);
    if (!n) return false;
    n.value = value;
    this.listOf(n.area).resize(n, size);
    this.rebalance();
    return true;
  }

  /** Offers an entry. It may be rejected (now or later) by admission. */
  set(key: string, value: V, size: number): void {
    if (this.windowCap + this.mainCap <= 0 || size > this.mainCap) {
      this.delete(key);
      return;
    }
    const existing = this.map.get(key);
    if (existing) {
      existing.value = value;
      this.listOf(existing.area).resize(existing, size);
      this.listOf(existing.area).touch(existing);
      this.rebalance();
      return;
    }
    const n: Node<V> = { key, value, size, prev: null, next: null, area: 'window' };
    this.map.set(key, n);
    this.window.push(n);
    this.rebalance();
  }

  delete(key: string): boolean {
    const n = this.map.get(key);
    if (!n) return false;
    this.listOf(n.area).remove(n);
    this.map.delete(key);
    return true;
  }

  clear(): void {
    for (const key of [...this.map.keys()]) this.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  private listOf(area: Area): LruList<Node<V>> {
    return area === 'window' ? this.window : area === 'probation' ? this.probation : this.protectedList;
  }

  private demoteProtectedOverflow(): void {
    while (this.protectedList.bytes > this.protectedCap) {
      const old = this.protectedList.peekOldest();
      if (!old) break;
      this.protectedList.remove(old);
      old.area = 'probation';
      this.probation.push(old);
    }
  }

  /** Moves window overflow into the main area through the TinyLFU admission filter. */
  private rebalance(): void {
    this.demoteProtectedOverflow();
    while (this.window.bytes > this.windowCap) {
      const cand = this.window.peekOldest();
      if (!cand) break;
      this.window.remove(cand);
      this.admitToMain(cand);
    }
    // A replace() may have grown the main area: trim plain LRU.
    while (this.probation.bytes + this.protectedList.bytes > this.mainCap) {
      const v = this.probation.peekOldest() ?? this.protectedList.peekOldest();
      if (!v) break;
      this.drop(v);
    }
  }

  private admitToMain(cand: Node<V>): void {
    const candFreq = this.sketch.frequency(cand.key);
    // Collect victims (probation first, then protected) until the candidate fits; admit only if
    // the candidate is more popular than every victim it would displace.
    let needed = this.probation.bytes + this.protectedList.bytes + cand.size - this.mainCap;
    if (needed > 0) {
      const victims: Node<V>[] = [];
      for (const list of [this.probation, this.protectedList]) {
        let v = list.peekOldest();
        while (v && needed > 0) {
          if (this.sketch.frequency(v.key) >= candFreq) {
            this.map.delete(cand.key);
            return; // candidate loses: rejected
          }
          victims.push(v);
          needed -= v.size;
          v = v.next as Node<V> | null;
        }
        if (needed <= 0) break;
      }
      if (needed > 0) {
        this.map.delete(cand.key);
        return;
      }
      for (const v of victims) this.drop(v);
    }
    cand.area = 'probation';
    this.probation.push(cand);
  }

  private drop(n: Node<V>): void {
    this.listOf(n.area).remove(n);
    this.map.delete(n.key);
  }
}
