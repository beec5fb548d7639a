/**
 * The load tester's own cost and fidelity, against an instant stub (bench/loadtest-stub-process.ts,
 * its own process, so the stub's CPU is not the tester's): LL-HLS viewers and plain-HLS viewers
 * per core of tester CPU, and, at 1,000 viewers, the stalls and live latency against a small
 * same-run baseline (the stub cannot stall, so every stall and every extra millisecond of
 * latency is the tester's own). Writes bench/results/loadtest-tester.json.
 *
 *   node bin/run-ts.js bench/loadtest-tester-bench.ts [--ll 3000] [--hls 10000] [--fidelity 1000]
 *        [--baseline 20] [--ramp 10] [--hold 20] [--workers N] [--out bench/results/loadtest-tester.json]
 *
 * Viewers per core = viewers ÷ (tester CPU seconds ÷ wall seconds), over the hold period only
 * (CPU sampled when the ramp is over and at the end), so the ramp's start-up work is not mixed in.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { LoadReport } from './loadtest/report.js';
import { defaultWorkers, runLoadTest } from './loadtest/run.js';

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
const FIDELITY = arg('fidelity', 1000);
const BASELINE = arg('baseline', 20);
const RAMP = arg('ramp', 10);
const HOLD = arg('hold', 20);
const WORKERS = args.includes('--workers') ? arg('workers', 0) : undefined;
const OUT = args.includes('--out') ? args[args.indexOf('--out') + 1] : 'bench/results/loadtest-tester.json';

const root = resolve(import.meta.dirname, '..');
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const la = () => loadavg().map((v) => round(v, 2));
const log = (line: string) => process.stderr.write(`${line}\n`);

const stub = spawn(
  process.execPath,
  [resolve(root, 'bin/run-ts.js'), resolve(root, 'bench/loadtest-stub-process.ts')],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const { url } = await new Promise<{ url: string }>((ok, fail) => {
  stub.once('exit', (c) => fail(new Error(`stub exited (${c})`)));
  createInterface({ input: stub.stdout }).once('line', (l) => ok(JSON.parse(l) as { url: string }));
});

interface Scenario {
  name: string;
  viewers: number;
  lowLatency: boolean;
  workers: number;
  holdCpuSec: number;
  holdWallSec: number;
  holdRequests: number;
  /** Tester CPU per request over the hold (ms). */
  cpuMsPerRequest: number;
  /** Requests per viewer per second over the hold. */
  requestsPerViewerSec: number;
  viewersPerCore: number;
  /** The tester kept up (event-loop delay p99 < 20 ms): only then is viewersPerCore a measurement. */
  valid: boolean;
  loadavg: number[];
  report: LoadReport;
}

async function scenario(name: string, viewers: number, lowLatency: boolean): Promise<Scenario> {
  const workers = WORKERS ?? defaultWorkers(viewers);
  log(
    `${name}: ${viewers} viewers, ${lowLatency ? 'LL-HLS' : 'plain HLS'}, ${workers} worker(s), ramp ${RAMP}s hold ${HOLD}s`,
  );
  let mark: { cpu: NodeJS.CpuUsage; at: number; requests: number } | undefined;
  const report = await runLoadTest({
    url,
    viewers,
    rampSec: RAMP,
    durationSec: HOLD,
    workers,
    lowLatency,
    onProgress: (line, snap) => {
      if (!mark && snap.elapsedSec >= RAMP + 1)
        mark = { cpu: process.cpuUsage(), at: performance.now(), requests: snap.requests };
      if (Math.round(snap.elapsedSec) % 5 === 0) log(`  ${line}`);
    },
  });
  const end = { cpu: process.cpuUsage(), at: performance.now() };
  const m = mark ?? { cpu: { user: 0, system: 0 }, at: end.at - report.elapsedSec * 1000, requests: 0 };
  const holdRequests = report.requests.total - m.requests;
  const holdCpuSec = (end.cpu.user - m.cpu.user + end.cpu.system - m.cpu.system) / 1e6;
  const holdWallSec = (end.at - m.at) / 1000;
  const cores = holdCpuSec / holdWallSec;
  const s: Scenario = {
    name,
    viewers,
    lowLatency,
    workers,
    holdCpuSec: round(holdCpuSec),
    holdWallSec: round(holdWallSec),
    holdRequests,
    cpuMsPerRequest: round((holdCpuSec * 1000) / Math.max(1, holdRequests), 4),
    requestsPerViewerSec: round(holdRequests / viewers / holdWallSec, 2),
    viewersPerCore: Math.round(viewers / cores),
    valid: report.loadTester.valid,
    loadavg: la(),
    // the per-second timeline and TTFB bins are for the HTML report; the bench keeps the summary
    report: { ...report, timeline: [], ttfbHistograms: {} },
  };
  log(
    `  → ${s.viewersPerCore} viewers per core (${round(cores, 2)} cores), stalls ${report.stalls}, latency p50 ${report.liveLatencySec?.p50} s, errors ${JSON.stringify(report.errors)}, event-loop p99 ${report.loadTester.eventLoopDelayP99Ms ?? '-'} ms`,
  );
  return s;
}

const machineStart = startMachineInfo();
const results: Scenario[] = [];
try {
  const baseline = FIDELITY > 0 ? await scenario('fidelity-baseline', BASELINE, true) : undefined;
  const fidelity = FIDELITY > 0 ? await scenario('fidelity', FIDELITY, true) : undefined;
  if (baseline && fidelity) results.push(baseline, fidelity);
  if (LL > 0) results.push(await scenario('ll-hls', LL, true));
  if (HLS > 0) {
    results.push(await scenario('plain-baseline', BASELINE, false));
    results.push(await scenario('plain-hls', HLS, false));
  }
  const p50 = (s: Scenario) => s.report.liveLatencySec?.p50 ?? NaN;
  // When the box is oversubscribed the tester is starved of CPU and falls behind (invalid runs do
  // less work than their viewers need, which flatters viewers/core). CPU per request stays a fair
  // measure of the tester's cost; with the request rate a viewer needs when the tester keeps up
  // (the valid baseline), it gives the viewers one core could carry.
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
    fidelity: fidelity &&
      baseline && {
        viewers: FIDELITY,
        stalls: fidelity.report.stalls,
        latencyP50Sec: p50(fidelity),
        baselineViewers: BASELINE,
        baselineLatencyP50Sec: p50(baseline),
        latencyDifferenceMs: Math.round((p50(fidelity) - p50(baseline)) * 1000),
        partLagP99Ms: fidelity.report.partLagMs?.p99 ?? null,
      },
    perCore: Object.fromEntries(results.map((s) => [s.name, s.viewersPerCore])),
    valid: Object.fromEntries(results.map((s) => [s.name, s.valid])),
    derivedPerCore: derived,
    derivedFrom:
      'viewers per core = 1 / (tester CPU per request × requests per viewer-second of a valid run of the same kind)',
    scenarios: results,
  };
  mkdirSync(dirname(resolve(root, OUT)), { recursive: true });
  writeFileSync(resolve(root, OUT), JSON.stringify(out, null, 2) + '\n');
  log(JSON.stringify({ perCore: out.perCore, valid: out.valid, derivedPerCore: derived, fidelity: out.fidelity }));
} finally {
  stub.kill('SIGTERM');
}
