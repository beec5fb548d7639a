/**
 * `loadtest … --nats <url> --agents N`: this process coordinates, the agents play. It waits for N
 * agents to announce themselves, gives each an interleaved share of the viewers (agent i plays
 * viewers i, i+N, …, so every agent ramps over the whole ramp) and a common start time, sums their
 * progress counters for the progress line and timeline, and merges their stats at the end (HDR
 * histograms added, so percentiles are exact over all viewers). Per-agent CPU goes into the report.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { StreamedgeError } from '../../src/errors.js';
import { LoadStats } from './load-stats.js';
import {
  SUBJECT,
  type AgentReport,
  type AssignMessage,
  type DoneMessage,
  type FailedMessage,
  type ProgressMessage,
  type ReadyMessage,
} from './nats-protocol.js';
import { agentWarning, LOOP_DELAY_LIMIT_MS, zeroProgressCounters, type ProgressCounters } from './report.js';
import type { PoolOptions } from './viewer-pool.js';

/** How long to wait for the agents to show up. */
const GATHER_MS = 30_000;
/** Lead time between the assignment and the common start (clock skew and agent start-up). */
const START_LEAD_MS = 1500;
/** After the run's end, how long agents get to send their stats. */
const COLLECT_GRACE_MS = 30_000;

export class NatsFleet {
  readonly agents: AgentReport[] = [];
  private readonly latest = new Map<string, ProgressCounters>();
  private nc: NatsConnection | undefined;
  private readonly runId = randomUUID().slice(0, 8);
  private stopped = false;
  /** While waiting for agents: stopping ends the wait at once. */
  private gathering: Subscription | undefined;

  constructor(
    private readonly natsUrl: string,
    private readonly agentCount: number,
    private readonly o: PoolOptions,
    private readonly allowHosts: string[],
  ) {}

  progress(): ProgressCounters {
    const sum = zeroProgressCounters();
    for (const p of this.latest.values())
      for (const k of Object.keys(sum) as (keyof ProgressCounters)[]) sum[k] += p[k];
    return sum;
  }

  async run(): Promise<{ stats: LoadStats; maxRssMB: number }> {
    try {
      this.nc = await connect({ servers: this.natsUrl, name: 'loadtest-coordinator' });
    } catch (e) {
      throw new StreamedgeError('LOADTEST_NATS', `cannot reach NATS at ${this.natsUrl}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const nc = this.nc;
    const subs: Subscription[] = [];
    try {
      const ready = await this.gather(nc);
      const merged = new LoadStats();
      let maxRssMB = 0;
      const pending = new Set(ready.map((a) => a.agentId));
      const finished = new Promise<void>((resolve, reject) => {
        subs.push(
          nc.subscribe(SUBJECT.progress(this.runId), {
            callback: (_e, m) => {
              const p = m.json<ProgressMessage>();
              if (pending.has(p.agentId)) this.latest.set(p.agentId, p.counters);
            },
          }),
          nc.subscribe(SUBJECT.done(this.runId), {
            callback: (_e, m) => {
              const d = m.json<DoneMessage>();
              if (!pending.delete(d.agentId)) return;
              merged.merge(d.stats);
              maxRssMB = Math.max(maxRssMB, d.maxRssMB);
              this.agents.push(agentReport(d));
              // its last progress counters stay in the sum: dropping them made the last second of the
              // progress line and timeline fall to 0 viewers and a negative request rate
              if (pending.size === 0) resolve();
            },
          }),
          nc.subscribe(SUBJECT.failed(this.runId), {
            callback: (_e, m) => {
              const f = m.json<FailedMessage>();
              if (pending.has(f.agentId))
                reject(new StreamedgeError('LOADTEST_AGENT', `load-test agent ${f.agentId} failed: ${f.error}`));
            },
          }),
        );
      });
      await nc.flush();
      const startAt = Date.now() + START_LEAD_MS;
      ready.forEach((a, i) => {
        const share = Math.floor(this.o.viewers / ready.length) + (i < this.o.viewers % ready.length ? 1 : 0);
        const msg: AssignMessage = {
          runId: this.runId,
          startAt,
          allowHosts: this.allowHosts,
          pool: {
            ...this.o,
            viewers: share,
            firstViewerIndex: i,
            viewerStride: ready.length,
            totalViewers: this.o.viewers,
          },
        };
        nc.publish(SUBJECT.assign(a.agentId), JSON.stringify(msg));
      });
      const runMs = START_LEAD_MS + (this.o.rampSec + this.o.durationSec) * 1000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new StreamedgeError(
                'LOADTEST_AGENT',
                `${pending.size} load-test agent(s) sent no stats within ${COLLECT_GRACE_MS / 1000} s of the end`,
              ),
            ),
          runMs + COLLECT_GRACE_MS,
        );
      });
      try {
        await Promise.race([finished, timeout]);
      } finally {
        clearTimeout(timer);
      }
      return { stats: merged, maxRssMB };
    } finally {
      for (const s of subs) s.unsubscribe();
      await nc.drain().catch(() => undefined);
    }
  }

  /** Collects `agentCount` distinct agents from their announcements. */
  private async gather(nc: NatsConnection): Promise<ReadyMessage[]> {
    const seen = new Map<string, ReadyMessage>();
    const sub = nc.subscribe(SUBJECT.ready);
    this.gathering = sub;
    const timer = setTimeout(() => sub.unsubscribe(), GATHER_MS);
    try {
      for await (const m of sub) {
        if (this.stopped) break;
        const r = m.json<ReadyMessage>();
        if (typeof r.agentId === 'string') seen.set(r.agentId, r);
        if (seen.size >= this.agentCount) break;
      }
    } finally {
      clearTimeout(timer);
      sub.unsubscribe();
      this.gathering = undefined;
    }
    if (this.stopped) throw new StreamedgeError('LOADTEST_AGENT', 'stopped while waiting for load-test agents');
    if (seen.size < this.agentCount) {
      throw new StreamedgeError(
        'LOADTEST_AGENT',
        `only ${seen.size} of ${this.agentCount} load-test agents announced themselves on ${this.natsUrl} within ${GATHER_MS / 1000} s (start them with: streamedge loadtest-agent --nats ${this.natsUrl})`,
      );
    }
    return [...seen.values()].slice(0, this.agentCount);
  }

  stop(): void {
    this.stopped = true;
    this.gathering?.unsubscribe();
    this.nc?.publish(SUBJECT.stop(this.runId), '{}');
  }
}

const r2 = (v: number) => Math.round(v * 100) / 100;

/** What the report says of one agent, from its last message: CPU (whole run and hold) and whether it kept up. */
export function agentReport(d: DoneMessage): AgentReport {
  const loopP99 = r2(d.stats.loopDelayP99Ms);
  const valid = loopP99 < LOOP_DELAY_LIMIT_MS;
  return {
    agentId: d.agentId,
    host: d.host,
    viewers: d.viewers,
    workers: d.workers,
    cpuSec: Math.round(d.cpuSec * 1000) / 1000,
    cores: d.elapsedSec > 0 ? r2(d.cpuSec / d.elapsedSec) : 0,
    holdCpuSec: Math.round(d.holdCpuSec * 1000) / 1000,
    holdCores: d.holdSec > 0 ? r2(d.holdCpuSec / d.holdSec) : 0,
    holdSec: Math.round(d.holdSec * 1000) / 1000,
    holdRequests: d.holdRequests,
    eventLoopDelayP99Ms: loopP99,
    valid,
    ...(valid ? {} : { warning: agentWarning(d.host, d.agentId, loopP99) }),
    maxRssMB: Math.round(d.maxRssMB),
    requests: d.stats.requests,
  };
}
