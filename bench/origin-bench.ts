/**
 * Origin benchmark. Writes bench/results/origin.json and prints a summary.
 *
 * 1. Part availability latency (real ffmpeg, live default ladder: 360p + 240p + audio from a
 *    1280x720 lavfi source, 2 s segments / 0.5 s parts): a client chains blocking reloads for the
 *    next part; latency = response received − the part's end of media in wall clock (its
 *    segment's PROGRAM-DATE-TIME + the part durations up to its end). Includes encoder delay.
 *    Baseline in the same run: fetching an already-available part (the HTTP path alone).
 *    Also: real-time factor (media seconds produced per wall second) — the ladder must keep up.
 * 2. Held blocking requests: N concurrent `_HLS_msn/_HLS_part` requests held by one origin
 *    (10,000 by default, from a separate client process), then one part event wakes them all;
 *    wake-up delay = event → response complete at the client (p50/p99/max). Baseline in the same
 *    run: one held request woken the same way (median of 5).
 *
 *   node bin/run-ts.js bench/origin-bench.ts [--held 10000] [--held-h2 2000] [--h2-sessions 20] [--live-seconds 20]
 *     [--only all|held|held-h1|held-h2|latency] [--profile-wake <dir>]
 *   (held = both protocols' held rounds, held-h1 / held-h2 = one of them; the other sections are carried)
 *
 * 3. The same held round over HTTP/2 + TLS (streams spread over a few connections). Each protocol's
 *    rounds are interleaved with its floor (`floors`): bare servers that wake the same held
 *    requests from the same client with the least Node allows (HTTP/1.1: one socket.write or
 *    fs.writeSync of a prepared response per socket; HTTP/2: respond + end per stream). CPU is
 *    measured for the flush alone and from the event until the client has every response.
 *    `--profile-wake <dir>` writes a CPU profile of each big round's wake window.
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createSecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import os, { tmpdir } from 'node:os';
import { Session as InspectorSession } from 'node:inspector';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Parser } from 'm3u8-parser';
import { createOrigin, type Origin } from '../packager/origin/server.js';
import { FakeEncoder } from '../test/unit/origin/fake-encoder.js';
import { createServer as createNetServer, type Socket } from 'node:net';
import { ReloadingTls } from '../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { secureServerOptions } from '../src/tls/secure-server-options.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { rawSocketWrite } from '../src/http/raw-socket-write.js';
import { kernelWriteFloor, type KernelFloorRound } from './loopback-write-floor.js';
import { arg } from './bench-args.js';

/** CPU profile notes (--profile-wake: the wake window only, event → every response complete), written into the JSON. */
const HELD_WAKE_NOTES = {
  profileCommand:
    'node bin/run-ts.js bench/origin-bench.ts --only held --profile-wake <dir>: node:inspector profiles of each big round, from the part ' +
    "event until the client has every response (teardown excluded); self time per frame, the profiler's own dispatch and idle left out. " +
    'CPU figures of a profiled run are not used.',
  before:
    'main at 48df259 (socket.write of the prepared bytes), 2026-12-02 02:34-02:40, loadavg 4.8-6.6 on 2 cores, HTTP/1.1 10,000 held, ' +
    'wake window (event until the client has every response): writeBuffer (write(2)) 32.5 % self, reached through Writable.write → ' +
    'writeOrBuffer → Socket._writeGeneric → writeGeneric (34.0 % inclusive at Writable.write), nextTick 11.6 %, EventEmitter.emit 7.5 %, ' +
    'processTicksAndRejections 5.2 %, resOnFinish 3.7 %, onFinish 2.8 %, GC 2.2 %, clearIncoming 2.1 %, fastify onResFinished 2 %, ' +
    'detachSocket 1.4 %, HeldRequests.onResponseClose 1.2 %, end 1.2 %; H1Wake.finish (res.end of each raw-sent response) 5.7 % inclusive.',
  after:
    'this branch (origin-floor: the HTTP/1.1 wake writes straight to the TCP handle, src/http/raw-socket-write.ts), 02:17, loadavg 6-8: ' +
    'writeBuffer 39.3 % self (41.0 % inclusive at rawSocketWrite: 1.7 % of the window above the syscall), nextTick 10.1 %, emit 6 %, ' +
    'processTicksAndRejections 4.4 %, resOnFinish 3.3 %, onFinish 2.1 %, end 1.8 %, HeldRequests.flush 1.8 %, clearIncoming 1.8 %, ' +
    'fastify onResFinished 1.6 %, rawConnectionFields 1.3 %, rawSocketWrite 1.3 %, GC 1.1 %. The flush is 54 % of the window, its ' +
    "writes 44 %; the other 46 % is Node's and fastify's per-response completion after it (finish/close events, keep-alive re-arm, " +
    'request dump, onResponse), which the bare floors do not have. Same minutes ABAB (02:29-02:33, loadavg 4.6-5.5, --only held on a ' +
    'copy of main vs --only held-h1 here): origin flush CPU per woken request (median of 3 rounds) main 33.79, branch 31.49, main 32.10, ' +
    'branch 29.41 µs; over the socket.write floor of the same run 1.57 / 1.42 / 1.59 / 1.48: about 2.5 µs (8 %) less, inside the noise ' +
    'of single rounds (23.9-37.1 µs). The Writable machinery is a few µs of a 17-20 µs write; the rest of the gap to the floors is ' +
    "Node's response completion (res.end per response in the flush) and more GC on V8's background threads (see floorLadder.mainThread).",
  floor:
    'floors (same run, same n, interleaved with the origin rounds: origin, Node floors, kernel floor, origin, ...). kernelFloor: ' +
    'bench/native/loopback-write-floor.c, compiled with gcc at run time: write(2) of the same prepared bytes to each of n accepted ' +
    'loopback TCP sockets (TCP_NODELAY, each had a request read and sits in an epoll set, like a Node server), the other ends read ' +
    "through epoll by a forked C reader; CPU by CLOCK_PROCESS_CPUTIME_ID. Node floors: a bare net server holding the held client's " +
    "requests, one write per socket through socket.write, fs.writeSync on the fd, or the TCP handle's writeBuffer (libuv try-write, " +
    'what the origin now uses). floorLadder lists them with ours, process CPU (all threads) and the main thread alone ' +
    "(/proc/thread-self/schedstat: V8's background GC threads excluded). On this 2-core VM one write(2) to a loopback TCP socket costs " +
    "9-14 µs of system time from C (loopback delivery into the receiving socket and the reader's wake-up run inside the sender's " +
    "syscall), so the goal of 8 µs CPU per woken HTTP/1.1 request is at or below this machine's kernel floor: one connection per held " +
    'request means one write(2) per request (floorLadder.goalBelowKernelFloor). Node adds 0-5 µs to the syscall on the main thread ' +
    '(handle write) and 4-5 µs more on background threads. The p99 goal (< 100 ms) needs the last of 10,000 writes to leave within 100 ' +
    "ms, i.e. under 10 µs of wall time per write on one thread: the C floor's own delivery p99 (kernelFloor.deliveredP99Ms) is at " +
    "about that bound on this box when it is quiet and well above it under load. The wake's p99 tracks the flush's wall time " +
    '(originFlushMs), during which the event loop runs nothing else; yielding between chunks of writes would bound that stall for ' +
    "other traffic but cannot lower this batch's p99 (the writes are the cost and go in arrival order), so the wake stays one loop. " +
    "The yielding floor ('handle.writeBuffer, yielding': 1,000 writes per event-loop turn) measures it; its cpuUs covers the first chunk only (read totalCpuUs). " +
    "HTTP/2 pays node:http2's per-stream respond+end (floor node:http2 respond+end), also above 8 µs; its wake path was not changed.",
};

const here = dirname(fileURLToPath(import.meta.url));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function stats(values: number[]): {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
} {
  const s = [...values].sort((a, b) => a - b);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    min: r3(s[0] ?? NaN),
    p50: r3(pct(s, 50)),
    p95: r3(pct(s, 95)),
    p99: r3(pct(s, 99)),
    max: r3(s[s.length - 1] ?? NaN),
    mean: r3(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

/** The parts of an m3u8-parser LL-HLS media playlist this bench reads. */
interface LlHlsSegment {
  programDateTime?: number;
  dateTimeString?: string;
  duration?: number;
  parts?: { uri: string; duration: number }[];
}

interface LlHlsPlaylist {
  segments: LlHlsSegment[];
  preloadSegment?: LlHlsSegment;
}

function parse(text: string): LlHlsPlaylist {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as LlHlsPlaylist;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- 1. part availability latency

interface PartRef {
  msn: number;
  part: number;
  endMs: number;
}

/** Parts of a parsed LL-HLS playlist with their end-of-media wall-clock times. */
function partsWithEnds(m: LlHlsPlaylist): PartRef[] {
  const out: PartRef[] = [];
  const segs = [...m.segments, ...(m.preloadSegment ? [m.preloadSegment] : [])];
  let nextStart: number | undefined;
  for (const s of segs) {
    // m3u8-parser leaves the preload segment's PROGRAM-DATE-TIME unparsed: it follows the previous segment
    const start =
      typeof s.programDateTime === 'number'
        ? s.programDateTime
        : s.dateTimeString
          ? Date.parse(s.dateTimeString)
          : nextStart;
    if (start === undefined) continue;
    let t = start;
    for (const p of s.parts ?? []) {
      t += p.duration * 1000;
      const mm = /seg-(\d+)\.(\d+)\.m4s/.exec(p.uri)!;
      out.push({ msn: Number(mm[1]), part: Number(mm[2]), endMs: t });
    }
    nextStart = start + (s.duration ?? 0) * 1000;
  }
  return out;
}

async function partLatency(seconds: number) {
  const root = mkdtempSync(join(tmpdir(), 'se-origin-bench-'));
  const origin = await createOrigin({
    root,
    logger: false,
    processMetrics: false,
    live: [{ id: 'news', source: 'lavfi', segmentDuration: 2, partDuration: 0.5 }],
  });
  const base = await origin.listen(0, '127.0.0.1');
  const pool = new Pool(base, { connections: 4 });
  const get = async (path: string) => {
    const res = await pool.request({ path, method: 'GET' });
    const text = await res.body.text();
    return { status: res.statusCode, text };
  };
  try {
    const deadline = Date.now() + 30_000;
    let m: LlHlsPlaylist | undefined;
    while (Date.now() < deadline) {
      const r = await get('/live/news/360p/index.m3u8');
      if (r.status === 200 && (m = parse(r.text)).segments.length >= 1) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    if (!m) throw new Error('live channel did not start');
    const latencies: number[] = [];
    const baseline: number[] = [];
    const channel = origin.channels.get('news')!;
    const mediaAt = () => {
      const w = channel.windows.get('360p')!;
      const cur = w.current ?? w.lastComplete();
      return cur ? (cur.meta.start + cur.meta.duration) / w.timescale : 0;
    };
    const t0 = nowMs();
    const media0 = mediaAt();
    const end = Date.now() + seconds * 1000;
    let parts = partsWithEnds(m);
    let last = parts[parts.length - 1];
    while (Date.now() < end) {
      const next = last.part + 1 < 4 ? { msn: last.msn, part: last.part + 1 } : { msn: last.msn + 1, part: 0 };
      const r = await get(`/live/news/360p/index.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
      const received = nowMs();
      if (r.status !== 200) continue;
      parts = partsWithEnds(parse(r.text));
      const got = parts.find((p) => p.msn === next.msn && p.part === next.part) ?? parts[parts.length - 1];
      latencies.push(received - got.endMs);
      last = parts[parts.length - 1]!;
      // baseline: the same part, now available, fetched again (HTTP path only)
      const b0 = nowMs();
      const pr = await pool.request({ path: `/live/news/360p/seg-${got.msn}.${got.part}.m4s`, method: 'GET' });
      await pr.body.arrayBuffer();
      baseline.push(nowMs() - b0);
    }
    const wall = (nowMs() - t0) / 1000;
    const hist = (await origin.metrics.wakeup.get()).values.filter((v) => v.labels.kind === 'playlist');
    const sum = hist.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
    const count = hist.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const buckets = hist
      .filter((v) => v.metricName?.endsWith('_bucket'))
      .map((v) => ({ le: (v.labels as Record<string, unknown>).le, count: v.value }));
    const media = mediaAt() - media0;
    return {
      setup:
        'lavfi testsrc2 1280x720@30 + sine → ladder "small" (360p 600k, 240p 300k, audio 96k), segment 2 s, part 0.5 s',
      partEndToFetchableMs: stats(latencies),
      baselineFetchAvailablePartMs: stats(baseline),
      originPartEventToResponseMs: { mean: count ? Math.round((sum / count) * 1e6) / 1000 : null, count, buckets },
      realTimeFactor: Math.round((media / wall) * 1000) / 1000,
      availabilityGate: {
        ...channel.gateStats,
        note: 'parts the origin held back until their PDT end (anchor residue), and the longest hold in ms',
      },
      keepsRealTime: media / wall > 0.97,
      channelRestarts: channel.status().restarts,
      note:
        'PDT anchoring: each encoder run holds its first segment back and anchors media time at the minimum of (arrival − media end) ' +
        'over those fragments (all renditions); then no part is published before its PDT end (availability gate). So latency here is ' +
        'never negative: it is encoder delay + the anchor residue + HTTP. The origin share is originPartEventToResponseMs ' +
        '(segmenter part event → blocking response sent).',
    };
  } finally {
    await pool.close();
    await origin.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 2. held blocking requests

const ACCEPT_ENCODING = 'gzip, deflate, br'; // what browsers send: the held answers are brotli-compressed

async function heldCount(origin: Origin): Promise<number> {
  const g = await origin.metrics.held.get();
  return g.values.filter((v) => v.labels.kind === 'playlist').reduce((a, v) => a + v.value, 0);
}

async function wakeHistogram(origin: Origin): Promise<{ count: number; sum: number; buckets: Map<string, number> }> {
  const values = (await origin.metrics.wakeup.get()).values.filter((v) => v.labels.kind === 'playlist');
  const buckets = new Map<string, number>();
  for (const v of values)
    if (v.metricName?.endsWith('_bucket')) buckets.set(String((v.labels as Record<string, unknown>).le), v.value);
  return {
    count: values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0,
    sum: values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0,
    buckets,
  };
}

interface RoundResult {
  wake: number[];
  statuses: Record<string, number>;
  held: number;
  errors: number;
  /** Server side: wake event → every response written (the synchronous flush), ms. */
  serverFlushMs: number;
  /** CPU time (user + system) the server process spent in that flush, ms. */
  serverFlushCpuMs: number;
  /** The kernel's share of it (system time), ms. */
  serverFlushSysMs: number;
  /**
   * CPU time of the server's main thread alone in that flush (/proc/thread-self/schedstat, ns
   * exact), ms: without V8's background threads (concurrent sweeping after the pre-wake GC, JIT)
   * that the process figures include. NaN where /proc has no schedstat.
   */
  serverFlushThreadCpuMs: number;
  /**
   * CPU time of the server process from the wake event until the client had every response
   * complete (the flush plus the deferred work it causes: Node's response completion, nghttp2
   * frame sending, stream closes), ms. The client closes nothing before it is read.
   */
  serverTotalCpuMs: number;
  /** Origin's wake-up histogram (event → each write) for this round only: count, mean ms, buckets. */
  server?: { count: number; meanMs: number; buckets: { leMs: string; count: number }[] };
  loadavg: number[];
}

/** What bench/origin-held-client.ts sends back. */
type HeldClientMessage =
  | { type: 'opened'; connected: number }
  | { type: 'received' }
  | { type: 'result'; done: (number | null)[]; statuses: Record<string, number>; errors: number };

/** A server holding requests that one synchronous call wakes: the origin, or a bare floor server. */
interface WakeTarget {
  base: string;
  path: string;
  /** Requests held now. */
  heldNow(): Promise<number>;
  /** Wakes every held request (its microtasks included in the flush measurement). */
  wake(): void;
  /** After the round (the origin completes the segment so the next round starts clean). */
  after?(): void;
  histogram?(): Promise<{ count: number; sum: number; buckets: Map<string, number> }>;
}

/**
 * `--profile-wake <dir>`: a CPU profile (node:inspector, in this process) of each origin round's
 * wake window only, from the event until the client has every response, written as
 * <dir>/wake-<protocol>-<n>-<i>.cpuprofile (chrome devtools format).
 */
const profileDir = process.argv.includes('--profile-wake') ? arg('profile-wake', '') : '';
let profileSession: InspectorSession | undefined;
let profileCount = 0;

function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) =>
    profileSession!.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

async function startWakeProfile(): Promise<void> {
  if (!profileDir) return;
  if (!profileSession) {
    profileSession = new InspectorSession();
    profileSession.connect();
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
  }
  await post('Profiler.start');
}

async function stopWakeProfile(name: string): Promise<void> {
  if (!profileSession) return;
  const { profile } = (await post('Profiler.stop')) as { profile: object };
  mkdirSync(profileDir, { recursive: true });
  writeFileSync(join(profileDir, `wake-${name}-${profileCount++}.cpuprofile`), JSON.stringify(profile));
}

/**
 * A full GC before each wake (origin and floors alike): the garbage of the hold phase (10,000
 * requests arriving) is not charged to the wake; GC that the wake's own allocations cause still is.
 */
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

/** CPU time of the calling thread, ns (Linux schedstat: exact, unlike getrusage's tick split); NaN elsewhere. */
function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
  } catch {
    return NaN;
  }
}

async function heldRound(target: WakeTarget, n: number, h2Sessions?: number): Promise<RoundResult> {
  const url = new URL(target.base);
  const child = fork(join(here, 'origin-held-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const profiling = n > 1 && target.histogram !== undefined; // the origin's big rounds
  let totalCpu: NodeJS.CpuUsage | undefined;
  let cpu0 = process.cpuUsage(); // set again at the event
  const result = new Promise<{ done: (number | null)[]; statuses: Record<string, number>; errors: number }>(
    (resolve, reject) => {
      child.on('message', (m: HeldClientMessage) => {
        if (m.type === 'received') {
          totalCpu = process.cpuUsage(cpu0);
          // the profile (if asked for) ends here too: the teardown is not the wake's
          void (profiling ? stopWakeProfile(`${h2Sessions ? 'h2' : 'h1'}-${n}`) : Promise.resolve()).then(() =>
            child.send('teardown'),
          );
        }
        if (m.type === 'result') resolve(m);
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`held client exited (${code})`)));
    },
  );
  result.catch(() => undefined);
  const before = await target.histogram?.();
  child.send({
    host: url.hostname,
    port: Number(url.port),
    path: target.path,
    n,
    acceptEncoding: ACCEPT_ENCODING,
    ...(h2Sessions ? { h2Sessions } : {}),
  });
  // Wait until all are held, or no progress for 10 s (connection failures are reported).
  let last = -1;
  let lastChange = Date.now();
  let heldNow: number;
  while ((heldNow = await target.heldNow()) < n && Date.now() - lastChange < 10_000) {
    if (heldNow !== last) {
      last = heldNow;
      lastChange = Date.now();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const loadavg = os.loadavg().map((x) => Math.round(x * 100) / 100);
  fullGc();
  if (profiling) await startWakeProfile();
  const eventUs = Math.round(nowMs() * 1000);
  const thread0 = threadCpuNs();
  cpu0 = process.cpuUsage();
  const t0 = performance.now();
  target.wake();
  // The origin's flush is a microtask queued by the part event: this one runs right after it.
  const serverFlushMs = await new Promise<number>((r) => queueMicrotask(() => r(performance.now() - t0)));
  const cpu = process.cpuUsage(cpu0);
  const threadCpuMs = (threadCpuNs() - thread0) / 1e6;
  const r = await result;
  child.removeAllListeners('exit');
  child.disconnect();
  target.after?.();
  const after = await target.histogram?.();
  const count = after && before ? after.count - before.count : 0;
  const ms2 = (c: NodeJS.CpuUsage | undefined): number => (c ? Math.round((c.user + c.system) / 10) / 100 : NaN);
  return {
    wake: r.done.filter((x): x is number => typeof x === 'number').map((d) => (d - eventUs) / 1000),
    statuses: r.statuses,
    held: heldNow,
    errors: r.errors,
    serverFlushMs: Math.round(serverFlushMs * 1000) / 1000,
    serverFlushCpuMs: ms2(cpu),
    serverFlushSysMs: Math.round(cpu.system / 10) / 100,
    serverFlushThreadCpuMs: Math.round(threadCpuMs * 100) / 100,
    serverTotalCpuMs: ms2(totalCpu),
    ...(after && before
      ? {
          server: {
            count,
            meanMs: count ? Math.round(((after.sum - before.sum) / count) * 1e6) / 1000 : NaN,
            buckets: [...after.buckets].map(([le, c]) => ({
              leMs: le === '+Inf' ? le : String(Number(le) * 1000),
              count: c - (before.buckets.get(le) ?? 0),
            })),
          },
        }
      : {}),
    loadavg,
  };
}

// ---------------------------------------------------------------- 3. floors

/** A held answer the size of the origin's (brotli playlist of a few hundred bytes + its headers). */
const FLOOR_BODY = Buffer.alloc(600, 97);
const FLOOR_HEADERS: Record<string, string> = {
  'content-type': 'application/vnd.apple.mpegurl',
  'cache-control': 'public, max-age=180',
  vary: 'Accept-Encoding',
  'content-encoding': 'br',
  'surrogate-key': 'bench',
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'age, cache-status, content-length',
  'content-length': String(FLOOR_BODY.length),
};

/**
 * The floor of the HTTP/1.1 wake: a bare TCP server that holds each request (reads its head,
 * nothing else) and wakes them all with ONE write of a prepared response Buffer per socket,
 * through `socket.write`, through `fs.writeSync` on the socket's fd (no stream machinery at all:
 * one binding call and write(2)), or through the TCP handle's `writeBuffer` (libuv try-write:
 * src/http/raw-socket-write.ts, the write the origin's HTTP/1.1 wake uses). Same client as the
 * origin's rounds. What is left above this in the origin's wake is its own work.
 */
type H1FloorWrite = 'socket.write' | 'fs.writeSync' | 'handle.writeBuffer' | 'handle.writeBuffer, yielding';

/**
 * The yielding variant writes YIELD_EVERY sockets per turn of the event loop (setImmediate between
 * chunks), so other work could run in between: does that change the wake's p99? Its cpuUs covers
 * the first chunk only; read its totalCpuUs and wakeupP99Ms.
 */
const YIELD_EVERY = 1000;

/** The floors' prepared response: status line, FLOOR_HEADERS, Date, Connection, FLOOR_BODY. */
function floorWire(): Buffer {
  let head = 'HTTP/1.1 200 OK\r\n';
  for (const [k, v] of Object.entries(FLOOR_HEADERS)) head += `${k}: ${v}\r\n`;
  head += `date: ${new Date().toUTCString()}\r\nconnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), FLOOR_BODY]);
}

async function h1FloorTarget(how: H1FloorWrite): Promise<WakeTarget & { close(): Promise<void> }> {
  const wire = floorWire();
  const waiting: Socket[] = [];
  const all = new Set<Socket>();
  const server = createNetServer({ noDelay: true }, (s) => {
    all.add(s);
    s.once('close', () => all.delete(s));
    s.on('error', () => undefined);
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      s.off('data', onData);
      waiting.push(s);
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    base: `http://127.0.0.1:${port}`,
    path: '/floor',
    heldNow: () => Promise.resolve(waiting.length),
    wake: () => {
      if (how === 'socket.write') for (const s of waiting) s.write(wire);
      else if (how === 'handle.writeBuffer') for (const s of waiting) rawSocketWrite(s, wire);
      else if (how === 'handle.writeBuffer, yielding') {
        const list = waiting.slice();
        let i = 0;
        const chunk = (): void => {
          for (const end = Math.min(list.length, i + YIELD_EVERY); i < end; i++) rawSocketWrite(list[i], wire);
          if (i < list.length) setImmediate(chunk);
        };
        chunk();
      } else for (const s of waiting) writeSync((s as unknown as { _handle: { fd: number } })._handle.fd, wire);
      waiting.length = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of all) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * The floor of the HTTP/2 wake: a bare node:http2 TLS server that holds each stream and wakes
 * them all with `stream.respond(prepared headers)` + `stream.end(shared body)`, the least the
 * public node:http2 API allows. Same client, same sessions as the origin's h2 rounds.
 */
async function h2FloorTarget(tls: ReloadingTls): Promise<WakeTarget & { close(): Promise<void> }> {
  const waiting: ServerHttp2Stream[] = [];
  const sessions = new Set<ServerHttp2Session>();
  const server = createSecureServer(secureServerOptions(tls.material));
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (st) => {
    st.on('error', () => undefined);
    waiting.push(st);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const headers = { ':status': 200, ...FLOOR_HEADERS, date: new Date().toUTCString() };
  return {
    base: `https://127.0.0.1:${port}`,
    path: '/floor',
    heldNow: () => Promise.resolve(waiting.length),
    wake: () => {
      for (const st of waiting) {
        st.respond(headers);
        st.end(FLOOR_BODY);
      }
      waiting.length = 0;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

interface FloorStats {
  n: number;
  /** Median over rounds of the synchronous wake's CPU per woken request, µs (user + system). */
  cpuUsPerRequest: number;
  sysUsPerRequest: number;
  /** Median over rounds of CPU from the wake until the client had every response, per request, µs. */
  totalCpuUsPerRequest: number;
  /** Median over rounds of the main thread's CPU in the synchronous wake, per request, µs (see serverFlushThreadCpuMs). */
  mainThreadCpuUsPerRequest: number;
  /** Median over rounds of the client's wake-up p99 (event → response complete), ms. */
  wakeupP99Ms: number;
  perRound: { cpuUs: number; sysUs: number; totalCpuUs: number; mainThreadCpuUs: number }[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r2 = (x: number): number => Math.round(x * 100) / 100;

function perRequest(rounds: RoundResult[]): FloorStats {
  const perRound = rounds.map((r) => ({
    cpuUs: r2((r.serverFlushCpuMs * 1000) / Math.max(1, r.held)),
    sysUs: r2((r.serverFlushSysMs * 1000) / Math.max(1, r.held)),
    totalCpuUs: r2((r.serverTotalCpuMs * 1000) / Math.max(1, r.held)),
    mainThreadCpuUs: r2((r.serverFlushThreadCpuMs * 1000) / Math.max(1, r.held)),
  }));
  return {
    n: rounds[0]?.held ?? 0,
    cpuUsPerRequest: r2(median(perRound.map((x) => x.cpuUs))),
    sysUsPerRequest: r2(median(perRound.map((x) => x.sysUs))),
    totalCpuUsPerRequest: r2(median(perRound.map((x) => x.totalCpuUs))),
    mainThreadCpuUsPerRequest: r2(median(perRound.map((x) => x.mainThreadCpuUs))),
    wakeupP99Ms: r2(median(rounds.map((r) => stats(r.wake).p99))),
    perRound,
  };
}

/** The C floor's rounds: medians of CPU per write and of delivery, and every round. */
function kernelFloorStats(rounds: KernelFloorRound[], n: number, bytes: number) {
  return {
    program:
      'bench/native/loopback-write-floor.c (gcc -O2): write(2) to each accepted socket, reader = forked process on epoll',
    n,
    bytes,
    cpuUsPerWrite: r2(median(rounds.map((r) => r.cpuUsPerWrite))),
    sysUsPerWrite: r2(median(rounds.map((r) => r.sysUsPerWrite))),
    wallUsPerWrite: r2(median(rounds.map((r) => r.wallUsPerWrite))),
    deliveredP99Ms: r2(median(rounds.map((r) => r.deliveredMs.p99))),
    perRound: rounds,
  };
}

/** One round against a fresh floor server. */
async function floorRound(
  make: () => Promise<WakeTarget & { close(): Promise<void> }>,
  n: number,
  h2Sessions?: number,
): Promise<RoundResult> {
  const t = await make();
  try {
    return await heldRound(t, n, h2Sessions);
  } finally {
    await t.close();
  }
}

async function heldRequests(n: number, h2Sessions?: number) {
  const root = mkdtempSync(join(tmpdir(), 'se-origin-held-'));
  const enc = new FakeEncoder();
  const tls = h2Sessions ? await ReloadingTls.open(await createSelfSignedCertificate(join(root, 'tls'))) : undefined;
  const origin = await createOrigin({
    root,
    logger: false,
    processMetrics: false,
    live: [{ id: 'bench', source: 'fake', segmentDuration: 60, partDuration: 0.5 }], // 3 target durations = 180 s: nothing times out
    startRun: enc.start,
    ...(tls ? { tls } : {}),
  });
  const base = await origin.listen(0, '127.0.0.1');
  try {
    await enc.runStarted(1);
    enc.init();
    enc.segments(0, 5);
    let msn = 6;
    const target = (): WakeTarget => {
      const m = msn++;
      return {
        base,
        path: `/live/bench/v/index.m3u8?_HLS_msn=${m}&_HLS_part=0`,
        heldNow: () => heldCount(origin),
        wake: () => enc.part(m, 0),
        // complete segment m so the next round starts clean
        after: () => {
          enc.part(m, 1);
          enc.segment(m);
        },
        histogram: () => wakeHistogram(origin),
      };
    };
    const baselineRounds: RoundResult[] = [];
    for (let i = 0; i < 5; i++) baselineRounds.push(await heldRound(target(), 1, h2Sessions));
    const baseline = baselineRounds.flatMap((r) => r.wake);
    // The floors of the same wake (bare servers, same client, same n) interleaved with the
    // origin's rounds: origin, floors, origin, floors, ...
    const floors: Record<string, () => Promise<WakeTarget & { close(): Promise<void> }>> = tls
      ? { 'node:http2 respond+end': () => h2FloorTarget(tls) }
      : {
          'socket.write': () => h1FloorTarget('socket.write'),
          'fs.writeSync': () => h1FloorTarget('fs.writeSync'),
          'handle.writeBuffer': () => h1FloorTarget('handle.writeBuffer'),
          'handle.writeBuffer, yielding': () => h1FloorTarget('handle.writeBuffer, yielding'),
        };
    const bigRounds: RoundResult[] = [];
    const floorRoundsBy: Record<string, RoundResult[]> = {};
    const kernelRounds: KernelFloorRound[] = [];
    const wireBytes = floorWire().length;
    for (let i = 0; i < 3; i++) {
      bigRounds.push(await heldRound(target(), n, h2Sessions));
      for (const [name, make] of Object.entries(floors))
        (floorRoundsBy[name] ??= []).push(await floorRound(make, n, h2Sessions));
      // HTTP/1.1: the kernel's floor too (a C program, write(2) alone), in the same interleave
      if (!tls) kernelRounds.push(...kernelWriteFloor(n, wireBytes));
    }
    const kernel = kernelRounds.length > 0 ? kernelFloorStats(kernelRounds, n, wireBytes) : undefined;
    const origin1 = perRequest(bigRounds);
    const floorStats = Object.fromEntries(Object.entries(floorRoundsBy).map(([k, v]) => [k, perRequest(v)]));
    const floor = floorStats[tls ? 'node:http2 respond+end' : 'socket.write'];
    // the round with the median p99 is reported in full; all three in summary
    const byP99 = [...bigRounds].sort((a, b) => stats(a.wake).p99 - stats(b.wake).p99);
    const big = byP99[1];
    const rss = process.memoryUsage().rss;
    const b50 = Math.max(0.001, stats(baseline).p50);
    return {
      protocol: h2Sessions
        ? `HTTP/2 over TLS, ${n} streams on ${h2Sessions} connections`
        : 'HTTP/1.1, one connection per request',
      requested: n,
      held: big.held,
      clientErrors: big.errors,
      statuses: big.statuses,
      acceptEncoding: ACCEPT_ENCODING,
      wakeupMs: stats(big.wake),
      originFlushMs: big.serverFlushMs,
      originFlushCpuMs: big.serverFlushCpuMs,
      originWakeupHistogram: big.server,
      loadavgAtEvent: big.loadavg,
      /** Origin CPU per woken request, median of the 3 rounds: the flush alone, and through delivery. */
      originCpuPerRequest: origin1,
      /** The same wake by bare servers in the same run (see heldWakeNotes.floor). */
      floors: floorStats,
      ...(kernel
        ? {
            /** write(2) alone, from C, same n, same bytes, interleaved with the rounds above (see heldWakeNotes.floor). */
            kernelFloor: kernel,
            /** CPU per woken request, µs, median of 3 interleaved rounds each: the kernel's, Node's and ours. */
            floorLadder: {
              kernelWriteUs: kernel.cpuUsPerWrite,
              nodeHandleWriteUs: floorStats['handle.writeBuffer'].cpuUsPerRequest,
              nodeFsWriteSyncUs: floorStats['fs.writeSync'].cpuUsPerRequest,
              nodeSocketWriteUs: floorStats['socket.write'].cpuUsPerRequest,
              oursUs: origin1.cpuUsPerRequest,
              /** The same, the main thread alone (no V8 background threads). */
              mainThread: {
                nodeHandleWriteUs: floorStats['handle.writeBuffer'].mainThreadCpuUsPerRequest,
                nodeFsWriteSyncUs: floorStats['fs.writeSync'].mainThreadCpuUsPerRequest,
                nodeSocketWriteUs: floorStats['socket.write'].mainThreadCpuUsPerRequest,
                oursUs: origin1.mainThreadCpuUsPerRequest,
              },
              /** Wake-up p99 at the client, ms (median of rounds): one loop of writes vs yielding every YIELD_EVERY, the C floor, ours. */
              wakeupP99Ms: {
                kernel: kernel.deliveredP99Ms,
                nodeHandleWriteOneLoop: floorStats['handle.writeBuffer'].wakeupP99Ms,
                [`nodeHandleWriteYieldingEvery${YIELD_EVERY}`]: floorStats['handle.writeBuffer, yielding'].wakeupP99Ms,
                ours: r2(median(bigRounds.map((r) => stats(r.wake).p99))),
              },
              goalUs: 8,
              goalBelowKernelFloor: kernel.cpuUsPerWrite > 8,
            },
          }
        : {}),
      rounds: bigRounds.map((r) => ({
        wakeupMs: { p50: stats(r.wake).p50, p99: stats(r.wake).p99, max: stats(r.wake).max },
        originFlushMs: r.serverFlushMs,
        originFlushCpuMs: r.serverFlushCpuMs,
        originFlushSysMs: r.serverFlushSysMs,
        originFlushMainThreadCpuMs: r.serverFlushThreadCpuMs,
        originTotalCpuMs: r.serverTotalCpuMs,
        held: r.held,
        errors: r.errors,
        loadavg: r.loadavg,
      })),
      baselineOneHeldWakeupMs: stats(baseline),
      baselineOriginFlushMs: stats(baselineRounds.map((r) => r.serverFlushMs)),
      ratios: {
        p50OverBaselineP50: Math.round((stats(big.wake).p50 / b50) * 10) / 10,
        p99OverBaselineP50: Math.round((stats(big.wake).p99 / b50) * 10) / 10,
        perRequestOriginWallUs: Math.round((big.serverFlushMs / Math.max(1, big.held)) * 1000 * 100) / 100,
        perRequestOriginCpuUs: origin1.cpuUsPerRequest,
        perRequestOriginTotalCpuUs: origin1.totalCpuUsPerRequest,
        flushCpuOverFloor: r2(origin1.cpuUsPerRequest / Math.max(0.01, floor.cpuUsPerRequest)),
        totalCpuOverFloor: r2(origin1.totalCpuUsPerRequest / Math.max(0.01, floor.totalCpuUsPerRequest)),
        ...(kernel
          ? {
              flushCpuOverKernelFloor: r2(origin1.cpuUsPerRequest / Math.max(0.01, kernel.cpuUsPerWrite)),
              flushCpuOverHandleWriteFloor: r2(
                origin1.cpuUsPerRequest / Math.max(0.01, floorStats['handle.writeBuffer'].cpuUsPerRequest),
              ),
              socketWriteFloorOverKernelFloor: r2(
                floorStats['socket.write'].cpuUsPerRequest / Math.max(0.01, kernel.cpuUsPerWrite),
              ),
            }
          : {}),
      },
      originRssMiB: Math.round(rss / 1024 / 1024),
      note:
        'wake-up = part event in the origin → response complete in a separate client process (raw keep-alive sockets, same clock). ' +
        'The origin builds one response per group (playlist version × encoding × headers) and writes it to every held response ' +
        '(HTTP/1.1: one write of a shared head+body Buffer per socket; HTTP/2: respond with a shared header block + end with the shared body). ' +
        'originFlushMs = event → last write issued, on the origin event loop; originCpuPerRequest: CPU per woken request in that flush ' +
        '(cpuUsPerRequest) and from the event until the client had every response (totalCpuUsPerRequest), median of 3 rounds; the rest of ' +
        'wakeupMs is kernel delivery and the client reading 10,000 sockets on a shared 2-core machine (see loadavg). Median of 3 rounds by p99.',
    };
  } finally {
    await origin.close();
    tls?.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const held = Number(arg('held', '10000'));
const liveSeconds = Number(arg('live-seconds', '20'));
const only = arg('only', 'all'); // all | held | held-h1 | held-h2 | latency (a partial run keeps the other sections of the previous results)
const resultsFile = join(here, 'results', 'origin.json');
/** The previous results file: a partial run keeps the section it does not re-measure. */
interface PreviousResults {
  startedAt?: string;
  sectionDates?: Partial<Record<Section, string>>;
  heldBlockingRequestsH2?: Awaited<ReturnType<typeof heldRequests>>;
  partAvailability?: Awaited<ReturnType<typeof partLatency>>;
  heldBlockingRequests?: Awaited<ReturnType<typeof heldRequests>>;
}
const SECTIONS = ['partAvailability', 'heldBlockingRequests', 'heldBlockingRequestsH2'] as const;
type Section = (typeof SECTIONS)[number];
let previous: PreviousResults;
try {
  previous = JSON.parse(readFileSync(resultsFile, 'utf8'));
} catch {
  previous = {};
}
const startedAt = new Date().toISOString();
const machineStart = startMachineInfo();
const heldResult = only === 'latency' || only === 'held-h2' ? previous.heldBlockingRequests : await heldRequests(held);
const h2Sessions = Number(arg('h2-sessions', '20'));
// HTTP/2: 2,000 by default. 10,000 streams on 20 connections did not finish within 5 min on the
// shared machine at loadavg 16-20 (2026-12-01); see the notes in the JSON.
const heldH2 = Number(arg('held-h2', '2000'));
const heldH2Result =
  only === 'latency' || only === 'held-h1' ? previous.heldBlockingRequestsH2 : await heldRequests(heldH2, h2Sessions);
const latencyResult = only === 'all' || only === 'latency' ? await partLatency(liveSeconds) : previous.partAvailability;
/** When each section was measured: now, or as the previous results said (a carried section keeps its own date). */
const measured: Record<Section, boolean> = {
  partAvailability: only === 'all' || only === 'latency',
  heldBlockingRequests: only !== 'latency' && only !== 'held-h2',
  heldBlockingRequestsH2: only !== 'latency' && only !== 'held-h1',
};
const sectionDates = Object.fromEntries(
  SECTIONS.map((k) => [k, measured[k] ? startedAt : (previous.sectionDates?.[k] ?? previous.startedAt)]),
) as Record<Section, string | undefined>;
const carried = SECTIONS.filter((k) => !measured[k]);
const out = {
  bench: 'origin',
  startedAt,
  sectionDates,
  ...(carried.length > 0
    ? {
        partialRun: `only ${only} re-measured in this run; carried: ${carried.map((k) => `${k} from ${sectionDates[k]}`).join(', ')}`,
      }
    : {}),
  machine: finishMachineInfo(machineStart),
  partAvailability: latencyResult,
  heldBlockingRequests: heldResult,
  heldBlockingRequestsH2: heldH2Result,
  heldWakeNotes: HELD_WAKE_NOTES,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(resultsFile, JSON.stringify(out, null, 2) + '\n');

const pa = latencyResult;
const hr = heldResult;
process.stdout.write(
  [
    `origin bench (loadavg ${(out.machine.loadAverageBefore ?? []).join(' ')} → ${(out.machine.loadAverageAfter ?? []).join(' ')} on ${out.machine.cpus} cores)`,
    pa
      ? `  part availability (PDT part end → fetchable): p50 ${pa.partEndToFetchableMs.p50} ms, p99 ${pa.partEndToFetchableMs.p99} ms, min ${pa.partEndToFetchableMs.min} ms (n=${pa.partEndToFetchableMs.n});` +
        ` baseline fetch of an available part p50 ${pa.baselineFetchAvailablePartMs.p50} ms; real-time factor ${pa.realTimeFactor}`
      : '',
    hr
      ? `  ${hr.held} held blocking reloads: wake-up p50 ${hr.wakeupMs.p50} ms, p99 ${hr.wakeupMs.p99} ms, max ${hr.wakeupMs.max} ms (statuses ${JSON.stringify(hr.statuses)});` +
        ` origin flush ${hr.originFlushMs} ms; baseline (1 held) p50 ${hr.baselineOneHeldWakeupMs.p50} ms → p99/baseline ${hr.ratios?.p99OverBaselineP50}; origin RSS ${hr.originRssMiB} MiB`
      : '',
    '  → bench/results/origin.json',
    '',
  ].join('\n'),
);
process.exit(0);
