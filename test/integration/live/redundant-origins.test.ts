/**
 * The headline of redundant live origins (bench/redundant-origins.ts runs the scenario): one live
 * channel on two origin PROCESSES started with the same `--epoch` (real ffmpeg lavfi encoders),
 * one edge in front with `--upstream a,b`, 200 viewers from the load tester playing LL-HLS
 * through it, and origin A SIGKILLed once every viewer plays. The spec: no viewer fails (the load
 * tester's player retries a failed request), at most one stall per 10 viewers from the failover
 * (stalls after the kill less the same run's rate before it), and no viewer ever sees a playlist
 * whose MSN went backwards. The figures are printed.
 */
import { loadavg } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runRedundantOrigins } from '../../../bench/redundant-origins.js';

const VIEWERS = 200;
const WINDOW_SEC = 10;

describe('a live channel on two epoch-locked origins behind one edge', () => {
  it(`${VIEWERS} viewers play through origin A's SIGKILL: no viewer fails, ≤ 1 stall per 10 viewers, MSN never backwards`, async () => {
    const r = await runRedundantOrigins({
      viewers: VIEWERS,
      killAfterSec: 12,
      windowSec: WINDOW_SEC,
      rampSec: 3,
      durationSec: 24,
      workers: 1,
    });
    const rep = r.report;
    console.log(
      `redundant origins: ${VIEWERS} viewers, origin A SIGKILLed at ${r.killedAtSec} s of ${rep.elapsedSec.toFixed(1)} s; ` +
        `failed ${rep.viewers.failed}, stalls ${rep.stalls} (${((rep.stalls / VIEWERS) * 10).toFixed(2)} per 10 viewers), ` +
        `errors ${JSON.stringify(rep.errors)}, rebuffer ratio ${rep.rebufferRatio.toFixed(4)}, ` +
        `latency p50 ${rep.liveLatencySec?.p50} s, edge failovers ${JSON.stringify(r.failoversByReason)}; ` +
        `stalls in the ${WINDOW_SEC} s before the kill ${r.stallsBefore}, after ${r.stallsAfter}: ` +
        `${r.failoverStalls} from the failover = ${r.failoverStallsPer10Viewers.toFixed(2)} per 10 viewers; ` +
        `tester valid ${rep.loadTester.valid} (event-loop p99 ${rep.loadTester.eventLoopDelayP99Ms} ms), load ${loadavg()[0].toFixed(1)}`,
    );
    expect(r.primaryWasCurrent).toBe(true);
    expect(r.killedAtSec).toBeDefined();
    expect(r.killedBySignal).toBe(true);
    expect(rep.viewers).toMatchObject({ started: VIEWERS, ended: VIEWERS, failed: 0 });
    expect(rep.timeline.at(-1)!.t).toBeGreaterThanOrEqual(r.killedAtSec! + WINDOW_SEC);
    expect(r.failoverStalls).toBeLessThanOrEqual(VIEWERS / 10);
    expect(rep.errors['playlist_msn_backwards']).toBeUndefined();
    // the edge failed over to B and stays there (A is gone)
    expect(r.failovers).toBeGreaterThanOrEqual(1);
    expect(r.backupIsCurrent).toBe(true);
    // viewers kept playing after the kill: parts were delivered all along
    expect(rep.byObject.part.count).toBeGreaterThan(VIEWERS * 10);
  }, 150_000);
});
