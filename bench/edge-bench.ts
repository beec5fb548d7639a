/**
 * Edge benchmark: cached hits and a stampede, side by side with nginx proxy_cache, Varnish and a
 * plain node:http cluster (the runtime's per-core limit), same origin, same machine, same run.
 * Writes bench/results/edge.json (HTTP/2 over TLS: bench/edge-h2-bench.ts, edge-h2.json).
 *
 *   node bin/run-ts.js bench/edge-bench.ts [--duration 8] [--connections 64] [--rounds 4]
 *     [--stampede 1000] [--workers <n>] [--profile] [--baseline <checkout dir>]
 *     [--stampede-only] [--profile-only] [--profile-stampede [--write]] [--undici-client]
 *
 * Servers (each its own process tree, on loopback, in front of bench/edge-origin.ts):
 * - streamedge edge with `--workers <cores>` when `streamedge edge --help` lists it, else one process;
 * - nginx (Debian) with proxy_cache, `worker_processes` = cores, `sendfile on`, proxy_cache_lock;
 * - Varnish (Debian `varnish`, installed with apt if missing), `-s malloc`, do_stream;
 * - node:cluster with the same worker count answering a constant buffer (bench/constant-cluster.ts).
 *
 * 1. Hits: wrk -t1 -c<C> -d<D>s --latency on one cached object, 1 KiB and 1 MiB, every server in
 *    each round, ABBA order (round 2 runs the servers in reverse): req/s, bytes/s, p50/p99, and
 *    CPU-seconds per 10k requests of the server's process tree (/proc utime+stime before and after).
 *    The figures are medians over rounds; the ratios compare medians of the same run.
 * 2. Stampede: N concurrent requests for one uncached 2 MiB object the origin trickles out over
 *    2 s (chunked), --rounds rounds in ABBA order (every round and the medians in the JSON):
 *    upstream requests, first-byte delay to waiters, completion, and the CPU the client and the
 *    server used. The client is bench/stampede-client.ts (raw sockets, every
 *    connection warmed first, all requests written in one pass); --undici-client: undici, as before.
 * 3. --profile: the edge (one process) under `node --cpu-prof`, wrk -t1 -c64 -d8s on the cached
 *    1 KiB object; the top frames by self time go to notes.profile (with --baseline, the baseline
 *    checkout is profiled the same way as "before").
 * 4. --profile-stampede: the stampede alone against the multi-worker edge under `node --cpu-prof`:
 *    per process (primary, store process, each worker) its CPU during the stampede and top frames
 *    (with --write, into notes.stampedeProfile of the existing edge.json, keyed by the client used).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool, request } from 'undici';
import { topFrames, type TopFrame } from './cpu-profile-top.js';
import { startConstantCluster } from './bench-cluster.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import {
  edgeTakesWorkers,
  originCounts,
  startNginxCache,
  startOrigin,
  startStreamedge,
  stop,
} from './edge-bench-servers.js';
import { treeCpuSeconds } from './process-cpu.js';
import { type StampedeTimings, stampedeRequests } from './stampede-client.js';
import { startVarnish } from './varnish.js';
import { wrk, type WrkResult } from './wrk.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
const DURATION_S = arg('duration', 8);
const CONNECTIONS = arg('connections', 64);
const ROUNDS = arg('rounds', 4);
const STAMPEDE = arg('stampede', 1000);
const CORES = cpus().length;
const WORKERS = arg('workers', CORES);
const PROFILE = args.includes('--profile');
/** Only the stampede (edge, Varnish, nginx; ABBA rounds), printed and not written (to study the stampede alone). */
const STAMPEDE_ONLY = args.includes('--stampede-only');
/** Only the profile (with --baseline, of both checkouts), written into the existing edge.json's notes. */
const PROFILE_ONLY = args.includes('--profile-only');
/** Only the stampede against the multi-worker edge under --cpu-prof (per process); see profileStampede. */
const PROFILE_STAMPEDE = args.includes('--profile-stampede');
/** The stampede's client: undici in this process (as before) rather than bench/stampede-client.ts. */
const UNDICI_CLIENT = args.includes('--undici-client');
/** With --profile-stampede: write it into the existing edge.json's notes.stampedeProfile (else print only). */
const WRITE_PROFILE = args.includes('--write');
const baselineAt = args.indexOf('--baseline');
const BASELINE_DIR = baselineAt === -1 ? undefined : resolve(args[baselineAt + 1]);
const STAMPEDE_BYTES = 2 * 1024 * 1024;
const STAMPEDE_MS = 2000;
const root = resolve(import.meta.dirname, '..');

const OBJECTS = [
  { name: '1 KiB', path: '/pl/0.m3u8', bytes: 1024 },
  { name: '1 MiB', path: '/seg/0.m4s', bytes: 1024 * 1024 },
] as const;

interface Server {
  name: 'streamedge' | 'nginx' | 'varnish' | 'nodeClusterConstant';
  proc: ChildProcess;
  url: string;
}

// ------------------------------------------------------------------ processes

// ------------------------------------------------------------------ load

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

type HitRun = WrkResult & { cpuSeconds: number; cpuSecondsPer10k: number };

async function hitRun(s: Server, path: string, seconds = DURATION_S): Promise<HitRun> {
  const pid = s.proc.pid!;
  const before = treeCpuSeconds(pid);
  const r = await wrk(`${s.url}${path}`, { threads: 1, connections: CONNECTIONS, seconds });
  const cpu = treeCpuSeconds(pid) - before;
  return { ...r, cpuSeconds: round(cpu, 3), cpuSecondsPer10k: round((cpu / Math.max(1, r.requests)) * 10_000, 4) };
}

/** Fetch until the server answers from its cache (every worker gets a warm-up run after this). */
async function warm(s: Server, path: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await request(`${s.url}${path}`);
    await r.body.arrayBuffer();
    await new Promise((res) => setTimeout(res, 200)); // let the caches commit what they just stored
  }
  await wrk(`${s.url}${path}`, { threads: 1, connections: CONNECTIONS, seconds: 1 });
}

function medianRun(runs: HitRun[]): Record<string, number> {
  const med = (f: (r: HitRun) => number) => {
    const xs = runs.map(f).sort((a, b) => a - b);
    return xs.length % 2 === 1 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;
  };
  return {
    requestsPerSecond: round(
      med((r) => r.requestsPerSecond),
      1,
    ),
    bytesPerSecond: Math.round(med((r) => r.bytesPerSecond)),
    latencyP50Ms: round(
      med((r) => r.latencyP50Ms),
      3,
    ),
    latencyP99Ms: round(
      med((r) => r.latencyP99Ms),
      3,
    ),
    cpuSecondsPer10k: round(
      med((r) => r.cpuSecondsPer10k),
      4,
    ),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    requests: runs.reduce((a, r) => a + r.requests, 0),
  };
}

/** The stampede's requests through undici (the client before bench/stampede-client.ts: --undici-client). */
async function undiciStampede(base: string, path: string, onSend?: () => void): Promise<StampedeTimings> {
  const pool = new Pool(base, { connections: STAMPEDE + 16, pipelining: 1 });
  // open every client connection first (concurrent requests for a cached playlist), so first-byte
  // delays measure the proxies, not TCP connection setup on a busy machine
  await Promise.all(
    Array.from({ length: STAMPEDE }, async () => {
      const r = await pool.request({ path: '/pl/0.m3u8', method: 'GET' });
      await r.body.arrayBuffer();
    }),
  );
  const out: StampedeTimings = {
    firstByteAt: [],
    doneMs: [],
    status: [],
    bodyBytes: [],
    byWorker: {},
    worker: [],
    sentAt: Date.now(),
    clientCpuSeconds: 0,
    reopenedBeforeSend: 0,
    writePassMs: 0,
  };
  onSend?.();
  out.sentAt = Date.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: STAMPEDE }, async (_, i) => {
      const s = Date.now();
      const r = await pool.request({ path, method: 'GET' });
      let n = 0;
      for await (const c of r.body as AsyncIterable<Buffer>) {
        if (n === 0) out.firstByteAt[i] = Date.now();
        n += c.length;
      }
      out.status[i] = r.statusCode;
      out.bodyBytes[i] = n;
      out.doneMs[i] = Date.now() - s;
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  out.clientCpuSeconds = (cpu.user + cpu.system) / 1e6;
  await pool.close();
  return out;
}

interface StampedeResult {
  clients: number;
  upstreamRequests: number;
  completeBodies: number;
  firstByteP50Ms: number;
  firstByteP99Ms: number;
  firstByteMaxMs: number;
  waitersWithBytesBeforeUpstreamFinished: number;
  upstreamFinishedAtMs: number;
  completeP50Ms: number;
  completeMaxMs: number;
  clientCpuSeconds: number;
  /** How long the client's one pass writing every request took (long: the client was starved of CPU). */
  clientWritePassMs?: number;
  serverCpuSeconds?: number;
  connectionsReopenedBeforeSend?: number;
  answersByWorker?: Record<string, number>;
  firstByteByWorker?: Record<string, { p50Ms: number; p99Ms: number }>;
}

/** One stampede on `base`; `onSend` runs as the requests go out (after the connections' warm-up). */
async function stampede(
  base: string,
  name: string,
  originUrl: string,
  serverPid?: number,
  onSend?: () => void,
): Promise<StampedeResult> {
  const path = `/stampede/${name}.m4s`;
  let serverCpu0 = 0;
  const sending = (): void => {
    if (serverPid !== undefined) serverCpu0 = treeCpuSeconds(serverPid);
    onSend?.();
  };
  const r = UNDICI_CLIENT
    ? await undiciStampede(base, path, sending)
    : await stampedeRequests(base, path, '/pl/0.m3u8', STAMPEDE, sending);
  const serverCpu = serverPid !== undefined ? treeCpuSeconds(serverPid) - serverCpu0 : NaN;
  const t0 = r.sentAt; // epoch ms: comparable with the origin process's finish time
  const origin = await originCounts(originUrl);
  const upstreamDone = origin.finished[path] ?? NaN;
  const firstByte = r.firstByteAt.filter((t): t is number => t !== undefined);
  const fb = firstByte.map((t) => t - t0).sort((a, b) => a - b);
  const done = r.doneMs.filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  return {
    clients: STAMPEDE,
    upstreamRequests: origin.counts[path] ?? 0,
    completeBodies: r.status.filter((st, i) => st === 200 && r.bodyBytes[i] === STAMPEDE_BYTES).length,
    firstByteP50Ms: round(pct(fb, 50)),
    firstByteP99Ms: round(pct(fb, 99)),
    firstByteMaxMs: round(fb[fb.length - 1] ?? NaN),
    waitersWithBytesBeforeUpstreamFinished: firstByte.filter((t) => t < upstreamDone).length,
    upstreamFinishedAtMs: round(upstreamDone - t0),
    completeP50Ms: round(pct(done, 50)),
    completeMaxMs: round(done[done.length - 1] ?? NaN),
    // the client (this process) shares the cores with the server: what each used meanwhile
    clientCpuSeconds: round(r.clientCpuSeconds, 3),
    ...(UNDICI_CLIENT ? {} : { clientWritePassMs: round(r.writePassMs, 1) }),
    ...(serverPid !== undefined ? { serverCpuSeconds: round(serverCpu, 3) } : {}),
    ...(r.reopenedBeforeSend > 0 ? { connectionsReopenedBeforeSend: r.reopenedBeforeSend } : {}),
    // a multi-worker edge: how the waiters' connections were spread over its workers, and the
    // first-byte p50/p99 of each worker's waiters
    ...(Object.keys(r.byWorker).length > 0
      ? {
          answersByWorker: r.byWorker,
          firstByteByWorker: Object.fromEntries(
            Object.keys(r.byWorker).map((w) => {
              const xs = r.firstByteAt
                .flatMap((t, i) => (t !== undefined && r.worker[i] === w ? [t - t0] : []))
                .sort((a, b) => a - b);
              return [w, { p50Ms: round(pct(xs, 50)), p99Ms: round(pct(xs, 99)) }];
            }),
          ),
        }
      : {}),
  };
}

/** One edge process under --cpu-prof, wrk on the cached 1 KiB object; its top frames by self time. */
async function profileEdge(
  dir: string,
  originUrl: string,
  checkout: string,
): Promise<{ checkout: string; requestsPerSecond: number; busyPercent: number; topFrames: TopFrame[] }> {
  const profDir = join(dir, 'prof');
  mkdirSync(profDir, { recursive: true });
  // one process: a multi-worker edge writes a profile per process and the largest is not a worker's
  const edge = await startStreamedge(join(dir, 'edge'), originUrl, {
    checkout,
    cpuProfDir: profDir,
    ...(edgeTakesWorkers(checkout) ? { workers: 1 } : {}),
  });
  const s: Server = { name: 'streamedge', ...edge };
  await warm(s, OBJECTS[0].path);
  const r = await wrk(`${s.url}${OBJECTS[0].path}`, { threads: 1, connections: 64, seconds: 8 });
  await new Promise<void>((res) => {
    edge.proc.once('exit', () => res());
    edge.proc.kill('SIGINT'); // --cpu-prof writes the profile on a normal exit
  });
  // the main thread's profile is the largest (the other is tsx's loader thread)
  const files = readdirSync(profDir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(profDir, f))
    .sort((a, b) => readFileSync(b).length - readFileSync(a).length);
  const profile = JSON.parse(readFileSync(files[0], 'utf8')) as Parameters<typeof topFrames>[0];
  const all = topFrames(profile, 1000);
  const idle = all.find((f) => f.frame === '(idle)')?.selfPercent ?? 0;
  const busy = all
    .filter((f) => f.frame !== '(idle)')
    .slice(0, 15)
    .map((f) => ({ frame: f.frame, selfPercent: round((f.selfPercent / Math.max(1, 100 - idle)) * 100, 1) }));
  return {
    // the commit profiled, not a path of this machine
    checkout: execFileSync('git', ['-C', checkout, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
    requestsPerSecond: r.requestsPerSecond,
    busyPercent: round(100 - idle, 1),
    topFrames: busy,
  };
}

/** notes.profile: this checkout (and the --baseline checkout, as "before") profiled the same way. */
async function profileNotes(dir: string, originUrl: string): Promise<Record<string, unknown>> {
  process.stderr.write('profile: this checkout...\n');
  const after = await profileEdge(join(dir, 'prof-after'), originUrl, root);
  const before = BASELINE_DIR
    ? (process.stderr.write('profile: baseline...\n'),
      await profileEdge(join(dir, 'prof-before'), originUrl, BASELINE_DIR))
    : undefined;
  return {
    command:
      'node --cpu-prof bin/streamedge.js edge (one process: --workers 1 where the checkout has it); wrk -t1 -c64 -d8s on the cached 1 KiB object',
    share: 'selfPercent: share of the busy (non-idle) samples of the main thread',
    ...(before ? { before } : {}),
    after,
  };
}

/** CPU seconds (user + system) of one process so far (not its children). */
function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // USER_HZ
  } catch {
    return NaN;
  }
}

/** The direct children of `pid` by role (from their command lines): the edge's store process and workers. */
function edgeRoles(pid: number): Map<number, string> {
  const roles = new Map<number, string>([[pid, 'primary']]);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('store-main')) roles.set(Number(d), 'store');
      else if (cmd.includes('worker-main')) roles.set(Number(d), 'worker');
    } catch {
      /* gone meanwhile */
    }
  }
  return roles;
}

/**
 * --profile-stampede: the edge with --workers under `node --cpu-prof` (primary, store process and
 * every worker), one stampede; per process, its CPU seconds during the stampede and its top frames
 * by self time. Written to notes.stampedeProfile of the existing edge.json (printed too).
 */
async function profileStampede(): Promise<void> {
  const file = join(root, 'bench/results/edge.json');
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  const origin = await startOrigin();
  const profDir = join(dir, 'prof');
  mkdirSync(profDir, { recursive: true });
  try {
    const edge = await startStreamedge(join(dir, 'edge'), origin.url, { workers: WORKERS, cpuProfDir: profDir });
    const s: Server = { name: 'streamedge', ...edge };
    await warm(s, '/pl/0.m3u8');
    const roles = edgeRoles(edge.proc.pid!);
    // from the moment the requests are written (connections were opened and warmed before)
    let cpu0 = new Map<number, number>();
    let from = 0;
    const result = await stampede(s.url, 'profiled', origin.url, edge.proc.pid, () => {
      cpu0 = new Map([...roles.keys()].map((pid) => [pid, processCpuSeconds(pid)]));
      from = Number(process.hrtime.bigint() / 1000n);
    });
    const window = { from, to: Number(process.hrtime.bigint() / 1000n) };
    const cpu = new Map([...roles.keys()].map((pid) => [pid, round(processCpuSeconds(pid) - cpu0.get(pid)!, 3)]));
    await stop(edge.proc);
    const processes: unknown[] = [];
    for (const [pid, role] of roles) {
      // the main thread's profile is the largest of the pid's (the other is tsx's loader thread)
      const files = readdirSync(profDir)
        .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.`))
        .map((f) => join(profDir, f))
        .sort((a, b) => readFileSync(b).length - readFileSync(a).length);
      if (files.length === 0) continue;
      const profile = JSON.parse(readFileSync(files[0], 'utf8')) as Parameters<typeof topFrames>[0];
      const all = topFrames(profile, 1000, window);
      const idle = all.find((f) => f.frame === '(idle)')?.selfPercent ?? 0;
      processes.push({
        role,
        cpuSecondsDuringStampede: cpu.get(pid),
        busyPercent: round(100 - idle, 1),
        topFrames: all
          .filter((f) => f.frame !== '(idle)')
          .slice(0, 12)
          .map((f) => ({ frame: f.frame, selfPercent: round((f.selfPercent / Math.max(1, 100 - idle)) * 100, 1) })),
      });
    }
    const notes = {
      command: `node --cpu-prof bin/streamedge.js edge --workers ${WORKERS}; one stampede (${STAMPEDE} waiters, 2 MiB trickled over 2 s)`,
      checkout: execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
      share:
        'selfPercent: share of the busy (non-idle) samples of the process main thread during the stampede; busyPercent: non-idle share of its samples then',
      client: UNDICI_CLIENT ? 'undici, in the bench process (--undici-client)' : 'bench/stampede-client.ts',
      load1: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      stampede: result,
      processes,
    };
    const previous = JSON.parse(readFileSync(file, 'utf8')) as { notes?: Record<string, unknown> };
    if (WRITE_PROFILE) {
      // one entry per client: the undici one is how the stampede was measured before stampede-client.ts
      const was = (previous.notes?.['stampedeProfile'] ?? {}) as Record<string, unknown>;
      const stampedeProfile = { ...was, [UNDICI_CLIENT ? 'undiciClient' : 'rawSocketClient']: notes };
      writeFileSync(
        file,
        `${JSON.stringify({ ...previous, notes: { ...previous.notes, stampedeProfile } }, null, 2)}\n`,
      );
    }
    process.stdout.write(`${JSON.stringify(notes, null, 2)}\n`);
  } finally {
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** --profile-only: re-profile and replace notes.profile in the existing bench/results/edge.json. */
async function profileOnly(): Promise<void> {
  const file = join(root, 'bench/results/edge.json');
  const previous = JSON.parse(readFileSync(file, 'utf8')) as { notes?: Record<string, unknown> };
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  const origin = await startOrigin();
  try {
    const profile = await profileNotes(dir, origin.url);
    const out = { ...previous, notes: { ...previous.notes, profile } };
    writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(profile, null, 2)}\n`);
  } finally {
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ run

/** ABBA order: round 0 as listed, round 1 reversed, and so on. */
function abba<T>(list: T[], round: number): T[] {
  return round % 2 === 0 ? list : [...list].reverse();
}

/** Medians over the rounds of one server's stampedes. */
interface StampedeMedians {
  firstByteP50Ms: number;
  firstByteP99Ms: number;
  completeBodies: number;
  upstreamRequests: number;
  serverCpuSeconds: number;
  clientCpuSeconds: number;
}

/**
 * The stampede on every server, ROUNDS rounds in ABBA order (a new object each round), each round
 * printed; the per-round results and each server's medians.
 */
async function stampedeRounds(
  servers: Server[],
  originUrl: string,
): Promise<{ perRound: Array<Record<string, StampedeResult>>; medians: Record<string, StampedeMedians> }> {
  const runs = new Map<string, StampedeResult[]>(servers.map((s) => [s.name, []]));
  const perRound: Array<Record<string, StampedeResult>> = [];
  for (let i = 0; i < ROUNDS; i++) {
    const order = abba(servers, i);
    const row: Record<string, StampedeResult> = {};
    for (const s of order) {
      const r = await stampede(s.url, `${s.name}-${i}`, originUrl, s.proc.pid);
      runs.get(s.name)!.push(r);
      row[s.name] = r;
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      process.stderr.write(
        `stampede round ${i + 1}/${ROUNDS} ${s.name} (load ${load}): first byte p99 ${r.firstByteP99Ms} ms\n`,
      );
    }
    perRound.push(row);
  }
  const med = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 === 1 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  };
  const medians = Object.fromEntries(
    [...runs].map(([name, rs]) => [
      name,
      {
        firstByteP50Ms: med(rs.map((r) => r.firstByteP50Ms)),
        firstByteP99Ms: med(rs.map((r) => r.firstByteP99Ms)),
        completeBodies: Math.min(...rs.map((r) => r.completeBodies)),
        upstreamRequests: Math.max(...rs.map((r) => r.upstreamRequests)),
        serverCpuSeconds: med(rs.map((r) => r.serverCpuSeconds ?? NaN)),
        clientCpuSeconds: med(rs.map((r) => r.clientCpuSeconds)),
      },
    ]),
  );
  return { perRound, medians };
}

/**
 * --stampede-only: the stampede alone, streamedge, Varnish and nginx, --rounds rounds in ABBA order
 * (a new object each round); each round and the medians printed, nothing written.
 */
async function stampedeOnly(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  const origin = await startOrigin();
  const workersFlag = edgeTakesWorkers(root);
  const servers: Server[] = [];
  try {
    const edge = await startStreamedge(join(dir, 'edge'), origin.url, workersFlag ? { workers: WORKERS } : {});
    servers.push({ name: 'streamedge', ...edge });
    const varnish = await startVarnish(join(dir, 'varnish'), origin.url, '/pl/warmup');
    servers.push({ name: 'varnish', proc: varnish.proc, url: varnish.url });
    const nginx = await startNginxCache(join(dir, 'nginx'), origin.url);
    servers.push({ name: 'nginx', proc: nginx.proc, url: nginx.url });
    for (const s of servers) await warm(s, '/pl/0.m3u8');
    const { medians } = await stampedeRounds(servers, origin.url);
    const p99 = (n: string) => medians[n].firstByteP99Ms;
    process.stdout.write(
      `${JSON.stringify(
        {
          edgeWorkers: workersFlag ? WORKERS : 1,
          rounds: ROUNDS,
          client: UNDICI_CLIENT ? 'undici' : 'bench/stampede-client.ts',
          medians,
          firstByteP99ToVarnish: round(p99('streamedge') / p99('varnish'), 3),
          firstByteP99ToNginx: round(p99('streamedge') / p99('nginx'), 3),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    for (const s of servers) await stop(s.proc);
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (STAMPEDE_ONLY) return stampedeOnly();
  if (PROFILE_ONLY) return profileOnly();
  if (PROFILE_STAMPEDE) return profileStampede();
  const machineStart = startMachineInfo();
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  const origin = await startOrigin();
  const servers: Server[] = [];
  const workersFlag = edgeTakesWorkers(root);
  const edgeWorkers = workersFlag ? WORKERS : 1;
  try {
    const edge = await startStreamedge(join(dir, 'edge'), origin.url, workersFlag ? { workers: WORKERS } : {});
    servers.push({ name: 'streamedge', ...edge });
    const nginx = await startNginxCache(join(dir, 'nginx'), origin.url);
    servers.push({ name: 'nginx', proc: nginx.proc, url: nginx.url });
    const varnish = await startVarnish(join(dir, 'varnish'), origin.url, '/pl/warmup');
    servers.push({ name: 'varnish', proc: varnish.proc, url: varnish.url });
    const constant = await startConstantCluster(WORKERS);
    servers.push({ name: 'nodeClusterConstant', ...constant });

    const sizes: unknown[] = [];
    for (const obj of OBJECTS) {
      for (const s of servers) await warm(s, obj.path);
      const runs = new Map<string, HitRun[]>(servers.map((s) => [s.name, []]));
      const perRound: Array<Record<string, number>> = [];
      for (let i = 0; i < ROUNDS; i++) {
        const order = abba(servers, i);
        const row: Record<string, number> = {};
        for (const s of order) {
          process.stderr.write(`${obj.name} hits, round ${i + 1}/${ROUNDS}: ${s.name}...\n`);
          const r = await hitRun(s, obj.path);
          runs.get(s.name)!.push(r);
          row[s.name] = r.requestsPerSecond;
        }
        perRound.push(row);
      }
      const m = Object.fromEntries([...runs].map(([k, v]) => [k, medianRun(v)]));
      const e = m['streamedge'];
      const to = (other: string, f: string) => round(e[f] / m[other][f], 3);
      sizes.push({
        name: obj.name,
        path: obj.path,
        medians: m,
        ratios: {
          requestsPerSecondToNginx: to('nginx', 'requestsPerSecond'),
          requestsPerSecondToVarnish: to('varnish', 'requestsPerSecond'),
          requestsPerSecondToNodeCluster: to('nodeClusterConstant', 'requestsPerSecond'),
          bytesPerSecondToNginx: to('nginx', 'bytesPerSecond'),
          latencyP99ToNginx: to('nginx', 'latencyP99Ms'),
          cpuPer10kToNodeCluster: to('nodeClusterConstant', 'cpuSecondsPer10k'),
          cpuPer10kToNginx: to('nginx', 'cpuSecondsPer10k'),
          cpuPer10kToVarnish: to('varnish', 'cpuSecondsPer10k'),
        },
        perRoundRequestsPerSecond: perRound,
      });
    }

    const stampedeServers = servers.filter((s) => s.name !== 'nodeClusterConstant');
    const st = await stampedeRounds(stampedeServers, origin.url);
    for (const s of servers) await stop(s.proc);
    servers.length = 0;

    const profile = PROFILE ? await profileNotes(dir, origin.url) : undefined;

    const stP99 = (n: string): number => st.medians[n].firstByteP99Ms;
    const out = {
      bench: 'edge',
      date: new Date().toISOString(),
      machine: finishMachineInfo(machineStart),
      versions: {
        nginx: nginx.version,
        varnish: varnish.version,
        wrk: execFileSync('sh', ['-c', 'wrk -v 2>&1 | head -1'], { encoding: 'utf8' }).trim(),
      },
      edge: {
        workers: edgeWorkers,
        workersFlag,
        how: workersFlag
          ? `streamedge edge --workers ${WORKERS}`
          : 'one process: this checkout has no --workers (the bench passes it once `streamedge edge --help` lists it)',
      },
      setup: `origin (node:http, own process); on loopback in front of it: streamedge edge (${edgeWorkers} worker${edgeWorkers === 1 ? '' : 's'}), nginx ${nginx.version.replace(/^nginx version: /, '')} proxy_cache (worker_processes ${CORES}, sendfile on, proxy_cache_lock on), ${varnish.version} (-s malloc, do_stream), node:cluster constant buffer (${WORKERS} workers); client: wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s --latency, one cached object per run`,
      note: 'absolute figures depend on machine load (2 shared cores: the client, the server and other work compete); compare the ratios, measured in the same run from medians of ABBA rounds. cpuSecondsPer10k: user+system CPU of the server process tree per 10,000 answered requests.',
      goals: {
        oneKiBRequestsPerSecondToNginx: 0.4,
        oneKiBRequestsPerSecondToVarnish: 0.7,
        cpuPer10kToNodeClusterAtMost: 1.5,
        oneMiBRequestsPerSecondToNginxAndVarnish: 1.0,
      },
      hitThroughput: {
        workload: {
          connections: CONNECTIONS,
          durationSeconds: DURATION_S,
          rounds: ROUNDS,
          order: 'round 1: streamedge, nginx, varnish, node cluster; round 2 reversed; and so on',
        },
        sizes,
      },
      stampede: {
        workload: { clients: STAMPEDE, bytes: STAMPEDE_BYTES, originTrickleMs: STAMPEDE_MS, encoding: 'chunked' },
        rounds: ROUNDS,
        order: 'ABBA: round 1 streamedge, nginx, varnish; round 2 reversed; a new object each round',
        client: UNDICI_CLIENT ? 'undici' : 'bench/stampede-client.ts',
        medians: st.medians,
        perRound: st.perRound,
        ratios: {
          firstByteP99ToVarnish: round(stP99('streamedge') / stP99('varnish'), 3),
          firstByteP99ToNginx: round(stP99('streamedge') / stP99('nginx'), 3),
          firstByteP50ToVarnish: round(
            st.medians['streamedge'].firstByteP50Ms / st.medians['varnish'].firstByteP50Ms,
            3,
          ),
          upstreamRequestsToVarnish: round(
            st.medians['streamedge'].upstreamRequests / st.medians['varnish'].upstreamRequests,
            3,
          ),
        },
      },
      ...(profile ? { notes: { profile } } : {}),
    };
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    writeFileSync(join(root, 'bench/results/edge.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    for (const s of servers) await stop(s.proc);
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
