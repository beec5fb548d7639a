/**
 * The tester bench's multi-process path (bench/loadtest/local-agents.ts): a real nats-server on a
 * free loopback port, two `streamedge loadtest-agent` processes and this process coordinating,
 * plain-HLS viewers against the instant stub. The merged report must hold every viewer and every
 * request of both agents, and each agent's hold CPU, event-loop p99 and validity, from which the
 * bench takes viewers per core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentsHoldFigures, runLocalAgents } from '../../../bench/loadtest/local-agents.js';
import { LOOP_DELAY_LIMIT_MS } from '../../../bench/loadtest/report.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';

describe('tester bench: plain HLS over two tester processes', () => {
  let stub: StubServer;
  beforeAll(async () => {
    stub = await startStubServer();
  });
  afterAll(async () => {
    await stub.close();
  });

  it('reports all 100 viewers, both agents, their hold CPU and event-loop p99', async () => {
    const r = await runLocalAgents({
      url: stub.url,
      viewers: 100,
      processes: 2,
      rampSec: 2,
      durationSec: 4,
      lowLatency: false,
    });
    expect(r.viewers.started).toBe(100);
    expect(r.viewers.failed).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.config.lowLatency).toBe(false);
    expect(r.byObject.part).toBeUndefined(); // plain HLS: whole segments
    expect(r.byObject.segment.count).toBeGreaterThan(0);
    const agents = r.agents!;
    expect(agents).toHaveLength(2);
    expect(new Set(agents.map((a) => a.agentId)).size).toBe(2);
    for (const a of agents) {
      expect(a.viewers).toBe(50);
      expect(a.holdCpuSec).toBeGreaterThan(0);
      expect(a.holdCpuSec).toBeLessThanOrEqual(a.cpuSec);
      expect(a.holdSec).toBeGreaterThan(2);
      expect(a.holdRequests).toBeGreaterThan(0);
      expect(a.holdRequests).toBeLessThan(a.requests);
      expect(a.eventLoopDelayP99Ms).toBeGreaterThan(0);
      // validity and its warning follow the agent's own event-loop p99
      expect(a.valid).toBe(a.eventLoopDelayP99Ms < LOOP_DELAY_LIMIT_MS);
      expect(a.warning === undefined).toBe(a.valid);
    }
    // every request of both agents is in the merged histograms, once
    expect(r.requests.total).toBe(agents[0].requests + agents[1].requests);
    const h = agentsHoldFigures(r);
    expect(h.holdRequests).toBe(agents[0].holdRequests + agents[1].holdRequests);
    expect(h.testerCores).toBeCloseTo(
      agents[0].holdCpuSec / agents[0].holdSec + agents[1].holdCpuSec / agents[1].holdSec,
      6,
    );
    expect(h.viewersPerCore).toBe(Math.round(100 / h.testerCores));
    expect(h.valid).toBe(agents.every((a) => a.valid));
  }, 30_000);

  it('fails at once with the error of a tester process that cannot start', async () => {
    // `--workers -1` is refused by the agent's CLI: it exits 1 before announcing itself. The
    // coordinator would wait 30 s for it; the run must fail on the exit instead (the test's
    // timeout is below that wait).
    await expect(
      runLocalAgents({ url: stub.url, viewers: 4, processes: 2, agentWorkers: -1, rampSec: 0, durationSec: 1 }),
    ).rejects.toThrow(/tester process \d+ exited \(1\).*--workers/);
  }, 20_000);
});
