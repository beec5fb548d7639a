/**
 * Viewer load bench: N live HLS viewers (players without LL-HLS: whole segments, plain playlist
 * reloads) and M LL-HLS viewers (parts, blocking reloads, preload hints, delta updates) at once,
 * against ONE edge in front of a live origin, then the same against nginx proxy_cache.
 * Writes bench/results/loadtest.json and prints a summary table.
 *
 *   node bin/run-ts.js bench/loadtest-bench.ts [--hls 5000] [--ll 1000] [--ramp 15] [--hold 30] [--budget 540]
 *
 * Processes: the origin (packager/origin.ts, a live lavfi channel encoded by ffmpeg) and our
 * edge each run in their own process (bench/loadtest-origin-process.ts, bench-edge.ts); nginx
 * (1 worker, proxy_cache_lock on) in a temp dir on loopback; the viewers run in this process,
 * spread over worker threads (--workers, as the CLI does).
 *
 * The box may not hold the target: levels are tried from (N, M) downwards (×0.4, ×0.2, ...). A
 * level "holds" when viewers start and play (≤ 1 % failed, ≥ 95 % started playback), errors
 * stay ≤ 1 % of requests and the rebuffering ratio ≤ 2 %. A level that is clearly failing is
 * stopped early (errors, stalls or viewers not playing) and recorded with the reason. nginx is
 * then run at the highest level that held on our edge (or the lowest tried), for the ratios.
 * The whole bench is bounded by --budget seconds (default 9 min).
 */
import { nginxBinary, nginxConfigHead, startNginx } from './nginx-proxy-cache.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { edgeDelta, scrapeEdge, type EdgeReport } from './loadtest/edge-metrics.js';
import type { LoadReport, ProgressSnapshot } from './loadtest/report.js';
import { runLoadTest } from './loadtest/run.js';
import type { OriginCounts } from './loadtest-origin-process.js';

// ------------------------------------------------------------------ options

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return def;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}
const TARGET_HLS = arg('hls', 5000);
const TARGET_LL = arg('ll', 1000);
const RAMP_SEC = arg('ramp', 15);
const HOLD_SEC = arg('hold', 30);
const BUDGET_SEC = arg('budget', 540);
const LEVEL_FACTORS = [1, 0.4, 0.2, 0.1, 0.05, 0.02, 0.01];
const HLS_WORKERS = 2;
const LL_WORKERS = 1;
/** The live channel: small so that ffmpeg keeps real time on a shared 2-core box. */
const CHANNEL = { source: 'lavfi:testsrc2=size=320x180:rate=30', segmentSec: 2, partSec: 0.5, dvrSec: 12 };
const LADDER = { video: [{ height: 180, bitrate: '200k', profile: 'main', id: '180p' }], audio: { bitrate: '64k' } };
const RENDITIONS = 2; // 180p + audio

const root = resolve(import.meta.dirname, '..');
const benchStart = performance.now();
const elapsedSec = () => (performance.now() - benchStart) / 1000;
const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;
const la = () => loadavg().map((v) => round(v, 2));
const log = (line: string) => process.stderr.write(`[${elapsedSec().toFixed(0).padStart(3)}s] ${line}\n`);

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

/** Spawns a TypeScript helper that prints one JSON line when ready. */
function startHelper(
  file: string,
  helperArgs: string[],
  name: string,
  timeoutMs: number,
): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, [join(root, 'bin/run-ts.js'), join(root, file), ...helperArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stderr.on('data', (d: Buffer) => process.stderr.write(`${name}: ${d.toString()}`));
  return new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`${name} not ready within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    proc.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      try {
        res({ proc, url: (JSON.parse(buf.slice(0, nl)) as { url: string }).url });
      } catch (e) {
        rej(e instanceof Error ? e : new Error(String(e)));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited (${code}) before it was ready`));
    });
  });
}

/** The nginx configuration: proxy_cache in front of the origin, tuned for live as an operator would. */
function nginxConfig(dir: string, port: number, originUrl: string): string {
  const origin = new URL(originUrl);
  return `${nginxConfigHead(dir, { workerConnections: 30000, rlimitNofile: 60000 })}  keepalive_requests 1000000;
  keepalive_timeout 60s;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=live:32m max_size=2g inactive=10m use_temp_path=off;
  upstream origin { server ${origin.host}; keepalive 128; }
  server {
    listen 127.0.0.1:${port} backlog=8192;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_cache live;
    proxy_cache_lock on;
    proxy_cache_lock_timeout 10s;
    proxy_cache_lock_age 10s;
    proxy_read_timeout 30s;
    add_header X-Cache $upstream_cache_status;
    # playlists: the origin says max-age=0 (s-maxage=0) for live playlists; a 1 s TTL (nginx's
    # smallest) is what an operator configures so that proxy_cache_lock can collapse them.
    # Blocking-reload URLs carry _HLS_msn/_HLS_part in the query, so they are keyed apart.
    location ~ \\.m3u8$ {
      proxy_pass http://origin;
      proxy_ignore_headers Cache-Control Expires;
      proxy_cache_valid 200 1s;
      proxy_cache_valid any 1s;
    }
    # segments, parts and init: the origin's immutable Cache-Control is honoured
    location / {
      proxy_pass http://origin;
    }
  }
}
`;
}

function startLiveNginx(
  bin: string,
  dir: string,
  originUrl: string,
): Promise<{ proc: ChildProcess; url: string; version: string }> {
  return startNginx(bin, dir, (port) => nginxConfig(dir, port, originUrl), '/live/news/master.m3u8');
}

async function originCounts(originUrl: string): Promise<OriginCounts> {
  const r = await request(`${originUrl}/_bench/counts`);
  return (await r.body.json()) as OriginCounts;
}

// ------------------------------------------------------------------ one attempt

interface ViewerSummary {
  viewers: LoadReport['viewers'];
  startupMs: LoadReport['startupMs'];
  stalls: number;
  stallsPerViewerHour: number;
  rebufferRatio: number;
  liveLatencySec: LoadReport['liveLatencySec'];
  averageBitrateBps: number;
  requests: LoadReport['requests'];
  byObject: LoadReport['byObject'];
  errors: Record<string, number>;
}

interface Attempt {
  target: 'streamedge' | 'nginx';
  hlsViewers: number;
  llViewers: number;
  holds: boolean;
  /** Why the level does not hold (empty when it does). */
  failed: string[];
  /** Set when the run was stopped early, with the reason. */
  stoppedEarly: string | null;
  elapsedSec: number;
  loadAverage: { before: number[]; after: number[] };
  hls: ViewerSummary;
  ll: ViewerSummary;
  origin: {
    requests: Omit<OriginCounts, 'partsProduced' | 'channel'>;
    /** Parts produced during the run, all renditions: each is a new version of its rendition's playlist. */
    playlistVersions: number;
    /** Parts produced ÷ parts real time would produce: below 1 the encoder fell behind. */
    encoderRealTime: number;
    /** (plain + blocking playlist requests at the origin) ÷ playlist versions. The aim is ≤ 1. */
    playlistRequestsPerVersion: number;
    plainPlaylistRequestsPerVersion: number;
    /** Origin requests per distinct blocking-reload URL (1 = perfect collapse). */
    requestsPerBlockingUrl: number | null;
    /** Origin requests per distinct part / segment. */
    requestsPerPart: number | null;
    requestsPerSegment: number | null;
    /** Viewer playlist requests ÷ origin playlist requests. */
    playlistOffload: number | null;
  };
  edge: EdgeReport | null;
  loadTester: {
    /** CPU seconds of this process (viewers in worker threads included) over the whole run, worker start-up included. */
    cpuSec: number;
    cpuSecPer1000Viewers: number;
    cpuPerWallSec: number;
    /** CPU cores used per 1000 viewers while all of them were playing (null if that phase was too short to measure). */
    steadyCoresPer1000Viewers: number | null;
    steadySec: number;
    hlsWorkers: number;
    llWorkers: number;
  };
}

function summary(r: LoadReport): ViewerSummary {
  return {
    viewers: r.viewers,
    startupMs: r.startupMs,
    stalls: r.stalls,
    stallsPerViewerHour: r.stallsPerViewerHour,
    rebufferRatio: r.rebufferRatio,
    liveLatencySec: r.liveLatencySec,
    averageBitrateBps: r.averageBitrateBps,
    requests: r.requests,
    byObject: r.byObject,
    errors: r.errors,
  };
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

function judge(hls: LoadReport, ll: LoadReport, wanted: { hls: number; ll: number }): string[] {
  const why: string[] = [];
  for (const [name, r, n] of [
    ['hls', hls, wanted.hls],
    ['ll', ll, wanted.ll],
  ] as const) {
    if (r.viewers.started < n)
      why.push(`${name}: only ${r.viewers.started}/${n} viewers started before the run stopped`);
    if (r.viewers.failed > 0.01 * n) why.push(`${name}: ${r.viewers.failed} viewers failed (> 1 %)`);
    if (r.startupMs.count < 0.95 * n) why.push(`${name}: ${r.startupMs.count}/${n} viewers began playback (< 95 %)`);
    const errors = sum(r.errors);
    if (errors > 0.01 * Math.max(1, r.requests.total))
      why.push(`${name}: ${errors} errors for ${r.requests.total} requests (> 1 %): ${JSON.stringify(r.errors)}`);
    if (r.rebufferRatio > 0.02) why.push(`${name}: rebuffering ratio ${(r.rebufferRatio * 100).toFixed(2)} % (> 2 %)`);
  }
  return why;
}

async function attempt(
  target: Attempt['target'],
  edgeUrl: string,
  originUrl: string,
  hlsViewers: number,
  llViewers: number,
): Promise<Attempt> {
  const loadBefore = la();
  const scrapeAgent = new Agent();
  const edgeBefore = await scrapeEdge(new URL(edgeUrl), scrapeAgent);
  const originBefore = await originCounts(originUrl);
  const url = `${edgeUrl}/live/news/master.m3u8`;
  const stopper = new AbortController();
  // Set inside check(), a callback: the assertion keeps TS from narrowing it to null for good.
  let stoppedEarly = null as string | null;
  const latest: Record<'hls' | 'll', ProgressSnapshot | undefined> = { hls: undefined, ll: undefined };
  let lastLog = 0;
  /** CPU while every viewer is playing (after worker start-up and the ramp): first and latest sample. */
  let steadyFrom: { cpu: NodeJS.CpuUsage; at: number } | undefined;
  let steadyTo: { cpu: NodeJS.CpuUsage; at: number } | undefined;
  const check = () => {
    const h = latest.hls;
    const l = latest.ll;
    if (!h || !l || stoppedEarly) return;
    const t = Math.max(h.elapsedSec, l.elapsedSec);
    const started = h.started + l.started;
    const playing = h.playing + l.playing;
    const requests = h.requests + l.requests;
    const errors = h.errors + l.errors;
    const stalls = h.stalls + l.stalls;
    if (started === hlsViewers + llViewers && h.ended + l.ended === 0) {
      const sample = { cpu: process.cpuUsage(), at: performance.now() };
      if (!steadyFrom) steadyFrom = sample;
      else steadyTo = sample;
    }
    if (t - lastLog >= 5) {
      lastLog = t;
      log(
        `${target} ${hlsViewers}+${llViewers}: t=${t.toFixed(0)}s started ${started} playing ${playing} requests ${requests} stalls ${stalls} errors ${errors} load ${la()[0]}`,
      );
    }
    let why: string | undefined;
    if (t > 5 && errors > 0.02 * requests + 20)
      why = `errors: ${errors} for ${requests} requests after ${t.toFixed(0)} s`;
    else if (stalls > 0.1 * started + 10) why = `stalls: ${stalls} among ${started} viewers after ${t.toFixed(0)} s`;
    else if (t > RAMP_SEC + 10 && playing < 0.9 * started)
      why = `viewers not playing: ${playing} of ${started} after ${t.toFixed(0)} s`;
    if (why) {
      stoppedEarly = why;
      log(`${target} ${hlsViewers}+${llViewers}: stopping early (${why})`);
      stopper.abort();
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const common = { url, rampSec: RAMP_SEC, durationSec: HOLD_SEC, signal: stopper.signal };
  const [hls, ll] = await Promise.all([
    runLoadTest({
      ...common,
      viewers: hlsViewers,
      workers: HLS_WORKERS,
      lowLatency: false,
      onProgress: (_l, s) => ((latest.hls = s), check()),
    }),
    runLoadTest({
      ...common,
      viewers: llViewers,
      workers: LL_WORKERS,
      lowLatency: true,
      onProgress: (_l, s) => ((latest.ll = s), check()),
    }),
  ]);
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (performance.now() - t0) / 1000;
  const edgeAfter = await scrapeEdge(new URL(edgeUrl), scrapeAgent);
  await scrapeAgent.close();
  const originAfter = await originCounts(originUrl);
  const d = (k: keyof Omit<OriginCounts, 'channel'>) => originAfter[k] - originBefore[k];
  const versions = d('partsProduced');
  const plain = d('plainPlaylist');
  const blocking = d('blockingPlaylist');
  const viewerPlaylists = (hls.byObject.playlist?.count ?? 0) + (ll.byObject.playlist?.count ?? 0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const steadyCores =
    steadyFrom && steadyTo && steadyTo.at - steadyFrom.at > 3000
      ? (steadyTo.cpu.user + steadyTo.cpu.system - steadyFrom.cpu.user - steadyFrom.cpu.system) /
        1e3 /
        (steadyTo.at - steadyFrom.at)
      : null;
  const failed = judge(hls, ll, { hls: hlsViewers, ll: llViewers });
  if (stoppedEarly) failed.unshift(`stopped early: ${stoppedEarly}`);
  return {
    target,
    hlsViewers,
    llViewers,
    holds: failed.length === 0,
    failed,
    stoppedEarly,
    elapsedSec: round(wallSec, 1),
    loadAverage: { before: loadBefore, after: la() },
    hls: summary(hls),
    ll: summary(ll),
    origin: {
      requests: {
        master: d('master'),
        plainPlaylist: plain,
        blockingPlaylist: blocking,
        distinctBlocking: d('distinctBlocking'),
        parts: d('parts'),
        distinctParts: d('distinctParts'),
        segments: d('segments'),
        distinctSegments: d('distinctSegments'),
        init: d('init'),
        other: d('other'),
      },
      playlistVersions: versions,
      encoderRealTime: round(versions / ((wallSec * RENDITIONS) / CHANNEL.partSec)),
      playlistRequestsPerVersion: versions > 0 ? round((plain + blocking) / versions) : 0,
      plainPlaylistRequestsPerVersion: versions > 0 ? round(plain / versions) : 0,
      requestsPerBlockingUrl: d('distinctBlocking') > 0 ? round(blocking / d('distinctBlocking')) : null,
      requestsPerPart: d('distinctParts') > 0 ? round(d('parts') / d('distinctParts')) : null,
      requestsPerSegment: d('distinctSegments') > 0 ? round(d('segments') / d('distinctSegments')) : null,
      playlistOffload: plain + blocking > 0 ? round(viewerPlaylists / (plain + blocking), 1) : null,
    },
    edge: target === 'streamedge' ? edgeDelta(edgeBefore, edgeAfter) : null,
    loadTester: {
      cpuSec: round(cpuSec, 2),
      cpuSecPer1000Viewers: round((cpuSec * 1000) / (hlsViewers + llViewers), 2),
      cpuPerWallSec: round(cpuSec / wallSec, 2),
      steadyCoresPer1000Viewers: steadyCores === null ? null : round((steadyCores * 1000) / (hlsViewers + llViewers)),
      steadySec: steadyFrom && steadyTo ? round((steadyTo.at - steadyFrom.at) / 1000, 1) : 0,
      hlsWorkers: HLS_WORKERS,
      llWorkers: LL_WORKERS,
    },
  };
}

// ------------------------------------------------------------------ main

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGB: round(totalmem() / 1024 ** 3, 1),
  node: process.version,
  nginx: '',
  loadAverageBefore: la(),
  loadAverageAfter: [] as number[],
};
const dir = mkdtempSync(join(tmpdir(), 'loadtest-bench-'));
let originProc: ChildProcess | undefined;
let edgeProc: ChildProcess | undefined;
let nginxProc: ChildProcess | undefined;
const attempts: Attempt[] = [];
const notes: string[] = [];
let exitCode = 0;

const cleanup = async () => {
  await Promise.all([stop(nginxProc), stop(edgeProc)]);
  await stop(originProc);
  rmSync(dir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  const nginxBin = nginxBinary();
  const ladderFile = join(dir, 'ladder.json');
  writeFileSync(ladderFile, JSON.stringify(LADDER));
  mkdirSync(join(dir, 'root'));
  log(
    `load average ${machine.loadAverageBefore.join(' ')} on ${machine.cpus} cores; starting the live origin (ffmpeg)`,
  );
  const origin = await startHelper(
    'bench/loadtest-origin-process.ts',
    [
      join(dir, 'root'),
      ladderFile,
      String(CHANNEL.segmentSec),
      String(CHANNEL.partSec),
      String(CHANNEL.dvrSec),
      CHANNEL.source,
    ],
    'origin',
    90_000,
  );
  originProc = origin.proc;
  const edge = await startHelper('bench/loadtest-edge-process.ts', [origin.url, join(dir, 'store')], 'edge', 60_000);
  edgeProc = edge.proc;
  log(`origin ${origin.url}, edge ${edge.url}`);

  // a run needs ramp + hold + start-up/grace; keep room for the nginx run at the end
  const perRunSec = RAMP_SEC + HOLD_SEC + 20;
  let held: { hls: number; ll: number } | undefined;
  let lowestTried: { hls: number; ll: number } | undefined;
  for (const f of LEVEL_FACTORS) {
    const level = { hls: Math.max(1, Math.round(TARGET_HLS * f)), ll: Math.max(1, Math.round(TARGET_LL * f)) };
    if (elapsedSec() + 2 * perRunSec > BUDGET_SEC) {
      notes.push(`time budget: stopped stepping down before ${level.hls}+${level.ll} viewers`);
      break;
    }
    log(`streamedge edge: ${level.hls} live HLS + ${level.ll} LL-HLS viewers`);
    const a = await attempt('streamedge', edge.url, origin.url, level.hls, level.ll);
    attempts.push(a);
    lowestTried = level;
    log(`streamedge ${level.hls}+${level.ll}: ${a.holds ? 'holds' : `does not hold: ${a.failed.join('; ')}`}`);
    if (a.holds) {
      held = level;
      break;
    }
  }
  const compareAt = held ?? lowestTried;
  if (compareAt) {
    const ng = await startLiveNginx(nginxBin, join(dir, 'nginx'), origin.url);
    nginxProc = ng.proc;
    machine.nginx = ng.version;
    log(`nginx ${ng.url}: ${compareAt.hls} live HLS + ${compareAt.ll} LL-HLS viewers`);
    const a = await attempt('nginx', ng.url, origin.url, compareAt.hls, compareAt.ll);
    attempts.push(a);
    log(`nginx ${compareAt.hls}+${compareAt.ll}: ${a.holds ? 'holds' : `does not hold: ${a.failed.join('; ')}`}`);
  }
} catch (e) {
  exitCode = 1;
  notes.push(`bench error: ${(e as Error).message}`);
  log(`bench error: ${(e as Error).stack}`);
} finally {
  await cleanup();
}
machine.loadAverageAfter = la();

// ------------------------------------------------------------------ results

const ours = [...attempts].reverse().find((a) => a.target === 'streamedge');
const theirs = attempts.find((a) => a.target === 'nginx');
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : round(a / b);
const ratios =
  ours && theirs && ours.hlsViewers === theirs.hlsViewers
    ? {
        note: 'streamedge ÷ nginx at the same viewer counts, same origin, same run; lower is better for all but offload',
        hlsRebufferRatio: ratio(ours.hls.rebufferRatio, theirs.hls.rebufferRatio),
        llRebufferRatio: ratio(ours.ll.rebufferRatio, theirs.ll.rebufferRatio),
        hlsStalls: ratio(ours.hls.stalls, theirs.hls.stalls),
        llStalls: ratio(ours.ll.stalls, theirs.ll.stalls),
        hlsLatencyP50: ratio(ours.hls.liveLatencySec?.p50, theirs.hls.liveLatencySec?.p50),
        llLatencyP50: ratio(ours.ll.liveLatencySec?.p50, theirs.ll.liveLatencySec?.p50),
        llLatencyP95: ratio(ours.ll.liveLatencySec?.p95, theirs.ll.liveLatencySec?.p95),
        hlsStartupP50: ratio(ours.hls.startupMs.p50, theirs.hls.startupMs.p50),
        llStartupP50: ratio(ours.ll.startupMs.p50, theirs.ll.startupMs.p50),
        llPartTtfbP99: ratio(ours.ll.byObject.part?.ttfbMs.p99, theirs.ll.byObject.part?.ttfbMs.p99),
        hlsPlaylistTtfbP99: ratio(ours.hls.byObject.playlist?.ttfbMs.p99, theirs.hls.byObject.playlist?.ttfbMs.p99),
        originPlaylistRequestsPerVersion: ratio(
          ours.origin.playlistRequestsPerVersion,
          theirs.origin.playlistRequestsPerVersion,
        ),
        originRequestsPerBlockingUrl: ratio(ours.origin.requestsPerBlockingUrl, theirs.origin.requestsPerBlockingUrl),
        originRequestsPerPart: ratio(ours.origin.requestsPerPart, theirs.origin.requestsPerPart),
        playlistOffload: ratio(ours.origin.playlistOffload, theirs.origin.playlistOffload),
        loadTesterCpuPer1000Viewers: ratio(
          ours.loadTester.cpuSecPer1000Viewers,
          theirs.loadTester.cpuSecPer1000Viewers,
        ),
        loadTesterSteadyCoresPer1000Viewers: ratio(
          ours.loadTester.steadyCoresPer1000Viewers,
          theirs.loadTester.steadyCoresPer1000Viewers,
        ),
      }
    : null;

// what the figures mean for the target, in words
const top = attempts.find((a) => a.target === 'streamedge');
if (top && !top.holds)
  notes.push(
    `target ${top.hlsViewers} HLS + ${top.llViewers} LL-HLS viewers did not hold on this box: ${top.failed.slice(0, 3).join('; ')}`,
  );
const measured = attempts.filter((a) => a.loadTester.steadyCoresPer1000Viewers !== null);
if (measured.length > 0) {
  const best = measured[measured.length - 1];
  const cores = best.loadTester.steadyCoresPer1000Viewers!;
  notes.push(
    `the load tester alone used ${cores} CPU cores per 1000 playing viewers (at ${best.hlsViewers}+${best.llViewers}, ${best.target}): ` +
      `${TARGET_HLS + TARGET_LL} viewers would need about ${round((cores * (TARGET_HLS + TARGET_LL)) / 1000, 1)} cores for the viewers alone, ` +
      `on a ${machine.cpus}-core box that also runs the edge, the origin and ffmpeg (load average ${machine.loadAverageBefore[0]} at the start)`,
  );
}
if (ours && ours.origin.plainPlaylistRequestsPerVersion > 1) {
  notes.push(
    `plain (non-blocking) playlist requests reach the origin ${ours.origin.plainPlaylistRequestsPerVersion}× per playlist version through our edge: ` +
      'the origin sends `max-age=0, s-maxage=0` for live playlists with 0.5 s parts, so the edge only collapses requests that arrive while a fill is in flight; ' +
      `nginx here caches them 1 s (${theirs ? theirs.origin.plainPlaylistRequestsPerVersion : '-'}× per version). Blocking-reload URLs and parts reach the origin about once each through both.`,
  );
}

const result = {
  bench: 'loadtest',
  date: new Date().toISOString(),
  machine,
  note:
    'The box is shared with other work (see the load averages): absolute figures depend on it; compare streamedge and nginx, ' +
    'measured in the same run against the same origin. Viewers run in this process over worker threads (process.cpuUsage covers them all).',
  target: { hlsViewers: TARGET_HLS, llViewers: TARGET_LL },
  setup: {
    channel: { ...CHANNEL, ladder: LADDER, encoder: 'ffmpeg in the origin process (libx264 + aac)' },
    run: { rampSec: RAMP_SEC, holdSec: HOLD_SEC, levelFactors: LEVEL_FACTORS, budgetSec: BUDGET_SEC },
    viewers: {
      hls: 'live HLS without LL-HLS support: whole segments, plain playlist reload every target duration (half after an unchanged reload)',
      ll: 'LL-HLS: parts, blocking playlist reload (_HLS_msn/_HLS_part), preload hints, delta updates (_HLS_skip)',
      abr: 'src/abr AbrController per viewer; virtual playhead (no decoding)',
    },
    holdsWhen:
      '≤ 1 % viewers failed, ≥ 95 % began playback, errors ≤ 1 % of requests, rebuffering ratio ≤ 2 % (each of HLS and LL-HLS)',
    streamedge:
      'edge/server.ts in its own process (bench/loadtest-edge-process.ts): LogStore 2 GB + 256 MiB RAM tier, keyHeaders [accept-encoding] (the origin sends Vary: Accept-Encoding on playlists)',
    nginx:
      '1 worker, proxy_cache with proxy_cache_lock on (timeout 10 s); .m3u8: origin Cache-Control ignored, proxy_cache_valid 1s; segments/parts/init: origin Cache-Control (immutable)',
    origin:
      'packager/origin/server.ts in its own process (bench/loadtest-origin-process.ts), counting requests by type and distinct URL',
  },
  attempts,
  comparedAt: theirs ? { hlsViewers: theirs.hlsViewers, llViewers: theirs.llViewers } : null,
  ratiosStreamedgeToNginx: ratios,
  notes,
};
const out = join(root, 'bench/results/loadtest.json');
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');

// ------------------------------------------------------------------ summary table

const pad = (s: string | number | null | undefined, n: number) => String(s ?? '-').padStart(n);
const lines = [
  '',
  `loadtest bench: ${machine.cpus} cores, load ${machine.loadAverageBefore.join(' ')} → ${machine.loadAverageAfter.join(' ')}; target ${TARGET_HLS} HLS + ${TARGET_LL} LL-HLS viewers, ramp ${RAMP_SEC}s hold ${HOLD_SEC}s`,
  `${'edge'.padEnd(11)}${pad('HLS', 6)}${pad('LL', 6)}${pad('holds', 6)}${pad('stalls', 8)}${pad('rebuf%', 8)}${pad('lat50', 7)}${pad('LLlat50', 8)}${pad('LLlat95', 8)}${pad('start50', 8)}${pad('err', 6)}${pad('pl/ver', 7)}${pad('blk/url', 8)}${pad('part/u', 7)}${pad('offload', 8)}${pad('cpu/1k', 8)}${pad('cores/1k', 9)}`,
];
for (const a of attempts) {
  lines.push(
    `${a.target.padEnd(11)}${pad(a.hlsViewers, 6)}${pad(a.llViewers, 6)}${pad(a.holds ? 'yes' : 'no', 6)}${pad(a.hls.stalls + a.ll.stalls, 8)}` +
      `${pad((Math.max(a.hls.rebufferRatio, a.ll.rebufferRatio) * 100).toFixed(2), 8)}${pad(a.hls.liveLatencySec?.p50?.toFixed(2), 7)}` +
      `${pad(a.ll.liveLatencySec?.p50?.toFixed(2), 8)}${pad(a.ll.liveLatencySec?.p95?.toFixed(2), 8)}${pad(a.ll.startupMs.p50?.toFixed(0), 8)}` +
      `${pad(sum(a.hls.errors) + sum(a.ll.errors), 6)}${pad(a.origin.playlistRequestsPerVersion, 7)}${pad(a.origin.requestsPerBlockingUrl, 8)}` +
      `${pad(a.origin.requestsPerPart, 7)}${pad(a.origin.playlistOffload, 8)}${pad(a.loadTester.cpuSecPer1000Viewers, 8)}${pad(a.loadTester.steadyCoresPer1000Viewers, 9)}`,
  );
  if (!a.holds) lines.push(`           ↳ ${a.failed.join('; ')}`);
}
lines.push(
  'columns: stalls (HLS+LL), worst rebuffering ratio, live latency p50 (HLS) and LL-HLS p50/p95 (s), LL startup p50 (ms), errors,',
  '         origin playlist requests per playlist version, per distinct blocking URL, per distinct part, viewer÷origin playlist requests,',
  '         load-tester CPU seconds per 1000 viewers (whole run, worker start-up included), cores per 1000 viewers while all played',
);
if (ratios) lines.push(`ratios streamedge/nginx: ${JSON.stringify(ratios)}`);
for (const n of notes) lines.push(`note: ${n}`);
lines.push(`wrote ${out} (${elapsedSec().toFixed(0)} s)`);
process.stdout.write(lines.join('\n') + '\n');
process.exit(exitCode);
