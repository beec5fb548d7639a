/**
 * A whole load test: checks the target, scrapes the edge before, runs the viewers (here or in
 * worker threads) over ramp + duration, shows progress, scrapes the edge after, and builds the
 * report. Bounded in viewers, time and workers.
 */
import { cpus } from 'node:os';
import { Agent } from 'undici';
import { StreamedgeError } from '../../src/errors.js';
import type { AbrConfig } from '../../src/abr/abr-controller.js';
import { edgeDelta, scrapeEdge } from './edge-metrics.js';
import {
  buildReport,
  progressCounters,
  progressLine,
  timelinePoint,
  type LoadReport,
  type ProgressSnapshot,
  type TimelinePoint,
} from './report.js';
import { parseProfile } from './shaping.js';
import { checkTarget } from './target-policy.js';
import { evaluateThresholds, parseThreshold, type Threshold } from './thresholds.js';
import type { CmcdMode } from './http-get.js';
import { ViewerPool } from './viewer-pool.js';
import { connectionsPerViewer } from './viewer.js';
import { checkRunFits } from './fd-budget.js';
import { WorkerFleet } from './workers.js';
import { NatsFleet } from './nats-coordinator.js';
import type { AgentReport } from './nats-protocol.js';
import { markHold, type HoldFigures, type HoldMark } from './hold-mark.js';

export const LIMITS = { maxViewers: 50_000, maxRunSec: 6 * 3600, maxWorkers: 32, maxAgents: 64 } as const;

export interface LoadTestOptions {
  url: string;
  viewers: number;
  rampSec: number;
  durationSec: number;
  profile?: string;
  latencyMs?: number;
  workers?: number;
  allowHosts?: string[];
  abrConfig?: Partial<AbrConfig>;
  /** false: live HLS viewers play like players without LL-HLS (whole segments, plain reloads). Default true. */
  lowLatency?: boolean;
  /** k6-style pass/fail conditions (`stalls==0`, `latency.p95<3s`, ...), checked on the report. */
  thresholds?: string[];
  /** HTTP/2 to https targets (bench/loadtest/h2-client.ts: one session per viewer). */
  http2?: boolean;
  /** Extra CA certificates (PEM text) the viewers trust: a test edge's self-signed certificate. */
  ca?: string;
  /** CMCD (CTA-5004) sent by every viewer: query argument, headers, or off (default). */
  cmcd?: CmcdMode;
  /** A ladder in H.264 and HEVC: the share of viewers that prefer HEVC (0–1); absent: each plays the first family listed. */
  hevcShare?: number;
  /** Coordinate agents over NATS (`streamedge loadtest-agent --nats <url>`) instead of playing here. */
  nats?: string;
  /** How many agents share the viewers (with `nats`). */
  agents?: number;
  /** Called about once a second with a one-line summary. */
  onProgress?: (line: string, snapshot: ProgressSnapshot) => void;
  /** Aborting this stops the run early (the report covers what ran). */
  signal?: AbortSignal;
}

export function validateOptions(o: LoadTestOptions): void {
  const bad = (msg: string) => {
    throw new StreamedgeError('BAD_OPTION', msg);
  };
  if (!Number.isInteger(o.viewers) || o.viewers < 1) bad(`--viewers must be a whole number ≥ 1, got ${o.viewers}`);
  if (o.viewers > LIMITS.maxViewers) bad(`--viewers ${o.viewers} is above the limit of ${LIMITS.maxViewers}`);
  if (!(o.rampSec >= 0) || !(o.durationSec > 0)) bad('--ramp must be ≥ 0 and --duration > 0');
  if (o.rampSec + o.durationSec > LIMITS.maxRunSec)
    bad(`ramp + duration must stay within ${LIMITS.maxRunSec / 3600} h`);
  const w = o.workers ?? 0;
  if (!Number.isInteger(w) || w < 0 || w > LIMITS.maxWorkers)
    bad(`--workers must be 0..${LIMITS.maxWorkers} (0 = run viewers in the main thread)`);
  if ((o.latencyMs ?? 0) < 0 || (o.latencyMs ?? 0) > 10_000) bad('--latency must be between 0 and 10s');
  parseProfile(o.profile); // throws on a bad profile
  if (o.http2 === true && !/^https:/i.test(o.url))
    bad(`--http2 needs an https:// target (h2 is spoken over TLS here), got "${o.url}"`);
  if (o.hevcShare !== undefined && !(o.hevcShare >= 0 && o.hevcShare <= 1))
    bad(`--hevc-share must be a fraction from 0 to 1, got "${String(o.hevcShare)}"`);
  if (o.cmcd !== undefined && !['query', 'headers', 'off'].includes(o.cmcd))
    bad(`--cmcd must be query, headers or off, got "${String(o.cmcd)}"`);
  for (const t of o.thresholds ?? []) parseThreshold(t); // throws on a bad threshold
  if (o.nats !== undefined) {
    if (!/^(nats|tls|wss?):\/\/\S+$/.test(o.nats)) bad(`--nats needs a nats:// URL, got "${o.nats}"`);
    const n = o.agents ?? 0;
    if (!Number.isInteger(n) || n < 1 || n > LIMITS.maxAgents)
      bad(`--agents must be 1..${LIMITS.maxAgents} with --nats`);
    if (n > o.viewers) bad(`--agents ${n} is more than --viewers ${o.viewers}`);
  } else if (o.agents !== undefined) bad('--agents needs --nats <url>');
}

export async function runLoadTest(o: LoadTestOptions): Promise<LoadReport> {
  validateOptions(o);
  const target = checkTarget(o.url, o.allowHosts);
  const thresholds: Threshold[] = (o.thresholds ?? []).map(parseThreshold);
  // before any socket opens: a run too big for `ulimit -n` fails now, with the numbers (agents check their share)
  if (!o.nats) checkRunFits(o.viewers, connectionsPerViewer({ ...o, url: target.href }), target);
  // viewers run in worker threads unless told otherwise (one per spare core)
  const workers = Math.min(o.workers ?? defaultWorkers(o.viewers), o.viewers);
  const profile = o.profile ?? 'unlimited';
  const latencyMs = o.latencyMs ?? 0;
  const scrapeAgent = new Agent();
  const before = await scrapeEdge(target, scrapeAgent);
  const startedAt = new Date();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();

  const poolOptions = {
    url: target.href,
    viewers: o.viewers,
    rampSec: o.rampSec,
    durationSec: o.durationSec,
    profile,
    latencyMs,
    abrConfig: o.abrConfig,
    lowLatency: o.lowLatency,
    http2: o.http2,
    ca: o.ca,
    cmcd: o.cmcd,
    allowHosts: o.allowHosts,
    hevcShare: o.hevcShare,
  };
  const remote = o.nats ? new NatsFleet(o.nats, o.agents!, poolOptions, o.allowHosts ?? []) : undefined;
  const local = !remote && workers === 0 ? new ViewerPool(poolOptions) : undefined;
  const threads = !remote && workers > 0 ? new WorkerFleet(poolOptions, workers) : undefined;
  const fleet = remote ?? threads;
  const counters = () => (local ? progressCounters(local.stats) : fleet!.progress());
  // the hold of local viewers, marked when their ramp starts (agents mark their own)
  let hold: HoldMark | undefined;
  const markHoldNow = () => (hold = markHold(o.rampSec, o.durationSec, () => counters().requests));
  const onAbort = () => (local ? local.abort() : fleet!.stop());
  o.signal?.addEventListener('abort', onAbort, { once: true });

  // once a second: the progress line, and a point of the report's timeline
  let prev: ProgressSnapshot | undefined;
  const timeline: TimelinePoint[] = [];
  const progress = setInterval(() => {
    const now = performance.now();
    const snap: ProgressSnapshot = {
      elapsedSec: (now - t0) / 1000,
      ...counters(),
    };
    timeline.push(timelinePoint(snap, prev));
    o.onProgress?.(
      progressLine(snap, o.viewers, prev?.requests ?? 0, snap.elapsedSec - (prev?.elapsedSec ?? 0) || 1),
      snap,
    );
    prev = snap;
  }, 1000);

  try {
    let stats, rss;
    if (local) {
      markHoldNow();
      stats = await local.run();
      rss = process.resourceUsage().maxRSS / 1024;
    } else {
      // worker threads start their ramps together once all are loaded: the hold is counted from then
      const r = threads ? await threads.run(markHoldNow) : await remote!.run();
      stats = r.stats;
      rss = Math.max(r.maxRssMB, process.resourceUsage().maxRSS / 1024);
    }
    const elapsedSec = (performance.now() - t0) / 1000;
    const holdFigures = remote ? agentsHold(remote.agents) : (hold?.finish() ?? null);
    // process.cpuUsage() is getrusage(RUSAGE_SELF): every thread of the process, workers included
    const own = process.cpuUsage(cpu0);
    // with agents, the tester's CPU is theirs (this process only coordinates)
    const agentCpuUs = (remote?.agents ?? []).reduce((a, x) => a + x.cpuSec * 1e6, 0);
    const cpu = { user: own.user + agentCpuUs, system: own.system };
    const after = await scrapeEdge(target, scrapeAgent);
    const report = buildReport(stats, {
      target: target.href,
      startedAt,
      elapsedSec,
      config: {
        viewers: o.viewers,
        rampSec: o.rampSec,
        durationSec: o.durationSec,
        profile,
        latencyMs,
        workers: Math.max(1, workers),
        lowLatency: o.lowLatency !== false,
        http2: o.http2 === true,
        cmcd: o.cmcd ?? 'off',
        ...(o.hevcShare !== undefined ? { hevcShare: o.hevcShare } : {}),
      },
      peakConcurrent: stats.totals.peakPlaying,
      timeline,
      edge: edgeDelta(before, after),
      cpu,
      hold: holdFigures,
      maxRssMB: rss,
    });
    if (remote) report.agents = remote.agents;
    if (thresholds.length > 0) report.thresholds = evaluateThresholds(thresholds, stats, report);
    return report;
  } finally {
    clearInterval(progress);
    o.signal?.removeEventListener('abort', onAbort);
    await scrapeAgent.close().catch(() => undefined);
  }
}

/** The agents' holds as one: their CPU and requests summed, over the longest hold. */
function agentsHold(agents: AgentReport[]): HoldFigures | null {
  if (agents.length === 0) return null;
  return {
    sec: Math.max(...agents.map((a) => a.holdSec)),
    cpuUs: agents.reduce((s, a) => s + a.holdCpuSec * 1e6, 0),
    requests: agents.reduce((s, a) => s + a.holdRequests, 0),
  };
}

/** The default for --workers: one worker thread per spare core (at least one; the main thread reports). */
export function defaultWorkers(viewers: number): number {
  return Math.max(1, Math.min(cpus().length - 1, LIMITS.maxWorkers, viewers));
}

/**
 * LL-HLS viewers the benches put on one tester thread: they wake together at every part boundary
 * (a blocking reload and the hinted part answered for each), so one event loop's burst grows with
 * the viewers it holds. Measured on this 2-core box, 1,000 LL viewers through the edge on 1, 2 and 4
 * threads: event-loop p99 45.9, 20.1 and 13.8 ms (bench/loadtest-bench.ts); 1,000 against the
 * stub on 4: 16.2 ms (bench/loadtest-tester-bench.ts fidelity).
 */
const LL_VIEWERS_PER_THREAD = 250;

/**
 * The benches' tester threads: as defaultWorkers, but LL-HLS runs get at least one thread per
 * LL_VIEWERS_PER_THREAD viewers, which keeps the part-boundary burst (and with it the event-loop
 * p99 that decides a run's validity) short. More threads than cores buy shorter bursts, not
 * throughput, at a little CPU (0.33 → 0.45 cores for 1,000 LL viewers).
 */
export function burstBoundWorkers(viewers: number, lowLatency: boolean): number {
  const byCores = defaultWorkers(viewers);
  if (!lowLatency) return byCores;
  return Math.min(LIMITS.maxWorkers, Math.max(byCores, Math.ceil(viewers / LL_VIEWERS_PER_THREAD)));
}
