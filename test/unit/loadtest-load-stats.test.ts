import { describe, expect, it } from 'vitest';
import { LoadStats } from '../../bench/loadtest/load-stats.js';

describe('LoadStats.request (per-kind histograms looked up once)', () => {
  it('records TTFB and download time under ttfb.<kind> and download.<kind>, per kind, and survives a merge', () => {
    const s = new LoadStats();
    for (let i = 1; i <= 100; i++) s.request('segment', i, 2 * i, 1000);
    s.request('playlist', 5, 6, 200);
    // a value that cannot be a duration is dropped, the request still counted
    s.request('playlist', Number.NaN, -1, 100);
    expect(s.requests).toBe(102);
    expect(s.bytes).toBe(100_300);
    expect(s.count('ttfb.segment')).toBe(100);
    expect(s.count('download.segment')).toBe(100);
    expect(s.count('ttfb.playlist')).toBe(1);
    expect(s.count('download.playlist')).toBe(1);
    expect(s.count('ttfb.part')).toBe(0);
    expect(s.percentileMs('ttfb.segment', 50)).toBeCloseTo(50, 1);
    expect(s.percentileMs('download.segment', 99)).toBeCloseTo(198, 0);
    // recordMs with the same name lands in the same histogram as request()
    s.recordMs('ttfb.segment', 1000);
    expect(s.count('ttfb.segment')).toBe(101);

    const merged = new LoadStats();
    merged.merge(s.serialize());
    merged.merge(s.serialize());
    expect(merged.count('ttfb.segment')).toBe(202);
    expect(merged.count('download.playlist')).toBe(2);
    // the merged side records into the histograms the merge made
    merged.request('playlist', 7, 8, 1);
    expect(merged.count('ttfb.playlist')).toBe(3);
  });
});
