/**
 * The edge's plain-HTTP/1.1 front (edge/h1-front.ts) against a baseline checkout's edge (before
 * the front: node:http for every request), same run, same machine: small cached hits, where the
 * per-request cost of node:http's objects shows most. Writes bench/results/edge-front-ab.json.
 *
 *   node bin/run-ts.js bench/edge-front-ab.ts --baseline <checkout dir> [--rounds 3] [--duration 6]
 *     [--workers 2] [--connections 64] [--header '<name>: <value>'] [--profile] [--out <file>]
 *
 * - Three servers with the same worker count in front of one local origin (in this process: the
 *   edges fill before wrk, which runs synchronously, starts), each warmed first:
 *   `base` (the baseline checkout's edge), `front` (this checkout's edge), `nodeCluster` (a plain
 *   node:http cluster answering a constant 1 KiB buffer: bench/constant-cluster.ts, the runtime's
 *   per-request floor with node:http).
 * - Each round runs wrk -t1 -c<C> -d<D>s on a cached 1 KiB object against every server, in ABBA
 *   order (odd rounds reversed); the figures are CPU-µs per request of each server's process tree
 *   (/proc utime+stime around the wrk run) and req/s, medians over rounds; the ratios compare
 *   medians of the same run.
 * - --header: every wrk request carries that field; `--header 'cache-control: max-age=3600'`
 *   sends the same hits through the edge's full lookup instead of its one-write hit path (the
 *   path of blocking reloads, parts and fills), so two checkouts' lookups are compared.
 * - --profile: after the rounds, `base` and `front` again under `node --cpu-prof` (one wrk run
 *   each); each worker's top frames by self time (idle excluded, shares of the busy samples).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { topFrames, type TopFrame } from './cpu-profile-top.js';
import { startConstantCluster } from './bench-cluster.js';
import { freePort } from './free-port.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { treeCpuSeconds } from './process-cpu.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
const at = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const root = resolve(import.meta.dirname, '..');
const BASELINE = at('baseline');
if (BASELINE === undefined) throw new Error('--baseline <checkout dir> is required (the edge before the front)');
const ROUNDS = arg('rounds', 3);
const DURATION_S = arg('duration', 6);
const WORKERS = arg('workers', 2);
const CONNECTIONS = arg('connections', 64);
const PROFILE = args.includes('--profile');
const HEADER = at('header');
const OUT = at('out') ?? join(root, 'bench/results/edge-front-ab.json');
const PATH = '/pl/0.m3u8';

type Name = 'base' | 'front' | 'nodeCluster';
interface Server {
  proc: ChildProcess;
  url: string;
}

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function startOrigin(): Promise<{ url: string; close: () => void }> {
  const body = Buffer.alloc(1024, '#EXTM3U\n');
  const server = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': 'public, max-age=3600',
      'content-length': String(body.length),
    });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

async function waitUp(url: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}) before answering ${url}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise<void>((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer`);
}

async function startEdge(checkout: string, origin: string, store: string, profDir?: string): Promise<Server> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      ...(profDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
      join(checkout, 'bin/streamedge.js'),
      'edge',
      '--upstream',
      origin,
      '--port',
      String(port),
      '--store',
      store,
      '--store-size',
      '1GB',
      '--ram-size',
      '64MiB',
      '--log-level',
      'warn',
      '--name',
      'streamedge',
      '--workers',
      String(WORKERS),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/_edge/health`, proc);
  // filled now, while this process's origin can answer (wrk runs synchronously below)
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${url}${PATH}`);
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`${url}${PATH} answered ${r.status}`);
  }
  return { proc, url };
}

async function stop(s: Server): Promise<void> {
  const exited = new Promise<void>((r) => s.proc.once('exit', () => r()));
  s.proc.kill('SIGTERM');
  await exited;
}

interface Run {
  server: Name;
  round: number;
  requests: number;
  requestsPerSecond: number;
  cpuSec: number;
  cpuUsPerRequest: number;
}

function wrk(url: string, seconds: number): { requests: number; requestsPerSecond: number } {
  const header = HEADER !== undefined ? ['-H', HEADER] : [];
  const out = execFileSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, ...header, `${url}${PATH}`], {
    encoding: 'utf8',
  });
  if (/Non-2xx/.test(out)) throw new Error(`wrk saw non-2xx answers from ${url}:\n${out}`);
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
  };
}

function measure(name: Name, s: Server, r: number): Run {
  const before = treeCpuSeconds(s.proc.pid!);
  const w = wrk(s.url, DURATION_S);
  const cpu = treeCpuSeconds(s.proc.pid!) - before;
  const run = {
    server: name,
    round: r,
    requests: w.requests,
    requestsPerSecond: round(w.requestsPerSecond, 0),
    cpuSec: round(cpu),
    cpuUsPerRequest: round((cpu / w.requests) * 1e6),
  };
  process.stdout.write(`${JSON.stringify(run)}\n`);
  return run;
}

/** Top frames of each worker profile (the ones that ran the hit path), idle excluded. */
function workerFrames(dir: string): Array<{ file: string; busyPercent: number; top: TopFrame[] }> {
  const out: Array<{ file: string; busyPercent: number; top: TopFrame[] }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    if (!text.includes('hit-path')) continue;
    const all = topFrames(JSON.parse(text) as never, 10_000);
    const idle = all.filter((f) => f.frame.startsWith('(idle)')).reduce((a, f) => a + f.selfPercent, 0);
    const busy = Math.max(0.1, 100 - idle);
    const top = all
      .filter((f) => !f.frame.startsWith('(idle)'))
      .slice(0, 15)
      .map((f) => ({ frame: f.frame, selfPercent: round((f.selfPercent / busy) * 100, 1) }));
    out.push({ file, busyPercent: round(busy, 1), top });
  }
  return out;
}

const machine = startMachineInfo();
const dir = mkdtempSync(join(tmpdir(), 'edge-front-ab-'));
const origin = await startOrigin();
const servers: Record<Name, Server> = {
  base: await startEdge(resolve(BASELINE), origin.url, join(dir, 'base')),
  front: await startEdge(root, origin.url, join(dir, 'front')),
  nodeCluster: await startConstantCluster(WORKERS),
};
const order: Name[] = ['base', 'front', 'nodeCluster'];
const runs: Run[] = [];
try {
  for (const name of order) wrk(servers[name].url, 2); // warm every worker's RAM tier
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 === 0 ? order : [...order].reverse()) runs.push(measure(name, servers[name], r));
  }
} finally {
  for (const name of order) await stop(servers[name]);
}

let profile: Record<string, unknown> | undefined;
if (PROFILE) {
  profile = {};
  for (const [name, checkout] of [
    ['base', resolve(BASELINE)],
    ['front', root],
  ] as const) {
    const profDir = join(dir, `prof-${name}`);
    mkdirSync(profDir);
    const s = await startEdge(checkout, origin.url, join(dir, `p-${name}`), profDir);
    wrk(s.url, 2);
    const w = wrk(s.url, DURATION_S);
    await stop(s);
    profile[name] = { requestsPerSecond: round(w.requestsPerSecond, 0), workers: workerFrames(profDir) };
  }
}
origin.close();
rmSync(dir, { recursive: true, force: true });

const summary = (name: Name) => ({
  cpuUsPerRequest: round(median(runs.filter((r) => r.server === name).map((r) => r.cpuUsPerRequest))),
  requestsPerSecond: round(median(runs.filter((r) => r.server === name).map((r) => r.requestsPerSecond)), 0),
});
const base = summary('base');
const front = summary('front');
const nodeCluster = summary('nodeCluster');
const result = {
  bench: 'edge-front-ab',
  // the checkout and output paths are this machine's: the baseline is named by its commit in setup
  command: `node bin/run-ts.js bench/edge-front-ab.ts ${args
    .map((a, i) => (args[i - 1] === '--baseline' ? '<baseline checkout>' : args[i - 1] === '--out' ? '<out.json>' : a))
    .join(' ')}`,
  at: new Date().toISOString(),
  machine: finishMachineInfo(machine),
  workload: {
    object: '1 KiB cached',
    client: 'wrk -t1',
    connections: CONNECTIONS,
    durationSeconds: DURATION_S,
    ...(HEADER !== undefined ? { header: HEADER } : {}),
  },
  setup: {
    workers: WORKERS,
    rounds: ROUNDS,
    baseline: execFileSync('git', ['-C', resolve(BASELINE), 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim(),
    checkout: execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
  },
  medians: { base, front, nodeCluster },
  ratioFrontToBase: {
    cpuPerRequest: round(front.cpuUsPerRequest / base.cpuUsPerRequest, 3),
    requestsPerSecond: round(front.requestsPerSecond / base.requestsPerSecond, 3),
  },
  ratioFrontToNodeCluster: {
    cpuPerRequest: round(front.cpuUsPerRequest / nodeCluster.cpuUsPerRequest, 3),
  },
  runs,
  ...(profile ? { profile } : {}),
};
writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify({ medians: result.medians, ratioFrontToBase: result.ratioFrontToBase })}\n`);
process.stdout.write(`wrote ${OUT}\n`);
