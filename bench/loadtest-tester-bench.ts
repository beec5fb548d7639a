/**
 * The load tester's own cost and fidelity, against an instant stub (bench/loadtest-stub-process.ts,
 * its own process, so the stub's CPU is not the tester's): LL-HLS viewers and plain-HLS viewers
 * per core of tester CPU, and, at 1,000 viewers, the stalls and live latency against a small
 * same-run baseline (the stub cannot stall, so every stall and every extra millisecond of
 * latency is the tester's own). Writes bench/results/loadtest-tester.json.
 *
 *   node bin/run-ts.js bench/loadtest-tester-bench.ts [--ll 3000] [--hls 10000] [--hls-rate 4000]
 *        [--fidelity 1000] [--h2 1000] [--baseline 20] [--ramp 10] [--hold 20] [--workers N] [--pin]
 *        [--hls-processes N] [--stub-processes N] [--out bench/results/loadtest-tester.json]
 *
 * Plain HLS is measured twice: `plain-rate` (`--hls-rate`, 4,000 viewers in one process) is the
 * per-core figure, a run that leaves the box room (tester and stub well under the 2 cores), and
 * `plain-hls` (`--hls`, 10,000) the stress run: with the stub it needs about the whole box, so its
 * threads are starved and its figure is the box's, not the tester's (the JSON says which is which).
 *
 * A size of 0 skips that scenario (e.g. `--ll 0 --fidelity 0 --h2 0` runs the plain-HLS runs
 * only); its result in the existing results file is kept, marked `carriedFrom` (when it was
 * measured). `--h2 N`: N LL-HLS viewers over HTTP/2 (the tester's own h2 framing, one TLS connection per
 * viewer) against a second stub serving HTTPS, for the CPU per request against the HTTP/1.1
 * `ll-hls` run. `--pin`: the stubs run on core 0 (`taskset -c 0`) and this process, all its
 * threads, on core 1 (`taskset -a -p -c 1`), so the tester's threads do not compete with the
 * stub; the cores each process may use are recorded either way (`affinity`).
 *
 * A plain-HLS viewer holds up to 2 connections: when a scenario's viewers do not fit this
 * process's `ulimit -n` (10,000 × 2 plus what is open, against 20,000 here, which cannot be
 * raised; worker threads share it), the scenario is played by several tester processes
 * (bench/loadtest/local-agents.ts: `loadtest-agent`s over a local nats-server, this process
 * coordinating), each within its own `ulimit -n`; `processes` in the JSON says how many
 * (`--hls-processes N` forces N for plain HLS). Their cost is the agents' hold CPU from the merged
 * report, summed; valid when every agent's event-loop p99 is under the limit.
 *
 * The plain-http stub runs as `--stub-processes` processes (node:cluster on one port; default: as
 * many as the plain-HLS viewers' connections need, each within its own `ulimit -n`): one stub
 * process at 10,000 plain-HLS viewers met its 20,000 descriptors and reset connections. The
 * stub's CPU (stubCores) is the whole process tree's.
 *
 * Viewers per core = viewers ÷ (tester CPU seconds ÷ wall seconds), over the hold period only
 * (CPU sampled when the ramp is over and at the end), so the ramp's start-up work is not mixed in.
 * The CPU is process.cpuUsage(), i.e. getrusage(RUSAGE_SELF): every thread of this process (the
 * viewers' worker threads included), and nothing of the stub's process.
 *
 * Fidelity baseline: a small run's latency depends on where in a segment each viewer started
 * (a viewer starts PART-HOLD-BACK back, at the independent part before that: 0 to 2 s more). With
 * 20 viewers over a 10 s ramp every viewer started 0.5 s (one part) after the previous one, so all
 * shared one phase within the part, and that phase (where the run's start fell) moved the
 * baseline's p50 by up to ±0.1 s from run to run, as much as the "error" being measured. The
 * baselines therefore start their viewers (n + 1) parts apart over n, so their phases cover a
 * whole segment, as the big run's do.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { readPreviousResults, withCarriedRuns, withKeptFields } from './carried-runs.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { LoadReport } from './loadtest/report.js';
import { burstBoundWorkers, defaultWorkers, runLoadTest } from './loadtest/run.js';
import { STUB } from './loadtest/stub-channel.js';
import { viewersThatFit } from './loadtest/fd-budget.js';
import { agentsHoldFigures, runLocalAgents } from './loadtest/local-agents.js';
import { connectionsPerViewer } from './loadtest/viewer.js';
import { treeCpu } from './process-cpu.js';
import { busyCores, machineTicks, startIdleLoopProbe } from './loadtest/box-load-probe.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}
const LL = arg('ll', 3000);
const HLS = arg('hls', 10000);
const HLS_RATE = arg('hls-rate', 4000);
const FIDELITY = arg('fidelity', 1000);
const H2 = arg('h2', 1000);
const PIN = args.includes('--pin');
const BASELINE = arg('baseline', 20);
const RAMP = arg('ramp', 10);
const HOLD = arg('hold', 20);
const WORKERS = args.includes('--workers') ? arg('workers', 0) : undefined;
const HLS_PROCESSES = args.includes('--hls-processes') ? arg('hls-processes', 1) : undefined;
/**
 * Stub processes (node:cluster, one port): each holds its share of the connections within its own
 * `ulimit -n`, on its own thread. Default: as many as the plain-HLS viewers' connections need.
 */
const STUB_PROCESSES = args.includes('--stub-processes')
  ? Math.max(1, arg('stub-processes', 1))
  : Math.max(1, Math.ceil(HLS / viewersThatFit(connectionsPerViewer({ url: 'http:', lowLatency: false }))));
const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'bench/results/loadtest-tester.json';

const root = resolve(import.meta.dirname, '..');
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const la = () => loadavg().map((v) => round(v, 2));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** The cores a process may run on (its affinity), from /proc: "0-1", "1". */
function allowedCores(pid: number): string | null {
  try {
    return /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

if (PIN) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--pin: taskset failed: ${r.stderr || r.error?.message}`);
}

interface StubProcess {
  url: string;
  ca?: string;
  pid: number;
  stop(): void;
}

async function startStub(tlsDir?: string): Promise<StubProcess> {
  const node = [resolve(root, 'bin/run-ts.js'), resolve(root, 'bench/loadtest-stub-process.ts')];
  if (tlsDir) node.push('--tls', tlsDir);
  else if (STUB_PROCESSES > 1) node.push('--processes', String(STUB_PROCESSES));
  const child = PIN
    ? spawn('taskset', ['-c', '0', process.execPath, ...node], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(process.execPath, node, { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<{ url: string; ca?: string }>((ok, fail) => {
    child.once('exit', (c) => fail(new Error(`stub exited (${c})`)));
    createInterface({ input: child.stdout }).once('line', (l) => ok(JSON.parse(l) as { url: string; ca?: string }));
  });
  return { ...line, pid: child.pid!, stop: () => child.kill('SIGTERM') };
}

const stub = await startStub();
const tlsDir = H2 > 0 ? mkdtempSync(join(tmpdir(), 'se-tester-bench-')) : undefined;
const tlsStub = tlsDir ? await startStub(tlsDir) : undefined;
const affinity = {
  tester: allowedCores(process.pid),
  stub: allowedCores(stub.pid),
  ...(tlsStub ? { tlsStub: allowedCores(tlsStub.pid) } : {}),
  pinned: PIN,
  /** Processes serving the plain-http stub (node:cluster; their CPU is summed in stubCores). */
  stubProcesses: STUB_PROCESSES,
};

interface Scenario {
  name: string;
  viewers: number;
  /** When fewer viewers than asked for fit `ulimit -n`: how many were asked for. */
  viewersRequested?: number;
  /**
   * Tester processes: 1 is this process (its worker threads); N > 1 are N `loadtest-agent`
   * processes over a local nats-server, this process coordinating (their CPU is the tester's).
   */
  processes: number;
  lowLatency: boolean;
  http2: boolean;
  /** Worker threads of each tester process (0: its main thread plays). */
  workers: number;
  /** Tester CPU ÷ wall over the hold (cores), and the stub's. */
  testerCores: number;
  stubCores: number | null;
  holdCpuSec: number;
  holdWallSec: number;
  holdRequests: number;
  /** Tester CPU per request over the hold (ms). */
  cpuMsPerRequest: number;
  /** Requests per viewer per second over the hold. */
  requestsPerViewerSec: number;
  viewersPerCore: number;
  /** The tester kept up (event-loop delay p99 < 20 ms; with agents, every agent's): only then is viewersPerCore a measurement. */
  valid: boolean;
  /** The rest of the box over the same run (bench/loadtest/box-load-probe.ts); absent on runs before session 7. */
  box?: BoxFigures;
  loadavg: number[];
  report: LoadReport;
  /** Set on a scenario kept from the previous results file (skipped this time): when it was measured. */
  carriedFrom?: string;
}

interface BoxFigures {
  /** Busy cores of the whole machine over the hold (/proc/stat). */
  machineCores: number | null;
  /** Of which neither the tester's nor the stub's: other sessions' processes. */
  otherCores: number | null;
  /** An idle Node process's event-loop delay p99 over the whole run (ramp and hold), ms: the box's share of the tester's. */
  idleLoopP99Ms: number | null;
}

function boxFigures(
  t0: ReturnType<typeof machineTicks>,
  t1: ReturnType<typeof machineTicks>,
  testerCores: number,
  stubCpu0: number | undefined,
  stubCpu1: number | undefined,
  wallSec: number,
  idleLoopP99Ms: number | null,
): BoxFigures {
  const machineCores = busyCores(t0, t1);
  const stubCores =
    stubCpu0 !== undefined && stubCpu1 !== undefined && wallSec > 0 ? (stubCpu1 - stubCpu0) / wallSec : 0;
  return {
    machineCores,
    otherCores: machineCores === null ? null : round(Math.max(0, machineCores - testerCores - stubCores), 2),
    idleLoopP99Ms,
  };
}

/** A baseline's ramp: its viewers start (n + 1)/n parts apart, so their phases cover a segment. */
const baselineRamp = (n: number) => ((n + 1) * STUB.partMs) / 1000;

async function scenario(
  name: string,
  asked: number,
  lowLatency: boolean,
  rampSec = RAMP,
  target: StubProcess = stub,
): Promise<Scenario> {
  const http2 = target.ca !== undefined;
  const fit = viewersThatFit(connectionsPerViewer({ url: target.url, lowLatency, http2 }));
  // more viewers than one process's descriptors hold: split them over tester processes (agents)
  const processes = (name === 'plain-hls' ? HLS_PROCESSES : undefined) ?? Math.min(8, Math.ceil(asked / fit));
  if (processes > 1)
    return agentScenario(name, asked, Math.min(asked, processes * fit), processes, lowLatency, rampSec, target);
  const viewers = Math.min(asked, fit);
  // the fidelity run is about trustworthy numbers, so its LL bursts are kept short (a thread per
  // 250 viewers); the per-core runs are about cost, where fewer threads are cheaper (3,000 LL
  // viewers: 4,178 per core on one thread, 2,560 on twelve, same box)
  const workers = WORKERS ?? (name === 'fidelity' ? burstBoundWorkers(viewers, lowLatency) : defaultWorkers(viewers));
  const RAMP = rampSec;
  log(
    `${name}: ${viewers}${viewers < asked ? ` (of ${asked} asked: the most that fit ulimit -n)` : ''} viewers, ${lowLatency ? 'LL-HLS' : 'plain HLS'}${http2 ? ' over HTTP/2 (TLS)' : ''}, ${workers} worker(s), ramp ${RAMP}s hold ${HOLD}s`,
  );
  let mark:
    | {
        cpu: NodeJS.CpuUsage;
        at: number;
        requests: number;
        stubCpu: number | undefined;
        ticks: ReturnType<typeof machineTicks>;
      }
    | undefined;
  const probe = startIdleLoopProbe();
  const report = await runLoadTest({
    url: target.url,
    viewers,
    rampSec: RAMP,
    durationSec: HOLD,
    workers,
    lowLatency,
    http2,
    ...(target.ca ? { ca: target.ca } : {}),
    onProgress: (line, snap) => {
      if (!mark && snap.elapsedSec >= RAMP + 1)
        mark = {
          cpu: process.cpuUsage(),
          at: performance.now(),
          requests: snap.requests,
          stubCpu: treeCpu(target.pid)?.cpuSec,
          ticks: machineTicks(),
        };
      if (Math.round(snap.elapsedSec) % 5 === 0) log(`  ${line}`);
    },
  });
  const end = {
    cpu: process.cpuUsage(),
    at: performance.now(),
    stubCpu: treeCpu(target.pid)?.cpuSec,
    ticks: machineTicks(),
  };
  const idleLoopP99Ms = await probe.stop();
  const m = mark ?? {
    cpu: { user: 0, system: 0 },
    at: end.at - report.elapsedSec * 1000,
    requests: 0,
    stubCpu: undefined,
    ticks: null,
  };
  const holdRequests = report.requests.total - m.requests;
  const holdCpuSec = (end.cpu.user - m.cpu.user + end.cpu.system - m.cpu.system) / 1e6;
  const holdWallSec = (end.at - m.at) / 1000;
  const cores = holdCpuSec / holdWallSec;
  const s: Scenario = {
    name,
    viewers,
    ...(viewers < asked ? { viewersRequested: asked } : {}),
    processes: 1,
    lowLatency,
    http2,
    workers,
    testerCores: round(cores, 2),
    stubCores:
      m.stubCpu !== undefined && end.stubCpu !== undefined ? round((end.stubCpu - m.stubCpu) / holdWallSec, 2) : null,
    holdCpuSec: round(holdCpuSec),
    holdWallSec: round(holdWallSec),
    holdRequests,
    cpuMsPerRequest: round((holdCpuSec * 1000) / Math.max(1, holdRequests), 4),
    requestsPerViewerSec: round(holdRequests / viewers / holdWallSec, 2),
    viewersPerCore: Math.round(viewers / cores),
    valid: report.loadTester.valid,
    box: boxFigures(m.ticks, end.ticks, cores, m.stubCpu, end.stubCpu, holdWallSec, idleLoopP99Ms),
    loadavg: la(),
    // the per-second timeline and TTFB bins are for the HTML report; the bench keeps the summary
    report: { ...report, timeline: [], ttfbHistograms: {} },
  };
  log(
    `  → ${s.viewersPerCore} viewers per core (${round(cores, 2)} cores), stalls ${report.stalls}, latency p50 ${report.liveLatencySec?.p50} s, errors ${JSON.stringify(report.errors)}, event-loop p99 ${report.loadTester.eventLoopDelayP99Ms ?? '-'} ms; box ${s.box?.machineCores} cores busy (others ${s.box?.otherCores}), an idle process's loop p99 ${s.box?.idleLoopP99Ms} ms`,
  );
  return s;
}

/**
 * A scenario played by `processes` tester processes (`loadtest-agent` over a local nats-server,
 * this process coordinating): each agent plays viewers ÷ processes against its own `ulimit -n`.
 * The tester's cost is the agents' CPU over their hold (from 1 s after the ramp to the end,
 * measured by each agent and carried in the merged report), summed; valid when every agent's
 * event-loop p99 is below the limit.
 */
async function agentScenario(
  name: string,
  asked: number,
  viewers: number,
  processes: number,
  lowLatency: boolean,
  rampSec: number,
  target: StubProcess,
): Promise<Scenario> {
  const http2 = target.ca !== undefined;
  const workers = WORKERS ?? 0;
  log(
    `${name}: ${viewers}${viewers < asked ? ` (of ${asked} asked)` : ''} viewers, ${lowLatency ? 'LL-HLS' : 'plain HLS'}${http2 ? ' over HTTP/2 (TLS)' : ''}, ${processes} tester processes (loadtest-agent over a local nats-server${HLS_PROCESSES && name === 'plain-hls' ? ', as --hls-processes asks' : ": the viewers do not fit one process's ulimit -n"}), ${workers} worker(s) each, ramp ${rampSec}s hold ${HOLD}s`,
  );
  let mark: { at: number; stubCpu: number | undefined; ticks: ReturnType<typeof machineTicks> } | undefined;
  const probe = startIdleLoopProbe();
  const report = await runLocalAgents({
    url: target.url,
    viewers,
    processes,
    agentWorkers: workers,
    rampSec,
    durationSec: HOLD,
    lowLatency,
    http2,
    ...(target.ca ? { ca: target.ca } : {}),
    onProgress: (line, snap) => {
      // the agents' hold starts when their ramp ends: mark the stub's CPU when every viewer has started
      if (!mark && snap.started >= viewers)
        mark = { at: performance.now(), stubCpu: treeCpu(target.pid)?.cpuSec, ticks: machineTicks() };
      if (Math.round(snap.elapsedSec) % 5 === 0) log(`  ${line}`);
    },
  });
  const end = { at: performance.now(), stubCpu: treeCpu(target.pid)?.cpuSec, ticks: machineTicks() };
  const idleLoopP99Ms = await probe.stop();
  const h = agentsHoldFigures(report);
  const stubWall = mark ? (end.at - mark.at) / 1000 : 0;
  const s: Scenario = {
    name,
    viewers,
    ...(viewers < asked ? { viewersRequested: asked } : {}),
    processes,
    lowLatency,
    http2,
    workers,
    testerCores: round(h.testerCores, 2),
    stubCores:
      mark?.stubCpu !== undefined && end.stubCpu !== undefined && stubWall > 0
        ? round((end.stubCpu - mark.stubCpu) / stubWall, 2)
        : null,
    holdCpuSec: round(h.holdCpuSec),
    holdWallSec: round(h.holdWallSec),
    holdRequests: h.holdRequests,
    cpuMsPerRequest: round((h.holdCpuSec * 1000) / Math.max(1, h.holdRequests), 4),
    requestsPerViewerSec: round(h.holdRequests / viewers / Math.max(1e-9, h.holdWallSec), 2),
    viewersPerCore: h.viewersPerCore,
    valid: h.valid,
    box: boxFigures(mark?.ticks ?? null, end.ticks, h.testerCores, mark?.stubCpu, end.stubCpu, stubWall, idleLoopP99Ms),
    loadavg: la(),
    report: { ...report, timeline: [], ttfbHistograms: {} },
  };
  log(
    `  → ${s.viewersPerCore} viewers per core (${s.testerCores} cores over ${processes} processes), stalls ${report.stalls}, errors ${JSON.stringify(report.errors)}, agents' event-loop p99 ${(report.agents ?? []).map((a) => a.eventLoopDelayP99Ms).join(', ')} ms; stub ${s.stubCores} cores; box ${s.box?.machineCores} cores busy (others ${s.box?.otherCores}), an idle process's loop p99 ${s.box?.idleLoopP99Ms} ms`,
  );
  return s;
}

/**
 * What the +111 ms of the last run (1,000 viewers vs a 20-viewer baseline, both against the
 * instant stub) was made of, and what changed.
 */
const FIDELITY_EXPLAINED = [
  'Not the clock: latency is Date.now() minus the program date-time at the playhead, and the stub stamps PDT from the same Date.now(); PDTs are parsed to the millisecond.',
  "Not the timer wheel: its 10 ms slots only round waits (plain-HLS reloads, shaping); an LL-HLS viewer never waits on a timer, it is held by the server's blocking reload or hinted part.",
  'The baseline: its 20 viewers started exactly one part (0.5 s) apart, so they all had the same phase within a part, set by where the run began; its p50 moved by about 0.2 s between identical runs on this box (2.17 to 2.37 s). The baselines now start (n+1)/n parts apart, covering every phase.',
  "The tester's own delay: a viewer's latency at start is the time from reading the playlist to playing, so a slow start-up adds to latency until the catch-up rate removes it. With the shared undici pool the 1,000-viewer ramp had start-up p50 978 ms (baseline 3 ms); with per-viewer connections and the lean HTTP/1.1 client it was 129 to 494 ms on a box at load 8 to 13, and it falls with the tester's CPU per request.",
  "Viewers now join at PART-HOLD-BACK and present from there (the media from the key frame before it is fetched, not played), as hls.js seeks to its live sync position; a viewer's latency no longer depends on where in a segment it started (before: 0 to 2 s above the hold-back), only on the time since the newest part ended (0 to 0.5 s) and its start-up.",
  "Viewers steer the distance behind the live edge they see (the wall-clock latency less the listing delay, how late the newest part reached them) toward PART-HOLD-BACK + 0.25 s with no correction within ± 0.25 s, as the browser player does; the stub lists a part the instant it ends, so its listing delay is the tester's own lag, and a viewer's latency is PART-HOLD-BACK plus its join phase (0 to 0.5 s) plus that lag.",
  'What remains is the burst: the stub answers every held request of a part boundary at once (2 per viewer), and one thread works through them in turn; the last viewer of the burst gets its part that much later (partLagMs). Only more threads or less CPU per response shrink it; the run says whether the tester kept up (valid).',
];

/**
 * CPU profiles of the tester (node --cpu-prof, 1,000 LL-HLS viewers against the instant stub, all
 * in the main thread: `node --cpu-prof bin/streamedge.js loadtest <stub> --viewers 1000 --ramp 5s
 * --duration 20s --workers 0`), top self-time frames as a share of non-idle samples. The box was
 * at load average 8 to 13 on 2 cores (other engineers' work), so the sampled shares are wall-time
 * shares (a syscall that wakes the stub may be descheduled inside it); the tester CPU figures are
 * process.cpuUsage().
 */
const PROFILE = {
  command:
    'node --cpu-prof bin/streamedge.js loadtest <stub> --viewers 1000 --ramp 5s --duration 20s --workers 0 (2026-12-01, load average 8-13)',
  before: {
    commit: 'c70e393 (one undici Agent for all viewers of a thread, pipelining 1)',
    testerCpuSec: 16.4,
    requests: 139092,
    cpuUsPerRequest: 118,
    topFrames: [
      '24.7 % undici, all frames (of which Pool kGetDispatcher, the scan for a free connection among thousands: 7.8 %; Client _resume 3.9 %; llhttp wasm 1.9 %; parseHeaders 1.4 %)',
      '14.2 % garbage collector',
      '12.5 % writeLatin1String (the request write syscall; on loopback it also runs the receiving side)',
      '4.9 % (program)',
      '2.7 % net internalConnect',
      '3.5 % runViewer and its closures (viewer.ts)',
      '1.4 % MessageChannel (undici)',
      'small: histogram recording and progress percentiles 1.4 %, playlist parsing (resolvePlaylist) 0.7 %, ABR (AbrController) 0.6 %, timer wheel < 0.1 %',
    ],
  },
  after: {
    commit: 'per-viewer connections + bench/loadtest/h1-client.ts for plain http',
    testerCpuSec: 10.1,
    requests: 154801,
    cpuUsPerRequest: 65,
    topFrames: [
      '27.4 % writeUtf8String (the request write syscall; now the largest frame: one write per request is the floor without pipelining)',
      '10.3 % garbage collector',
      '4.1 % (program)',
      '6.3 % runViewer and its closures (viewer.ts)',
      '2.9 % runMicrotasks (promise continuations of the viewers)',
      '2.3 % H1Connection.parseHead (since made cheaper: one lower-cased head, three indexOf)',
      '3.7 % GetHandler onResponseData + onResponseEnd (http-get.ts)',
      '1.7 % resolvePlaylist (playlists shared by text per thread)',
      '1.7 % H1Client.dispatch',
      'small: ABR (AbrController.onDownloadComplete 1.2 %, onDownloadProgress 0.7 %, nextLevel 0.3 %), histogram recording and progress percentiles 2.6 %, esbuild keepNames __name on closures made per request 0.8 %, timer wheel < 0.2 %',
    ],
  },
  abr: 'The ABR per request (src/abr AbrController) is about 2 % of the busy time after the changes (0.6 % before, when everything else cost more): not a hot frame.',
};

/**
 * Plain HLS (issue 16's 10,000 viewers per core), profiled the same way with `--no-low-latency`,
 * 3,000 viewers, on a box at load average 7 to 21 (other engineers' runs): shares of non-idle
 * samples, so of wall time as much as of CPU. The per-request work was already lean; what grew
 * with the viewer count was a listener per viewer on the run's one AbortSignal: Node's EventTarget
 * walks its listener list on every add (duplicate check) and every remove, so the ramp and the end
 * of a run cost O(viewers²): 0.7 % of busy samples at 3,000 viewers, 3.3 % at 6,000, in long
 * blocking stretches. The pool now keeps the viewers' stop hooks in a Set with one listener.
 */
const PLAIN_HLS_PROFILE = {
  command:
    'node --cpu-prof bin/streamedge.js loadtest <stub> --viewers 3000 --ramp 5s --duration 20s --workers 0 --no-low-latency (2026-12-01, load average 7-21)',
  before: {
    commit: '23211c2',
    cpuUsPerRequestWholeRun: 81,
    topFrames: [
      '25.5 % writeLatin1String (the request write syscall; on loopback the kernel runs the stub side of TCP in it too)',
      '9.2 % garbage collector',
      '4.3 % (program)',
      '3.6 % internalConnect (the ramp: two connections per viewer)',
      '3.2 % runViewer + 2.1 % its closures (viewer.ts)',
      '2.1 % GetHandler.onResponseEnd, 1.2 % onResponseData (http-get.ts)',
      '1.8 % resolvePlaylist (a Map lookup by the playlist text: hashes it), 1.4 % chunkAt, 1.3 % ingest',
      '1.5 % H1Client.dispatch, 1.4 % parseHead, 1.0 % parseBody',
      '0.7 % addEventListener (one per viewer on the run signal; 3.3 % at 6,000 viewers: O(n²))',
    ],
  },
  after: {
    commit: 'stop hooks in a Set (viewer-pool.ts)',
    cpuUsPerRequestWholeRun: 74,
    topFrames: [
      '18.0 % writeLatin1String',
      '20.1 % garbage collector (the run was starved: load average 21; shares of wall time)',
      '3.9 % runViewer + 2.2 % its closures',
      '3.2 % internalConnect',
      '1.9 % H1Client.dispatch, 1.5 % parseHead',
      '1.4 % GetHandler.onResponseEnd, 1.2 % onResponseData',
      '1.3 % resolvePlaylist, 1.1 % chunkAt',
      'addEventListener from runViewer: gone (0 samples)',
    ],
  },
  holdCpuUsPerRequest:
    '45 µs per request over the hold (bench, 2,000 plain-HLS viewers, --workers 0, load average 7.9) at 1.94 requests per viewer-second: 1 / (45 µs × 1.94) ≈ 11,400 viewers per core of tester CPU, above the 10,000 goal, but the run was not valid (event-loop p99 132 ms on a box at load 8).',
};

/**
 * Why plain-HLS viewers made the tester's event loop late, measured (session 6) with an
 * instrumented ViewerPool (timer-wheel due times and turn sizes, playlist GET times) and the CPU
 * and allocation profilers, against the stub in its own process; the box was shared (load 5 to 13).
 */
const PLAIN_HLS_BURSTS = {
  finding:
    "Viewers' plain-HLS reloads were counted from when the viewer's timer actually ran (and the load's response arrived), so every hiccup of the tester's thread (GC, a busy turn, a core taken by the server) gave all viewers due meanwhile one common phase for the rest of the run; the ramp's even spread clumped into bursts recurring every target duration. Now a reload counts from its due time, a viewer's schedule starts when the ramp had it due to join, and a rendition loaded later joins that schedule (hls-client.ts reloadAt; test/unit/loadtest-reload-schedule.test.ts).",
  wheelTurns:
    "Also: the timer wheel records how late it ran the viewers' timers, and the event-loop p99 a pool reports is the larger of that and the loop's delay (test/unit/loadtest-timer-wheel.test.ts). A bound of 64 entries per turn (the rest next turn) was tried and removed: it capped the waits a thread can end per second (64 per loop iteration), and 5,000 viewers per thread outran it on a loaded box (tester bench plain 10,000: 0.21 requests per viewer-second instead of 2.05, 6,533 stalls).",
  command:
    'ViewerPool, 2,000 plain-HLS viewers in one thread, ramp 5 s, hold 30 s, against bench/loadtest-stub-process.ts; reload phase = GET time mod 2 s in 20 ms bins',
  before: {
    commit: 'b8ac64a',
    busiestTenthOfReloadCycleShare:
      '24 to 53 % of playlist GETs and of timer-wheel due times (an even spread: about 12 %)',
    wheelTurnEntriesP99: '178 to 234 (max 931 to 964)',
    eventLoopP99Ms: '106 to 145 (load 4.6 to 9.7)',
  },
  after: {
    commit: 'reloads from their due time and the join schedule',
    busiestTenthOfReloadCycleShare: '14.5 to 17.3 % of timer-wheel due times, early and late in the hold',
    wheelTurnEntriesP99: '38 to 64',
    eventLoopP99Ms: '12.2 (load 5.7, 0 stalls) to 101 (load 6.4): at that load the box sets the delay; not a clean A/B',
  },
  allocation: {
    command:
      'V8 HeapProfiler.startSampling keeping objects collected by minor and major GC, 1,000 plain-HLS viewers, 8 s of the hold',
    beforeKBPerRequest: 5.83,
    afterKBPerRequest: 4.59,
    beforeTopSites: [
      "12.3 % the playlist body's UTF-8 decoding (GetHandler.onResponseEnd)",
      "10.6 % the response head's strings (H1Connection.parseHead: latin1 copy, lower-cased copy, field slices, trim)",
      '5.5 % GetHandler and its promise per playlist GET, 5.2 % runViewer per chunk, 5.1 % net write requests',
    ],
    change:
      'playlists matched byte for byte against the versions already parsed (no decoding or hashing per viewer); the response head read in place from the bytes',
    heapPerViewerKB: '27 (heap snapshot of 1,000 viewers in the hold; 4.5 of it shared code)',
  },
  cpuProfile: {
    command:
      'node --cpu-prof bin/streamedge.js loadtest <stub> --viewers 3000 --ramp 5s --duration 20s --workers 0 --no-low-latency',
    before: {
      commit: 'b8ac64a (load 8.9)',
      cpuUsPerRequestWholeRun: 73,
      topFrames: [
        '25.2 % writeLatin1String',
        '10.6 % garbage collector',
        '4.6 % runViewer',
        '4.5 % (program)',
        '4.5 % internalConnect (ramp)',
        '2.4 % resolvePlaylist',
        '1.9 % ingest',
        '1.8 % histogram (load-stats)',
        '1.6 % parseHead',
      ],
    },
    after: {
      commit: 'this session (load 13)',
      cpuUsPerRequestWholeRun: 79.5,
      topFrames: [
        '21.8 % writeLatin1String',
        '11.0 % garbage collector',
        '5.2 % (program)',
        '3.6 % internalConnect (ramp)',
        '3.5 % runViewer',
        '1.7 % onResponseEnd',
        '1.6 % ingest, 1.6 % H1Client.dispatch',
        '1.1 % parseHead',
        'resolvePlaylist under 0.8 %',
      ],
    },
    note: 'CPU per request rose with the load (8.9 to 13 between the two runs): not comparable; the shares are. The GC share did not fall with the allocation: its cost is what survives a scavenge.',
  },
};

/**
 * The lean h2 client (node:http2) against undici, LL-HLS viewers against the TLS stub, 300 viewers,
 * ramp 3 s, 15 s, --workers 0, whole-run CPU (TLS handshakes included), same minute, load 8-9.
 */
/**
 * Session 8: the plain-HLS viewer's cost per request, cut and measured. ABAB in the same minutes,
 * each run a ViewerPool of 2,500 plain-HLS viewers in one thread against
 * bench/loadtest-stub-process.ts (ramp 5 s, hold 15 s, young generation as the viewer workers'
 * 64 MB semi-spaces), the tester's CPU over the hold only (from 1 s after the ramp), per thread from
 * /proc/self/task, under the shared bench lock; other sessions kept the box at load 4 to 7.
 */
const PLAIN_HLS_CUTS = {
  command:
    'ViewerPool 2,500 plain-HLS viewers, one thread, node --max-semi-space-size=64, hold-only CPU per request (µs): main-thread user + main-thread system + other threads (GC helpers, compiler)',
  before: '48df259 (main when the session began)',
  abab: [
    'A 48df259: 66.1 (39.1 + 18.8 + 8.2) and 56.3 (35.0 + 14.9 + 6.3); B 25503e7 (histograms per kind, one progress callback per viewer, playlist state in place): 54.4 (31.9 + 17.3 + 5.4) and 51.1 (29.9 + 16.0 + 5.3)',
    'B d38845e (and intrusive lists, a wait is its own wheel entry): 59.2 (33.2 + 18.6 + 7.2) against A 70.6 (38.4 + 23.4 + 8.7), load 4.3 to 6.6',
    'C d1770a3 (and chunkAt synchronous): C 63.6, A 58.9, C 52.6, A 58.6 at load 9 to 29 (a lint of this session ran beside the first pair; the second pair had event-loop gaps of 2 to 5.6 s): inconclusive, not counted',
    'final, D 920a210 (everything) against A 48df259, three pairs at load 6.0 falling to 2.2: A 65.2 (37.5 + 19.8 + 8.0), 61.0 (35.5 + 18.5 + 7.0), 62.7 (36.4 + 18.3 + 8.1); D 56.1 (31.9 + 19.2 + 5.0), 53.6 (33.6 + 14.4 + 5.3), 62.9 (33.3 + 21.4 + 8.1): mean 63.0 against 57.5 µs (−9 %), main-thread user time 36.5 against 32.9 µs (−10 %), other threads 7.7 against 6.1 µs; event-loop p99 A 54, 20, 7 ms and D 55, 5, 8 ms (as the load fell: at load 3 both kept 2,500 viewers on one thread valid)',
  ],
  changes: [
    'LoadStats.request records into per-kind TTFB and download histograms looked up once (it built `ttfb.${kind}` and hashed it twice per request)',
    'one ABR progress callback per viewer instead of a closure per video GET (esbuild keepNames also defined a name on each: __name 1.0 % of the busy thread)',
    "a rendition's playlist state updated in place on reload (a new 17-field object per reload lived a whole reload interval)",
    "a viewer's requests in flight and waits in intrusive lists (bench/loadtest/intrusive-list.ts): a Set per viewer reallocated its hash table as its 1 to 3 entries came and went, once per request: 12.8 % of the bytes that survived a scavenge",
    'a wait is its own timer-wheel entry (TimerWheel.schedule): no closure and no wrapper object per wait',
    'HlsClient.chunkAt is a synchronous look-up with small async steps for the reloads: its async frame (a large register file) was allocated per call and kept through the reload wait',
    "the h1 client's content-length header object reused per connection; dispatch options built without a spread",
  ],
  profileHold: {
    command:
      'node --cpu-prof, the same 2,500-viewer pool, samples of the hold only (from 8 s), self time as a share of the busy main thread',
    before48df259: [
      '39.3 % writeLatin1String (the request write syscall; on loopback the kernel runs the stub side of TCP in it)',
      '5.4 % (program)',
      '4.1 % runViewer',
      '2.3 % ingest, 1.9 % chunkAt, 1.8 % HttpGetter.get, 1.6 % H1Client.dispatch',
      '2.0 % garbage collector (main thread; the parallel scavenger and concurrent marker run on helper threads: 6 to 8 µs per request)',
      '1.5 % LoadStats.histogram + 0.9 % LoadStats.request (key strings per request)',
      '1.1 % __name (esbuild keepNames on a closure made per video GET)',
    ],
    afterD38845e: [
      '38.9 % writeLatin1String',
      '4.9 % (program)',
      '4.4 % runViewer',
      '2.9 % garbage collector',
      '2.1 % chunkAt, 1.8 % ingest, 1.5 % H1Client.dispatch, 1.4 % HttpGetter.get',
      'LoadStats.histogram, LoadStats.request and __name: under 0.3 % each',
    ],
    note: "The tester's JavaScript is now a flat profile (no frame of its own above 4.4 %); the request write syscall is 39 % of the busy thread and the kernel's system time 16 to 19 µs of each request: one write and one read per request is the floor without pipelining.",
  },
  survivors: {
    command:
      'V8 HeapProfiler.startSampling (4 KB interval) for 3 s of the hold, kept objects only: what was allocated in those 3 s and still alive (what a scavenge copies or promotes)',
    beforeBytesPerViewer: 1831,
    beforeTopSites: [
      '32.7 % chunkAt (its async frame, kept through the reload wait)',
      '27.4 % HttpGetter.wait (promise, closures, wheel entry)',
      '11.5 % runViewer (per-chunk objects)',
      '7.3 % Set.delete of the waits (the table reallocated), 5.5 % Set.delete of the requests in flight',
      '7.7 % GetHandler.onResponseEnd (the result)',
    ],
    after: {
      commit: 'd1770a3',
      bytesPerViewer: 1153,
      topSites: [
        '47.5 % the reload step (HlsClient.reloadThenLookUp: its small async frame and the wait inlined into it)',
        '20.0 % runViewer (per-chunk objects)',
        '9.7 % GetHandler.onResponseEnd (the result)',
        'Set tables: gone; chunkAt: gone (its look-up is synchronous)',
      ],
    },
    scavengePauses:
      'before, 2,500 viewers (--trace-gc-nvp): 31 scavenges in 20 s, pauses 16 to 133 ms (most 20 to 40), 1 to 8 MB promoted each; 5 mark-compacts',
  },
  validity:
    "At 2,500 viewers on one thread the event-loop p99 was 20 to 86 ms at load 4 to 7 and 5 to 8 ms (valid, before and after the cuts) at load 2 to 3: the young-generation scavenges (20 to 40 ms each, every 1 to 2 s) and the box's load set it, not a burst of requests; the survivors above are what a scavenge pause is made of.",
};

/**
 * The HTTP/2 tester profiled: before (session 8), the lean node:http2 client, 300 LL-HLS viewers
 * against the TLS stub, --workers 0, ramp 3 s, 15 s, main thread, samples of the hold only (from
 * 6 s); after (session 17), its own HTTP/2 framing over TLS (bench/loadtest/h2-client.ts,
 * bench/loadtest/hpack.ts), 300 viewers, ramp 5 s, 20 s, whole run.
 */
const H2_PROFILE = {
  command:
    'node --cpu-prof bin/streamedge.js loadtest <tls stub> --http2 --ca <pem> --viewers 300 --ramp 3s --duration 15s --workers 0',
  wholeRunCpuUsPerRequest: 327,
  inclusiveOfBusyThread: [
    "42.8 % node:http2 ClientHttp2Session.request() (Node's own: header validation and copying, a Duplex per stream, the native submit)",
    '13.2 % of it AsyncResource.bind (Node 20 binds requestOnConnect to a new AsyncResource per request, and its bind() wraps two DEP0172 deprecation accessors with util.deprecate each time: 9.0 %)',
    '10.5 % of it requestOnConnect (the native HEADERS submit)',
    "ours: 2.9 % in H2Client's request (five listeners and the request object), onEnd 2.9 %, onData 2.0 %, onResponse 1.0 % (each including the shared GET handler)",
  ],
  verdict:
    "Node's http2 client machinery dominates; what is ours is about 4 % of the busy thread. The TLS records and the per-stream Duplex are the rest of the 3 to 4× against plain-http HTTP/1.1; a leaner h2 needs a client below node:http2 (an HTTP/2 framer over a TLS socket).",
  after: {
    command:
      'node --cpu-prof bin/streamedge.js loadtest <tls stub> --http2 --ca <pem> --viewers 300 --ramp 5s --duration 20s --workers 0 (2026-12-03, load average 0.8)',
    selfOfBusyThread: [
      '23.7 % writeBuffer (the TLS record and its write syscall: one per request, the floor without batching requests of one connection)',
      '8.3 % garbage collector',
      '4.5 % (program)',
      '2.6 % TLSSocket.getPeerCertificate (the handshakes of the ramp)',
      'ours: about 3 % (H2Client.dispatch, H2Connection.onData, beginFrame, onHeaderBlock, HpackDecoder.decode, 0.6 % of samples each or less)',
    ],
    abba: 'streamedge loadtest <tls stub> --http2 --viewers 300 --ramp 5s --duration 20s --workers 0, hold CPU per request, old client / new / new / old (load 1.4 to 2.0, a live origin with ffmpeg running beside): 149.5 / 90.8 / 98.9 / 186.4 µs; event-loop p99 35.9 / 13.9 / 20.1 / 62.4 ms; 0 stalls in all four',
  },
};

/**
 * Worker threads against validity, measured on the loaded box (load average 13 to 19 on 2 cores),
 * ABAB: `--ll 1000 --fidelity 0 --hls 0 --h2 0 --ramp 5 --hold 15 --workers 1|3`.
 */
const WORKER_NOTES = [
  '--workers 1: event-loop p99 1,914 and 2,928 ms, 1,379 and 2,288 stalls, 53.4 and 54.1 µs per request, tester 0.21 and 0.18 cores',
  '--workers 3: event-loop p99 251 and 220 ms, 0 and 201 stalls, 63.6 and 68.7 µs per request, tester 0.27 cores both',
  'Three threads split each part-boundary burst in three and, on a contended box, get more of the CPU (the scheduler shares by thread), for about 20 % more CPU per request. Neither run was valid at that load; on a quiet box re-run both before changing the default (one thread per spare core).',
];

const H2_NOTES = [
  'own HTTP/2 framing over TLS (session 17): 91 and 99 µs per request against 150 and 186 for the node:http2 client below, in one ABBA (H2_PROFILE.after.abba)',
  'lean node:http2 client: 31,227 requests, 8.3 CPU-s (266 µs per request), 0 stalls, event-loop p99 276 ms',
  'undici allowH2 (the previous --http2, commit 1b86ec3 of main): 14,020 requests, 5.1 CPU-s (364 µs per request), 329 stalls, event-loop p99 1,032 ms: it could not keep 300 viewers fed',
  'undici HTTP/1.1 over TLS (https without --http2), same stub: 744 µs per request (load 9)',
  'against the lean HTTP/1.1 client on plain http: 56 µs per request (ll-hls), so h2 over TLS costs about 5 to 6.6× per request; node:http2 request() itself (AsyncResource binding, header validation and copying, a Duplex per stream) is most of its JavaScript time, TLS records the rest',
];

/**
 * The stub's own cost (session 7): it is not the system under test, but on this 2-core box it took
 * as much CPU as the tester (plain-hls 10,000: tester 1.04 cores, stub 0.92; ll-hls 3,000: tester
 * 0.73, stub 0.92), so the two together saturated the box. It now serves prepared buffers (one
 * per object, one per playlist version, the same one to every held waiter) from a plain `net`
 * HTTP/1.1 front end (bench/loadtest/stub-channel.ts, stub-h1-server.ts) instead of node:http.
 */
const STUB_COST = {
  wrk: {
    command:
      'wrk -t1 -c100 -d4s per URL against the stub alone (its own process, CPU from /proc/<pid>/stat), old and new stubs ABBA, load average 9.4 -> 7.5',
    usPerRequestOldNew: {
      mediaPlaylist: '41.6, 45.2 -> 18.9, 18.3',
      segment50KB: '67.8, 59.0 -> 32.2, 38.3',
      multivariant: '36.5, 31.6 -> 13.4, 20.4',
    },
  },
  ll1000: {
    command:
      'node --cpu-prof <stub>; streamedge loadtest <stub> --viewers 1000 --ramp 5s --duration 20s --workers 1 (LL-HLS), new then old stub, load average 10.4 -> 14.7',
    old: {
      commit: 'fc42f68 (node:http)',
      stubUsPerRequest: 80.3,
      topFrames: [
        '20.3 % writev (node:http writes head and body as two chunks)',
        '6.6 % garbage collector',
        '3.4 % (program)',
        '2.0 % the request handler (URL parsing, URLSearchParams, the route regex, header objects)',
        '1.5 % writevGeneric, 1.4 % parserOnHeadersComplete, 1.0 % parserOnIncoming, 0.8 % clearBuffer, 0.7 % emit',
        '45.2 % idle',
      ],
    },
    new: {
      commit: 'prepared buffers + net front end',
      stubUsPerRequest: 47.7,
      topFrames: [
        '11.8 % writeBuffer (one write per response; on loopback the kernel runs the receiving side of TCP in it)',
        '1.6 % garbage collector',
        '1.5 % (program)',
        '0.5 % StubChannel.request, 0.2 % the front end (onData, pump)',
        '78.1 % idle',
      ],
    },
    note: 'Both runs on a box at load 10 to 15 (other sessions), so the absolute figures are inflated; the JavaScript of the stub is now under 2 % of its samples and its cost is the syscalls (read, write, epoll), the floor for one response per request.',
  },
};

/**
 * Why an LL-HLS run of 3,000 viewers cannot be valid (event-loop p99 < 20 ms) on 2 cores, whatever
 * the stub costs: the server answers every held request of a part boundary at once, and a
 * viewer holds about 3 (video playlist and part, the audio's) at each boundary of 0.5 s
 * (requestsPerViewerSec ≈ 6.1). 3,000 viewers × 3 × 40 µs (the tester's CPU per request of the
 * recorded ll-hls run) = 360 ms of tester CPU arriving at the same instant every 500 ms: 180 ms on
 * 2 cores if the tester had both, and it recurs once in every 50 samples of the 10 ms loop
 * monitor, so the p99 is that burst (ll-hls recorded 406 ms at 0.73 cores). Under 20 ms, a burst
 * needs 360 ms ÷ 20 ms = 18 cores, or a thread of at most 20 ms ÷ (3 × 40 µs) ≈ 170 viewers per
 * core. At 3,000 viewers per core the tester is busy 72 % of the core and most of that in the
 * bursts: the CPU goal and the 20 ms bound are not compatible for LL-HLS on one machine; plain
 * HLS (requests spread evenly over the reload cycle) has no such burst.
 */
const LL_BURST_BOUND = {
  responsesPerViewerPerBoundary: 3,
  testerUsPerRequest: 40,
  burstCpuMsAt3000: 360,
  coresForP99Under20Ms: 18,
  viewersPerThreadForP99Under20Ms: 170,
};

/**
 * Timers starved by the poll phase (session 7): with the stub answering at once, one tester thread
 * holding thousands of connections saw its 10 ms interval timer late by 1.2 to 3.5 s, again and
 * again, while its CPU profile had no JavaScript frame that long, and its timer wheel ran 22 turns
 * in a 17 s run of 3,000 plain-HLS viewers. libuv runs timers between poll phases only, and a poll
 * phase goes on for up to 48 rounds of epoll_wait as long as each returns a full 1,024 ready
 * sockets: up to 49,152 I/O callbacks, about 3 s at 60 µs each, and each response makes its viewer
 * send the next request, which the instant stub answers within the same phase. The viewers'
 * reloads and ramp starts (all on the timer wheel) waited for it. The wheel now also runs its due
 * entries from the viewers' I/O callbacks (TimerWheel.runDue at each response start). The
 * event-loop monitor is still a libuv timer, so a thread that is behind still shows it and the
 * run is still not valid: validity is unchanged.
 */
const POLL_PHASE_STARVATION = {
  command:
    'ViewerPool in one thread, 3,000 plain-HLS viewers, ramp 5 s, 12 s, against bench/loadtest-stub-process.ts, a 10 ms setInterval logging its gaps (load average 10 to 11)',
  gapsOver100Ms:
    '140, 169, 263, 577, 701, 1,226, 2,596, 3,050, 3,547, 1,227, 2,821, 1,357 ms; wheel turns in the run: 22',
  cliAB: {
    command:
      'streamedge loadtest <stub> --viewers 3000 --ramp 5s --duration 12s --no-low-latency --workers 1 (load average 11 to 16: not clean)',
    before: 'event-loop p99 5,854 and 4,860 ms, 478 and 333 stalls, 81,582 and 81,883 requests (97 µs per request)',
    after:
      'event-loop p99 2,500 and 8,689 ms, 0 and 131 stalls, 130,187 and 86,523 requests (76 and 87 µs per request)',
    workers6Before:
      '--workers 6 (500 viewers, 1,000 connections per thread, so no epoll round can come back full): p99 908 and 652 ms, 0 stalls, but 42,194 and 31,781 requests at 318 and 375 µs per request: on a starved box six threads did half the work at 3 to 4 times the CPU',
  },
};

const machineStart = startMachineInfo();
const results: Scenario[] = [];
try {
  const baseline =
    FIDELITY > 0 ? await scenario('fidelity-baseline', BASELINE, true, baselineRamp(BASELINE)) : undefined;
  const fidelity = FIDELITY > 0 ? await scenario('fidelity', FIDELITY, true) : undefined;
  if (baseline && fidelity) results.push(baseline, fidelity);
  if (LL > 0) results.push(await scenario('ll-hls', LL, true));
  if (H2 > 0 && tlsStub) results.push(await scenario('ll-h2', H2, true, RAMP, tlsStub));
  if (HLS > 0 || HLS_RATE > 0) results.push(await scenario('plain-baseline', BASELINE, false, baselineRamp(BASELINE)));
  if (HLS_RATE > 0) results.push(await scenario('plain-rate', HLS_RATE, false));
  if (HLS > 0) results.push(await scenario('plain-hls', HLS, false));
  // a skipped scenario (size 0) keeps its result from the previous results file (bench/carried-runs.ts)
  const previous = readPreviousResults<{
    at?: string;
    scenarios?: Scenario[];
    fidelity?: object;
    h2VsH1?: unknown;
  }>(resolve(root, OUT));
  const skipped = [
    ...(FIDELITY > 0 ? [] : ['fidelity-baseline', 'fidelity']),
    ...(LL > 0 ? [] : ['ll-hls']),
    ...(H2 > 0 ? [] : ['ll-h2']),
    ...(HLS > 0 || HLS_RATE > 0 ? [] : ['plain-baseline']),
    ...(HLS_RATE > 0 ? [] : ['plain-rate']),
    ...(HLS > 0 ? [] : ['plain-hls']),
  ];
  const order = ['fidelity-baseline', 'fidelity', 'll-hls', 'll-h2', 'plain-baseline', 'plain-rate', 'plain-hls'];
  results.splice(
    0,
    results.length,
    ...withCarriedRuns(results, previous && { runs: previous.scenarios, at: previous.at }, skipped, order),
  );
  const p50 = (s: Scenario) => s.report.liveLatencySec?.p50 ?? NaN;
  // When the box is oversubscribed the tester is starved of CPU and falls behind (invalid runs do
  // less work than their viewers need, which flatters viewers/core). CPU per request stays a fair
  // measure of the tester's cost; with the request rate a viewer needs when the tester keeps up
  // (the valid baseline), it gives the viewers one core could carry.
  // the lean h2 client against the lean h1 client: tester CPU per request of the same LL-HLS viewers
  const h2VsH1 = () => {
    const h1 = results.find((s) => s.name === 'll-hls');
    const h2 = results.find((s) => s.name === 'll-h2');
    if (!h1 || !h2) return null;
    if (h1.carriedFrom && h2.carriedFrom) return previous?.h2VsH1 ?? null;
    if (h1.carriedFrom || h2.carriedFrom) return null; // not measured together
    return {
      h1CpuUsPerRequest: round(h1.cpuMsPerRequest * 1000, 1),
      h2CpuUsPerRequest: round(h2.cpuMsPerRequest * 1000, 1),
      ratio: round(h2.cpuMsPerRequest / h1.cpuMsPerRequest, 2),
      note: 'h2 includes TLS (the h1 run is plain http): the ratio is an upper bound of the h2 framing cost',
    };
  };
  const needRate = (ll: boolean) =>
    results.find((s) => s.lowLatency === ll && s.valid)?.requestsPerViewerSec ?? (ll ? 8 : 1.5);
  const derived = Object.fromEntries(
    results.map((s) => [s.name, Math.round(1000 / (s.cpuMsPerRequest * needRate(s.lowLatency)))]),
  );
  const out = {
    bench: 'loadtest-tester',
    command: `node bin/run-ts.js bench/loadtest-tester-bench.ts ${args.join(' ')}`.trim(),
    at: new Date().toISOString(),
    machine: finishMachineInfo(machineStart),
    goals: { llViewersPerCore: 3000, hlsViewersPerCore: 10000, fidelityLatencyMs: 100 },
    fidelity:
      (fidelity &&
        baseline && {
          viewers: FIDELITY,
          stalls: fidelity.report.stalls,
          latencyP50Sec: p50(fidelity),
          baselineViewers: BASELINE,
          baselineLatencyP50Sec: p50(baseline),
          latencyDifferenceMs: Math.round((p50(fidelity) - p50(baseline)) * 1000),
          startupP50Ms: fidelity.report.startupMs.p50,
          baselineStartupP50Ms: baseline.report.startupMs.p50,
          partLagP50Ms: fidelity.report.partLagMs?.p50 ?? null,
          partLagP99Ms: fidelity.report.partLagMs?.p99 ?? null,
          baselinePartLagP99Ms: baseline.report.partLagMs?.p99 ?? null,
          valid: fidelity.valid && baseline.valid,
        }) ??
      (FIDELITY === 0 && previous?.fidelity
        ? { ...previous.fidelity, carriedFrom: results.find((r) => r.name === 'fidelity')?.carriedFrom }
        : undefined),
    fidelityExplained: FIDELITY_EXPLAINED,
    profile: PROFILE,
    plainHlsProfile: PLAIN_HLS_PROFILE,
    plainHlsBursts: PLAIN_HLS_BURSTS,
    plainHlsCuts: PLAIN_HLS_CUTS,
    h2Profile: H2_PROFILE,
    stubCost: STUB_COST,
    llBurstBound: LL_BURST_BOUND,
    pollPhaseStarvation: POLL_PHASE_STARVATION,
    h2Notes: H2_NOTES,
    workerNotes: WORKER_NOTES,
    affinity,
    h2VsH1: h2VsH1(),
    perCore: Object.fromEntries(results.map((s) => [s.name, s.viewersPerCore])),
    processes: Object.fromEntries(results.map((s) => [s.name, s.processes])),
    valid: Object.fromEntries(results.map((s) => [s.name, s.valid])),
    derivedPerCore: derived,
    derivedFrom:
      'viewers per core = 1 / (tester CPU per request × requests per viewer-second of a valid run of the same kind)',
    scenarios: results,
  };
  mkdirSync(dirname(resolve(root, OUT)), { recursive: true });
  // fields added to the file by hand (repeats, notes) stay: bench/carried-runs.ts withKeptFields
  const kept = withKeptFields(out, readPreviousResults<Record<string, unknown>>(resolve(root, OUT)));
  writeFileSync(resolve(root, OUT), JSON.stringify(kept, null, 2) + '\n');
  log(JSON.stringify({ perCore: out.perCore, valid: out.valid, derivedPerCore: derived, fidelity: out.fidelity }));
} finally {
  stub.stop();
  tlsStub?.stop();
  if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
}
