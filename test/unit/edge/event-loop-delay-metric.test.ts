/**
 * The edge's event-loop delay histogram (edge_event_loop_delay_seconds, edge/metrics.ts) and how
 * the load tester reads a run's p99 from two scrapes of it (bench/loadtest/edge-metrics.ts).
 */
import { describe, expect, it } from 'vitest';
import { EdgeMetrics } from '../../../edge/metrics.js';
import { edgeCounters, edgeDelta, histogramP99Ms, loopDelayBuckets } from '../../../bench/loadtest/edge-metrics.js';

/** Resolves after the next turn of the event loop's timers phase has run (the sampler's due time included). */
function nextTimers(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('edge_event_loop_delay_seconds', () => {
  it('records a turn the loop was blocked in its upper buckets, and stops sampling on close', async () => {
    const m = new EdgeMetrics(
      () => undefined,
      () => 0,
    );
    try {
      const before = loopDelayBuckets(await m.registry.metrics());
      // a 120 ms synchronous turn: the sampler due 10 ms in runs at least ~110 ms late
      const end = performance.now() + 120;
      while (performance.now() < end);
      await nextTimers(20);
      const after = loopDelayBuckets(await m.registry.metrics());
      const late =
        (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0) - ((after.get(0.1) ?? 0) - (before.get(0.1) ?? 0));
      expect(late).toBeGreaterThanOrEqual(1);
    } finally {
      m.close();
    }
    const closed = loopDelayBuckets(await m.registry.metrics()).get(Infinity) ?? 0;
    await nextTimers(50);
    expect(loopDelayBuckets(await m.registry.metrics()).get(Infinity) ?? 0).toBe(closed);
  });
});

describe('the load tester’s reading of it', () => {
  const text = (counts: number[]): string =>
    [0.01, 0.05, 0.1, Infinity]
      .map(
        (le, i) =>
          `edge_event_loop_delay_seconds_bucket{le="${le === Infinity ? '+Inf' : le}"} ${counts[i]}\nedge_hits_total 1`,
      )
      .join('\n');

  it('takes the p99 of the samples between two scrapes, as the bound of its bucket', () => {
    // 1,000 samples between the scrapes: 985 within 10 ms, 10 within 50 ms, 5 within 100 ms
    const b = loopDelayBuckets(text([500, 500, 500, 500]));
    const a = loopDelayBuckets(text([1485, 1495, 1500, 1500]));
    expect(histogramP99Ms(b, a)).toBe(50);
    // no samples between them: no figure
    expect(histogramP99Ms(a, a)).toBeNull();
  });

  it('sums the buckets of several label sets (the processes of a multi-worker edge)', () => {
    const t =
      'edge_event_loop_delay_seconds_bucket{le="0.01",worker="0"} 3\nedge_event_loop_delay_seconds_bucket{worker="1",le="0.01"} 4\n';
    expect(loopDelayBuckets(t).get(0.01)).toBe(7);
  });

  it('reaches the run report through edgeDelta, and is null from an edge that does not export it', () => {
    const before = edgeCounters(text([0, 0, 0, 0]));
    const after = edgeCounters(text([90, 99, 100, 100]));
    expect(edgeDelta(before, after)?.eventLoopDelayP99Ms).toBe(50);
    expect(edgeDelta(null, edgeCounters('edge_hits_total 5\n'))?.eventLoopDelayP99Ms).toBeNull();
  });
});
