/**
 * HLS Content Steering end to end, in Debian's Chromium with hls.js and with our player: assets
 * packaged by real ffmpeg, an origin that steers (`steering` pathways b then a), and two real
 * edges in front of it on 127.0.0.2 and 127.0.0.3 (one port: a Pathway Clone replaces the host
 * name only). The player loads the playlist from edge a; the Steering Manifest (through edge a,
 * from the origin) puts b first, so the media comes from edge b. Then:
 * - hls.js: edge b is stopped mid-play; the origin's probe finds it down and puts it last, hls.js
 *   moves to a and plays to the end with no fatal error;
 * - our player: edge b stops answering this page only (the steering server still finds it well
 *   and keeps it first); the player's own failover puts b in its penalty box, goes on from a and
 *   stays there, with no error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { fixture } from '../../media-fixtures/generate.js';
import { packageVod } from '../../packager/vod-job.js';
import { createOrigin, type Origin } from '../../packager/origin/server.js';
import { createEdge, type Edge } from '../../edge/server.js';
import { portFreeOn } from '../support/one-port.js';
import { until } from '../integration/live/live-helpers.js';
import { buildPlayer } from '../../player-demo/build.js';
import { startPageServer, type PageServer } from '../../player-demo/page-server.js';

const HOST_A = '127.0.0.2';
const HOST_B = '127.0.0.3';

let dir: string;
let origin: Origin;
const edges = new Map<string, Edge>();
let port = 0;
let pages: Server;
let pagesUrl = '';
let demo: PageServer;
let upstream = '';
let edgeStarts = 0;
let browser: Browser;

/** Starts edge `id` on its host and the shared port (again, after a test stopped it). */
async function startEdgeOn(id: 'a' | 'b'): Promise<void> {
  if (edges.has(id)) return;
  const edge = createEdge({
    upstream,
    name: `edge-${id}`,
    logLevel: 'silent',
    store: {
      dir: join(dir, `edge-${id}-${edgeStarts++}`),
      capacityBytes: 64 * 1024 * 1024,
      ramBytes: 16 * 1024 * 1024,
    },
  });
  await edge.listen(port, id === 'a' ? HOST_A : HOST_B);
  edges.set(id, edge);
}

/** The origin's current Pathway Priority. */
async function priority(): Promise<string[]> {
  const res = await fetch(`${upstream}/steering`);
  return ((await res.json()) as { 'PATHWAY-PRIORITY': string[] })['PATHWAY-PRIORITY'];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-steering-browser-'));
  const [sample, long] = await Promise.all([fixture('sample'), fixture('bilingualLong'), buildPlayer()]);
  await packageVod({ input: sample, outDir: join(dir, 'root'), assetId: 'movie', ladder: 'small', segmentDuration: 2 });
  // 20 s: our player buffers 12 s ahead, so media is still fetched after edge b stops
  await packageVod({ input: long, outDir: join(dir, 'root'), assetId: 'long', ladder: 'small', segmentDuration: 2 });
  // the edges' port first: the origin names it
  port = await portFreeOn([HOST_A, HOST_B]);
  origin = await createOrigin({
    root: join(dir, 'root'),
    logger: false,
    processMetrics: false,
    steering: {
      pathways: [
        { id: 'b', url: `http://${HOST_B}:${port}` },
        { id: 'a', url: `http://${HOST_A}:${port}` },
      ],
      ttlSec: 1,
      probeMs: 100,
      // The origin, both edges and this file share one process beside another browser suite; at
      // 500 ms, a health answer that came late under that load made b "down" for a moment (CI:
      // our player was steered to a, [a, b, .], just after the origin had put b first). Failover
      // here comes from a stopped edge (refused at once) or a page's own routes, not a timeout.
      probeTimeoutMs: 2000,
    },
  });
  upstream = await origin.listen(0, '127.0.0.1');
  await startEdgeOn('a');
  await startEdgeOn('b');
  pages = createServer((req, res) => {
    if (req.url === '/hls.js' || req.url === '/dash.js') {
      const file =
        req.url === '/hls.js'
          ? 'node_modules/hls.js/dist/hls.min.js'
          : 'node_modules/dashjs/dist/modern/umd/dash.all.min.js';
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    const lib = req.url === '/dash' ? '/dash.js' : '/hls.js';
    res.end(`<!doctype html><video id="v" muted></video><script src="${lib}"></script>`);
  });
  await new Promise<void>((r) => pages.listen(0, '127.0.0.1', r));
  pagesUrl = `http://127.0.0.1:${(pages.address() as { port: number }).port}/`;
  demo = await startPageServer({ port: 0, streams: [] });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((r) => (pages ? pages.close(() => r()) : r()));
  await demo?.close();
  for (const e of edges.values()) await e.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface HlsPlayer {
  on(event: string, cb: (event: string, data: { fatal?: boolean; details?: string }) => void): void;
  loadSource(src: string): void;
  attachMedia(video: HTMLVideoElement): void;
  pathwayPriority: string[] | null;
  levels: { pathwayId: string }[];
  currentLevel: number;
}
interface PageGlobals {
  Hls: {
    new (config: Record<string, unknown>): HlsPlayer;
    Events: Record<'ERROR', string>;
  };
  hls: HlsPlayer;
  fatal: string[];
}

describe('content steering in Chromium', () => {
  it('hls.js plays from the CDN the steering server puts first, and moves to the other when it goes down', async () => {
    const { page, media } = await steeredPage();
    await page.goto(pagesUrl);
    await page.evaluate((src) => {
      const g = window as unknown as PageGlobals;
      g.fatal = [];
      // a short buffer: media is fetched as it plays, so a CDN stopped mid-play is felt
      const hls = new g.Hls({ maxBufferLength: 2, maxMaxBufferLength: 3 });
      g.hls = hls;
      hls.on(g.Hls.Events.ERROR, (_e, d) => {
        if (d.fatal) g.fatal.push(String(d.details));
      });
      const video = document.getElementById('v') as HTMLVideoElement;
      hls.loadSource(src);
      hls.attachMedia(video);
      void video.play();
    }, `http://${HOST_A}:${port}/vod/movie/master.m3u8`);

    // steered to b: the Steering Manifest came through edge a, the media from edge b
    await page.waitForFunction(() => (document.getElementById('v') as HTMLVideoElement).currentTime > 1, undefined, {
      timeout: 30_000,
    });
    expect(await page.evaluate(() => (window as unknown as PageGlobals).hls.pathwayPriority)).toEqual(['b', 'a', '.']);
    expect(media.length).toBeGreaterThan(0);
    expect(new Set(media.map((m) => m.host))).toEqual(new Set([HOST_B]));

    // b goes down mid-play
    const stoppedAt = await stopBThenPlayPast(page, 7, 30_000);
    const after = media.filter((m) => m.at > stoppedAt);
    expect(after.some((m) => m.host === HOST_A)).toBe(true);
    const state = await page.evaluate(() => {
      const g = window as unknown as PageGlobals;
      return { fatal: g.fatal, priority: g.hls.pathwayPriority, pathway: g.hls.levels[0]?.pathwayId };
    });
    expect(state.fatal).toEqual([]);
    expect(state.pathway).toBe('a');
    // the origin's probe found b down: its manifest now puts a first
    expect(state.priority).toEqual(['a', 'b', '.']);
    await page.close();
  }, 90_000);

  it('our player: steered to b; when b stops answering this viewer (while the steering server still finds it well), it fails over to a and stays there', async () => {
    const { page, media } = await steeredPage();
    const src = `http://${HOST_A}:${port}/vod/long/master.m3u8`;
    await page.goto(`${demo.url}?src=${encodeURIComponent(src)}&engine=ours`);
    const stats = () =>
      page.evaluate(() => (window as unknown as { __streamedge: { stats(): OurStats } }).__streamedge.stats());
    await page.waitForFunction(
      () => (document.getElementById('video') as HTMLVideoElement).currentTime > 1,
      undefined,
      { timeout: 30_000, polling: 100 },
    );
    const before = await stats();
    expect(before.steering).toMatchObject({ pathway: 'b', priority: ['b', 'a', '.'] });
    expect(new Set(media.map((m) => m.host))).toEqual(new Set([HOST_B]));

    // b unreachable from this page alone: the origin's probe still finds it well and keeps it first
    const stoppedAt = Date.now();
    await page.route(`http://${HOST_B}:${port}/**`, (r) => r.abort('connectionrefused'));
    await page.waitForFunction(
      () => {
        const v = document.getElementById('video') as HTMLVideoElement;
        return v.ended || v.currentTime > 16;
      },
      undefined,
      { timeout: 40_000, polling: 100 },
    );
    const after = await stats();
    expect(after.pageErrors).toEqual([]);
    expect(after.steering?.pathway).toBe('a');
    // its next manifest (asked with `_HLS_pathway=a`) keeps it on a, where it is now
    expect(after.steering?.priority).toEqual(['a', 'b', '.']);
    expect(after.steering?.notes).toContain('pathway a (failover)');
    expect(after.steering?.notes.some((n) => n.startsWith('b failed: '))).toBe(true);
    expect(media.filter((m) => m.at > stoppedAt).some((m) => m.host === HOST_A)).toBe(true);
    // while a new player is still sent to b, which the origin finds well
    expect(await priority()).toEqual(['b', 'a', '.']);
    await page.close();
  }, 90_000);
});

describe('DASH content steering in Chromium', () => {
  it('dash.js plays from the CDN /steering/dash puts first (the MPD lists both as BaseURLs), and moves to the other when it goes down', async () => {
    const { page, media } = await steeredPage();
    const steeringAsked: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/steering/dash') steeringAsked.push(r.url());
    });
    await page.goto(`${pagesUrl}dash`);
    await page.evaluate((src) => {
      const g = window as unknown as DashGlobals;
      g.errors = [];
      const player = g.dashjs.MediaPlayer().create();
      // a short buffer: media is fetched as it plays, so a CDN stopped mid-play is felt
      player.updateSettings({
        streaming: { buffer: { bufferTimeAtTopQuality: 3, bufferTimeAtTopQualityLongForm: 3, stableBufferTime: 3 } },
      });
      player.on(g.dashjs.MediaPlayer.events.ERROR, (e) => g.errors.push(JSON.stringify(e).slice(0, 300)));
      player.initialize(document.getElementById('v') as HTMLVideoElement, src, true);
    }, `http://${HOST_A}:${port}/vod/long/manifest.mpd`);
    await page.waitForFunction(() => (document.getElementById('v') as HTMLVideoElement).currentTime > 1, undefined, {
      timeout: 30_000,
      polling: 100,
    });
    // asked before the first segment (queryBeforeStart), of the first CDN (b: the MPD names the
    // server absolutely), and steered to b
    expect(steeringAsked.length).toBeGreaterThan(0);
    expect(new URL(steeringAsked[0]).hostname).toBe(HOST_B);
    expect(new Set(media.map((m) => m.host))).toEqual(new Set([HOST_B]));
    // dash.js says where it is (the Pathway it sends with each reload)
    await until(
      async () => steeringAsked.some((u) => /_DASH_pathway=%22b%22|_DASH_pathway="b"/.test(u)),
      10_000,
      'a reload from b',
    );

    // b goes down mid-play: the origin's probe finds it, and its manifest puts a first
    const stoppedAt = await stopBThenPlayPast(page, 16, 40_000);
    expect(media.filter((m) => m.at > stoppedAt).some((m) => m.host === HOST_A)).toBe(true);
    // dash.js reports the segment it could not get from b as it went (non-fatal: it went on from
    // a); nothing else failed, and no steering manifest was asked of the CDN that was down
    const errors = await page.evaluate(() => (window as unknown as DashGlobals).errors);
    expect(errors.length).toBeLessThanOrEqual(3);
    for (const e of errors)
      expect(e).toMatch(
        new RegExp(`http://${HOST_B.replace(/\./g, '\\.')}:\\d+/vod/long/[^"]+\\.m4s is not available`),
      );
    expect(await dashPriority()).toEqual(['a', 'b']);
    await page.close();
  }, 90_000);
  it('our player on a steered MPD: plays from its first BaseURL (the default CDN), each Representation once', async () => {
    const { page, media } = await steeredPage();
    const src = `http://${HOST_A}:${port}/vod/movie/manifest.mpd`;
    await page.goto(`${demo.url}?src=${encodeURIComponent(src)}&engine=ours`);
    await page.waitForFunction(
      () => (document.getElementById('video') as HTMLVideoElement).currentTime > 2,
      undefined,
      { timeout: 30_000, polling: 100 },
    );
    const s = await page.evaluate(() =>
      (
        window as unknown as { __streamedge: { stats(): OurStats & { levels: { id: string }[] } } }
      ).__streamedge.stats(),
    );
    expect(s.pageErrors).toEqual([]);
    expect(new Set(media.map((m) => m.host))).toEqual(new Set([HOST_B]));
    expect(s.levels.map((l) => l.id)).toEqual([...new Set(s.levels.map((l) => l.id))]);
    await page.close();
  }, 60_000);
});

/** Stops edge b mid-play; when it stopped, once the page's video has ended or played past `sec`. */
async function stopBThenPlayPast(page: Page, sec: number, timeout: number): Promise<number> {
  const stoppedAt = Date.now();
  await edges.get('b')!.close();
  edges.delete('b');
  await page.waitForFunction(
    (t) => {
      const v = document.getElementById('v') as HTMLVideoElement;
      return v.ended || v.currentTime > t;
    },
    sec,
    { timeout, polling: 100 },
  );
  return stoppedAt;
}

/** The origin's current priority for DASH clients. */
async function dashPriority(): Promise<string[]> {
  const res = await fetch(`${upstream}/steering/dash`);
  return ((await res.json()) as { 'PATHWAY-PRIORITY': string[] })['PATHWAY-PRIORITY'];
}

interface DashGlobals {
  dashjs: {
    MediaPlayer: (() => {
      create(): {
        updateSettings(s: Record<string, unknown>): void;
        on(event: string, cb: (e: unknown) => void): void;
        initialize(video: HTMLVideoElement, src: string, autoplay: boolean): void;
      };
    }) & { events: Record<'ERROR', string> };
  };
  errors: string[];
}

interface OurStats {
  pageErrors: string[];
  steering: { pathway: string; priority: string[]; notes: string[] } | null;
}

/**
 * Both edges up and the origin putting b first again (a test before may have stopped b), then a
 * new page whose media requests (host, time) are recorded.
 */
async function steeredPage(): Promise<{ page: Page; media: { host: string; at: number }[] }> {
  await startEdgeOn('b');
  await until(async () => (await priority()).join() === 'b,a,.', 10_000, 'b first again');
  const page = await browser.newPage();
  const media: { host: string; at: number }[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.endsWith('.m4s')) media.push({ host: u.hostname, at: Date.now() });
  });
  return { page, media };
}
