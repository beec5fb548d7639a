/**
 * The viewer runs of issue 13, through ONE edge in front of a live lavfi origin:
 *
 * - `ll`: 1,000 LL-HLS viewers (parts, blocking reloads, preload hints, delta updates) over HTTP/1.1.
 *   Goal: 0 stalls and live latency p50 within 0.5 s of the playlist's PART-HOLD-BACK.
 * - `ll-rate`: 500 LL-HLS viewers, the same otherwise: the tester's cost per viewer against this
 *   channel's 0.5 s parts (issue 16: ≥ 3,000 viewers per core of tester CPU, over the hold), in a
 *   run sized to leave the 2-core box room so that it can be valid (`llRate` in the JSON). At 1,000
 *   the part-boundary bursts of the tester and the edge together outgrow 2 cores (`ll`).
 * - `hls`: 5,000 plain live HLS viewers (whole segments, plain reloads). Goal: 0 stalls.
 * - `ll-h2`: 1,000 LL-HLS viewers over HTTP/2 (TLS edge, self-signed certificate; one h2
 *   connection per viewer). Same goals as `ll`.
 * - `hls-nginx`: the `hls` viewers again, through nginx proxy_cache (worker_processes = cores,
 *   sendfile, proxy_cache_lock) in front of the same origin, right after `hls`: the same-run
 *   baseline that says whether this box carries the run at all (`--no-nginx` skips it).
 * - `hls-node`: the `hls` viewers again, through a plain node:http cluster with the edge's worker
 *   count holding the origin's objects in memory (bench/node-floor-cache.ts), right after: the
 *   runtime's floor, so that the edge's CPU per request over it is the part that is ours
 *   (`--no-node-floor` skips it).
 *
 * Processes: the origin (bench/loadtest-origin-process.ts, ffmpeg encoding a lavfi channel as its
 * child), the edge (`streamedge edge`, given `--workers` when its --help lists the option; TLS on
 * its main port, plain HTTP on --http-port) and this process, the load tester (viewers in worker
 * threads). The CPU seconds and cores of each process tree (from /proc) are recorded per run, with
 * the tester's event-loop delay p99: a run counts only when it stayed under 20 ms (`valid`).
 *
 *   node bin/run-ts.js bench/loadtest-bench.ts [--ll 1000] [--ll-rate 500] [--hls 5000] [--h2 1000] [--ramp 15]
 *        [--hold 30] [--workers N] [--edge-workers N] [--no-nginx] [--no-node-floor] [--sut-nice N]
 *        [--split-cpus]
 *        [--edge-cpu-prof <dir>] [--out bench/results/loadtest.json]
 *
 * `--workers` is the tester's worker threads; `--edge-workers` the edge's (and the node floor's)
 * HTTP workers. `--edge-cpu-prof <dir>`: the edge's processes run with `node --cpu-prof` and write
 * their profiles there when they exit (bench/cpu-profile-top.ts prints their top frames).
 *
 * A size of 0 skips that run (its run in the existing results file is kept, with `carriedFrom`,
 * the date it was measured). The lead runs the defaults on a quiet machine; small sizes prove the
 * bench works on a busy one.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { freePort } from './free-port.js';
import { edgeDelta, scrapeEdge, type EdgeReport } from './loadtest/edge-metrics.js';
import type { LoadReport, ProgressSnapshot } from './loadtest/report.js';
import { burstBoundWorkers, runLoadTest } from './loadtest/run.js';
import type { OriginCounts } from './loadtest-origin-process.js';
import { readPreviousResults, withCarriedRuns, withKeptFields } from './carried-runs.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { startIdleLoopProbe } from './loadtest/box-load-probe.js';
import { startNginxHlsCache } from './nginx-proxy-cache.js';
import { cpuDelta, pinTree, reniceTree, treeCpu, type TreeCpu } from './process-cpu.js';

// ------------------------------------------------------------------ options

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number ≥ 0`);
  return v;
}
const SIZES = { ll: arg('ll', 1000), llRate: arg('ll-rate', 500), hls: arg('hls', 5000), h2: arg('h2', 1000) };
const RAMP_SEC = arg('ramp', 15);
const HOLD_SEC = arg('hold', 30);
const WORKERS = args.includes('--workers') ? arg('workers', 1) : undefined;
const EDGE_WORKERS = arg('edge-workers', cpus().length);
const NGINX_BASELINE = !args.includes('--no-nginx');
const NODE_FLOOR = !args.includes('--no-node-floor');
const EDGE_CPU_PROF = args.includes('--edge-cpu-prof') ? args[args.indexOf('--edge-cpu-prof') + 1] : undefined;
/**
 * `--sut-nice N`: after the usual runs, the plain-HLS trio again with every thread of the chain
 * (origin + ffmpeg, and the edge / nginx / node floor) at nice N, the tester at 0, so that on a box
 * the tester shares, the tester is served first and its figures count (issue 13: a run is valid
 * only when the tester keeps up); the chain gets what is left, so its stalls are its own.
 */
const SUT_NICE = arg('sut-nice', 0);
/**
 * `--split-cpus`: after the usual runs, the plain-HLS trio again with the tester's threads pinned
 * to CPU 0 and every thread of the chain (origin + ffmpeg, and the edge / nginx / node floor) to
 * the other CPUs: two machines in one, as a load test is run in practice (the tester never shares
 * the cache's cores), so that neither takes the other's CPU; the chain gets the fewer cores.
 */
const SPLIT_CPUS = args.includes('--split-cpus');
const TESTER_CPUS = '0';
const CHAIN_CPUS = cpus().length > 2 ? `1-${cpus().length - 1}` : '1';
const ALL_CPUS = `0-${cpus().length - 1}`;
const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'bench/results/loadtest.json';
/** The tester kept up: its event-loop delay p99 stayed under this (issue 13, "valid viewer runs"). */
const VALID_LOOP_P99_MS = 20;
const GOAL_LATENCY_OVER_HOLD_BACK_SEC = 0.5;
/** Issue 16's LL-HLS goal: viewers per core of tester CPU. */
const LL_RATE_GOAL_VIEWERS_PER_CORE = 3000;
/** The live channel: small, so that ffmpeg keeps real time on a shared 2-core box. */
const CHANNEL = { source: 'lavfi:testsrc2=size=320x180:rate=30', segmentSec: 2, partSec: 0.5, dvrSec: 12 };
const LADDER = { video: [{ height: 180, bitrate: '200k', profile: 'main', id: '180p' }], audio: { bitrate: '64k' } };
const RENDITIONS = 2; // 180p + audio

const root = resolve(import.meta.dirname, '..');
const benchStart = performance.now();
const elapsedSec = () => (performance.now() - benchStart) / 1000;
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
/** Viewers per core of tester CPU (0 when no CPU was measured). */
const perCore = (viewers: number, cores: number) => (cores > 0 ? Math.round(viewers / cores) : 0);
const log = (line: string) => process.stderr.write(`[${elapsedSec().toFixed(0).padStart(4)}s] ${line}\n`);

// ------------------------------------------------------------------ processes

function stop(proc: ChildProcess | undefined): Promise<void> {
  return new Promise((r) => {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return r();
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    proc.once('exit', () => {
      clearTimeout(t);
      r();
    });
    proc.kill('SIGTERM');
  });
}

function spawnNode(file: string, argv: string[], name: string, nodeArgs: string[] = []) {
  const proc = spawn(process.execPath, [...nodeArgs, join(root, file), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`${name}: ${d.toString()}`));
  return proc;
}

/** The origin prints one JSON line `{"url"}` once its live channel has two segments. */
function startOrigin(dir: string, ladderFile: string): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawnNode(
    'bin/run-ts.js',
    [
      'bench/loadtest-origin-process.ts',
      join(dir, 'root'),
      ladderFile,
      String(CHANNEL.segmentSec),
      String(CHANNEL.partSec),
      String(CHANNEL.dvrSec),
      CHANNEL.source,
    ],
    'origin',
  );
  return new Promise((ok, fail) => {
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(new Error('origin not ready within 90 s'));
    }, 90_000);
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      try {
        ok({ proc, url: (JSON.parse(buf.slice(0, nl)) as { url: string }).url });
      } catch (e) {
        fail(e instanceof Error ? e : new Error(String(e)));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`origin exited (${code}) before it was ready`));
    });
  });
}

/** Whether `streamedge edge` has --workers yet (it arrives with the edge-workers change). */
function edgeHasWorkers(): boolean {
  const help = execFileSync(process.execPath, [join(root, 'bin/streamedge.js'), 'edge', '--help'], {
    encoding: 'utf8',
  });
  return /--workers\b/.test(help);
}

interface EdgeProc {
  proc: ChildProcess;
  /** Plain HTTP/1.1 listener. */
  url: string;
  /** TLS listener (HTTP/2 + HTTP/1.1). */
  tlsUrl: string;
  ca: string;
  workers: number | null;
}

async function startEdge(dir: string, originUrl: string): Promise<EdgeProc> {
  const tls = await createSelfSignedCertificate(join(dir, 'tls'));
  const [tlsPort, httpPort] = [await freePort(), await freePort()];
  const workers = edgeHasWorkers() ? EDGE_WORKERS : null;
  const proc = spawnNode(
    'bin/streamedge.js',
    [
      'edge',
      '--upstream',
      originUrl,
      '--port',
      String(tlsPort),
      '--http-port',
      String(httpPort),
      '--tls-cert',
      tls.certFile,
      '--tls-key',
      tls.keyFile,
      '--store',
      join(dir, 'store'),
      '--store-size',
      '2GB',
      '--log-level',
      'warn',
      ...(workers !== null ? ['--workers', String(workers)] : []),
    ],
    'edge',
    // node:cluster and child_process.fork pass execArgv on: the workers and the store process profile too
    EDGE_CPU_PROF !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(EDGE_CPU_PROF)] : [],
  );
  proc.stdout.resume();
  const url = `http://127.0.0.1:${httpPort}`;
  const exited = new Promise<never>((_, fail) =>
    proc.once('exit', (code) => fail(new Error(`edge exited (${code}) before it was ready`))),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await Promise.race([
      request(`${url}/_edge/health`).then(
        async (r) => (await r.body.text(), r.statusCode === 200),
        () => false,
      ),
      exited,
    ]);
    if (up) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('edge not healthy within 60 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { proc, url, tlsUrl: `https://127.0.0.1:${tlsPort}`, ca: readFileSync(tls.certFile, 'utf8'), workers };
}

/** The node floor (bench/node-floor-cache.ts) in front of the origin, `workers` HTTP workers. */
async function startNodeFloor(originUrl: string, workers: number): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawnNode(
    'bin/run-ts.js',
    ['bench/node-floor-cache.ts', '--port', String(port), '--workers', String(workers), '--origin', originUrl],
    'node-floor',
  );
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('node floor not ready within 30 s')), 30_000);
    proc.stdout.on('data', (d: Buffer) => {
      if (!d.toString().includes('ready')) return;
      clearTimeout(timer);
      ok();
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`node floor exited (${code}) before it was ready`));
    });
  });
  return { proc, url: `http://127.0.0.1:${port}` };
}

async function originCounts(originUrl: string): Promise<OriginCounts> {
  const r = await request(`${originUrl}/_bench/counts`);
  return (await r.body.json()) as OriginCounts;
}

/** PART-HOLD-BACK of the channel's first media playlist (seconds). */
async function partHoldBack(originUrl: string): Promise<number | null> {
  const master = await (await request(`${originUrl}/live/news/master.m3u8`)).body.text();
  const first = /^[^#\s].*\.m3u8$/m.exec(master)?.[0];
  if (!first) return null;
  const media = await (await request(new URL(first, `${originUrl}/live/news/`).href)).body.text();
  const m = /PART-HOLD-BACK=([\d.]+)/.exec(media);
  return m ? Number(m[1]) : null;
}

// ------------------------------------------------------------------ one run

interface RunSpec {
  name:
    | 'll'
    | 'll-rate'
    | 'll-h2'
    | `hls${'' | '-nginx' | '-node'}`
    | `hls${'' | '-nginx' | '-node'}${'-sut-nice' | '-split'}`;
  viewers: number;
  lowLatency: boolean;
  http2: boolean;
}

interface ProcessUse {
  cpuSec: number;
  cores: number;
  byCommand: Record<string, number>;
  /** CPU seconds per process ("<pid> <script or command>"): supervisor, store process, each worker. */
  byProcess: Record<string, number>;
  processes: number;
}

interface Run {
  name: RunSpec['name'];
  /** The cache the viewers played through (its process tree is `processes.edge`). */
  via: 'streamedge' | 'nginx' | 'node';
  viewers: number;
  lowLatency: boolean;
  http2: boolean;
  /** The tester's event-loop delay p99 stayed under 20 ms: only then do the figures count. */
  valid: boolean;
  goals: { zeroStalls: boolean; latencyWithinHalfSecondOfPartHoldBack: boolean | null; met: boolean };
  stoppedEarly: string | null;
  /** Set on a run kept from the previous results file (its scenario was skipped this time): when it was measured. */
  carriedFrom?: string;
  wallSec: number;
  loadAverage: { before: number[]; after: number[] };
  viewersSummary: LoadReport['viewers'];
  startupMs: LoadReport['startupMs'];
  stalls: number;
  rebufferRatio: number;
  liveLatencySec: LoadReport['liveLatencySec'];
  partHoldBackSec: number | null;
  latencyP50OverPartHoldBackSec: number | null;
  /**
   * The latency's parts (LL-HLS): the listing delay (how late the newest part reached the viewers
   * after its program date-time end: encoder, packager, edge) and the distance behind the edge the
   * viewers saw (p50 latency − p50 listing delay), which they steer toward PART-HOLD-BACK.
   */
  latencyBreakdown: { listingDelayP50Sec: number; behindEdgeP50Sec: number | null } | null;
  playedBitrateBps: number;
  requests: LoadReport['requests'];
  byObject: LoadReport['byObject'];
  errors: Record<string, number>;
  partLagMs: LoadReport['partLagMs'];
  tester: {
    workers: number;
    cpuSec: number;
    cores: number;
    eventLoopDelayP99Ms: number | null;
    /** The same over the hold alone (the ramp's start-ups left out): which phase made a run not valid. */
    holdEventLoopDelayP99Ms: number | null;
    /** Over the hold (every viewer playing; start-up and ramp left out): cores and µs per request. */
    holdCores: number | null;
    holdCpuUsPerRequest: number | null;
    /** Viewers per core of tester CPU over the hold (the steady cost, as the tester bench measures it). */
    viewersPerCore: number;
    /** The same over the whole run, start-up and ramp included (the figure before session 11). */
    viewersPerCoreWholeRun: number;
    maxRssMB: number;
  };
  processes: { origin: ProcessUse | null; edge: ProcessUse | null };
  origin: {
    requests: Omit<OriginCounts, 'partsProduced' | 'channel'>;
    /** Parts produced ÷ parts real time would produce: below 1 the encoder fell behind. */
    encoderRealTime: number;
  };
  edge: EdgeReport | null;
  /**
   * The box beside the run: the event-loop delay p99 (ms) of an idle Node process over the ramp and
   * hold. Over 20 ms, the box itself delayed every process's turns (the tester's too); under it
   * with the tester over, the tester's own work was the cause.
   */
  box: { idleLoopP99Ms: number | null };
}

function use(d: TreeCpu | null, wallSec: number): ProcessUse | null {
  return (
    d && {
      cpuSec: d.cpuSec,
      cores: round(d.cpuSec / wallSec, 2),
      byCommand: d.byCommand,
      byProcess: d.byProcess,
      processes: d.processes,
    }
  );
}

/** What the viewers play through: the edge, or nginx / the node floor for the baselines (plain HTTP only). */
type Target = Pick<EdgeProc, 'proc' | 'url' | 'tlsUrl' | 'ca'> & { via: Run['via'] };

async function run(
  spec: RunSpec,
  edge: Target,
  origin: { proc: ChildProcess; url: string },
  holdBack: number | null,
): Promise<Run> {
  const base = spec.http2 ? edge.tlsUrl : edge.url;
  const url = `${base}/live/news/master.m3u8`;
  const workers = WORKERS ?? burstBoundWorkers(spec.viewers, spec.lowLatency);
  log(
    `${spec.name}: ${spec.viewers} ${spec.lowLatency ? 'LL-HLS' : 'plain HLS'} viewers over ${spec.http2 ? 'HTTP/2 (TLS)' : 'HTTP/1.1'}, ${workers} tester worker(s), ramp ${RAMP_SEC}s hold ${HOLD_SEC}s`,
  );
  const loadBefore = loadavg().map((v) => round(v, 2));
  const scrapeAgent = new Agent();
  const scrape = () => (edge.via === 'node' ? Promise.resolve(null) : scrapeEdge(new URL(edge.url), scrapeAgent));
  const edgeBefore = await scrape();
  const countsBefore = await originCounts(origin.url);
  const cpu0 = { origin: treeCpu(origin.proc.pid!), edge: treeCpu(edge.proc.pid!) };
  const stopper = new AbortController();
  let stoppedEarly = null as string | null;
  let last: { t: number; origin: TreeCpu | null; edge: TreeCpu | null; tester: NodeJS.CpuUsage } = {
    t: 0,
    ...cpu0,
    tester: process.cpuUsage(),
  };
  const onProgress = (line: string, s: ProgressSnapshot) => {
    if (s.elapsedSec > 5 && s.errors > 0.02 * s.requests + 20) {
      stoppedEarly ??= `errors: ${s.errors} for ${s.requests} requests after ${s.elapsedSec.toFixed(0)} s`;
      stopper.abort();
    }
    if (s.elapsedSec - last.t < 5) return;
    // every 5 s: the tester's line and what each process used since the last one
    const now = { t: s.elapsedSec, origin: treeCpu(origin.proc.pid!), edge: treeCpu(edge.proc.pid!) };
    const dt = now.t - last.t;
    const tester = process.cpuUsage(last.tester);
    const cores = (d: TreeCpu | null) => (d ? (d.cpuSec / dt).toFixed(2) : '-');
    log(
      `  ${spec.name} ${line} | cores: tester ${((tester.user + tester.system) / 1e6 / dt).toFixed(2)} edge ${cores(cpuDelta(last.edge, now.edge))} origin ${cores(cpuDelta(last.origin, now.origin))} | load ${loadavg()[0].toFixed(1)}`,
    );
    last = { ...now, tester: process.cpuUsage() };
  };
  const idleProbe = startIdleLoopProbe();
  const t0 = performance.now();
  const report = await runLoadTest({
    url,
    viewers: spec.viewers,
    rampSec: RAMP_SEC,
    durationSec: HOLD_SEC,
    workers,
    lowLatency: spec.lowLatency,
    http2: spec.http2,
    ...(spec.http2 ? { ca: edge.ca } : {}),
    signal: stopper.signal,
    onProgress,
  });
  const wallSec = (performance.now() - t0) / 1000;
  const idleLoopP99Ms = await idleProbe.stop();
  const cpu1 = { origin: treeCpu(origin.proc.pid!), edge: treeCpu(edge.proc.pid!) };
  const edgeAfter = await scrape();
  await scrapeAgent.close();
  const countsAfter = await originCounts(origin.url);
  const d = (k: keyof Omit<OriginCounts, 'channel'>) => countsAfter[k] - countsBefore[k];
  const testerCpuSec = report.loadTester.cpuUserSec + report.loadTester.cpuSystemSec;
  const p50 = report.liveLatencySec?.p50 ?? null;
  const over = spec.lowLatency && p50 !== null && holdBack !== null ? round(p50 - holdBack) : null;
  const zeroStalls = report.stalls === 0 && report.viewers.failed === 0;
  const latencyOk = spec.lowLatency ? (over === null ? null : Math.abs(over) <= GOAL_LATENCY_OVER_HOLD_BACK_SEC) : null;
  const r: Run = {
    name: spec.name,
    via: edge.via,
    viewers: spec.viewers,
    lowLatency: spec.lowLatency,
    http2: spec.http2,
    valid: report.loadTester.valid && stoppedEarly === null,
    goals: {
      zeroStalls,
      latencyWithinHalfSecondOfPartHoldBack: latencyOk,
      met: zeroStalls && latencyOk !== false && stoppedEarly === null,
    },
    stoppedEarly,
    wallSec: round(wallSec, 1),
    loadAverage: { before: loadBefore, after: loadavg().map((v) => round(v, 2)) },
    viewersSummary: report.viewers,
    startupMs: report.startupMs,
    stalls: report.stalls,
    rebufferRatio: report.rebufferRatio,
    liveLatencySec: report.liveLatencySec,
    partHoldBackSec: holdBack,
    latencyP50OverPartHoldBackSec: over,
    latencyBreakdown:
      spec.lowLatency && report.listingDelaySec?.p50 != null
        ? {
            listingDelayP50Sec: report.listingDelaySec.p50,
            behindEdgeP50Sec: p50 === null ? null : round(p50 - report.listingDelaySec.p50),
          }
        : null,
    playedBitrateBps: report.averageBitrateBps,
    requests: report.requests,
    byObject: report.byObject,
    errors: report.errors,
    partLagMs: report.partLagMs,
    tester: {
      workers,
      cpuSec: round(testerCpuSec, 2),
      cores: report.loadTester.cores,
      eventLoopDelayP99Ms: report.loadTester.eventLoopDelayP99Ms,
      holdEventLoopDelayP99Ms: report.loadTester.holdEventLoopDelayP99Ms,
      holdCores: report.loadTester.hold?.cores ?? null,
      holdCpuUsPerRequest: report.loadTester.hold?.cpuUsPerRequest ?? null,
      viewersPerCore: perCore(spec.viewers, report.loadTester.hold?.cores ?? report.loadTester.cores),
      viewersPerCoreWholeRun: perCore(spec.viewers, report.loadTester.cores),
      maxRssMB: report.loadTester.maxRssMB,
    },
    processes: {
      origin: use(cpuDelta(cpu0.origin, cpu1.origin), wallSec),
      edge: use(cpuDelta(cpu0.edge, cpu1.edge), wallSec),
    },
    origin: {
      requests: {
        master: d('master'),
        plainPlaylist: d('plainPlaylist'),
        blockingPlaylist: d('blockingPlaylist'),
        distinctBlocking: d('distinctBlocking'),
        parts: d('parts'),
        distinctParts: d('distinctParts'),
        segments: d('segments'),
        distinctSegments: d('distinctSegments'),
        init: d('init'),
        other: d('other'),
      },
      encoderRealTime: round(d('partsProduced') / ((wallSec * RENDITIONS) / CHANNEL.partSec)),
    },
    edge: edgeDelta(edgeBefore, edgeAfter),
    box: { idleLoopP99Ms },
  };
  log(
    `${spec.name}: ${r.valid ? 'VALID' : `NOT VALID (tester event-loop p99 ${r.tester.eventLoopDelayP99Ms} ms ≥ ${VALID_LOOP_P99_MS})`}; ` +
      `stalls ${r.stalls}, latency p50 ${p50 ?? '-'} s (PART-HOLD-BACK ${holdBack ?? '-'} s${r.latencyBreakdown ? `; listing delay p50 ${r.latencyBreakdown.listingDelayP50Sec} s, behind the edge ${r.latencyBreakdown.behindEdgeP50Sec} s` : ''}), bitrate ${(r.playedBitrateBps / 1e3).toFixed(0)} kbit/s, ` +
      `cores: tester ${r.tester.cores} ${r.via === 'streamedge' ? 'edge' : r.via} ${r.processes.edge?.cores ?? '-'} origin ${r.processes.origin?.cores ?? '-'}; ` +
      `event-loop p99: idle process ${idleLoopP99Ms ?? '-'} ms, edge ≤ ${r.edge?.eventLoopDelayP99Ms ?? '-'} ms; goals ${r.goals.met ? 'met' : 'NOT met'}`,
  );
  return r;
}

// ------------------------------------------------------------------ main

const machineStart = startMachineInfo();
const dir = mkdtempSync(join(tmpdir(), 'loadtest-bench-'));
let originProc: ChildProcess | undefined;
let edgeProc: ChildProcess | undefined;
let nginxProc: ChildProcess | undefined;
let floorProc: ChildProcess | undefined;
let nginxVersion: string | null = null;
const runs: Run[] = [];
const notes: string[] = [];
let edgeWorkers: number | null = null;
let exitCode = 0;

const cleanup = async () => {
  await stop(nginxProc);
  await stop(floorProc);
  await stop(edgeProc);
  await stop(originProc);
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const ladderFile = join(dir, 'ladder.json');
  writeFileSync(ladderFile, JSON.stringify(LADDER));
  mkdirSync(join(dir, 'root'));
  log(
    `load average ${machineStart.loadAverageBefore?.join(' ')} on ${machineStart.cpus} cores; starting the live origin`,
  );
  const origin = await startOrigin(dir, ladderFile);
  originProc = origin.proc;
  const edge = await startEdge(dir, origin.url);
  edgeProc = edge.proc;
  edgeWorkers = edge.workers;
  const holdBack = await partHoldBack(origin.url);
  log(
    `origin ${origin.url}; edge ${edge.url} + ${edge.tlsUrl} (${edge.workers === null ? 'no --workers option yet: one process' : `--workers ${edge.workers}`}); PART-HOLD-BACK ${holdBack} s`,
  );
  const specs: RunSpec[] = [
    { name: 'll', viewers: SIZES.ll, lowLatency: true, http2: false },
    { name: 'll-rate', viewers: SIZES.llRate, lowLatency: true, http2: false },
    { name: 'hls', viewers: SIZES.hls, lowLatency: false, http2: false },
    { name: 'll-h2', viewers: SIZES.h2, lowLatency: true, http2: true },
  ];
  const viaEdge: Target = { ...edge, via: 'streamedge' };
  /** The plain-HLS trio: the edge, then nginx and the node floor right after it (the edge idles). */
  const hlsTrio = async (spec: RunSpec, suffix: '' | '-sut-nice' | '-split') => {
    const named = (name: 'hls' | 'hls-nginx' | 'hls-node') => ({
      ...spec,
      name: `${name}${suffix}` as RunSpec['name'],
    });
    const chainNice = (pid: number) =>
      suffix === '-sut-nice' ? reniceTree(pid, SUT_NICE) : suffix === '-split' ? pinTree(pid, CHAIN_CPUS) : 0;
    if (suffix === '-split') pinTree(process.pid, TESTER_CPUS, false); // worker threads started later inherit it
    chainNice(origin.proc.pid!);
    chainNice(edge.proc.pid!);
    runs.push(await run(named('hls'), viaEdge, origin, holdBack));
    if (NGINX_BASELINE) {
      const nginx = await startNginxHlsCache(join(dir, 'nginx'), origin.url, cpus().length, '/live/news/master.m3u8');
      nginxProc = nginx.proc;
      nginxVersion = nginx.version;
      chainNice(nginx.proc.pid!);
      log(`hls-nginx${suffix}: ${nginx.version} at ${nginx.url}, worker_processes ${cpus().length}`);
      const viaNginx: Target = { proc: nginx.proc, url: nginx.url, tlsUrl: nginx.url, ca: '', via: 'nginx' };
      runs.push(await run(named('hls-nginx'), viaNginx, origin, holdBack));
      await stop(nginxProc);
      nginxProc = undefined;
    }
    if (NODE_FLOOR) {
      const floor = await startNodeFloor(origin.url, EDGE_WORKERS);
      floorProc = floor.proc;
      chainNice(floor.proc.pid!);
      log(`hls-node${suffix}: node:http floor at ${floor.url}, ${EDGE_WORKERS} worker(s)`);
      const viaNode: Target = { proc: floor.proc, url: floor.url, tlsUrl: floor.url, ca: '', via: 'node' };
      runs.push(await run(named('hls-node'), viaNode, origin, holdBack));
      await stop(floorProc);
      floorProc = undefined;
    }
    if (suffix === '-split') {
      pinTree(process.pid, ALL_CPUS, false);
      pinTree(origin.proc.pid!, ALL_CPUS);
      pinTree(edge.proc.pid!, ALL_CPUS);
    }
  };
  for (const spec of specs) {
    if (spec.viewers === 0) continue;
    if (spec.name === 'hls') await hlsTrio(spec, '');
    else runs.push(await run(spec, viaEdge, origin, holdBack));
  }
  const hlsSpec = specs.find((sp) => sp.name === 'hls')!;
  if (SPLIT_CPUS && hlsSpec.viewers > 0) {
    log(`the plain-HLS runs again with the tester on CPU ${TESTER_CPUS} and the chain on CPU ${CHAIN_CPUS}`);
    await hlsTrio(hlsSpec, '-split');
  }
  // last, because a raised nice value cannot be lowered again without privilege
  if (SUT_NICE > 0 && hlsSpec.viewers > 0) {
    log(`the plain-HLS runs again with the chain at nice ${SUT_NICE} and the tester at 0`);
    await hlsTrio(hlsSpec, '-sut-nice');
  }
} catch (e) {
  exitCode = 1;
  notes.push(`bench error: ${(e as Error).message}`);
  log(`bench error: ${(e as Error).stack}`);
} finally {
  await cleanup();
}

// a skipped scenario (size 0) keeps its run from the previous results (bench/carried-runs.ts)
const previous = readPreviousResults<{
  at?: string;
  runs?: Run[];
  hlsProfile?: unknown;
  hlsProfile5000Viewers?: unknown;
  hlsSutNice?: unknown;
  hlsSplitCpus?: unknown;
  hlsBaseline?: unknown;
  hlsNodeFloor?: unknown;
  setup?: { nginx?: string };
}>(resolve(root, OUT));
const skippedRuns = [
  ...(SIZES.ll > 0 ? [] : ['ll']),
  ...(SIZES.llRate > 0 ? [] : ['ll-rate']),
  ...(SIZES.hls > 0 ? [] : ['hls']),
  ...(SIZES.h2 > 0 ? [] : ['ll-h2']),
  ...(SIZES.hls > 0 && NGINX_BASELINE ? [] : ['hls-nginx']),
  ...(SIZES.hls > 0 && NODE_FLOOR ? [] : ['hls-node']),
  ...(SIZES.hls > 0 && SUT_NICE > 0 ? [] : ['hls-sut-nice']),
  ...(SIZES.hls > 0 && SUT_NICE > 0 && NGINX_BASELINE ? [] : ['hls-nginx-sut-nice']),
  ...(SIZES.hls > 0 && SUT_NICE > 0 && NODE_FLOOR ? [] : ['hls-node-sut-nice']),
  ...(SIZES.hls > 0 && SPLIT_CPUS ? [] : ['hls-split']),
  ...(SIZES.hls > 0 && SPLIT_CPUS && NGINX_BASELINE ? [] : ['hls-nginx-split']),
  ...(SIZES.hls > 0 && SPLIT_CPUS && NODE_FLOOR ? [] : ['hls-node-split']),
];
runs.splice(
  0,
  runs.length,
  ...withCarriedRuns(runs, previous && { runs: previous.runs, at: previous.at }, skippedRuns, [
    'll',
    'll-rate',
    'hls',
    'll-h2',
    'hls-nginx',
    'hls-node',
    'hls-sut-nice',
    'hls-nginx-sut-nice',
    'hls-node-sut-nice',
    'hls-split',
    'hls-nginx-split',
    'hls-node-split',
  ]),
);

for (const r of runs) {
  if (!r.valid && r.carriedFrom === undefined)
    notes.push(
      `${r.name}: not a valid run: the load tester's event-loop delay p99 was ${r.tester.eventLoopDelayP99Ms} ms (limit ${VALID_LOOP_P99_MS} ms), so its stalls and latency are partly the tester's` +
        (r.stoppedEarly ? `; stopped early (${r.stoppedEarly})` : ''),
    );
}
const byName = (n: Run['name']) => runs.find((r) => r.name === n);
const ll = byName('ll');
const llRate = byName('ll-rate');
const h2 = byName('ll-h2');
const hls = byName('hls');
const hlsNginx = byName('hls-nginx');
const hlsNode = byName('hls-node');
/** CPU µs per request the viewers made, of a run measured now; null when carried or empty. */
const usPerRequest = (r: Run | undefined): number | null =>
  r && r.carriedFrom === undefined && r.processes.edge && r.requests.total > 0 && r.processes.edge.cpuSec > 0
    ? (r.processes.edge.cpuSec / r.requests.total) * 1e6
    : null;
const side = (r: Run) => ({
  valid: r.valid,
  stalls: r.stalls,
  cores: r.processes.edge?.cores ?? null,
  cpuUsPerRequest: round(usPerRequest(r) ?? 0, 1),
});
const [edgeUs, nginxUs, nodeUs] = [usPerRequest(hls), usPerRequest(hlsNginx), usPerRequest(hlsNode)];
/** A variant trio's comparison (the edge, nginx and the node floor, each measured now), else the previous one. */
function trioSummary(suffix: '-sut-nice' | '-split', previousOne: unknown, how: Record<string, unknown>) {
  const [e, x, n] = [byName(`hls${suffix}`), byName(`hls-nginx${suffix}`), byName(`hls-node${suffix}`)];
  if (!e || e.carriedFrom !== undefined) return previousOne ?? null;
  const [eUs, xUs, nUs] = [usPerRequest(e), usPerRequest(x), usPerRequest(n)];
  return {
    ...how,
    ...(eUs !== null && xUs !== null ? { ratioEdgeToNginxCpuPerRequest: round(eUs / xUs) } : {}),
    ...(eUs !== null && nUs !== null ? { ratioEdgeToNodeFloorCpuPerRequest: round(eUs / nUs) } : {}),
    edge: side(e),
    ...(x ? { nginx: side(x) } : {}),
    ...(n ? { node: side(n) } : {}),
  };
}
/** A goal names the size of the run it is about: a run carried from the previous file keeps its own. */
const sizeOf = (name: string, now: number): number => runs.find((r) => r.name === name)?.viewers ?? now;
const result = {
  bench: 'loadtest',
  command: `node bin/run-ts.js bench/loadtest-bench.ts ${args.join(' ')}`.trim(),
  at: new Date().toISOString(),
  machine: finishMachineInfo(machineStart),
  goals: {
    ll: `${sizeOf('ll', SIZES.ll)} LL-HLS viewers: 0 stalls, live latency p50 within ${GOAL_LATENCY_OVER_HOLD_BACK_SEC} s of PART-HOLD-BACK`,
    hls: `${sizeOf('hls', SIZES.hls)} plain HLS viewers: 0 stalls`,
    llH2: `${sizeOf('ll-h2', SIZES.h2)} LL-HLS viewers over HTTP/2: as ll`,
    llRate: `issue 16: ≥ ${LL_RATE_GOAL_VIEWERS_PER_CORE} LL-HLS viewers per core of tester CPU (over the hold) against this live lavfi channel's 0.5 s parts, in a valid run (ll-rate: ${sizeOf('ll-rate', SIZES.llRate)} viewers, sized to leave the box room, as the tester bench's plain-rate)`,
    valid: `a run counts only when the load tester's event-loop delay p99 < ${VALID_LOOP_P99_MS} ms`,
  },
  setup: {
    channel: { ...CHANNEL, ladder: LADDER, encoder: 'ffmpeg, child of the origin process' },
    run: { rampSec: RAMP_SEC, holdSec: HOLD_SEC },
    edge: `streamedge edge in its own process, TLS (self-signed) on its main port, plain HTTP on --http-port, store 2 GB; ${edgeWorkers === null ? 'the CLI had no --workers option yet (one process)' : `--workers ${edgeWorkers}`}`,
    origin: 'bench/loadtest-origin-process.ts in its own process (packager/origin), ffmpeg as its child',
    tester:
      'this process: viewers in worker threads, each viewer with its own keep-alive connections (one h2 connection with --http2); CPU from process.cpuUsage() (all threads)',
    nodeFloor: `hls-node: bench/node-floor-cache.ts, a node:cluster of ${EDGE_WORKERS} plain node:http worker(s) (the edge's count and cluster scheduling) holding the origin's objects in memory (playlists 1 s, the rest for the run; one fetch per object per worker), writeHead + end(buffer), no cache logic, run right after hls-nginx with the edge idle; its process tree is processes.edge`,
    nginx:
      (skippedRuns.includes('hls-nginx') && previous?.setup?.nginx) ||
      `hls-nginx: ${nginxVersion ?? 'nginx'} proxy_cache, worker_processes = cores, sendfile, proxy_cache_lock, playlists cached 1 s (the origin's s-maxage), segments by their Cache-Control; run right after hls with the edge idle; its process tree is processes.edge`,
    sutNice:
      SUT_NICE > 0
        ? `the *-sut-nice runs: every thread of the origin (+ffmpeg) and of the cache under test at nice ${SUT_NICE}, the tester at 0`
        : 'no *-sut-nice runs measured now (--sut-nice N adds them)',
    splitCpus: SPLIT_CPUS
      ? `the *-split runs: the tester's threads pinned to CPU ${TESTER_CPUS}, every thread of the origin (+ffmpeg) and of the cache under test to CPU ${CHAIN_CPUS} (taskset)`
      : 'no *-split runs measured now (--split-cpus adds them)',
    processCpu:
      'per process tree (the process and its live descendants) from /proc/<pid>/stat, cores = CPU seconds ÷ wall seconds of the run',
  },
  runs,
  // h2 against h1 in the same run, only when both runs were valid and measured now (an invalid run's figures are the tester's)
  ratios:
    ll?.valid &&
    h2?.valid &&
    ll.carriedFrom === undefined &&
    h2.carriedFrom === undefined &&
    ll.liveLatencySec &&
    h2.liveLatencySec
      ? {
          h2ToH1LatencyP50: round(h2.liveLatencySec.p50! / ll.liveLatencySec.p50!),
          h2ToH1TesterCpu: ll.tester.cpuSec > 0 ? round(h2.tester.cpuSec / ll.tester.cpuSec) : null,
          h2ToH1EdgeCpu:
            ll.processes.edge && h2.processes.edge && ll.processes.edge.cpuSec > 0
              ? round(h2.processes.edge.cpuSec / ll.processes.edge.cpuSec)
              : null,
        }
      : null,
  // issue 16's per-core figure against this channel: the tester's CPU over the hold of a valid run
  llRate: llRate
    ? {
        viewers: llRate.viewers,
        testerWorkers: llRate.tester.workers,
        valid: llRate.valid,
        eventLoopDelayP99Ms: llRate.tester.eventLoopDelayP99Ms,
        stalls: llRate.stalls,
        holdCores: llRate.tester.holdCores,
        holdCpuUsPerRequest: llRate.tester.holdCpuUsPerRequest,
        viewersPerCore: llRate.tester.viewersPerCore,
        goal: LL_RATE_GOAL_VIEWERS_PER_CORE,
        met: llRate.valid && llRate.tester.viewersPerCore >= LL_RATE_GOAL_VIEWERS_PER_CORE,
        ...(llRate.carriedFrom !== undefined ? { carriedFrom: llRate.carriedFrom } : {}),
      }
    : null,
  // the edge against nginx on the same viewers, same origin, same run (both measured now)
  hlsBaseline:
    hls &&
    hlsNginx &&
    hls.carriedFrom === undefined &&
    hlsNginx.carriedFrom === undefined &&
    hls.processes.edge &&
    hlsNginx.processes.edge &&
    hlsNginx.processes.edge.cpuSec > 0 &&
    hls.requests.total > 0 &&
    hlsNginx.requests.total > 0
      ? {
          // per request the viewers made (the two runs' request counts differ when the tester lags)
          ratioEdgeToNginxCpuPerRequest: round(
            hls.processes.edge.cpuSec / hls.requests.total / (hlsNginx.processes.edge.cpuSec / hlsNginx.requests.total),
          ),
          edge: {
            valid: hls.valid,
            stalls: hls.stalls,
            cores: hls.processes.edge.cores,
            cpuUsPerRequest: round((hls.processes.edge.cpuSec / hls.requests.total) * 1e6, 1),
          },
          nginx: {
            valid: hlsNginx.valid,
            stalls: hlsNginx.stalls,
            cores: hlsNginx.processes.edge.cores,
            cpuUsPerRequest: round((hlsNginx.processes.edge.cpuSec / hlsNginx.requests.total) * 1e6, 1),
          },
        }
      : hls?.carriedFrom !== undefined
        ? (previous?.hlsBaseline ?? null) // the hls runs were carried: so is their comparison
        : null,
  // the edge against the plain node:http floor on the same viewers, same origin, same run: what is ours
  hlsNodeFloor:
    hls && hlsNode && edgeUs !== null && nodeUs !== null
      ? {
          ratioEdgeToNodeFloorCpuPerRequest: round(edgeUs / nodeUs),
          ...(nginxUs !== null ? { ratioNginxToNodeFloorCpuPerRequest: round(nginxUs / nodeUs) } : {}),
          edge: side(hls),
          node: side(hlsNode),
        }
      : hls?.carriedFrom !== undefined
        ? (previous?.hlsNodeFloor ?? null)
        : null,
  // the same trio with the chain at nice N and the tester at 0 (`--sut-nice N`): the tester served first
  hlsSutNice: trioSummary('-sut-nice', previous?.hlsSutNice, { nice: SUT_NICE }),
  // the same trio with the tester and the chain on CPUs of their own (`--split-cpus`)
  hlsSplitCpus: trioSummary('-split', previous?.hlsSplitCpus, { testerCpus: TESTER_CPUS, chainCpus: CHAIN_CPUS }),
  notes,
  // the edge workers' CPU profile of plain-HLS viewers before and after the hit-path work (made by
  // hand with --cpu-prof, see the README's bench notes): kept from the previous file as it is
  hlsProfile: previous?.hlsProfile ?? null,
  // the same for the 5,000 plain-HLS viewers of `hls` (`--edge-cpu-prof`, by hand into the JSON): kept as it is
  hlsProfile5000Viewers: previous?.hlsProfile5000Viewers ?? null,
};
const out = resolve(root, OUT);
mkdirSync(dirname(out), { recursive: true });
// fields added to the file by hand (repeats, notes) stay: bench/carried-runs.ts withKeptFields
writeFileSync(out, JSON.stringify(withKeptFields(result, previous), null, 2) + '\n');

// ------------------------------------------------------------------ summary table

const pad = (s: string | number | null | undefined, n: number) => String(s ?? '-').padStart(n);
const lines = [
  '',
  `loadtest bench: ${result.machine.cpus} cores, load ${result.machine.loadAverageBefore?.join(' ')} → ${result.machine.loadAverageAfter?.join(' ')}; ramp ${RAMP_SEC}s hold ${HOLD_SEC}s`,
  `${'run'.padEnd(19)}${pad('viewers', 8)}${pad('valid', 6)}${pad('goals', 6)}${pad('stalls', 7)}${pad('lat50', 7)}${pad('PHB', 6)}${pad('kbit/s', 7)}${pad('loopP99', 8)}${pad('tester', 7)}${pad('edge', 6)}${pad('origin', 7)}${pad('v/core', 7)}`,
];
for (const r of runs) {
  lines.push(
    `${(r.carriedFrom ? `${r.name}*` : r.name).padEnd(19)}${pad(r.viewers, 8)}${pad(r.valid ? 'yes' : 'no', 6)}${pad(r.goals.met ? 'met' : 'no', 6)}${pad(r.stalls, 7)}` +
      `${pad(r.liveLatencySec?.p50?.toFixed(2), 7)}${pad(r.partHoldBackSec, 6)}${pad((r.playedBitrateBps / 1e3).toFixed(0), 7)}` +
      `${pad(r.tester.eventLoopDelayP99Ms?.toFixed(1), 8)}${pad(r.tester.cores, 7)}${pad(r.processes.edge?.cores, 6)}${pad(r.processes.origin?.cores, 7)}${pad(r.tester.viewersPerCore, 7)}`,
  );
}
lines.push(
  'columns: valid = tester event-loop p99 < 20 ms; goals = 0 stalls (and LL latency p50 within 0.5 s of PART-HOLD-BACK);',
  '         live latency p50 (s), PART-HOLD-BACK (s), bitrate played, tester event-loop p99 (ms), cores used by tester / edge / origin (+ffmpeg), viewers per tester core over the hold',
);
for (const r of runs) if (r.carriedFrom) lines.push(`${r.name}*: not run now; kept from ${r.carriedFrom}`);
for (const n of notes) lines.push(`note: ${n}`);
lines.push(`wrote ${out} (${elapsedSec().toFixed(0)} s)`);
process.stdout.write(lines.join('\n') + '\n');
process.exit(exitCode);
