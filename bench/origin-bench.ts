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
 *   node bin/run-ts.js bench/origin-bench.ts [--held 10000] [--live-seconds 20]
 */
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { Parser } from 'm3u8-parser';
import { createOrigin, type Origin } from '../packager/origin.js';
import { FakeEncoder } from '../test/unit/origin/fake-encoder.js';

const here = dirname(fileURLToPath(import.meta.url));

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function stats(values: number[]): { n: number; p50: number; p95: number; p99: number; max: number; mean: number } {
  const s = [...values].sort((a, b) => a - b);
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: s.length,
    p50: r3(pct(s, 50)),
    p95: r3(pct(s, 95)),
    p99: r3(pct(s, 99)),
    max: r3(s[s.length - 1] ?? NaN),
    mean: r3(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)),
  };
}

function parse(text: string): Record<string, any> {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

// ---------------------------------------------------------------- 1. part availability latency

interface PartRef {
  msn: number;
  part: number;
  endMs: number;
}

/** Parts of a parsed LL-HLS playlist with their end-of-media wall-clock times. */
function partsWithEnds(m: Record<string, any>): PartRef[] {
  const out: PartRef[] = [];
  const segs = [...m.segments, ...(m.preloadSegment ? [m.preloadSegment] : [])];
  let nextStart: number | undefined;
  for (const s of segs) {
    // m3u8-parser leaves the preload segment's PROGRAM-DATE-TIME unparsed: it follows the previous segment
    const start = typeof s.programDateTime === 'number' ? (s.programDateTime as number) : s.dateTimeString ? Date.parse(s.dateTimeString) : nextStart;
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

async function partLatency(seconds: number): Promise<Record<string, unknown>> {
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
    let m: Record<string, any> | undefined;
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
    let last = parts[parts.length - 1]!;
    while (Date.now() < end) {
      const next = last.part + 1 < 4 ? { msn: last.msn, part: last.part + 1 } : { msn: last.msn + 1, part: 0 };
      const r = await get(`/live/news/360p/index.m3u8?_HLS_msn=${next.msn}&_HLS_part=${next.part}`);
      const received = nowMs();
      if (r.status !== 200) continue;
      parts = partsWithEnds(parse(r.text));
      const got = parts.find((p) => p.msn === next.msn && p.part === next.part) ?? parts[parts.length - 1]!;
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
    const buckets = hist.filter((v) => v.metricName?.endsWith('_bucket')).map((v) => ({ le: (v.labels as Record<string, unknown>).le, count: v.value }));
    const media = mediaAt() - media0;
    return {
      setup: 'lavfi testsrc2 1280x720@30 + sine → ladder "small" (360p 600k, 240p 300k, audio 96k), segment 2 s, part 0.5 s',
      partEndToFetchableMs: stats(latencies),
      baselineFetchAvailablePartMs: stats(baseline),
      originPartEventToResponseMs: { mean: count ? Math.round((sum / count) * 1e6) / 1000 : null, count, buckets },
      realTimeFactor: Math.round((media / wall) * 1000) / 1000,
      keepsRealTime: media / wall > 0.97,
      channelRestarts: channel.status().restarts,
      note:
        'PDT anchoring: each encoder run maps the end of its first fragment to the wall clock it arrived at, so the PDT ' +
        "already absorbs the run's start-up delay; negative values mean later parts came out faster than the first one did " +
        '(x264 start-up). The origin share is originPartEventToResponseMs (segmenter part event → blocking response sent).',
    };
  } finally {
    await pool.close();
    await origin.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- 2. held blocking requests

async function heldRound(origin: Origin, base: string, enc: FakeEncoder, n: number, msn: number): Promise<{ wake: number[]; statuses: Record<string, number>; held: number; errors: number }> {
  const child = fork(join(here, 'origin-held-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const w = origin.channels.get('bench')!.windows.get('v')!;
  const result = new Promise<{ done: number[]; statuses: Record<string, number>; errors: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { done: number[]; statuses: Record<string, number>; errors: number }));
    child.once('error', reject);
  });
  child.send({ url: base, path: `/live/bench/v/index.m3u8?_HLS_msn=${msn}&_HLS_part=0`, n });
  // Wait until all are held, or no progress for 10 s (connection failures are reported).
  let last = -1;
  let lastChange = Date.now();
  while (w.waiters.size < n && Date.now() - lastChange < 10_000) {
    if (w.waiters.size !== last) {
      last = w.waiters.size;
      lastChange = Date.now();
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const heldNow = w.waiters.size;
  const eventUs = Math.round(nowMs() * 1000);
  enc.part(msn, 0);
  const r = await result;
  child.disconnect();
  // complete segment msn so the next round starts clean
  enc.part(msn, 1);
  enc.segment(msn);
  return { wake: r.done.filter((x) => x !== undefined && x !== null).map((d) => (d - eventUs) / 1000), statuses: r.statuses, held: heldNow, errors: r.errors };
}

async function heldRequests(n: number): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'se-origin-held-'));
  const enc = new FakeEncoder();
  const origin = await createOrigin({
    root,
    logger: false,
    processMetrics: false,
    live: [{ id: 'bench', source: 'fake', segmentDuration: 60, partDuration: 0.5 }], // 3 target durations = 180 s: nothing times out
    startRun: enc.start,
  });
  const base = await origin.listen(0, '127.0.0.1');
  try {
    await enc.runStarted(1);
    enc.init();
    enc.segments(0, 5);
    let msn = 6;
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) baseline.push(...(await heldRound(origin, base, enc, 1, msn++)).wake);
    const big = await heldRound(origin, base, enc, n, msn++);
    const serverHist = await origin.metrics.wakeup.get();
    const rss = process.memoryUsage().rss;
    return {
      requested: n,
      held: big.held,
      clientErrors: big.errors,
      statuses: big.statuses,
      wakeupMs: stats(big.wake),
      baselineOneHeldWakeupMs: stats(baseline),
      p99OverBaselineP50: Math.round((stats(big.wake).p99 / Math.max(0.001, stats(baseline).p50)) * 10) / 10,
      originRssMiB: Math.round(rss / 1024 / 1024),
      serverWakeupHistogram: serverHist.values.filter((v) => v.metricName?.endsWith('_count') || v.metricName?.endsWith('_sum')),
      note: 'wake-up = part event in the origin → response body complete in a separate client process (same clock); one playlist render shared by all',
    };
  } finally {
    await origin.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const held = Number(arg('held', '10000'));
const liveSeconds = Number(arg('live-seconds', '20'));
const startedAt = new Date().toISOString();
const heldResult = await heldRequests(held);
const latencyResult = await partLatency(liveSeconds);
const out = {
  bench: 'origin',
  startedAt,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  partAvailability: latencyResult,
  heldBlockingRequests: heldResult,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'origin.json'), JSON.stringify(out, null, 2) + '\n');

const pa = latencyResult as any;
const hr = heldResult as any;
process.stdout.write(
  [
    'origin bench',
    `  part availability (PDT part end → fetchable): p50 ${pa.partEndToFetchableMs.p50} ms, p99 ${pa.partEndToFetchableMs.p99} ms (n=${pa.partEndToFetchableMs.n});` +
      ` baseline fetch of an available part p50 ${pa.baselineFetchAvailablePartMs.p50} ms`,
    `  origin share (part event → blocking response): mean ${pa.originPartEventToResponseMs.mean} ms over ${pa.originPartEventToResponseMs.count}\n` +
    `  live ladder real-time factor ${pa.realTimeFactor} (${pa.keepsRealTime ? 'keeps up' : 'FALLS BEHIND'}) on ${cpus().length} cores`,
    `  ${hr.held} held blocking reloads: wake-up p50 ${hr.wakeupMs.p50} ms, p99 ${hr.wakeupMs.p99} ms, max ${hr.wakeupMs.max} ms (statuses ${JSON.stringify(hr.statuses)});` +
      ` baseline (1 held) p50 ${hr.baselineOneHeldWakeupMs.p50} ms; origin RSS ${hr.originRssMiB} MiB`,
    '  → bench/results/origin.json',
    '',
  ].join('\n'),
);
process.exit(0);
