/**
 * ABR QoE bench: our player's ABR (src/abr) against hls.js, dash.js and Shaka Player on the same
 * bandwidth traces, in one Chromium, through the full demo stack (origin → shield edge → edge),
 * writing bench/results/abr-qoe.json.
 *
 *   node bin/run-ts.js bench/abr-qoe-bench.ts [--dir <demo dir to reuse>] [--sessions 5]
 *       [--duration 20] [--live-duration 20] [--traces steady-5,cascade,...]
 *       [--live-traces live-steady-5,...] [--engines ours,hlsjs,dashjs,shaka[,ours-dash]] [--no-live] [--no-vod]
 *       [--out <file>]
 *
 * Every trace is played --sessions times by every engine, one session at a time, the engine order
 * rotating from one round to the next (slow drift in machine load favours no engine). Each session
 * is a fresh page; Chromium shapes the link to the trace (abr-qoe/session-run.ts); every 250 ms the
 * bench takes a snapshot. HLS engines (ours, hls.js, Shaka) play the HLS presentation (LL-HLS on
 * live), dash.js the DASH one (LL-DASH on live): the same CMAF segments behind both. `ours-dash`
 * (only when named) is our player on the DASH one, shown beside the others, never compared as one.
 * Per trace and engine: mean and 95 % confidence bounds of each figure; then ours against the best
 * of the others. See bench/abr-qoe/qoe-metrics.ts for how each figure is computed.
 */
import type { Browser } from 'playwright-core';
import { launchChromium } from './chromium-launch.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDemoStack, type DemoStack } from './abr-qoe/demo-stack.js';
import { buildProbeScript } from './abr-qoe/probe-script.js';
import { allVodUrls, mapPresentation } from './abr-qoe/playlist-map.js';
import { measureEdgeDelaySec, readLiveClock, type LiveClock } from './abr-qoe/live-clock.js';
import { DEFAULT_ENGINES, ENGINE_NAMES, playsDash, runSession, type EngineName } from './abr-qoe/session-run.js';
import { liveQoe, vodQoe, type LiveQoe, type VodQoe } from './abr-qoe/qoe-metrics.js';
import { LIVE_TRACES, NAMED_VOD_TRACES, VOD_TRACES, type BandwidthTrace } from './abr-qoe/traces.js';
import { summaryTable } from './abr-qoe/report-table.js';
import { summarize, versusBest, type Interval, type Versus } from './abr-qoe/confidence.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';
import { packageDemoSample } from '../player-demo/demo-sample.js';

const machineStart = startMachineInfo();

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    sessions: { type: 'string', default: '5' },
    duration: { type: 'string', default: '20' },
    'live-duration': { type: 'string', default: '20' },
    traces: { type: 'string' },
    'live-traces': { type: 'string' },
    engines: { type: 'string' },
    'no-live': { type: 'boolean', default: false },
    'no-vod': { type: 'boolean', default: false },
    'long-sample': { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench', 'results', 'abr-qoe.json') },
  },
});

const say = (m: string) => process.stdout.write(`${m}\n`);
const benchStart = performance.now();
const elapsed = () => `${((performance.now() - benchStart) / 1000).toFixed(0)} s`;

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

function pkgVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return null;
  }
}

/** Waits (bounded) until the live channel has a few segments with program date times. */
async function waitForLive(masterUrl: string, deadlineMs = 90_000): Promise<LiveClock> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const clock = await readLiveClock(masterUrl);
      if (clock.segmentsInWindow >= 3) return clock;
      last = `only ${clock.segmentsInWindow} segment(s) so far`;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`live stream ${masterUrl} not ready: ${String((last as Error)?.message ?? last)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function prime(urls: string[]): Promise<void> {
  for (let i = 0; i < urls.length; i += 4) {
    await Promise.all(
      urls.slice(i, i + 4).map(async (u) => {
        const res = await fetch(u);
        if (!res.ok) throw new Error(`priming ${u}: HTTP ${res.status}`);
        await res.arrayBuffer();
      }),
    );
  }
}

const errorCell = (e: unknown) => ({ error: String((e as Error)?.message ?? e).slice(0, 500) });
type Cell<T> = T | { error: string };

function pick(all: BandwidthTrace[], list: string | undefined, namedOnly: BandwidthTrace[] = []): BandwidthTrace[] {
  if (!list) return all;
  const wanted = list.split(',').map((s) => s.trim());
  const out = [...all, ...namedOnly].filter((t) => wanted.includes(t.name));
  if (out.length !== wanted.length)
    throw new Error(`unknown trace in ${list}; known: ${all.map((t) => t.name).join(', ')}`);
  return out;
}

/** Figures summarised per engine, and which way is better (for the comparison with the best other engine). */
const VOD_FIGURES: [string, boolean][] = [
  ['displayedAvgBitrateBps', true],
  ['rebufferRatio', false],
  ['stalls', false],
  ['videoFreezeMs', false],
  ['displayedSwitches', false],
  ['startupMs', false],
  ['displayedTopShare', true],
  ['playedAvgBitrateBps', true],
  ['engineAvgBitrateBps', true],
  ['videoBytes', false],
];
const LIVE_FIGURES: [string, boolean][] = [
  ['displayedAvgBitrateBps', true],
  ['rebufferRatio', false],
  ['stalls', false],
  ['videoFreezeMs', false],
  ['displayedSwitches', false],
  ['wallClockLatencyP50', false],
  ['wallClockLatencyP95', false],
  ['behindEdgeP50', false],
  ['belowHoldBackShare', false],
  ['startupMs', false],
  ['engineLatencyP50', false],
  ['avgPlaybackRate', false],
];
/** The goals of issue 16 are read off these (ours vs the best other engine). */
const HEADLINE = new Set(['displayedAvgBitrateBps', 'rebufferRatio', 'wallClockLatencyP50']);

interface TraceResult {
  trace: string;
  about: string;
  steps: unknown;
  urls: Record<string, string>;
  summary: Record<string, Record<string, Interval | null>>;
  /** ours vs the best other engine on each figure (ratio of means, and whether the 95 % bounds separate them). */
  versusBest: Record<string, Versus>;
  /** ours / best other engine's mean, for the headline figures (the README figures table reads these). */
  ratios: Record<string, number | null>;
  sessions: Record<string, Cell<VodQoe | LiveQoe>[]>;
}

function compare(
  summary: TraceResult['summary'],
  figures: [string, boolean][],
): Pick<TraceResult, 'versusBest' | 'ratios'> {
  const vs: Record<string, Versus> = {};
  const r: Record<string, number | null> = {};
  // ours-dash is ours on the other protocol, not one of the others
  const compared = Object.fromEntries(Object.entries(summary).filter(([e]) => e !== 'ours-dash'));
  for (const [k, higher] of figures) {
    vs[k] = versusBest(compared, 'ours', k, higher);
    if (HEADLINE.has(k)) r[k] = vs[k].ratio;
  }
  return { versusBest: vs, ratios: r };
}

/** The series are per second and long; keep them for the first session of each engine only. */
function slim<T extends object>(c: Cell<T>, keepSeries: boolean): Cell<T> {
  if ('error' in c || keepSeries) return c;
  const { series: _s, videoDownloads: _v, ...rest } = c as T & { series?: unknown; videoDownloads?: unknown };
  return rest as T;
}

async function main(): Promise<void> {
  const sessions = Number(args.sessions);
  const durationSec = Number(args.duration);
  const liveDurationSec = Number(args['live-duration']);
  const vodTraces = args['no-vod'] ? [] : pick(VOD_TRACES, args.traces, NAMED_VOD_TRACES);
  const liveTraces = args['no-live'] ? [] : pick(LIVE_TRACES, args['live-traces']);
  const engines = (args.engines ? args.engines.split(',').map((s) => s.trim()) : [...DEFAULT_ENGINES]) as EngineName[];
  for (const e of engines)
    if (!ENGINE_NAMES.includes(e)) throw new Error(`unknown engine ${e}; known: ${ENGINE_NAMES.join(', ')}`);
  if (!engines.includes('ours')) throw new Error('--engines must include ours');

  const ownDir = !args.dir;
  const dir = args.dir ? resolve(args.dir) : mkdtempSync(join(tmpdir(), 'streamedge-abr-qoe-'));
  mkdirSync(dir, { recursive: true });
  let stack: DemoStack | undefined;
  let browser: Browser | undefined;
  try {
    say(`starting the demo stack in ${dir} (packages the sample on first use)…`);
    // --long-sample: the demo's signal, 180 s instead of 60, where the demo looks for its sample
    if (args['long-sample'] && !(await packageDemoSample(join(dir, 'media'), join(dir, 'logs'), 'demoLong', say)))
      say(`using the sample already packaged in ${join(dir, 'media')}`);
    stack = await startDemoStack(dir);
    say(`[${elapsed()}] edge ${stack.edgeUrl}   page ${stack.pageUrl}`);
    const vodUrls = {
      hls: `${stack.edgeUrl}/vod/sample/master.m3u8`,
      dash: `${stack.edgeUrl}/vod/sample/manifest.mpd`,
    };
    const liveUrls = { hls: `${stack.edgeUrl}/live/news/master.m3u8`, dash: `${stack.edgeUrl}/live/news/manifest.mpd` };
    const urlFor = (urls: { hls: string; dash: string }, e: EngineName) => (playsDash(e) ? urls.dash : urls.hls);
    const vodMap = await mapPresentation(vodUrls.hls, { vod: true });
    const primeUrls = [...(await allVodUrls(vodUrls.hls)), vodUrls.dash];
    await prime(primeUrls);
    say(
      `[${elapsed()}] edge primed with ${primeUrls.length} VOD objects; ladder ${vodMap.variants.map((v) => `${v.height}p@${(v.bandwidth / 1e6).toFixed(2)}`).join(' ')}`,
    );
    const probeScript = await buildProbeScript();
    browser = await launchChromium();
    const b = browser;
    const pageUrl = stack.pageUrl;

    const runTrace = async <T extends VodQoe | LiveQoe>(
      trace: BandwidthTrace,
      urls: { hls: string; dash: string },
      seconds: number,
      figures: [string, boolean][],
      measure: (rec: Awaited<ReturnType<typeof runSession>>, edgeDelaySec: number | null) => T,
      label: string,
      /** Live: the edge delay is measured during each session (it drifts with the encoder's lag). */
      edgeDelayUrl?: string,
    ): Promise<TraceResult> => {
      const cells: Record<string, Cell<T>[]> = Object.fromEntries(engines.map((e) => [e, []]));
      for (let round = 0; round < sessions; round++) {
        const order = engines.map((_, i) => engines[(i + round) % engines.length]);
        for (const engine of order) {
          try {
            const [rec, edgeDelaySec] = await Promise.all([
              runSession({
                browser: b,
                pageUrl,
                streamUrl: urlFor(urls, engine),
                engine,
                trace,
                durationSec: seconds,
                probeScript,
                sliceBytes: 0,
              }),
              edgeDelayUrl ? measureEdgeDelaySec(edgeDelayUrl, seconds * 1000).catch(() => null) : null,
            ]);
            cells[engine].push(measure(rec, edgeDelaySec));
          } catch (e) {
            cells[engine].push(errorCell(e));
          }
        }
        say(`[${elapsed()}] ${label} ${trace.name} round ${round + 1}/${sessions} done`);
      }
      const summary: TraceResult['summary'] = {};
      for (const e of engines) {
        const ok = cells[e].filter((c): c is T => !('error' in c));
        summary[e] = summarize(
          ok,
          figures.map(([k]) => k),
        );
      }
      const result: TraceResult = {
        trace: trace.name,
        about: trace.about,
        steps: trace.steps,
        urls: Object.fromEntries(engines.map((e) => [e, new URL(urlFor(urls, e)).pathname])),
        summary,
        ...compare(summary, figures),
        sessions: Object.fromEntries(engines.map((e) => [e, cells[e].map((c, i) => slim(c, i === 0))])),
      };
      say(
        summaryTable(
          `${label} · ${trace.name} (${trace.about})`,
          engines,
          figures.map(([k]) => k),
          result,
        ),
      );
      return result;
    };

    const vod: TraceResult[] = [];
    for (const trace of vodTraces) {
      vod.push(await runTrace(trace, vodUrls, durationSec, VOD_FIGURES, (rec) => vodQoe(rec, vodMap), 'VOD'));
    }

    let live: TraceResult[] | { error: string } = [];
    let liveClock: LiveClock | undefined;
    if (liveTraces.length) {
      try {
        const waited = await waitForLive(liveUrls.hls);
        const edgeDelaySec = await measureEdgeDelaySec(liveUrls.hls);
        liveClock = { ...waited, ...(edgeDelaySec !== null ? { edgeDelaySec } : {}) };
        say(`[${elapsed()}] live edge delay (now − PDT of the newest part when listed): ${edgeDelaySec ?? '?'} s`);
        const clock = liveClock;
        const liveMap = await mapPresentation(liveUrls.hls, { vod: false });
        for (const trace of liveTraces) {
          live.push(
            await runTrace(
              trace,
              liveUrls,
              liveDurationSec,
              LIVE_FIGURES,
              // this session's own edge delay; the one measured before the live traces if that failed
              (rec, edgeDelaySec) => liveQoe(rec, liveMap, edgeDelaySec === null ? clock : { ...clock, edgeDelaySec }),
              'LIVE',
              liveUrls.hls,
            ),
          );
        }
      } catch (e) {
        live = errorCell(e);
        say(`live: ${live.error}`);
      }
    }

    const result = {
      bench: 'abr-qoe',
      about:
        'QoE of our player (src/abr) against hls.js, dash.js and Shaka Player on the same bandwidth traces, in one Chromium, ' +
        'through origin → shield edge → edge on loopback; the link shaped by Chromium (DevTools network emulation, one pipe for the page). ' +
        'Each trace played `sessions` times per engine; every figure is the mean with 95 % confidence bounds (Student t). ' +
        'ratios are ours / the best other engine (by mean) for the headline figures; versusBest says whether the bounds separate them. ' +
        'displayed* figures come from the height of the frame on screen (the same evidence for every engine); played* from the fetch log ' +
        '(not for dash.js, whose XHR it does not see); engine* from each engine’s own counters. Wall-clock latency = now − PDT(playhead), ' +
        'the same computation for every engine; behindEdge = that minus the edge delay (how long after its PDT end the newest part is listed, ' +
        'measured by the bench), i.e. the distance behind the playlist’s end that PART-HOLD-BACK is measured from; ' +
        'belowHoldBackShare = share of samples whose behindEdge is below PART-HOLD-BACK.',
      generatedAt: new Date().toISOString(),
      benchSeconds: Math.round((performance.now() - benchStart) / 1000),
      machine: finishMachineInfo(machineStart),
      versions: {
        chromium: browser.version(),
        hlsjs: pkgVersion('hls.js'),
        dashjs: pkgVersion('dashjs'),
        shaka: pkgVersion('shaka-player'),
        playwrightCore: pkgVersion('playwright-core'),
        commit: gitCommit(),
      },
      settings: {
        engines,
        sessions,
        vodDurationSec: durationSec,
        vodSampleSec: args['long-sample'] ? 180 : 60,
        liveDurationSec,
        sampleEveryMs: 250,
        shaping: 'Network.emulateNetworkConditions (latency 0)',
        liveHoldBack: liveClock
          ? {
              partHoldBackSec: liveClock.partHoldBackSec,
              holdBackSec: liveClock.holdBackSec,
              edgeDelaySec: liveClock.edgeDelaySec,
            }
          : null,
        ladder: vodMap.variants.map((v) => ({
          height: v.height,
          bandwidth: v.bandwidth,
          averageBandwidth: v.averageBandwidth,
        })),
      },
      vod,
      live,
    };
    mkdirSync(dirname(resolve(args.out)), { recursive: true });
    writeFileSync(resolve(args.out), `${JSON.stringify(result, null, 2)}\n`);
    say(`[${elapsed()}] wrote ${resolve(args.out)}`);
  } finally {
    await browser?.close();
    await stack?.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`abr-qoe bench failed: ${(e as Error | undefined)?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
