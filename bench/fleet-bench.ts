/**
 * Fleet benchmark: three edge processes of one PoP and one nats-server on this machine (one
 * machine: the figures measure the software path, not a WAN). Writes bench/results/fleet.json.
 *
 *   node bin/run-ts.js bench/fleet-bench.ts [--purges 1000] [--replay 1000] [--zipf-requests 20000]
 *
 * 1. Purge lag: POST /_edge/purge → every live member applied (the API answers then), for N purges,
 *    first with the edges idle (same-run baseline), then while wrk drives the three edges; p50/p99,
 *    and each edge's own publish → applied histogram (edge_fleet_purge_lag_seconds).
 * 2. Replay: one edge stopped, N purges published, edge restarted: time from spawn to a green
 *    health (all replayed), against the same restart with nothing to replay.
 * 3. A new member: time from spawn until every existing member routes to it (sees it live),
 *    against the time until its own health first answers.
 * 4. Hit ratio under Zipf (s = 0.9) of the PoP (3 edges, each key stored by its owner) versus a
 *    single edge with the same per-edge store size, same request sequence.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from './free-port.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
const PURGES = arg('purges', 1000);
const REPLAY = arg('replay', 1000);
const ZIPF_REQUESTS = arg('zipf-requests', 20000);
const ZIPF_OBJECTS = 4000;
const OBJECT_BYTES = 16 * 1024;
const TOKEN = 'fleet-bench-admin-token-0123456789';
const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'fleet-bench-'));
const agent = new Agent({ connections: 64 });
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ------------------------------------------------------------------ processes

async function startNats(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'nats')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((res, rej) => {
    let text = '';
    proc.stderr.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('Server is ready')) res();
    });
    proc.once('exit', (c) => rej(new Error(`nats-server exited ${c}`)));
  });
  return { url: `nats://127.0.0.1:${port}`, proc };
}

interface EdgeProc {
  url: string;
  proc: ChildProcess | undefined;
  args: string[];
  port: number;
}

function spawnEdge(e: EdgeProc): void {
  e.proc = spawn(
    process.execPath,
    [join(root, 'bin/streamedge.js'), 'edge', '--port', String(e.port), '--log-level', 'error', ...e.args],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, STREAMEDGE_ADMIN_TOKEN: TOKEN } },
  );
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(everyMs);
  }
}

async function health(url: string): Promise<{ status: number; members: string[] }> {
  const r = await request(`${url}/_edge/health`, {
    dispatcher: agent,
    headers: { authorization: `Bearer ${TOKEN}` }, // members are shown to the admin token only
  });
  const b = (await r.body.json()) as { fleet?: { members?: { url: string }[] } };
  return { status: r.statusCode, members: (b.fleet?.members ?? []).map((m) => m.url) };
}

async function stopEdge(e: EdgeProc): Promise<void> {
  const p = e.proc;
  e.proc = undefined;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
}

async function purge(url: string, path: string): Promise<number> {
  const r = await request(`${url}/_edge/purge`, {
    method: 'POST',
    dispatcher: agent,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ url: path }),
  });
  await r.body.text();
  return r.statusCode;
}

async function purgeRun(url: string, n: number, prefix: string): Promise<{ p50: number; p99: number; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const status = await purge(url, `${prefix}seg-${i % 200}.m4s`);
    ms.push(performance.now() - t0);
    if (status !== 200) failed++;
  }
  ms.sort((a, b) => a - b);
  return { p50: round(pct(ms, 50)), p99: round(pct(ms, 99)), failed };
}

/** p50/p99 from a Prometheus histogram's cumulative buckets (upper bound of the bucket). */
async function edgeLagHistogram(url: string): Promise<{ count: number; p50le: number; p99le: number }> {
  const r = await request(`${url}/_edge/metrics`, { dispatcher: agent });
  const text = await r.body.text();
  const buckets: Array<[number, number]> = [];
  let count = 0;
  for (const line of text.split('\n')) {
    const m = /^edge_fleet_purge_lag_seconds_bucket\{le="([^"]+)"\} (\d+)/.exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])]);
    const c = /^edge_fleet_purge_lag_seconds_count (\d+)/.exec(line);
    if (c) count = Number(c[1]);
  }
  const q = (p: number) => buckets.find(([, n]) => n >= count * p)?.[0] ?? NaN;
  return { count, p50le: q(0.5) * 1000, p99le: q(0.99) * 1000 };
}

function zipfSampler(n: number, s: number): () => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf.push((sum += 1 / k ** s));
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * sum;
  return () => {
    const x = rnd();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

async function zipfRun(urls: string[], prefix: string): Promise<number> {
  const next = zipfSampler(ZIPF_OBJECTS, 0.9);
  const seq = Array.from({ length: ZIPF_REQUESTS }, () => next());
  let i = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: 16 }, async (_, w) => {
      while (i < seq.length) {
        const k = seq[i++];
        const r = await request(`${urls[(k + w) % urls.length]}${prefix}obj-${k}.bin`, { dispatcher: agent });
        await r.body.arrayBuffer();
        if (r.statusCode !== 200) errors++;
      }
    }),
  );
  return errors;
}

// ------------------------------------------------------------------ run

async function main(): Promise<void> {
  const machineStart = startMachineInfo();
  const body = Buffer.alloc(OBJECT_BYTES, 7);
  const fetches = new Map<string, number>();
  const origin = createServer((req, res) => {
    const prefix = /^\/[^/]+\//.exec(req.url ?? '/')?.[0] ?? '/';
    fetches.set(prefix, (fetches.get(prefix) ?? 0) + 1);
    res.writeHead(200, { 'cache-control': 'public, max-age=3600', 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const originUrl = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;
  const nats = await startNats();
  const edgeArgs = (name: string, fleet: boolean): string[] => [
    '--upstream',
    originUrl,
    '--name',
    name,
    '--store',
    join(dir, name),
    '--store-size',
    '16MB',
    '--ram-size',
    '2MB',
    // one process per edge, as when the recorded figures were taken (--nats now defaults to one worker per core)
    '--workers',
    '1',
    ...(fleet ? ['--nats', nats.url, '--pop', 'bench'] : []),
  ];
  const edges: EdgeProc[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    edges.push({ url: `http://127.0.0.1:${port}`, port, proc: undefined, args: edgeArgs(`e${i}`, true) });
  }
  const out: Record<string, unknown> = {
    bench: 'fleet',
    date: new Date().toISOString(),
    machine: machineStart,
    note: 'one machine: NATS, three edges, the load generator and the origin share 2 cores; no network latency',
  };
  try {
    for (const e of edges) spawnEdge(e);
    for (const e of edges) await until('3 members', async () => (await health(e.url)).members.length === 3);

    // 1. purge lag, idle then under load
    const idle = await purgeRun(edges[0].url, Math.min(PURGES, 300), '/purge-idle/');
    mkdirSync(join(dir, 'wrk'), { recursive: true });
    const lua = join(dir, 'wrk', 'paths.lua');
    writeFileSync(
      lua,
      'local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format("GET", "/purge-load/seg-" .. (n % 200) .. ".m4s")\nend\n',
    );
    const wrks = edges.map((e) =>
      spawn('wrk', ['-t', '1', '-c', '8', '-d', '600s', '-s', lua, e.url], { stdio: ['ignore', 'pipe', 'ignore'] }),
    );
    const wrkOut = wrks.map((w) => {
      let s = '';
      w.stdout.on('data', (d: Buffer) => (s += d.toString()));
      return () => s;
    });
    await wait(1000); // let the load reach a steady state
    const t0 = performance.now();
    const loaded = await purgeRun(edges[0].url, PURGES, '/purge-load/');
    const loadedSeconds = (performance.now() - t0) / 1000;
    const exited = wrks.map((w) => new Promise((r) => w.once('exit', r)));
    for (const w of wrks) w.kill('SIGINT');
    await Promise.all(exited);
    const rps = wrkOut.map((f) => Number(/Requests\/sec:\s+([\d.]+)/.exec(f())?.[1] ?? NaN));
    out['purgeLag'] = {
      what: 'POST /_edge/purge → every live member (3) applied it, ms, sequential purges of one URL each',
      idle: { purges: Math.min(PURGES, 300), ...idle },
      underLoad: {
        purges: PURGES,
        ...loaded,
        seconds: round(loadedSeconds),
        wrkRequestsPerSecondPerEdge: rps.map((x) => round(x)),
      },
      p99RatioLoadedToIdle: round(loaded.p99 / idle.p99),
      goal: 'p99 < 150 ms (what big CDNs advertise for a global purge; this is one machine)',
      perEdgePublishToApplied: await Promise.all(edges.map((e) => edgeLagHistogram(e.url))),
    };
    console.log(JSON.stringify(out['purgeLag']));

    // 2. replay of missed purges
    const restartToGreen = async (e: EdgeProc): Promise<number> => {
      const t = performance.now();
      spawnEdge(e);
      await until('green health', async () => (await health(e.url)).status === 200, 120_000, 5);
      return performance.now() - t;
    };
    const e2 = edges[2];
    await stopEdge(e2);
    const baseline = await restartToGreen(e2); // nothing missed
    await stopEdge(e2);
    await until('e2 to leave', async () => !(await health(edges[0].url)).members.includes(e2.url));
    for (let i = 0; i < REPLAY; i++) await purge(edges[0].url, `/replay/seg-${i}.m4s`);
    const withReplay = await restartToGreen(e2);
    out['replay'] = {
      missedPurges: REPLAY,
      restartToGreenMs: round(withReplay),
      restartToGreenNothingMissedMs: round(baseline),
      replayMsEstimate: round(withReplay - baseline),
      goal: '< 2000 ms for 1,000 missed purges',
    };
    console.log(JSON.stringify(out['replay']));
    for (const e of edges) await until('3 members', async () => (await health(e.url)).members.length === 3);

    // 3. a new member takes its share
    const port = await freePort();
    const newcomer: EdgeProc = { url: `http://127.0.0.1:${port}`, port, proc: undefined, args: edgeArgs('e3', true) };
    const tn = performance.now();
    spawnEdge(newcomer);
    await until('newcomer answers', async () => (await health(newcomer.url)).status > 0, 60_000, 5);
    const answers = performance.now() - tn;
    await Promise.all(
      edges.map((e) => until('4 members', async () => (await health(e.url)).members.includes(newcomer.url), 60_000, 5)),
    );
    const routed = performance.now() - tn;
    out['newMember'] = {
      spawnToHealthMs: round(answers),
      spawnToEveryMemberRoutingToItMs: round(routed),
      joinMsAfterListening: round(routed - answers),
    };
    console.log(JSON.stringify(out['newMember']));
    await stopEdge(newcomer);
    for (const e of edges) await until('3 members', async () => (await health(e.url)).members.length === 3);

    // 4. hit ratio under Zipf: PoP vs single edge (same per-edge store)
    const singlePort = await freePort();
    const single: EdgeProc = {
      url: `http://127.0.0.1:${singlePort}`,
      port: singlePort,
      proc: undefined,
      args: edgeArgs('single', false),
    };
    spawnEdge(single);
    await until('single edge', async () => (await health(single.url)).status === 200);
    const singleErrors = await zipfRun([single.url], '/zipf-single/');
    await stopEdge(single);
    const popErrors = await zipfRun(
      edges.map((e) => e.url),
      '/zipf-pop/',
    );
    const singleHit = 1 - (fetches.get('/zipf-single/') ?? 0) / ZIPF_REQUESTS;
    const popHit = 1 - (fetches.get('/zipf-pop/') ?? 0) / ZIPF_REQUESTS;
    out['zipfHitRatio'] = {
      objects: ZIPF_OBJECTS,
      objectBytes: OBJECT_BYTES,
      requests: ZIPF_REQUESTS,
      s: 0.9,
      storePerEdge: '16MB disk + 2MB RAM',
      singleEdge: round(singleHit, 4),
      pop3: round(popHit, 4),
      ratio: round(popHit / singleHit, 3),
      errors: { single: singleErrors, pop: popErrors },
    };
    console.log(JSON.stringify(out['zipfHitRatio']));
  } finally {
    for (const e of edges) await stopEdge(e);
    nats.proc.kill('SIGTERM');
    origin.close();
    out['machine'] = finishMachineInfo(machineStart);
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    writeFileSync(join(root, 'bench/results/fleet.json'), `${JSON.stringify(out, null, 2)}\n`);
    await agent.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
