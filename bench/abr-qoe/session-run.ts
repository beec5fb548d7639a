/**
 * One playback session: a fresh browser context with the probe, the demo page (no autoplay), the
 * trace's first limit, then `load(url, engine)`; every 250 ms the limit due at that moment is
 * applied and one snapshot taken. Returns the raw snapshots and the download log.
 *
 * The link is shaped by Chromium itself (DevTools Network.emulateNetworkConditions on the page),
 * not by the page's fetch wrapper: dash.js loads VOD segments with XMLHttpRequest, which a fetch
 * wrapper never sees, and every engine must meet the same link. Chromium's throttle is one
 * shared pipe for all of the page's requests.
 */
import type { Browser } from 'playwright-core';
import { loadavg } from 'node:os';
import type { ProbeFetch, ProbeSample } from './page-probe.js';
import { bandwidthAt, type BandwidthTrace } from './traces.js';

/**
 * The engines a session can play. `ours-dash` is our player on the DASH presentation (LL-DASH on
 * live), run only when named: a second look at ours, never one of the others ours is compared to.
 */
export const ENGINE_NAMES = ['ours', 'hlsjs', 'dashjs', 'shaka', 'ours-dash'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
/** What a run plays when --engines is not given. */
export const DEFAULT_ENGINES: readonly EngineName[] = ['ours', 'hlsjs', 'dashjs', 'shaka'];

/** Whether the engine plays the DASH presentation (else the HLS one). */
export function playsDash(e: EngineName): boolean {
  return e === 'dashjs' || e === 'ours-dash';
}

/** The demo page's engine for a bench engine. */
function pageEngine(e: EngineName): string {
  return e === 'ours-dash' ? 'ours' : e;
}

export interface RunSample extends Omit<ProbeSample, 'fetches'> {
  /** Seconds since load() was called (bench clock). */
  tSec: number;
  limitMbps: number;
}

export interface SessionRecord {
  engine: EngineName;
  url: string;
  trace: BandwidthTrace;
  /** performance.now() in the page when load() was called. */
  loadPerf: number;
  samples: RunSample[];
  fetches: ProbeFetch[];
  consoleErrors: string[];
  /** 1-minute load average when the session started. */
  loadAvg1: number;
  /** Responses with status >= 400 the page received (any initiator, favicon included). */
  failedResponses: { url: string; status: number }[];
}

export interface SessionOptions {
  browser: Browser;
  pageUrl: string;
  streamUrl: string;
  engine: EngineName;
  trace: BandwidthTrace;
  durationSec: number;
  probeScript: string;
  sampleEveryMs?: number;
  /** Bytes per slice the probe hands up (0 = whole network reads; see page-probe.ts). */
  sliceBytes?: number;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export async function runSession(o: SessionOptions): Promise<SessionRecord> {
  const loadAvg1 = Math.round(loadavg()[0] * 100) / 100;
  const every = o.sampleEveryMs ?? 250;
  const context = await o.browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    if (o.sliceBytes !== undefined)
      await context.addInitScript({ content: `window.__qoeSliceBytes = ${Number(o.sliceBytes)};` });
    await context.addInitScript({ content: o.probeScript });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`.slice(0, 300)));
    const failedResponses: { url: string; status: number }[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400 && failedResponses.length < 50) failedResponses.push({ url: r.url(), status: r.status() });
    });
    page.on('console', (m) => {
      if (m.type() !== 'error' || consoleErrors.length >= 50) return;
      const at = m.location().url;
      if (/\/favicon\.ico$/.test(at)) return; // the browser's own request, not the player's
      consoleErrors.push(`${m.text()}${at ? ` (${at})` : ''}`.slice(0, 300));
    });
    const page0 = new URL(o.pageUrl);
    page0.searchParams.set('autoplay', '0');
    await page.goto(page0.href);
    await page.waitForFunction('!!window.__streamedge && !!window.__qoeProbe', undefined, { timeout: 30_000 });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const shape = (mbps: number) =>
      cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: (mbps * 1e6) / 8,
        uploadThroughput: -1,
      });
    let limit = bandwidthAt(o.trace, 0);
    await shape(limit);
    const t0 = performance.now();
    const loadPerf = await page.evaluate<number>(
      `(() => { const t = performance.now(); void window.__streamedge.load(${JSON.stringify(o.streamUrl)}, ${JSON.stringify(pageEngine(o.engine))}); return t; })()`,
    );
    const samples: RunSample[] = [];
    const fetches: ProbeFetch[] = [];
    for (let i = 1; ; i++) {
      await wait(t0 + i * every - performance.now());
      const tSec = (performance.now() - t0) / 1000;
      const due = bandwidthAt(o.trace, tSec);
      if (due !== limit) {
        limit = due;
        await shape(limit);
      }
      const s = await page.evaluate<ProbeSample>('window.__qoeProbe.sample()');
      const { fetches: f, ...rest } = s;
      fetches.push(...f);
      samples.push({ ...rest, tSec, limitMbps: limit });
      if (tSec >= o.durationSec || s.ended) break;
    }
    return {
      engine: o.engine,
      url: o.streamUrl,
      trace: o.trace,
      loadPerf,
      samples,
      fetches,
      consoleErrors,
      failedResponses,
      loadAvg1,
    };
  } finally {
    await context.close();
  }
}
