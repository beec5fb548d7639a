/**
 * Chromium plays live LL-HLS from a TLS edge over HTTP/2: a real live origin (ffmpeg lavfi, tiny
 * ladder), an edge serving HTTPS + h2 with a self-signed certificate (ignored by the browser
 * context, as a user trusting it would), and the demo page served from another https origin. The
 * page's Resource Timing entries report `nextHopProtocol === 'h2'` for playlists and parts, which
 * a cross-origin page can only read because the edge sends Timing-Allow-Origin.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { buildPlayer } from '../../player-demo/build.js';
import { startPageServer, type PageServer } from '../../player-demo/page-server.js';
import { createEdge, type Edge } from '../../edge/server.js';
import { ReloadingTls } from '../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../src/tls/self-signed.js';
import { TEST_SOURCE, startLiveOrigin, writeTinyLadder, type LiveOrigin } from '../integration/live/live-helpers.js';

interface TimingEntry {
  name: string;
  nextHopProtocol: string;
}

let dir: string;
let origin: LiveOrigin;
let edge: Edge;
let tls: ReloadingTls;
let edgeUrl: string;
let page: PageServer;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-tls-browser-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  tls = await ReloadingTls.open(files);
  origin = await startLiveOrigin(dir, [
    { id: 'news', source: TEST_SOURCE, ladder: writeTinyLadder(dir), segmentDuration: 1, partDuration: 0.25 },
  ]);
  edge = createEdge({ upstream: origin.base, tls, logLevel: 'silent' });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  await buildPlayer();
  page = await startPageServer({
    port: 0,
    streams: [{ name: 'Live · LL-HLS', url: `${edgeUrl}/live/news/master.m3u8` }],
    tls: files,
  });
  browser = await launchChromium();
  context = await browser.newContext({ ignoreHTTPSErrors: true });
  // every request of the session in the timing buffer (the default keeps 250)
  await context.addInitScript(() => performance.setResourceTimingBufferSize(100_000));
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await page?.close();
  await edge?.close();
  await origin?.close();
  tls?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('Chromium over HTTPS + HTTP/2', () => {
  it('plays live LL-HLS from the TLS edge with playlists and parts over h2', async () => {
    expect(page.url).toMatch(/^https:/);
    const tab = await context.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (e) => errors.push(e.message));
    await tab.goto(`${page.url}?src=${encodeURIComponent(`${edgeUrl}/live/news/master.m3u8`)}&engine=ours`);
    const start = await tab.waitForFunction(
      () => {
        const s = window.__streamedge.stats() as { currentTime: number; startupMs: number | null };
        return s.startupMs !== null ? s.currentTime : null;
      },
      undefined,
      { timeout: 120_000, polling: 250 },
    );
    const t0 = (await start.jsonValue()) as number;
    // several more seconds of playback: blocking reloads and parts keep flowing
    await tab.waitForFunction(
      (t) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t + 4,
      t0,
      { timeout: 60_000, polling: 250 },
    );
    const entries = (await tab.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .map((e) => ({ name: e.name, nextHopProtocol: (e as PerformanceResourceTiming).nextHopProtocol })),
    )) as TimingEntry[];
    const media = entries.filter((e) => e.name.startsWith(edgeUrl));
    const playlists = media.filter((e) => /\.m3u8(\?|$)/.test(e.name));
    const blocking = playlists.filter((e) => e.name.includes('_HLS_msn='));
    const parts = media.filter((e) => /seg-\d+\.\d+\.m4s/.test(e.name));
    expect(playlists.length).toBeGreaterThan(0);
    expect(blocking.length).toBeGreaterThan(0);
    expect(parts.length).toBeGreaterThan(0);
    // cross-origin: readable only with Timing-Allow-Origin; '' would mean the browser hid it
    expect(media.filter((e) => e.nextHopProtocol !== 'h2')).toEqual([]);
    const stats = (await tab.evaluate(() => window.__streamedge.stats())) as { stalls: number; pageErrors: string[] };
    expect(stats.pageErrors).toEqual([]);
    expect(errors).toEqual([]);
    const m = (await edge.metrics.requestsByProtocol.get()).values;
    expect(m.find((v) => v.labels.protocol === 'h2')?.value ?? 0).toBeGreaterThan(parts.length);
    await tab.close();
  });
});
