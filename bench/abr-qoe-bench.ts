/**
 * ABR QoE bench: our player's ABR vs hls.js's on the same bandwidth traces, in Chromium, through
 * the full demo stack (origin → shield edge → edge), writing bench/results/abr-qoe.json.
 *
 *   node bin/run-ts.js bench/abr-qoe-bench.ts [--dir <demo dir to reuse>] [--duration 25]
 *       [--live-duration 25] [--traces steady-5,cascade,...] [--no-live] [--out <file>]
 *       [--no-url-fix] [--slice-bytes 16384]   (bench-side workarounds for the page limiter; see abr-qoe/page-probe.ts)
 *
 * For each trace and engine, a fresh page plays the VOD sample for --duration seconds while the
 * bench applies the trace to the page's bandwidth limiter; every 250 ms it takes a snapshot. The
 * live LL-HLS channel is played once per engine on a steady link for the latency figures.
 * See bench/abr-qoe/qoe-metrics.ts for how each figure is computed.
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
import { readLiveClock, type LiveClock } from './abr-qoe/live-clock.js';
import { runSession, type EngineName } from './abr-qoe/session-run.js';
import { liveQoe, ratios, vodQoe, type LiveQoe, type VodQoe } from './abr-qoe/qoe-metrics.js';
import { LIVE_TRACE, VOD_TRACES } from './abr-qoe/traces.js';
import { liveTable, vodTable } from './abr-qoe/report-table.js';
import { finishMachineInfo, startMachineInfo } from './machine-info.js';

const machineStart = startMachineInfo();

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENGINES: EngineName[] = ['ours', 'hlsjs'];

const { values: args } = parseArgs({
  options: {
    dir: { type: 'string' },
    duration: { type: 'string', default: '25' },
    'live-duration': { type: 'string', default: '25' },
    traces: { type: 'string' },
    'no-live': { type: 'boolean', default: false },
    'no-url-fix': { type: 'boolean', default: false },
    'slice-bytes': { type: 'string', default: String(16 * 1024) },
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

async function main(): Promise<void> {
  const durationSec = Number(args.duration);
  const liveDurationSec = Number(args['live-duration']);
  const wanted = args.traces ? args.traces.split(',').map((s) => s.trim()) : null;
  const traces = wanted ? VOD_TRACES.filter((t) => wanted.includes(t.name)) : VOD_TRACES;
  if (wanted && traces.length !== wanted.length)
    throw new Error(`unknown trace; known: ${VOD_TRACES.map((t) => t.name).join(', ')}`);
  const urlFix = !args['no-url-fix'];
  const sliceBytes = Number(args['slice-bytes']);

  const ownDir = !args.dir;
  const dir = args.dir ? resolve(args.dir) : mkdtempSync(join(tmpdir(), 'streamedge-abr-qoe-'));
  mkdirSync(dir, { recursive: true });
  let stack: DemoStack | undefined;
  let browser: Browser | undefined;
  try {
    say(`starting the demo stack in ${dir} (packages the sample on first use)…`);
    stack = await startDemoStack(dir);
    say(`[${elapsed()}] edge ${stack.edgeUrl}   page ${stack.pageUrl}`);
    const vodUrl = `${stack.edgeUrl}/vod/sample/master.m3u8`;
    const liveUrl = `${stack.edgeUrl}/live/news/master.m3u8`;
    const vodMap = await mapPresentation(vodUrl, { vod: true });
    const primeUrls = await allVodUrls(vodUrl);
    await prime(primeUrls);
    say(
      `[${elapsed()}] edge primed with ${primeUrls.length} VOD objects; ladder ${vodMap.variants.map((v) => `${v.height}p@${(v.bandwidth / 1e6).toFixed(2)}`).join(' ')}`,
    );
    const probeScript = await buildProbeScript();
    browser = await launchChromium();

    const vodResults: {
      trace: string;
      about: string;
      steps: unknown;
      ours: Cell<VodQoe>;
      hlsjs: Cell<VodQoe>;
      ratios: Record<string, number | null> | null;
    }[] = [];
    for (const [i, trace] of traces.entries()) {
      // Alternate who goes first, so slow drift in machine load does not favour one engine.
      const order = i % 2 === 0 ? ENGINES : [...ENGINES].reverse();
      const cells: Partial<Record<EngineName, Cell<VodQoe>>> = {};
      for (const engine of order) {
        try {
          const rec = await runSession({
            browser,
            pageUrl: stack.pageUrl,
            streamUrl: vodUrl,
            engine,
            trace,
            durationSec,
            probeScript,
            urlFix,
            sliceBytes,
          });
          cells[engine] = vodQoe(rec, vodMap);
        } catch (e) {
          cells[engine] = errorCell(e);
        }
        say(`[${elapsed()}] vod ${trace.name} ${engine} done`);
      }
      const ours = cells.ours!;
      const hlsjs = cells.hlsjs!;
      vodResults.push({
        trace: trace.name,
        about: trace.about,
        steps: trace.steps,
        ours,
        hlsjs,
        ratios:
          'error' in ours || 'error' in hlsjs
            ? null
            : ratios(ours, hlsjs, [
                'playedAvgBitrateBps',
                'engineAvgBitrateBps',
                'rebufferRatio',
                'stallMs',
                'stalls',
                'playedSwitches',
                'engineSwitches',
                'startupMs',
                'videoBytes',
              ]),
      });
      say(vodTable(trace.name, trace.about, ours, hlsjs));
    }

    let live:
      | {
          trace: string;
          about: string;
          anchorMs?: number;
          ours: Cell<LiveQoe>;
          hlsjs: Cell<LiveQoe>;
          ratios: Record<string, number | null> | null;
        }
      | { error: string }
      | null = null;
    if (!args['no-live']) {
      try {
        const clock = await waitForLive(liveUrl);
        const liveMap = await mapPresentation(liveUrl, { vod: false });
        const cells: Partial<Record<EngineName, Cell<LiveQoe>>> = {};
        for (const engine of ENGINES) {
          try {
            const rec = await runSession({
              browser,
              pageUrl: stack.pageUrl,
              streamUrl: liveUrl,
              engine,
              trace: LIVE_TRACE,
              durationSec: liveDurationSec,
              probeScript,
              urlFix,
              sliceBytes,
            });
            cells[engine] = liveQoe(rec, liveMap, clock);
          } catch (e) {
            cells[engine] = errorCell(e);
          }
          say(`[${elapsed()}] live ${engine} done`);
        }
        const ours = cells.ours!;
        const hlsjs = cells.hlsjs!;
        live = {
          trace: LIVE_TRACE.name,
          about: LIVE_TRACE.about,
          anchorMs: clock.anchorMs,
          ours,
          hlsjs,
          ratios:
            'error' in ours || 'error' in hlsjs
              ? null
              : ratios(ours, hlsjs, [
                  'wallClockLatencyP50',
                  'wallClockLatencyP95',
                  'engineLatencyP50',
                  'engineLatencyP95',
                  'rebufferRatio',
                  'stallMs',
                  'startupMs',
                  'engineAvgBitrateBps',
                ]),
        };
        say(liveTable(LIVE_TRACE.name, LIVE_TRACE.about, ours, hlsjs));
      } catch (e) {
        live = errorCell(e);
        say(`live: ${live.error}`);
      }
    }

    const result = {
      bench: 'abr-qoe',
      about:
        'QoE of our player (src/abr) vs hls.js on the same bandwidth traces, in Chromium, through origin → shield edge → edge on loopback. ' +
        'Bandwidth is limited inside the page (one token bucket on every fetch body). Ratios are ours / hls.js. ' +
        'played* figures come from the download log (which rendition’s segment was under the playhead), engine* figures from each engine’s own counters ' +
        '(ours reports the level it loads, hls.js the level playing; switch counters differ the same way). Wall-clock latency = now − PDT(playhead) for both engines.',
      generatedAt: new Date().toISOString(),
      benchSeconds: Math.round((performance.now() - benchStart) / 1000),
      machine: finishMachineInfo(machineStart),
      versions: {
        chromium: browser.version(),
        hlsjs: pkgVersion('hls.js'),
        playwrightCore: pkgVersion('playwright-core'),
        commit: gitCommit(),
      },
      settings: {
        vodUrl: '<edge>/vod/sample/master.m3u8',
        liveUrl: '<edge>/live/news/master.m3u8',
        vodDurationSec: durationSec,
        liveDurationSec,
        sampleEveryMs: 250,
        responseUrlWorkaround: urlFix,
        limiterSliceBytes: sliceBytes,
        ladder: vodMap.variants.map((v) => ({
          height: v.height,
          bandwidth: v.bandwidth,
          averageBandwidth: v.averageBandwidth,
        })),
      },
      vod: vodResults,
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
