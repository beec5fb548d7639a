import { MAX_COUNT } from '../store/count-min-sketch.js';

/** How many distinct keys a worker counts between two reports (a scan cannot grow it past this). */
const HIT_COUNT_KEYS = 8192;

/**
 * The hits one edge worker served since its last report, per key, for the store process's W-TinyLFU
 * sketch (its admission and copy-forward at eviction). Counting is O(1) and allocation-free for a
 * key already counted (a Map update of a small integer); a count stops at the sketch's counter
 * maximum (more changes nothing there). Bounded: past `maxKeys` distinct keys, new keys are not
 * counted until the next report (`skipped` says how many hits that left out): a scan of a million
 * keys, each hit once, is exactly what the sketch must not learn anyway.
 */
export class HitCounts {
  private counts = new Map<string, number>();
  skipped = 0;

  constructor(private readonly maxKeys = HIT_COUNT_KEYS) {}

  add(key: string): void {
    const n = this.counts.get(key);
    if (n !== undefined) {
      if (n < MAX_COUNT) this.counts.set(key, n + 1);
    } else if (this.counts.size < this.maxKeys) this.counts.set(key, 1);
    else this.skipped++;
  }

  get size(): number {
    return this.counts.size;
  }

  /** The counts so far as one report ({keys, counts}), and a fresh start; undefined if nothing was counted. */
  take(): { keys: string[]; counts: number[] } | undefined {
    if (this.counts.size === 0) return undefined;
    const keys = [...this.counts.keys()];
    const counts = [...this.counts.values()];
    this.counts = new Map();
    return { keys, counts };
  }
}
