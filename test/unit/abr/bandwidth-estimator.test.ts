import { describe, expect, it } from 'vitest';
import { BandwidthEstimator, Ewma } from '../../../src/abr/bandwidth-estimator.js';

const opts = {
  fastHalfLifeSec: 3,
  slowHalfLifeSec: 9,
  defaultEstimateBps: 500_000,
  minSampleBytes: 16_000,
  minTransferMs: 1,
};

describe('Ewma', () => {
  it('converges to a constant input without the zero-start bias', () => {
    const e = new Ewma(3);
    e.add(0.5, 4_000_000);
    expect(e.estimate).toBeCloseTo(4_000_000, 0);
  });
  it('gives half the influence to the last half-life of weight', () => {
    const e = new Ewma(2);
    for (let i = 0; i < 100; i++) e.add(1, 1000);
    e.add(2, 3000);
    expect(e.estimate).toBeCloseTo(2000, 3);
  });
});

describe('BandwidthEstimator', () => {
  it('an informed default with a weight blends with a slow first download instead of being replaced by it', () => {
    // a 1.5 Mbit/s link; the first download (connection warm-up) reads 0.75 Mbit/s over 1.9 s
    const first = { bytes: (0.75e6 / 8) * 1.9, durationMs: 1900, ttfbMs: 0 };
    const plain = new BandwidthEstimator({ ...opts, defaultEstimateBps: 1.5e6 });
    plain.sample(first);
    expect(plain.estimateBps).toBeCloseTo(0.75e6, -3);
    const weighted = new BandwidthEstimator({ ...opts, defaultEstimateBps: 1.5e6, priorWeightSec: 3 });
    expect(weighted.estimateBps).toBe(1.5e6);
    weighted.sample(first);
    // fast EWMA, bias-corrected: ≈ 1.1 Mbit/s, still enough for a 0.93 Mbit/s level at × 0.9
    expect(weighted.estimateBps).toBeGreaterThan(0.93e6 / 0.9);
    expect(weighted.estimateBps).toBeLessThan(1.2e6);
    // and real samples take over: ten seconds at 0.75 Mbit/s bring it down near the link
    for (let i = 0; i < 5; i++) weighted.sample({ ...first, bytes: (0.75e6 / 8) * 2, durationMs: 2000 });
    expect(weighted.estimateBps).toBeLessThan(0.9e6);
  });

  it('a segment that took over twice its media duration is the estimate, however fast the link was before', () => {
    // the demo's harsh cut: ten 2 s segments at loopback speed (~200 Mbit/s, each weighing its
    // 2 s of media), then the link drops to 0.86 Mbit/s and a 750 kB segment takes 7 s
    const b = new BandwidthEstimator(opts);
    for (let i = 0; i < 10; i++) b.sample({ bytes: 750_000, durationMs: 30, ttfbMs: 0, mediaDurationSec: 2 });
    expect(b.estimateBps).toBeGreaterThan(100e6);
    b.sample({ bytes: 750_000, durationMs: 7000, ttfbMs: 20, mediaDurationSec: 2 });
    // the averages restart there: ≈ 0.86 Mbit/s, not the 25+ Mbit/s the fast history left
    expect(b.estimateBps).toBeGreaterThan(0.8e6);
    expect(b.estimateBps).toBeLessThan(0.9e6);
    // a slow segment within twice its duration is one sample among the others (a dip, not a cut)
    const dip = new BandwidthEstimator(opts);
    for (let i = 0; i < 5; i++) dip.sample({ bytes: 1_500_000, durationMs: 2000, ttfbMs: 0, mediaDurationSec: 2 });
    dip.sample({ bytes: 750_000, durationMs: 3500, ttfbMs: 0, mediaDurationSec: 2 });
    expect(dip.estimateBps).toBeGreaterThan(2.5e6);
  });

  it('returns the default estimate until a sample arrives', () => {
    const b = new BandwidthEstimator(opts);
    expect(b.canEstimate).toBe(false);
    expect(b.estimateBps).toBe(500_000);
  });

  it('measures throughput over transfer time only: TTFB does not deflate it', () => {
    const noLatency = new BandwidthEstimator(opts);
    const highLatency = new BandwidthEstimator(opts);
    // 1,000,000 bytes transferred in 1.6 s = 5 Mbit/s; the second request waited 900 ms for its first byte
    noLatency.sample({ bytes: 1_000_000, durationMs: 1600, ttfbMs: 0 });
    highLatency.sample({ bytes: 1_000_000, durationMs: 2500, ttfbMs: 900 });
    expect(noLatency.estimateBps).toBeCloseTo(5_000_000, -3);
    expect(highLatency.estimateBps).toBeCloseTo(5_000_000, -3);
    // and the latency is tracked on its own
    expect(highLatency.ttfbEstimateMs).toBeGreaterThan(noLatency.ttfbEstimateMs);
  });

  it('ignores a tiny download on its own', () => {
    const b = new BandwidthEstimator(opts);
    b.sample({ bytes: 20_000, durationMs: 40, ttfbMs: 0 }); // real sample: 4 Mbit/s
    const before = b.estimateBps;
    expect(b.sample({ bytes: 300, durationMs: 0.01, ttfbMs: 0 })).toBe(false); // 240 Mbit/s of timer noise
    expect(b.estimateBps).toBe(before);
  });

  it('pools small parts into one sample once they reach the minimum size', () => {
    const b = new BandwidthEstimator(opts);
    // eight 4,000-byte parts, each in 8 ms of transfer after 50 ms TTFB: 4 Mbit/s
    const taken = [];
    for (let i = 0; i < 8; i++)
      taken.push(b.sample({ bytes: 4000, durationMs: 58, ttfbMs: 50, isPart: true, mediaDurationSec: 0.2 }));
    expect(taken.filter(Boolean)).toHaveLength(2);
    expect(b.estimateBps).toBeCloseTo(4_000_000, -3);
  });

  it('drops fast and rises slowly (minimum of the fast and slow averages)', () => {
    const b = new BandwidthEstimator(opts);
    for (let i = 0; i < 20; i++) b.sample({ bytes: 1_000_000, durationMs: 1000, ttfbMs: 0 }); // 8 Mbit/s
    b.sample({ bytes: 250_000, durationMs: 1000, ttfbMs: 0 }); // one second at 2 Mbit/s
    const afterDrop = b.estimateBps;
    expect(afterDrop).toBeLessThan(8_000_000 * 0.85);
    const b2 = new BandwidthEstimator(opts);
    for (let i = 0; i < 20; i++) b2.sample({ bytes: 250_000, durationMs: 1000, ttfbMs: 0 }); // 2 Mbit/s
    b2.sample({ bytes: 1_000_000, durationMs: 1000, ttfbMs: 0 }); // one second at 8 Mbit/s
    // the rise is smaller than the drop, relative to the change
    expect((b2.estimateBps - 2e6) / 6e6).toBeLessThan((8e6 - afterDrop) / 6e6);
  });

  it('does not let a media-paced part (it kept up with real time) pull the estimate down', () => {
    const b = new BandwidthEstimator(opts);
    b.sample({ bytes: 2_000_000, durationMs: 1600, ttfbMs: 0 }); // 10 Mbit/s
    // a 1 s part of a 2 Mbit/s rendition streamed while produced: 250 kB over ~0.95 s
    expect(b.sample({ bytes: 250_000, durationMs: 1000, ttfbMs: 50, isPart: true, mediaDurationSec: 1 })).toBe(false);
    expect(b.estimateBps).toBeCloseTo(10_000_000, -3);
    // but a part that fell behind real time is real evidence of a slow link
    expect(b.sample({ bytes: 250_000, durationMs: 2050, ttfbMs: 50, isPart: true, mediaDurationSec: 1 })).toBe(true);
    expect(b.estimateBps).toBeLessThan(10_000_000);
  });
});
