/**
 * The load tester's pure parts: the virtual playhead's accounting, bandwidth profiles and the
 * shaper's pacing, Prometheus scraping arithmetic, and the loopback policy.
 */
import { describe, expect, it } from 'vitest';
import { edgeCounters, edgeDelta, parsePromText } from '../../../bench/loadtest/edge-metrics.js';
import { Playhead } from '../../../bench/loadtest/playhead.js';
import { parseProfile, Shaper } from '../../../bench/loadtest/shaping.js';
import { checkTarget, isLoopbackHost } from '../../../bench/loadtest/target-policy.js';

describe('Playhead', () => {
  it('starts at the threshold, drains in real time, and counts a stall from the moment the buffer ran dry', () => {
    let now = 0;
    const ph = new Playhead({ startThresholdSec: 2, now: () => now });
    now = 500;
    ph.append(1);
    expect(ph.playing).toBe(false);
    now = 800;
    ph.append(1); // 2 s buffered: starts
    expect(ph.startupMs).toBe(800);
    now = 2300; // 1.5 s played
    ph.update();
    expect(ph.bufferSec).toBeCloseTo(0.5, 6);
    now = 4000; // ran dry at 2800
    ph.update();
    expect(ph.stalls).toBe(1);
    now = 5000;
    ph.append(2); // resumes: stalled 2800 → 5000
    expect(ph.stallMs).toBe(2200);
    expect(ph.playMs).toBe(2000);
    ph.markEnded();
    now = 9000; // runs dry after the end: not a stall
    ph.finish();
    expect(ph.stalls).toBe(1);
    expect(ph.stallMs).toBe(2200);
    expect(ph.playMs).toBe(4000);
  });

  it('measures live latency from program date-time and honours the playback rate', () => {
    let now = 0;
    const ph = new Playhead({ startThresholdSec: 1, now: () => now });
    ph.append(2, 1_000_000);
    ph.rate = 1.05;
    now = 1000;
    ph.update();
    expect(ph.position).toBeCloseTo(1.05, 6);
    expect(ph.latencySec(1_003_000)).toBeCloseTo(3 - 1.05, 6);
  });

  it('joins at the hold-back: media before the seek point is fetched but not played, and latency counts from it', () => {
    let now = 0;
    const ph = new Playhead({ startThresholdSec: 1, now: () => now });
    ph.seek(1.5); // the key frame is 1.5 s before the join point
    ph.append(1, 1_000_000); // media 0–1 s: all before the join point
    ph.append(1, 1_001_000); // 1–2 s: 0.5 s past it
    expect(ph.playing).toBe(false);
    ph.append(1, 1_002_000); // 1.5 s past it: starts
    expect(ph.playing).toBe(true);
    expect(ph.bufferSec).toBeCloseTo(1.5, 6);
    // presenting media time 1.5 s, whose wall clock is 1_001_500
    expect(ph.latencySec(1_003_500)).toBeCloseTo(2, 6);
    now = 1500;
    ph.update();
    expect(ph.bufferSec).toBeCloseTo(0, 6);
    expect(ph.playMs).toBe(1500);
    ph.seek(5); // once playing, a join point no longer applies
    expect(ph.position).toBeCloseTo(3, 6);
  });
});

describe('bandwidth profiles and shaping', () => {
  it('parses fixed, built-in and unknown profiles', () => {
    expect(parseProfile('fixed:5').mbpsAt(100)).toBe(5);
    const cascade = parseProfile('cascade');
    expect(cascade.mbpsAt(0)).toBeGreaterThan(cascade.mbpsAt(45));
    const spike = parseProfile('spike');
    expect(spike.mbpsAt(22)).toBeLessThan(spike.mbpsAt(5));
    expect(parseProfile(undefined).mbpsAt(1)).toBe(Infinity);
    expect(() => parseProfile('fixed:0')).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
    expect(() => parseProfile('warp')).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });

  it('paces body reads to the profile rate', () => {
    const s = new Shaper(parseProfile('fixed:8'), 0, 0); // 8 Mbit/s = 1 byte per µs
    expect(s.delayAfter(100_000, 0)).toBeCloseTo(100, 6); // 100 kB → 100 ms
    expect(s.delayAfter(100_000, 50)).toBeCloseTo(150, 6); // the link is still busy with the first
    expect(s.delayAfter(100_000, 1000)).toBeCloseTo(100, 6); // idle link: no debt carried
  });
});

describe('edge metrics scraping', () => {
  const text = (hits: number, misses: number, upstream: number) =>
    `# HELP edge_hits_total x\n# TYPE edge_hits_total counter\nedge_hits_total ${hits}\nedge_misses_total ${misses}\n` +
    `edge_requests_total{result="hit"} ${hits}\nedge_requests_total{result="miss"} ${misses}\n` +
    `edge_upstream_requests_total{target="origin",status="200"} ${upstream - 1}\nedge_upstream_requests_total{target="origin",status="304"} 1\n`;

  it('sums labelled samples and reports deltas over the run', () => {
    expect(parsePromText(text(1, 2, 3)).get('edge_requests_total')).toBe(3);
    const d = edgeDelta(edgeCounters(text(10, 5, 5)), edgeCounters(text(100, 15, 16)));
    expect(d).toMatchObject({ hits: 90, misses: 10, requests: 100, upstreamRequests: 11 });
    expect(d!.hitRatio).toBeCloseTo(0.9, 9);
  });

  it('accepts a streamedge_ prefix and yields null for a target that is not our edge', () => {
    expect(edgeCounters('streamedge_edge_hits_total 4\nstreamedge_edge_upstream_requests_total 1\n')).toMatchObject({
      hits: 4,
      upstreamRequests: 1,
    });
    expect(edgeCounters('nginx_up 1\n')).toBeNull();
  });
});

describe('target policy', () => {
  it('allows loopback only, unless a host is named', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(isLoopbackHost(h)).toBe(true);
    for (const h of ['10.0.0.1', 'example.com', '0.0.0.0']) expect(isLoopbackHost(h)).toBe(false);
    expect(checkTarget('http://[::1]:8080/x.m3u8').hostname).toBe('[::1]');
    expect(() => checkTarget('http://test-edge.internal/x.m3u8')).toThrow(
      expect.objectContaining({ code: 'LOADTEST_TARGET_REFUSED' }),
    );
    expect(checkTarget('http://test-edge.internal/x.m3u8', ['test-edge.internal']).hostname).toBe('test-edge.internal');
    expect(() => checkTarget('ftp://127.0.0.1/x')).toThrow(expect.objectContaining({ code: 'BAD_OPTION' }));
  });
});
