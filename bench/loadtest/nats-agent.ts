/**
 * `streamedge loadtest-agent --nats <url>`: waits for a coordinator's assignment, runs its share
 * of the viewers (in worker threads, as a local run does) from the agreed start time, streams
 * progress counters back once a second, and sends its stats (HDR histograms included) at the end.
 * Then it waits for the next run, unless `once`.
 */
import { cpus, hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StreamedgeError } from '../../src/errors.js';
import { SUBJECT, type AssignMessage, type DoneMessage, type FailedMessage } from './nats-protocol.js';
import { progressCounters, type ProgressCounters } from './report.js';
import { checkTarget } from './target-policy.js';
import { ViewerPool } from './viewer-pool.js';
import { connectionsPerViewer } from './viewer.js';
import { checkRunFits } from './fd-budget.js';
import { WorkerFleet } from './workers.js';
import { markHold } from './hold-mark.js';
import { defaultWorkers } from './run.js';
import type { LoadStats } from './load-stats.js';

export interface AgentOptions {
  natsUrl: string;
  /** Run one assignment, then exit. */
  once?: boolean;
  workers?: number;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
}

export async function runAgent(o: AgentOptions): Promise<void> {
  let nc: NatsConnection;
  try {
    nc = await connect({ servers: o.natsUrl, name: `loadtest-agent ${hostname()}` });
  } catch (e) {
    throw new StreamedgeError('LOADTEST_NATS', `cannot reach NATS at ${o.natsUrl}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const agentId = randomUUID();
  const log = o.onLog ?? (() => undefined);
  try {
    for (;;) {
      const assignment = await waitForAssignment(nc, agentId, o.signal);
      if (!assignment) return;
      log(`run ${assignment.runId}: ${assignment.pool.viewers} viewers`);
      await runAssignment(nc, agentId, assignment, o.workers);
      if (o.once) return;
    }
  } finally {
    await nc.drain().catch(() => undefined);
  }
}

/** Announces itself every second until a coordinator assigns it a share (null: aborted). */
async function waitForAssignment(
  nc: NatsConnection,
  agentId: string,
  signal?: AbortSignal,
): Promise<AssignMessage | null> {
  const sub = nc.subscribe(SUBJECT.assign(agentId), { max: 1 });
  const hello = () => nc.publish(SUBJECT.ready, JSON.stringify({ agentId, host: hostname(), cores: cpus().length }));
  hello();
  const timer = setInterval(hello, 1000);
  const onAbort = () => sub.unsubscribe();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const m of sub) return m.json<AssignMessage>();
    return null;
  } finally {
    clearInterval(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

async function runAssignment(nc: NatsConnection, agentId: string, a: AssignMessage, workersOpt?: number) {
  try {
    const target = checkTarget(a.pool.url, a.allowHosts); // an agent applies the same target policy as a local run
    checkRunFits(a.pool.viewers, connectionsPerViewer(a.pool), target); // its share must fit its ulimit -n
    const workers = Math.min(a.workers ?? workersOpt ?? defaultWorkers(a.pool.viewers), a.pool.viewers);
    const local = workers === 0 ? new ViewerPool(a.pool) : undefined;
    const fleet = workers > 0 ? new WorkerFleet(a.pool, workers) : undefined;
    const stopSub = nc.subscribe(SUBJECT.stop(a.runId), {
      max: 1,
      callback: () => (local ? local.abort() : fleet!.stop()),
    });
    // load the threads before the common start, so that the ramp begins on time (a thread that
    // failed to load fails fleet.run() below, which ends the others)
    await fleet?.ready().catch(() => undefined);
    const wait = a.startAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const counters = (): ProgressCounters => (local ? progressCounters(local.stats) : fleet!.progress());
    const tick = setInterval(
      () => nc.publish(SUBJECT.progress(a.runId), JSON.stringify({ agentId, counters: counters() })),
      1000,
    );
    const hold = markHold(a.pool.rampSec, a.pool.durationSec, () => counters().requests);
    let stats: LoadStats;
    let maxRssMB: number;
    try {
      if (local) {
        stats = await local.run();
        maxRssMB = process.resourceUsage().maxRSS / 1024;
      } else {
        const r = await fleet!.run();
        stats = r.stats;
        maxRssMB = Math.max(r.maxRssMB, process.resourceUsage().maxRSS / 1024);
      }
    } finally {
      clearInterval(tick);
      stopSub.unsubscribe();
    }
    const cpu = process.cpuUsage(cpu0);
    const end = performance.now();
    // stopped during the ramp: the whole run
    const h = hold.finish() ?? { sec: (end - t0) / 1000, cpuUs: cpu.user + cpu.system, requests: stats.requests };
    const done: DoneMessage = {
      agentId,
      host: hostname(),
      viewers: a.pool.viewers,
      workers: Math.max(1, workers),
      stats: stats.serialize(),
      cpuSec: (cpu.user + cpu.system) / 1e6,
      elapsedSec: (end - t0) / 1000,
      maxRssMB,
      holdCpuSec: h.cpuUs / 1e6,
      holdSec: h.sec,
      holdRequests: h.requests,
    };
    nc.publish(SUBJECT.done(a.runId), JSON.stringify(done));
  } catch (e) {
    const failed: FailedMessage = { agentId, error: (e as Error).message };
    nc.publish(SUBJECT.failed(a.runId), JSON.stringify(failed));
  }
  await nc.flush();
}
