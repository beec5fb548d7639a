/**
 * --threshold parsing and evaluation: k6-style conditions with units, against a report and
 * the run's histograms.
 */
import { describe, expect, it } from 'vitest';
import { LoadStats } from '../../bench/loadtest/load-stats.js';
import { buildReport } from '../../bench/loadtest/report.js';
import { evaluateThresholds, parseThreshold } from '../../bench/loadtest/thresholds.js';

describe('parseThreshold', () => {
  it('reads metric, operator and value in base units', () => {
    expect(parseThreshold('stalls==0')).toEqual({ spec: 'stalls==0', metric: 'stalls', op: '==', value: 0 });
    expect(parseThreshold('latency.p95<3s')).toMatchObject({ metric: 'latency.p95', op: '<', value: 3000 });
    expect(parseThreshold(' ttfb.part.p99 < 500ms ')).toMatchObject({ metric: 'ttfb.part.p99', value: 500 });
    expect(parseThreshold('startup.p50<=800')).toMatchObject({ op: '<=', value: 800 });
    expect(parseThreshold('bitrate>1.5Mbps')).toMatchObject({ op: '>', value: 1_500_000 });
    expect(parseThreshold('loop.p99<20ms')).toMatchObject({ metric: 'loop.p99', value: 20 });
    expect(parseThreshold('rebuffer<0.01')).toMatchObject({ value: 0.01 });
  });

  it('rejects unknown metrics, kinds, percentiles, operators and units with the spec in the message', () => {
    for (const bad of [
      'latency<3s',
      'ttfb.video.p99<1s',
      'latency.p0<1s',
      'latency.p101<1s',
      'stalls=0',
      'stalls==0ms',
      'bitrate>3s',
      'latency.p95<3h',
      'loop.p50<1ms',
      '',
    ]) {
      expect(() => parseThreshold(bad), bad).toThrow(
        expect.objectContaining({ code: 'BAD_OPTION', message: expect.stringContaining(`'${bad}'`) }),
      );
    }
  });
});

describe('evaluateThresholds', () => {
  it('checks counters, report values and histogram percentiles; no data fails', () => {
    const s = new LoadStats();
    s.totals.started = 10;
    s.totals.stalls = 2;
    for (let i = 1; i <= 100; i++) s.request('part', i, i, 1000);
    for (let i = 0; i < 100; i++) s.recordMs('latency', 2000 + i * 10);
    const report = buildReport(s, {
      target: 'http://127.0.0.1/x.m3u8',
      startedAt: new Date(0),
      elapsedSec: 10,
      config: {
        viewers: 10,
        rampSec: 0,
        durationSec: 10,
        profile: 'unlimited',
        latencyMs: 0,
        workers: 1,
        lowLatency: true,
        http2: false,
        cmcd: 'off',
      },
      peakConcurrent: 10,
      edge: null,
      cpu: { user: 1e6, system: 0 },
      hold: null,
      maxRssMB: 100,
    });
    const results = evaluateThresholds(
      [
        'stalls==0',
        'stalls<3',
        'ttfb.part.p99<500ms',
        'ttfb.part.p50<10ms',
        'latency.p95<3s',
        'ttfb.segment.p99<1s',
      ].map(parseThreshold),
      s,
      report,
    );
    expect(results.map((r) => r.ok)).toEqual([false, true, true, false, true, false]);
    expect(results[0].actual).toBe(2);
    expect(results[3].actual).toBeCloseTo(50, 0);
    expect(results[5].actual).toBeNull();
    // the values as a person reads them, in the threshold's terms (latency p95 is about 2.95 s)
    expect(results[0].actualText).toBe('2');
    expect(results[3].actualText).toMatch(/^\d+(\.\d+)? ms$/);
    expect(results[4].actualText).toMatch(/^2\.9\d s$/);
    expect(results[5].actualText).toBe('no data');
    const bitrate = evaluateThresholds([parseThreshold('bitrate>1Mbps')], s, {
      ...report,
      averageBitrateBps: 2_984_954,
    });
    expect(bitrate[0].actualText).toBe('2.98 Mbit/s');
  });
});
