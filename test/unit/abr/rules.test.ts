import { describe, expect, it } from 'vitest';
import { BolaRule } from '../../../src/abr/bola.js';
import { throughputRank, highestFitting } from '../../../src/abr/throughput-rule.js';
import { catchUpPlaybackRate } from '../../../src/abr/low-latency.js';
import { DEFAULT_ABR_CONFIG } from '../../../src/abr/config.js';

const bitrates = [400e3, 1e6, 2e6, 3.5e6, 6e6];

describe('BolaRule', () => {
  const bola = new BolaRule(bitrates, 4, 20);
  it('prefers the lowest level at the minimum buffer and the highest at the target buffer', () => {
    expect(bola.choose(0)).toBe(0);
    expect(bola.choose(4)).toBe(0);
    expect(bola.choose(20)).toBe(bitrates.length - 1);
    expect(bola.choose(40)).toBe(bitrates.length - 1);
  });
  it('never picks a lower level for a fuller buffer, and uses the middle of the ladder in between', () => {
    let prev = 0;
    const seen = new Set<number>();
    for (let b = 0; b <= 25; b += 0.25) {
      const r = bola.choose(b);
      expect(r).toBeGreaterThanOrEqual(prev);
      prev = r;
      seen.add(r);
    }
    expect(seen.size).toBe(bitrates.length);
  });
  it('copes with a single-level ladder', () => {
    expect(new BolaRule([1e6], 4, 20).choose(10)).toBe(0);
  });
  it('names the buffer below which it leaves a level, where choose() does', () => {
    for (const [min, target] of [
      [4, 20],
      [4, 28],
      [10 / 3, 10],
    ]) {
      const b = new BolaRule(bitrates, min, target);
      expect(b.minBufferFor(0)).toBe(0);
      for (let rank = 1; rank < bitrates.length; rank++) {
        const at = b.minBufferFor(rank);
        expect(b.choose(at + 0.01)).toBeGreaterThanOrEqual(rank);
        expect(b.choose(at - 0.01)).toBeLessThan(rank);
      }
    }
  });
});

describe('throughput rule', () => {
  const rule = { safetyFactor: 0.9, upFactor: 0.7 };
  it('starts at the highest level the estimate sustains', () => {
    expect(throughputRank(bitrates, 2.5e6, -1, rule)).toBe(2);
    expect(highestFitting(bitrates, 100)).toBe(0);
  });
  it('has a band where it neither goes up nor down', () => {
    // 4.5 Mbit/s: keeps 3.5M (4.05 ≥ 3.5) but 6M needs 8.6 Mbit/s
    expect(throughputRank(bitrates, 4.5e6, 3, rule)).toBe(3);
    // 3 Mbit/s at 2M: 3×0.7 = 2.1 < 3.5, stays at 2M
    expect(throughputRank(bitrates, 3e6, 2, rule)).toBe(2);
    // 3.2 Mbit/s at 3.5M: 2.88 < 3.5 → down to 2M
    expect(throughputRank(bitrates, 3.2e6, 3, rule)).toBe(2);
    // 6 Mbit/s at 2M → up to 3.5M (4.2 ≥ 3.5), unless an up-switch is on hold
    expect(throughputRank(bitrates, 6e6, 2, rule)).toBe(3);
    expect(throughputRank(bitrates, 6e6, 2, rule, false)).toBe(2);
  });
});

describe('catch-up playback rate', () => {
  const o = DEFAULT_ABR_CONFIG;
  it('is 1 within the tolerance around the target', () => {
    expect(catchUpPlaybackRate({ latencySec: o.targetLatencySec + 0.1, bufferSec: 2 }, o)).toBe(1);
  });
  it('speeds up when behind and slows down when too close, within 1 ± maxDelta', () => {
    const fast = catchUpPlaybackRate({ latencySec: o.targetLatencySec + 3, bufferSec: 3 }, o);
    const slow = catchUpPlaybackRate({ latencySec: o.targetLatencySec - 1.5, bufferSec: 1.5 }, o);
    expect(fast).toBeGreaterThan(1.02);
    expect(fast).toBeLessThanOrEqual(1 + o.maxPlaybackRateDelta);
    expect(slow).toBeLessThan(0.99);
    expect(slow).toBeGreaterThanOrEqual(1 - o.maxPlaybackRateDelta);
    expect(catchUpPlaybackRate({ latencySec: 100, bufferSec: 100 }, o)).toBeLessThanOrEqual(1 + o.maxPlaybackRateDelta);
  });
  it('slows down when the buffer is nearly empty, even when behind', () => {
    expect(catchUpPlaybackRate({ latencySec: o.targetLatencySec + 3, bufferSec: 0.1 }, o)).toBeLessThan(1);
  });
});
