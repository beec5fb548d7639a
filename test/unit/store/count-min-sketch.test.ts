import { describe, expect, it } from 'vitest';
import { CountMinSketch, hashString } from '../../../edge/store/count-min-sketch.js';

describe('CountMinSketch', () => {
  it('never under-estimates below the true count (up to the 15 cap) and separates hot from cold', () => {
    const s = new CountMinSketch(4096);
    for (let i = 0; i < 10; i++) s.increment('/hot');
    for (let i = 0; i < 2000; i++) s.increment(`/cold-${i}`);
    expect(s.frequency('/hot')).toBeGreaterThanOrEqual(10);
    let collisions = 0;
    for (let i = 0; i < 2000; i++) if (s.frequency(`/cold-${i}`) > 2) collisions++;
    expect(collisions).toBeLessThan(20);
    expect(s.frequency('/never-seen')).toBeLessThanOrEqual(2);
    for (let i = 0; i < 100; i++) s.increment('/hot');
    expect(s.frequency('/hot')).toBe(15);
  });

  it('halves every counter periodically so old popularity fades', () => {
    const s = new CountMinSketch(1024); // width 1024 -> halving after 10240 increments
    for (let i = 0; i < 12; i++) s.increment('/was-hot');
    const before = s.frequency('/was-hot');
    let i = 0;
    while (s.halvings === 0) s.increment(`/other-${i++}`);
    expect(i).toBeLessThanOrEqual(11_000); // 10 x width increments (saturated ones do not count)
    expect(s.frequency('/was-hot')).toBeLessThanOrEqual(Math.ceil(before / 2) + 1);
    expect(s.frequency('/was-hot')).toBeGreaterThanOrEqual(Math.floor(before / 2));
  });

  it('hashString spreads similar keys', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(hashString(`/vod/asset/720p/seg-${i}.m4s`) & 0xffff);
    expect(seen.size).toBeGreaterThan(8000);
  });
});
