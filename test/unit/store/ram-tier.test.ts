import { describe, expect, it } from 'vitest';
import { CountMinSketch } from '../../../edge/store/count-min-sketch.js';
import { RamTier } from '../../../edge/store/ram-tier.js';

/** Access = count in the sketch, then look up; on a miss, offer the object (what LogStore does). */
function access(t: RamTier<string>, s: CountMinSketch, key: string, size: number): boolean {
  s.increment(key);
  if (t.get(key) !== undefined) return true;
  t.set(key, key, size);
  return false;
}

describe('RamTier (W-TinyLFU)', () => {
  it('never holds more bytes than its budget', () => {
    const s = new CountMinSketch(4096);
    const t = new RamTier<string>(s, { capacityBytes: 100_000 });
    let x = 1;
    for (let i = 0; i < 5000; i++) {
      x = (x * 48271) % 2147483647;
      access(t, s, `k${x % 500}`, 500 + (x % 5000));
      expect(t.bytes).toBeLessThanOrEqual(100_000);
    }
    expect(t.size).toBeGreaterThan(5);
  });

  it('keeps a hot set against a scan of one-hit wonders (plain LRU would lose it)', () => {
    const s = new CountMinSketch(4096);
    const t = new RamTier<string>(s, { capacityBytes: 64 * 1024 });
    const hot = Array.from({ length: 40 }, (_, i) => `/live/ch/${i}.m3u8`);
    for (let round = 0; round < 5; round++) for (const k of hot) access(t, s, k, 1024);
    for (let i = 0; i < 3000; i++) access(t, s, `/scan/${i}`, 1024); // 3000 KiB of one-hit wonders through 64 KiB
    let kept = 0;
    for (const k of hot) if (t.peek(k) !== undefined) kept++;
    expect(kept).toBeGreaterThanOrEqual(36);
    // the scan only got the room the hot set left free (24 KiB), it did not take over
    let scanned = 0;
    for (let i = 0; i < 3000; i++) if (t.peek(`/scan/${i}`) !== undefined) scanned++;
    expect(scanned).toBeLessThanOrEqual(24);
    expect(t.bytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('a new popular key gets in once it is more popular than the victim', () => {
    const s = new CountMinSketch(4096);
    const t = new RamTier<string>(s, { capacityBytes: 10 * 1024 });
    for (let r = 0; r < 2; r++) for (let i = 0; i < 10; i++) access(t, s, `/old/${i}`, 1024);
    for (let r = 0; r < 6; r++) access(t, s, '/rising', 1024);
    expect(t.peek('/rising')).toBe('/rising');
    expect(t.bytes).toBeLessThanOrEqual(10 * 1024);
  });

  it('replace, delete, and objects larger than the main area', () => {
    const s = new CountMinSketch(1024);
    const t = new RamTier<string>(s, { capacityBytes: 10_000 });
    t.set('a', 'v1', 100);
    expect(t.replace('a', 'v2', 200)).toBe(true);
    expect(t.peek('a')).toBe('v2');
    expect(t.bytes).toBe(200);
    expect(t.replace('missing', 'x', 1)).toBe(false);
    t.set('huge', 'x', 20_000);
    expect(t.has('huge')).toBe(false);
    expect(t.delete('a')).toBe(true);
    expect(t.bytes).toBe(0);
  });
});
