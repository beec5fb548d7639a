/**
 * The load tester's worker threads (bench/loadtest/workers.ts) against the instant live stub, on
 * real sockets: the threads load first and start their ramps together (no viewer request before
 * every thread is loaded), a stop while they load ends the run without a viewer, and a run with
 * threads reports the tester's CPU over the hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerFleet } from '../../../bench/loadtest/workers.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

let stub: StubServer;
beforeAll(async () => {
  stub = await startStubServer();
});
afterAll(async () => {
  await stub.close();
});

const served = () => Object.values(stub.counts).reduce((a, b) => a + b, 0);
const pool = (viewers: number, durationSec: number) => ({
  url: stub.url,
  viewers,
  rampSec: 0,
  durationSec,
  profile: 'unlimited',
  latencyMs: 0,
});

describe('load-test worker threads', () => {
  it('start their viewers only once every thread is loaded, then all of them play', async () => {
    const fleet = new WorkerFleet(pool(4, 1.5), 2);
    const before = served();
    let atStart = -1;
    const { stats } = await fleet.run(() => (atStart = served() - before));
    expect(atStart).toBe(0);
    expect(stats.totals.started).toBe(4);
    expect(stats.requests).toBeGreaterThan(4 * 3);
    expect(served() - before).toBeGreaterThanOrEqual(stats.requests);
  });

  it('a stop while the threads load ends the run without starting a viewer', async () => {
    const fleet = new WorkerFleet(pool(4, 30), 2);
    const before = served();
    let started = false;
    const running = fleet.run(() => (started = true));
    fleet.stop(); // the threads are still loading their modules (about a second)
    const { stats } = await running;
    expect(started).toBe(true); // the fleet went on to its start; the stopped threads did not
    expect(stats.totals.started).toBe(0);
    expect(served() - before).toBe(0);
  });

  it('a run on threads reports the tester CPU over the hold, which begins after the ramp', async () => {
    const r = await runLoadTest({ url: stub.url, viewers: 4, rampSec: 1, durationSec: 3, workers: 2 });
    expect(r.viewers.started).toBe(4);
    const hold = r.loadTester.hold!;
    expect(hold).not.toBeNull();
    // from a second after the ramp to the end: about duration − 1 s, never the threads' loading
    expect(hold.sec).toBeGreaterThan(1.5);
    expect(hold.sec).toBeLessThan(3);
    expect(hold.cores).toBeGreaterThan(0);
    expect(hold.cpuUsPerRequest).toBeGreaterThan(0);
    expect(r.loadTester.holdEventLoopDelayP99Ms).not.toBeNull();
  });
});
