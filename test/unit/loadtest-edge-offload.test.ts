/**
 * The load tester's edge figures (bench/loadtest/edge-metrics.ts): besides the hit ratio, the
 * offload, the share of requests the edge answered without an upstream request of their own, so
 * an LL-HLS run whose playlist and part requests are mostly collapsed onto one fill does not read
 * as an edge that sends four requests in five upstream.
 */
import { describe, expect, it } from 'vitest';
import { edgeDelta, type EdgeCounters } from '../../bench/loadtest/edge-metrics.js';

const counters = (c: Partial<EdgeCounters>): EdgeCounters => ({
  hits: 0,
  misses: 0,
  requests: 0,
  upstreamRequests: 0,
  collapsed: 0,
  loopDelayBuckets: new Map(),
  ...c,
});

describe('edge offload in a load-test report', () => {
  it('counts collapsed requests as spared, where the hit ratio does not', () => {
    // the audit's LL-HLS run: 641 requests, 113 hits, 393 collapsed, 133 sent upstream
    const r = edgeDelta(
      counters({}),
      counters({ requests: 641, hits: 113, misses: 135, collapsed: 393, upstreamRequests: 133 }),
    )!;
    expect(r.hitRatio).toBeCloseTo(113 / 641, 6);
    expect(r.offload).toBeCloseTo(1 - 133 / 641, 6);
  });

  it('is null with no requests', () => {
    expect(edgeDelta(null, counters({}))!.offload).toBeNull();
  });
});
