/**
 * What the coordinator reports of each agent (bench/loadtest/nats-coordinator.ts): its CPU over
 * the whole run and over the hold, and whether it kept up, with a warning naming it when its
 * event-loop delay p99 reached the limit; the text report prints that warning.
 */
import { describe, expect, it } from 'vitest';
import { LoadStats } from '../../bench/loadtest/load-stats.js';
import { agentReport } from '../../bench/loadtest/nats-coordinator.js';
import type { DoneMessage } from '../../bench/loadtest/nats-protocol.js';
import { buildReport, formatReport, LOOP_DELAY_LIMIT_MS } from '../../bench/loadtest/report.js';

function done(agentId: string, loopDelayP99Ms: number): DoneMessage {
  const stats = new LoadStats();
  stats.requests = 3000;
  stats.loopDelayP99Ms = loopDelayP99Ms;
  return {
    agentId,
    host: 'load1',
    viewers: 500,
    workers: 1,
    stats: stats.serialize(),
    cpuSec: 6,
    elapsedSec: 30,
    maxRssMB: 120.4,
    holdCpuSec: 4,
    holdSec: 20,
    holdRequests: 2000,
  };
}

describe("the report's hold figures", () => {
  const meta = {
    target: 'http://127.0.0.1:1/live.m3u8',
    startedAt: new Date(0),
    elapsedSec: 40,
    config: {
      viewers: 1000,
      rampSec: 10,
      durationSec: 30,
      profile: 'unlimited',
      latencyMs: 0,
      workers: 2,
      lowLatency: true,
      http2: false,
      cmcd: 'off',
    },
    peakConcurrent: 1000,
    edge: null,
    cpu: { user: 16e6, system: 4e6 },
    maxRssMB: 0,
  };
  it('gives the steady cost over the hold apart from the whole run (start-up and ramp included)', () => {
    const report = buildReport(new LoadStats(), { ...meta, hold: { sec: 29, cpuUs: 8.7e6, requests: 145_000 } });
    expect(report.loadTester.cores).toBe(0.5);
    expect(report.loadTester.hold).toEqual({ sec: 29, cores: 0.3, cpuUsPerRequest: 60 });
    expect(formatReport(report)).toContain('hold 0.30 cores, 60.0 µs per request');
    // a run stopped in its ramp has no hold
    expect(buildReport(new LoadStats(), { ...meta, hold: null }).loadTester.hold).toBeNull();
  });

  it('tells a tester that fell behind only in the ramp from one that fell behind in the hold', () => {
    const late = (whole: number, hold: number) => {
      const s = new LoadStats();
      s.loopDelayP99Ms = whole;
      s.holdLoopDelayP99Ms = hold;
      return buildReport(s, { ...meta, hold: null }).loadTester;
    };
    const rampOnly = late(45, 8);
    expect(rampOnly.valid).toBe(false);
    expect(rampOnly.holdEventLoopDelayP99Ms).toBe(8);
    expect(rampOnly.warning).toContain('over the hold alone it kept up (p99 8 ms)');
    const both = late(45, 30);
    expect(both.valid).toBe(false);
    expect(both.warning).not.toContain('over the hold alone');
    expect(late(5, 4).warning).toBeUndefined();
  });
});

describe('agentReport', () => {
  it('gives whole-run and hold cores, and a valid agent no warning', () => {
    const a = agentReport(done('aaaaaaaa-1', 4.5));
    expect(a).toMatchObject({ cpuSec: 6, cores: 0.2, holdCpuSec: 4, holdCores: 0.2, holdSec: 20, holdRequests: 2000 });
    expect(a.requests).toBe(3000);
    expect(a.eventLoopDelayP99Ms).toBe(4.5);
    expect(a.valid).toBe(true);
    expect(a.warning).toBeUndefined();
  });

  it('marks an agent at or over the event-loop limit invalid and names it in the warning', () => {
    const a = agentReport(done('bbbbbbbb-2', LOOP_DELAY_LIMIT_MS));
    expect(a.valid).toBe(false);
    expect(a.warning).toMatch(/load-test agent load1 bbbbbbbb was the bottleneck \(event-loop delay p99 20 ms/);
  });

  it('prints each invalid agent as a WARNING line of the text report', () => {
    const report = buildReport(new LoadStats(), {
      target: 'http://127.0.0.1:1/live.m3u8',
      startedAt: new Date(0),
      elapsedSec: 30,
      config: {
        viewers: 1000,
        rampSec: 10,
        durationSec: 20,
        profile: 'unlimited',
        latencyMs: 0,
        workers: 1,
        lowLatency: false,
        http2: false,
        cmcd: 'off',
      },
      peakConcurrent: 0,
      edge: null,
      cpu: { user: 0, system: 0 },
      hold: null,
      maxRssMB: 0,
    });
    report.agents = [agentReport(done('aaaaaaaa-1', 3)), agentReport(done('bbbbbbbb-2', 150))];
    const warnings = formatReport(report)
      .split('\n')
      .filter((l) => l.includes('WARNING'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('agent load1 bbbbbbbb was the bottleneck (event-loop delay p99 150 ms');
  });
});
