import { describe, expect, it } from 'vitest';
import { HitCounts } from '../../../edge/cluster/hit-counts.js';

describe('HitCounts (a worker’s hits for the store process’s sketch)', () => {
  it('counts per key, capped at the sketch counter maximum, and starts afresh after take()', () => {
    const h = new HitCounts();
    for (let i = 0; i < 3; i++) h.add('/a');
    for (let i = 0; i < 100; i++) h.add('/b');
    expect(h.take()).toEqual({ keys: ['/a', '/b'], counts: [3, 15] });
    expect(h.take()).toBeUndefined();
    h.add('/a');
    expect(h.take()).toEqual({ keys: ['/a'], counts: [1] });
  });

  it('a scan of a million keys holds at most maxKeys; keys already counted keep counting', () => {
    const h = new HitCounts(1000);
    h.add('/hot');
    for (let i = 0; i < 1_000_000; i++) h.add(`/scan/${i}`);
    h.add('/hot');
    expect(h.size).toBe(1000);
    expect(h.skipped).toBe(1_000_000 - 999);
    const r = h.take();
    expect(r?.keys.length).toBe(1000);
    expect(r?.counts[r.keys.indexOf('/hot')]).toBe(2);
  });
});
