/**
 * Count-min sketch with 4-bit-style saturating counters (capped at 15) and periodic halving
 * (the TinyLFU "reset"): after `sampleSize` increments every counter is halved, so the estimate
 * follows recent popularity instead of all-time popularity.
 */
const DEPTH = 4;
/** A counter's maximum: more increments of one key than this change nothing. */
export const MAX_COUNT = 15;

/** murmur3's fmix32: every output bit depends on every input bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over UTF-16 code units, finished with an fmix32 avalanche. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export class CountMinSketch {
  private readonly table: Uint8Array;
  private readonly mask: number;
  private readonly width: number;
  private readonly sampleSize: number;
  private additions = 0;
  private resets = 0;

  /** @param expectedKeys roughly how many distinct keys matter at a time (sizes the table). */
  constructor(expectedKeys: number) {
    let w = 1024;
    while (w < expectedKeys && w < 1 << 24) w <<= 1;
    this.width = w;
    this.mask = w - 1;
    this.table = new Uint8Array(w * DEPTH);
    this.sampleSize = 10 * w;
  }

  private slot(h: number, i: number): number {
    // One independent re-hash per row (deriving rows by plain arithmetic on h would make keys that
    // collide in one row collide in all of them).
    return i * this.width + (fmix32((h + Math.imul(i + 1, 0x9e3779b9)) | 0) & this.mask);
  }

  increment(key: string): void {
    const h = hashString(key);
    let added = false;
    for (let i = 0; i < DEPTH; i++) {
      const s = this.slot(h, i);
      if (this.table[s] < MAX_COUNT) {
        this.table[s]++;
        added = true;
      }
    }
    if (added && ++this.additions >= this.sampleSize) this.halve();
  }

  frequency(key: string): number {
    const h = hashString(key);
    let min = MAX_COUNT;
    for (let i = 0; i < DEPTH; i++) min = Math.min(min, this.table[this.slot(h, i)]);
    return min;
  }

  /** Halves every counter (called automatically every `sampleSize` increments). */
  halve(): void {
    for (let i = 0; i < this.table.length; i++) this.table[i] = this.table[i] >>> 1;
    this.additions = Math.floor(this.additions / 2);
    this.resets++;
  }

  get halvings(): number {
    return this.resets;
  }
}
