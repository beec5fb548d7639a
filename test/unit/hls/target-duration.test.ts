import { describe, expect, it } from 'vitest';
import { extinf, targetDuration } from '../../../src/hls/target-duration.js';

describe('targetDuration (RFC 8216bis 4.4.3.1)', () => {
  it('is the largest EXTINF rounded to the nearest integer', () => {
    expect(targetDuration([4, 4.03333, 3.96667, 2])).toBe(4);
    expect(targetDuration([6.006, 5.994])).toBe(6);
    expect(targetDuration([4.49999])).toBe(4);
  });
  it('rounds a half up', () => {
    expect(targetDuration([4.5])).toBe(5);
    expect(targetDuration([2.5, 1])).toBe(3);
  });
  it('rounds the value as printed in EXTINF (5 decimals), not the raw float', () => {
    // 2.4999996 prints as "2.50000", which a client rounds to 3
    expect(extinf(2.4999996)).toBe('2.50000');
    expect(targetDuration([2.4999996])).toBe(3);
    expect(targetDuration([2.499994])).toBe(2);
  });
  it('is at least 1, even for an empty list or tiny segments', () => {
    expect(targetDuration([])).toBe(1);
    expect(targetDuration([0.3, 0.2])).toBe(1);
  });
  it('is never less than any EXTINF rounded', () => {
    const durations: number[] = [];
    for (let i = 0; i < 500; i++) durations.push(((i * 7919) % 1000) / 97 + 0.001 * (i % 13));
    const td = targetDuration(durations);
    for (const d of durations) expect(Math.round(Number(extinf(d)))).toBeLessThanOrEqual(td);
    expect(durations.some((d) => Math.round(Number(extinf(d))) === td)).toBe(true);
  });
});
