import { describe, expect, it } from 'vitest';
import { interval, summarize, versusBest } from '../../../bench/abr-qoe/confidence.js';
import { playlistEndPdt } from '../../../bench/abr-qoe/live-clock.js';

describe('abr-qoe confidence bounds', () => {
  it('mean ± t(0.975, n−1)·sd/√n', () => {
    const i = interval([1, 2, 3, 4, 5])!;
    expect(i.mean).toBe(3);
    expect(i.sd).toBeCloseTo(1.5811, 4);
    // t(0.975, 4) = 2.776
    expect(i.high - i.mean).toBeCloseTo((2.776 * 1.5811) / Math.sqrt(5), 3);
    expect(i.mean - i.low).toBeCloseTo(i.high - i.mean, 6);
    expect(interval([7])).toEqual({ n: 1, mean: 7, low: 7, high: 7, sd: 0 });
    expect(interval([])).toBeNull();
  });

  it('compares ours with the best other engine, in the direction that is good for the figure', () => {
    const byEngine = {
      ours: summarize([{ b: 3 }, { b: 3.1 }, { b: 2.9 }], ['b']),
      a: summarize([{ b: 2 }, { b: 2.1 }, { b: 1.9 }], ['b']),
      c: summarize([{ b: 2.5 }, { b: 2.6 }, { b: 2.4 }], ['b']),
    };
    expect(versusBest(byEngine, 'ours', 'b', true)).toEqual({ best: 'c', ratio: 1.2, verdict: 'better' });
    expect(versusBest(byEngine, 'ours', 'b', false)).toEqual({ best: 'a', ratio: 1.5, verdict: 'worse' });
    const close = { ours: summarize([{ b: 1 }, { b: 3 }], ['b']), a: summarize([{ b: 2 }, { b: 2.2 }], ['b']) };
    expect(versusBest(close, 'ours', 'b', true).verdict).toBe('overlap');
  });

  it('reads the PDT of the end of the newest part of an LL-HLS playlist', () => {
    const text = [
      '#EXTM3U',
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z',
      '#EXT-X-PART:DURATION=0.5,URI="a.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PART:DURATION=0.5,URI="a.1.m4s"',
      '#EXTINF:1.0,',
      'a.m4s',
      '#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z',
      '#EXT-X-PART:DURATION=0.5,URI="b.0.m4s",INDEPENDENT=YES',
      '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="b.1.m4s"',
    ].join('\n');
    expect(playlistEndPdt(text)).toBe(Date.parse('2026-01-01T00:00:01.500Z'));
  });
});
