/**
 * Edge benchmark, side by side with nginx proxy_cache (proxy_cache_lock on), same origin,
 * same machine, same run. Writes bench/results/edge.json.
 *
 *   node bin/run-ts.js bench/edge-bench.ts [--duration 5] [--connections 32] [--stampede 500]
 *     [--rounds 5] [--baseline <checkout dir>]
 *
 * --baseline: another checkout of streamedge (e.g. the previous commit, `git archive` into a
 * temp dir with node_modules linked) whose edge runs in the same bench run: hit throughput is
 * measured for both edges in alternating rounds, and the JSON gets the median of each and their
 * ratio (the machine is shared and noisy: only a same-run ratio means something).
 *
 * 1. Hit throughput: 1 KiB playlists and 1 MiB segments (half the requests each), all cached,
 *    C keep-alive connections for D seconds: requests/s, bytes/s, latency p50/p99.
 * 2. Stampede: N concurrent requests for one uncached 2 MiB segment that the origin trickles
 *    out over 2 s (chunked): upstream requests, first-byte delay to waiters, completion time.
 *
 * nginx is installed from Debian when missing (apt-get install -y nginx), configured in a temp
 * dir, run on loopback with one worker (the edge is one Node process), and stopped afterwards.
 */
import { nginxBinary, nginxConfigHead, startNginx } from './nginx-proxy-cache.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Pool, request } from 'undici';
import { freePort } from './free-port.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : Number(args[i + 1]);
}
const DURATION_S = arg('duration', 5);
const CONNECTIONS = arg('connections', 32);
const STAMPEDE = arg('stampede', 500);
const ROUNDS = arg('rounds', 5);
const baselineAt = args.indexOf('--baseline');
const BASELINE_DIR = baselineAt === -1 ? undefined : resolve(args[baselineAt + 1]);
const PLAYLISTS = 20;
const SEGMENTS = 20;
const STAMPEDE_BYTES = 2 * 1024 * 1024;
const STAMPEDE_MS = 2000;
const root = resolve(import.meta.dirname, '..');

// ------------------------------------------------------------------ origin (own process)

async function startOrigin(): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [join(root, 'bin/run-ts.js'), join(root, 'bench/edge-origin.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) res(buf.slice(0, nl).trim());
    });
    proc.once('exit', (code) => rej(new Error(`origin exited (${code})`)));
  });
  return { proc, url };
}

async function originCounts(
  originUrl: string,
): Promise<{ counts: Record<string, number>; finished: Record<string, number> }> {
  const r = await request(`${originUrl}/_counts`);
  return (await r.body.json()) as { counts: Record<string, number>; finished: Record<string, number> };
}

// ------------------------------------------------------------------ proxies

async function waitUp(url: string): Promise<void> {
  const end = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await request(url);
      await r.body.text();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`${url} did not come up`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function startEdgeNginx(
  bin: string,
  dir: string,
  originUrl: string,
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  const origin = new URL(originUrl);
  const config = (
    port: number,
  ) => `${nginxConfigHead(dir, { workerConnections: 8192 })}  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=edge:16m max_size=2g inactive=60m use_temp_path=off;
  upstream origin { server ${origin.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_lock on;
      proxy_cache_lock_timeout 30s;
      proxy_cache_lock_age 30s;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`;
  return startNginx(bin, dir, config, '/pl/warmup');
}

async function startStreamedge(
  dir: string,
  originUrl: string,
  checkout = root,
): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      join(checkout, 'bin/streamedge.js'),
      'edge',
      '--upstream',
      originUrl,
      '--port',
      String(port),
      '--store',
      join(dir, 'store'),
      '--store-size',
      '2GB',
      '--ram-size',
      '256MiB',
      '--log-level',
      'warn',
      '--name',
      'streamedge',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (d: Buffer) => process.stderr.write(`edge: ${d.toString()}`));
  const url = `http://127.0.0.1:${port}`;
  await waitUp(`${url}/_edge/health`);
  return { proc, url };
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (proc.exitCode !== null) return r();
    proc.once('exit', () => r());
    proc.kill('SIGTERM');
  });
}

// ------------------------------------------------------------------ load

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

async function hitThroughput(base: string): Promise<Record<string, number>> {
  const paths = [
    ...Array.from({ length: PLAYLISTS }, (_, i) => `/pl/${i}.m3u8`),
    ...Array.from({ length: SEGMENTS }, (_, i) => `/seg/${i}.m4s`),
  ];
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  // warm: every object fetched (and cached) before measuring
  for (let pass = 0; pass < 2; pass++) {
    for (const p of paths) {
      const r = await pool.request({ path: p, method: 'GET' });
      await r.body.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 300)); // let both caches commit what they just stored
  }
  const latencies: number[] = [];
  let requests = 0;
  let bytes = 0;
  let errors = 0;
  const end = performance.now() + DURATION_S * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, w) => {
      let i = w;
      while (performance.now() < end) {
        // alternate playlists and segments
        const p = i % 2 === 0 ? paths[(i >> 1) % PLAYLISTS] : paths[PLAYLISTS + ((i >> 1) % SEGMENTS)];
        i += CONNECTIONS;
        const s = performance.now();
        try {
          const r = await pool.request({ path: p, method: 'GET' });
          for await (const c of r.body as AsyncIterable<Buffer>) bytes += c.length;
          if (r.statusCode !== 200) errors++;
          requests++;
          latencies.push(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  return {
    requests,
    errors,
    seconds: round(secs),
    requestsPerSecond: round(requests / secs, 1),
    bytesPerSecond: Math.round(bytes / secs),
    mibPerSecond: round(bytes / secs / 1048576, 1),
    latencyP50Ms: round(pct(latencies, 50)),
    latencyP99Ms: round(pct(latencies, 99)),
  };
}

async function stampede(base: string, name: string, originUrl: string): Promise<Record<string, number>> {
  const path = `/stampede/${name}.m4s`;
  const pool = new Pool(base, { connections: STAMPEDE + 16, pipelining: 1 });
  // open every client connection first (concurrent requests for a cached playlist), so first-byte
  // delays measure the proxies, not TCP connection setup on a busy machine
  await Promise.all(
    Array.from({ length: STAMPEDE }, async () => {
      const r = await pool.request({ path: '/pl/0.m3u8', method: 'GET' });
      await r.body.arrayBuffer();
    }),
  );
  const firstByte: number[] = [];
  const done: number[] = [];
  let identical = 0;
  const t0 = Date.now(); // epoch ms: comparable with the origin process's finish time
  await Promise.all(
    Array.from({ length: STAMPEDE }, async () => {
      const s = Date.now();
      const r = await pool.request({ path, method: 'GET' });
      let first = true;
      let n = 0;
      for await (const c of r.body as AsyncIterable<Buffer>) {
        if (first) {
          first = false;
          firstByte.push(Date.now());
        }
        n += c.length;
      }
      if (n === STAMPEDE_BYTES && r.statusCode === 200) identical++;
      done.push(Date.now() - s);
    }),
  );
  await pool.close();
  const origin = await originCounts(originUrl);
  const upstreamDone = origin.finished[path] ?? NaN;
  const fb = firstByte.map((t) => t - t0).sort((a, b) => a - b);
  done.sort((a, b) => a - b);
  return {
    clients: STAMPEDE,
    upstreamRequests: origin.counts[path] ?? 0,
    completeBodies: identical,
    firstByteP50Ms: round(pct(fb, 50)),
    firstByteP99Ms: round(pct(fb, 99)),
    firstByteMaxMs: round(fb[fb.length - 1] ?? NaN),
    waitersWithBytesBeforeUpstreamFinished: firstByte.filter((t) => t < upstreamDone).length,
    upstreamFinishedAtMs: round(upstreamDone - t0),
    completeP50Ms: round(pct(done, 50)),
    completeMaxMs: round(done[done.length - 1] ?? NaN),
  };
}

// ------------------------------------------------------------------ run

async function main(): Promise<void> {
  const loadBefore = loadavg().map((x) => round(x));
  const nginxBin = nginxBinary();
  const dir = mkdtempSync(join(tmpdir(), 'edge-bench-'));
  const origin = await startOrigin();
  const edge = await startStreamedge(join(dir, 'edge'), origin.url);
  const baseline = BASELINE_DIR ? await startStreamedge(join(dir, 'baseline'), origin.url, BASELINE_DIR) : undefined;
  const nginx = await startEdgeNginx(nginxBin, join(dir, 'nginx'), origin.url);
  try {
    const results: Record<string, unknown> = {};
    const rounds: Array<{ streamedge: Record<string, number>; baseline?: Record<string, number> }> = [];
    for (let i = 0; i < ROUNDS; i++) {
      process.stderr.write(
        `hit throughput round ${i + 1}/${ROUNDS}: streamedge${baseline ? ' and baseline' : ''}...\n`,
      );
      // alternate which edge goes first, so drifting machine load does not favour one
      const first = i % 2 === 0 || !baseline ? await hitThroughput(edge.url) : undefined;
      const base = baseline ? await hitThroughput(baseline.url) : undefined;
      const mine = first ?? (await hitThroughput(edge.url));
      rounds.push({ streamedge: mine, ...(base ? { baseline: base } : {}) });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const edgeHits = rounds.map((r) => r.streamedge).sort((a, b) => a['requestsPerSecond'] - b['requestsPerSecond'])[
      Math.floor(rounds.length / 2)
    ];
    if (baseline) {
      const mineRps = median(rounds.map((r) => r.streamedge['requestsPerSecond']));
      const baseRps = median(rounds.map((r) => r.baseline!['requestsPerSecond']));
      const mineBps = median(rounds.map((r) => r.streamedge['bytesPerSecond']));
      const baseBps = median(rounds.map((r) => r.baseline!['bytesPerSecond']));
      results['hitThroughputVsBaseline'] = {
        baseline: BASELINE_DIR,
        rounds: ROUNDS,
        medianRequestsPerSecond: { streamedge: mineRps, baseline: baseRps },
        ratioToBaseline: {
          requestsPerSecond: round(mineRps / baseRps, 3),
          bytesPerSecond: round(mineBps / baseBps, 3),
        },
        perRound: rounds.map((r) => ({
          streamedge: r.streamedge['requestsPerSecond'],
          baseline: r.baseline!['requestsPerSecond'],
        })),
      };
    }
    process.stderr.write('hit throughput: nginx...\n');
    const nginxHits = await hitThroughput(nginx.url);
    process.stderr.write('stampede: streamedge...\n');
    const edgeSt = await stampede(edge.url, 'edge', origin.url);
    process.stderr.write('stampede: nginx...\n');
    const nginxSt = await stampede(nginx.url, 'nginx', origin.url);
    results['hitThroughput'] = {
      workload: {
        connections: CONNECTIONS,
        durationSeconds: DURATION_S,
        mix: '50% 1 KiB playlists, 50% 1 MiB segments',
        streamedgeFigure: `median of ${ROUNDS} rounds (by requests/s)`,
        objects: PLAYLISTS + SEGMENTS,
      },
      streamedge: edgeHits,
      nginx: nginxHits,
      ratioStreamedgeToNginx: {
        requestsPerSecond: round(edgeHits['requestsPerSecond'] / nginxHits['requestsPerSecond'], 3),
        bytesPerSecond: round(edgeHits['bytesPerSecond'] / nginxHits['bytesPerSecond'], 3),
        latencyP99: round(edgeHits['latencyP99Ms'] / nginxHits['latencyP99Ms'], 3),
      },
    };
    results['stampede'] = {
      workload: { clients: STAMPEDE, bytes: STAMPEDE_BYTES, originTrickleMs: STAMPEDE_MS, encoding: 'chunked' },
      streamedge: edgeSt,
      nginx: nginxSt,
      ratioStreamedgeToNginx: {
        upstreamRequests: round(edgeSt['upstreamRequests'] / nginxSt['upstreamRequests'], 3),
        firstByteP50: round(edgeSt['firstByteP50Ms'] / nginxSt['firstByteP50Ms'], 3),
        firstByteP99: round(edgeSt['firstByteP99Ms'] / nginxSt['firstByteP99Ms'], 3),
      },
    };
    const out = {
      bench: 'edge',
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model,
        node: process.version,
        nginx: nginx.version,
        // the machine is shared: a load average far above the core count means noisy absolute numbers
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadavg().map((x) => round(x)),
      },
      note: 'absolute figures depend on machine load; compare the ratios, measured in the same run. Stampede clients connect (and warm up on a cached playlist) before the stampede starts.',
      setup:
        'origin (node:http, own process), streamedge edge (one Node process, LogStore + RAM tier) and nginx proxy_cache (1 worker, proxy_cache_lock on) on loopback; load generator: undici Pool in the bench process',
      ...results,
    };
    mkdirSync(join(root, 'bench/results'), { recursive: true });
    writeFileSync(join(root, 'bench/results/edge.json'), `${JSON.stringify(out, null, 2)}\n`);
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await stop(edge.proc);
    if (baseline) await stop(baseline.proc);
    await stop(nginx.proc);
    await stop(origin.proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
