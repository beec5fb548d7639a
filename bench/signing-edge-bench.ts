/**
 * Edge hit throughput with signed URLs on, as a ratio to signing off, same run.
 * Writes bench/results/signing-edge.json.
 *
 *   node bin/run-ts.js bench/signing-edge-bench.ts [--duration 1.5] [--rounds 7] [--connections 32] [--viewers 32]
 *
 * Setup: a node:http upstream (16 KiB immutable segments, a ~1.5 KiB media playlist) and two
 * `streamedge edge` processes started by the real CLI: one plain, one with `--require-signed
 * --secret-file` (HS256) and `--upstream-credential-file`. Both caches are warmed first, so every
 * measured request is a hit, and each case gets an unmeasured warm-up round on both (JIT). The
 * load generator (undici Pool, this process) alternates between the two edges round by round,
 * in ABBA order (off/on, on/off, ...) so machine noise and drift hit both alike; the median
 * requests/s per case is reported with the ratio signed/unsigned, and, because wall-clock rates
 * swing with other tenants of a shared machine, each edge process's own CPU time per request
 * (/proc user+system): its inverse ratio is the hit throughput a CPU-bound edge sustains.
 *
 * Cases:
 * - segment_path_token: GET /t/<token>/vod/a/seg-N.m4s; `viewers` distinct tokens spread over
 *   the connections (steady state: each token's signature is checked once, then cached);
 * - segment_unique_token: every request carries a token never seen before (worst case: one
 *   HMAC verification per request);
 * - playlist_query_token: GET /vod/a/index.m3u8?token=<token>: verification plus the per-request
 *   manifest rewrite from the cached token-free copy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { hmacKeys } from '../src/signing/keys.js';
import { issueToken, signedUrl } from '../src/signing/issue.js';
import { freePort } from './free-port.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';

const machineStart = startMachineInfo();

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}
const DURATION_S = Number(arg('duration', '1.5'));
const ROUNDS = Number(arg('rounds', '7'));
const CONNECTIONS = Number(arg('connections', '32'));
const VIEWERS = Number(arg('viewers', '32'));
const OUT = resolve(arg('out', 'bench/results/signing-edge.json'));
const SEGMENTS = 64;
const SEGMENT_BYTES = 16 * 1024;

const segment = randomBytes(SEGMENT_BYTES);
const playlist = [
  '#EXTM3U',
  '#EXT-X-VERSION:9',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-PART-INF:PART-TARGET=0.5',
  '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5',
  '#EXT-X-MEDIA-SEQUENCE:100',
  '#EXT-X-MAP:URI="init.mp4"',
  ...Array.from({ length: 12 }, (_, i) => [
    `#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:${String(i * 2).padStart(2, '0')}.000Z`,
    ...(i >= 9
      ? [0, 1, 2, 3].map(
          (p) => `#EXT-X-PART:DURATION=0.5,URI="seg-${100 + i}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`,
        )
      : []),
    '#EXTINF:2.0,',
    `seg-${100 + i}.m4s`,
  ]).flat(),
  '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-112.0.m4s"',
  '#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=111,LAST-PART=3',
  '',
].join('\n');

async function startUpstream(): Promise<{ url: string; server: Server; requests: () => number }> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    const path = (req.url ?? '/').split('?')[0];
    if (path.endsWith('.m3u8')) {
      res.writeHead(200, {
        'content-type': 'application/vnd.apple.mpegurl',
        'cache-control': 'public, max-age=3600',
        'content-length': Buffer.byteLength(playlist),
      });
      res.end(playlist);
      return;
    }
    res.writeHead(200, {
      'content-type': 'video/iso.segment',
      'cache-control': 'public, max-age=31536000, immutable',
      'content-length': segment.length,
    });
    res.end(segment);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, requests: () => n };
}

async function startEdge(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['bin/streamedge.js', 'edge', '--port', String(port), '--log-level', 'warn', ...args],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, STREAMEDGE_SIGNING_SECRET: '' },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/_edge/health`);
      await r.arrayBuffer();
      if (r.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('edge did not start');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, child };
}

/** C connections issuing requests back to back for D seconds; returns requests/s. */
async function load(base: string, paths: (i: number) => string): Promise<{ rps: number; errors: number }> {
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  let done = 0;
  let errors = 0;
  let i = 0;
  const end = performance.now() + DURATION_S * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const path = paths(i++);
        try {
          const res = await pool.request({ path, method: 'GET' });
          await res.body.arrayBuffer();
          if (res.statusCode === 200) done++;
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await pool.close();
  return { rps: done / secs, errors };
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; 100 Hz ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15 of the full line)
}

/** A measured round: requests/s (wall clock) and the edge's CPU µs per request. */
async function measure(
  edge: { url: string; child: ChildProcess },
  paths: (i: number) => string,
): Promise<{ rps: number; cpuUsPerReq: number; errors: number }> {
  const c0 = cpuSeconds(edge.child.pid!);
  const t0 = performance.now();
  const r = await load(edge.url, paths);
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(edge.child.pid!) - c0;
  return { rps: r.rps, cpuUsPerReq: (cpu * 1e6) / Math.max(1, r.rps * secs), errors: r.errors };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const dir = mkdtempSync(join(tmpdir(), 'se-signing-edge-bench-'));
const children: ChildProcess[] = [];
try {
  const secret = randomBytes(48).toString('base64');
  const secretFile = join(dir, 'secret');
  const credFile = join(dir, 'upstream-credential');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  writeFileSync(credFile, randomBytes(24).toString('base64url'), { mode: 0o600 });
  const upstream = await startUpstream();
  const plain = await startEdge(['--upstream', upstream.url, '--store', join(dir, 'plain')]);
  children.push(plain.child);
  const signed = await startEdge([
    '--upstream',
    upstream.url,
    '--store',
    join(dir, 'signed'),
    '--require-signed',
    '--secret-file',
    secretFile,
    '--upstream-credential-file',
    credFile,
  ]);
  children.push(signed.child);

  const key = (await hmacKeys(secret)).signing;
  const viewerTokens = await Promise.all(
    Array.from({ length: VIEWERS }, (_, v) => issueToken({ scope: '/vod/a/', ttlSec: 3600, key, viewerId: `v${v}` })),
  );
  const segPath = (i: number) => `/vod/a/seg-${i % SEGMENTS}.m4s`;
  // unique tokens: enough for the fastest plausible rate, issued up front (issuing is not measured)
  const uniqueCount = Math.max(20_000, Math.ceil(DURATION_S * 15_000));
  const unique: string[] = [];
  for (let u = 0; u < uniqueCount; u++)
    unique.push(await issueToken({ scope: '/vod/a/', ttlSec: 3600, key, sessionId: `s${u}` }));
  let uniqueNext = 0;

  const cases = [
    {
      name: 'segment_path_token',
      off: segPath,
      on: (i: number) => signedUrl('', segPath(i), viewerTokens[i % VIEWERS], 'path'),
    },
    {
      name: 'segment_unique_token',
      off: segPath,
      on: (i: number) => signedUrl('', segPath(i), unique[uniqueNext++ % unique.length], 'path'),
    },
    {
      name: 'playlist_query_token',
      off: () => '/vod/a/index.m3u8',
      on: (i: number) => signedUrl('', '/vod/a/index.m3u8', viewerTokens[i % VIEWERS], 'query'),
    },
  ];

  // warm both caches: every object once through each edge
  for (let i = 0; i < SEGMENTS; i++) {
    for (const [base, path] of [
      [plain.url, segPath(i)],
      [signed.url, signedUrl('', segPath(i), viewerTokens[0], 'path')],
    ] as const) {
      const r = await fetch(`${base}${path}`);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`warm-up ${base}${path}: ${r.status}`);
    }
  }
  for (const [base, path] of [
    [plain.url, '/vod/a/index.m3u8'],
    [signed.url, signedUrl('', '/vod/a/index.m3u8', viewerTokens[0], 'query')],
  ] as const) {
    const r = await fetch(`${base}${path}`);
    const text = await r.text();
    if (r.status !== 200) throw new Error(`warm-up ${path}: ${r.status}`);
    if (base === signed.url && !text.includes('token=')) throw new Error('query-placement playlist was not rewritten');
  }
  const upstreamAfterWarmup = upstream.requests();

  const results = [];
  for (const c of cases) {
    const off: Array<{ rps: number; cpuUsPerReq: number }> = [];
    const on: Array<{ rps: number; cpuUsPerReq: number }> = [];
    let errors = 0;
    for (let w = 0; w < 2; w++) {
      await load(plain.url, c.off); // warm-up (JIT), not measured
      await load(signed.url, c.on);
    }
    for (let r = 0; r < ROUNDS; r++) {
      let a;
      let b;
      if (r % 2 === 0) {
        a = await measure(plain, c.off);
        b = await measure(signed, c.on);
      } else {
        b = await measure(signed, c.on);
        a = await measure(plain, c.off);
      }
      off.push(a);
      on.push(b);
      errors += a.errors + b.errors;
      process.stdout.write(
        `${c.name} round ${r + 1}: off ${a.rps.toFixed(0)} req/s ${a.cpuUsPerReq.toFixed(0)} µs cpu/req, on ${b.rps.toFixed(0)} req/s ${b.cpuUsPerReq.toFixed(0)} µs cpu/req\n`,
      );
    }
    const rpsOff = median(off.map((x) => x.rps));
    const rpsOn = median(on.map((x) => x.rps));
    const cpuOff = median(off.map((x) => x.cpuUsPerReq));
    const cpuOn = median(on.map((x) => x.cpuUsPerReq));
    results.push({
      name: c.name,
      unsignedRps: Math.round(rpsOff),
      signedRps: Math.round(rpsOn),
      ratioSignedToUnsignedRps: Number((rpsOn / rpsOff).toFixed(3)),
      unsignedCpuUsPerRequest: Number(cpuOff.toFixed(1)),
      signedCpuUsPerRequest: Number(cpuOn.toFixed(1)),
      /** Hit throughput a CPU-bound edge sustains, signed vs unsigned (= inverse ratio of CPU per request). */
      ratioSignedToUnsignedCpuCapacity: Number((cpuOff / cpuOn).toFixed(3)),
      roundsUnsignedRps: off.map((x) => Math.round(x.rps)),
      roundsSignedRps: on.map((x) => Math.round(x.rps)),
      errors,
    });
  }
  const out = {
    bench: 'signing-edge',
    date: new Date().toISOString(),
    machine: finishMachineInfo(machineStart),
    method: `two streamedge edge processes (plain; --require-signed HS256 + upstream credential) on loopback, caches warmed; ${CONNECTIONS} keep-alive connections for ${DURATION_S} s per round, alternating plain/signed (ABBA) for ${ROUNDS} rounds after one warm-up round each; median requests/s`,
    workload: {
      segmentBytes: SEGMENT_BYTES,
      segments: SEGMENTS,
      playlistBytes: Buffer.byteLength(playlist),
      viewers: VIEWERS,
    },
    upstreamRequestsDuringMeasurement: upstream.requests() - upstreamAfterWarmup,
    note: "The machine is shared (see machine.loadAverage*): wall-clock req/s swings with other tenants, so the edge processes' own CPU time per request (from /proc, user+system) is reported too; ratioSignedToUnsignedCpuCapacity is the hit throughput a CPU-bound edge sustains with signing on relative to off. Compare ratios from one run, not absolute numbers.",
    results,
  };
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(
    `${results.map((r) => `${r.name}: ${r.signedRps} vs ${r.unsignedRps} req/s (ratio ${r.ratioSignedToUnsignedRps}); cpu/req ${r.signedCpuUsPerRequest} vs ${r.unsignedCpuUsPerRequest} µs (capacity ratio ${r.ratioSignedToUnsignedCpuCapacity})`).join('\n')}\n  → ${OUT}\n`,
  );
  await new Promise<void>((r) => upstream.server.close(() => r()));
  upstream.server.closeAllConnections();
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.filter((c) => c.exitCode === null).map((c) => new Promise((r) => c.once('exit', r))));
  rmSync(dir, { recursive: true, force: true });
}
