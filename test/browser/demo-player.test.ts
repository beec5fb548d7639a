/**
 * The whole demo as a user runs it: `npm start` from a clean folder (package the sample, origin with
 * a live channel, shield edge, edge, player page), then the page in Debian's Chromium: our player,
 * hls.js and dash.js on VOD and live through the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { startFaultProxy } from '../support/fault-proxy.js';

const ARTIFACTS = join(process.cwd(), 'test-results');

interface PageStats {
  engine?: string;
  levels: { id: string; bitrate: number }[];
  currentLevel: number;
  latencySec: number | null;
  /** Live: now − PDT of the live edge (HLS: how late the edge lists its parts; DASH: the clock offset, about 0). */
  edgeDelaySec?: number | null;
  startupMs: number | null;
  stalls: number;
  currentTime: number;
  paused: boolean;
  pageErrors: string[];
  requests: { url: string; status: number; cacheStatus: string | null }[];
  /** What the latency control did (joined, caught up, slowed down). */
  latencyNotes: string[];
}

let demo: ChildProcess;
let dir: string;
let pageUrl = '';
let edgeUrl = '';
let originUrl = '';
let browser: Browser;
let demoOutput = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-demo-'));
  // Exactly what a user types, with free ports so the suite can run beside other servers.
  demo = spawn(
    'npm',
    ['start', '--', '--dir', dir, '--port', '0', '--edge-port', '0', '--shield-port', '0', '--origin-port', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      demoOutput += d.toString();
      const page = /streamedge demo is running: (http:\/\/\S+)/.exec(demoOutput);
      const edge = /\bedge (http:\/\/127\.0\.0\.1:\d+)/.exec(demoOutput);
      const origin = /\borigin (http:\/\/127\.0\.0\.1:\d+)/.exec(demoOutput);
      if (page && edge) {
        pageUrl = page[1]!;
        edgeUrl = edge[1]!;
        originUrl = origin?.[1] ?? '';
        resolve();
      }
    };
    demo.stdout!.on('data', onData);
    demo.stderr!.on('data', (d: Buffer) => (demoOutput += d.toString()));
    demo.once('exit', (code) =>
      reject(new Error(`npm start exited (${code}) before printing its URL:\n${demoOutput.slice(-3000)}`)),
    );
  });
  browser = await launchChromium();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    process.kill(-demo.pid!, 'SIGINT'); // Ctrl-C, as a user stops it: the whole process group
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function open(src: string, engine: string): Promise<Page> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${pageUrl}?src=${encodeURIComponent(src)}&engine=${engine}`);
  return page;
}

async function stats(page: Page): Promise<PageStats> {
  return (await page.evaluate(() => window.__streamedge.stats())) as PageStats;
}

async function waitForPlayback(page: Page, seconds: number, timeoutMs = 90_000): Promise<PageStats> {
  try {
    await page.waitForFunction(
      (t) => {
        const s = window.__streamedge.stats() as { currentTime: number; startupMs: number | null };
        return s.startupMs !== null && s.currentTime >= t;
      },
      seconds,
      { timeout: timeoutMs, polling: 250 },
    );
  } catch (err) {
    // what the player held and asked for when it did not get there (a live start once hung 90 s in CI)
    const facts = await liveFacts(page, Date.now()).catch((e: unknown) => ({ factsFailed: String(e) }));
    throw new Error(`no playback to ${seconds} s on ${page.url()}: ${JSON.stringify(facts)}`, { cause: err });
  }
  return stats(page);
}

/**
 * How far behind the wall clock a live media playlist's end is, fetched now (no blocking reload):
 * from the origin, the encoder's own lag; from the edge, that plus what the edge tiers add.
 */
async function listedLagSec(base: string, renditionId: string): Promise<{ lagSec: number; lastMsn: number } | string> {
  try {
    const text = await (await fetch(`${base}/live/news/${renditionId}/index.m3u8`)).text();
    let msn = -1;
    let pdt: number | undefined;
    let partsSec = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) msn = Number(line.slice(22)) - 1;
      else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
      else if (line.startsWith('#EXT-X-PART:')) partsSec += Number(/DURATION=([\d.]+)/.exec(line)?.[1] ?? 0);
      else if (line.startsWith('#EXTINF:')) {
        if (pdt !== undefined) pdt += Number(line.slice(8).split(',')[0]) * 1000;
        partsSec = 0;
        msn++;
      }
    }
    if (pdt === undefined) return 'no EXT-X-PROGRAM-DATE-TIME';
    // parts after the last EXTINF belong to the segment in progress (msn + 1)
    return { lagSec: (Date.now() - (pdt + partsSec * 1000)) / 1000, lastMsn: partsSec > 0 ? msn + 1 : msn };
  } catch (e) {
    return String(e);
  }
}

/**
 * What a live-latency failure needs to explain itself: the player's state and buffer, what it
 * measured, and where the lag is (the origin's playlist end vs the wall clock is the encoder's
 * own lag; the edge's adds the tiers; the player's edgeDelaySec adds its reloads), with the
 * channel's health (an encoder restart shows as restarts/lastError).
 */
/**
 * Waits (bounded) until the live player sits within 2.4 s of the playlist's end (its steering target
 * is PART-HOLD-BACK + 0.15 s) and, with `afterStall`, is playing again after at least one stall;
 * on a timeout the error carries the live facts.
 */
async function settledNearHoldBack(page: Page, openedAt: number, afterStall: boolean): Promise<void> {
  await page
    .waitForFunction(
      (stalled) => {
        const st = window.__streamedge.stats() as {
          stalls: number;
          paused: boolean;
          latencySec: number | null;
          edgeDelaySec: number | null;
        };
        return (
          (!stalled || (st.stalls >= 1 && !st.paused)) &&
          st.latencySec !== null &&
          st.edgeDelaySec !== null &&
          st.latencySec - st.edgeDelaySec < 2.4
        );
      },
      afterStall,
      { timeout: 60_000, polling: 250 },
    )
    .catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${JSON.stringify(await liveFacts(page, openedAt), null, 1)}`);
    });
}

async function liveFacts(page: Page, openedAt: number): Promise<Record<string, unknown>> {
  const st = (await page.evaluate(() => ({
    stats: window.__streamedge.stats(),
    buffered: (() => {
      const b = document.querySelector('video')!.buffered;
      return Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]);
    })(),
  }))) as { stats: PageStats & Record<string, unknown>; buffered: number[][] };
  const s = st.stats;
  const id = s.levels[Math.max(0, s.currentLevel)]?.id ?? '';
  const health = originUrl
    ? await fetch(`${originUrl}/health`)
        .then((r) => r.json())
        .catch((e: unknown) => String(e))
    : 'origin URL unknown';
  return {
    sinceOpenSec: (Date.now() - openedAt) / 1000,
    player: {
      currentTime: s.currentTime,
      paused: s.paused,
      playbackRate: s['playbackRate'],
      bufferSec: s['bufferSec'],
      buffered: st.buffered,
      // each SourceBuffer's own: the element's is where both hold media
      trackRanges: s['trackRanges'],
      stalls: s.stalls,
      stallMs: s['stallMs'],
      level: id,
      latencySec: s.latencySec,
      edgeDelaySec: s.edgeDelaySec,
      behindEdgeSec: s['behindEdgeSec'],
      latencyNotes: s['latencyNotes'],
      errors: s['errors'],
    },
    originPlaylistLag: originUrl ? await listedLagSec(originUrl, id) : 'origin URL unknown',
    edgePlaylistLag: await listedLagSec(edgeUrl, id),
    originHealth: health,
    recentRequests: s.requests.slice(0, 16).map((r) => `${r.status} ${r.url}`),
  };
}

/**
 * Until the live channel's window lists 10 segments or more (20 s: the channel runs from the suite's
 * start; a test run alone waits for it).
 */
async function waitForDvrWindow(): Promise<void> {
  const master = await (await fetch(`${edgeUrl}/live/news/master.m3u8`)).text();
  const variant = new URL(
    master.split('\n').find((l) => l && !l.startsWith('#'))!,
    `${edgeUrl}/live/news/`,
  );
  const deadline = Date.now() + 90_000;
  for (;;) {
    const listed = (await (await fetch(variant)).text()).split('\n').filter((l) => l.startsWith('#EXTINF')).length;
    if (listed >= 10) return;
    expect(Date.now()).toBeLessThan(deadline);
    await new Promise((r) => setTimeout(r, 1000)); // polling the playlist, not synchronising
  }
}

/** The video element's first buffered start, seekable range and playback rate. */
function videoRanges(
  page: Page,
): Promise<{ bufferedStart: number; seekableStart: number; seekableEnd: number; rate: number }> {
  return page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    return {
      bufferedStart: v.buffered.start(0),
      seekableStart: v.seekable.length ? v.seekable.start(0) : NaN,
      seekableEnd: v.seekable.length ? v.seekable.end(v.seekable.length - 1) : NaN,
      rate: v.playbackRate,
    };
  });
}

/**
 * Holds every media request of the page (segments, parts; playlists flow) until the returned
 * function is called: a link that carries nothing, for a stall on demand. Requests the page
 * gave up on meanwhile (a seek aborts its downloads) are dropped.
 */
async function holdMedia(page: Page): Promise<() => Promise<void>> {
  const held: Route[] = [];
  const media = /\.(m4s|mp4)(\?|$)/;
  const handler = (route: Route) => {
    held.push(route);
  };
  await page.route(media, handler);
  return async () => {
    await page.unroute(media, handler);
    for (const route of held.splice(0)) await route.continue().catch(() => {});
  };
}

/** Until the live player's latency is above `sec` (bounded). */
async function latencyAbove(page: Page, sec: number): Promise<void> {
  await page.waitForFunction(
    (s) => {
      const st = window.__streamedge.stats() as { latencySec: number | null };
      return st.latencySec !== null && st.latencySec > s;
    },
    sec,
    { timeout: 30_000, polling: 250 },
  );
}

describe('npm start', () => {
  it('prints one URL whose page, config and streams answer through the edge', async () => {
    const page = await fetch(pageUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('streamedge');
    const config = (await (await fetch(new URL('config.json', pageUrl))).json()) as {
      streams: { name: string; url: string }[];
    };
    expect(config.streams.map((s) => s.name)).toEqual(['VOD · HLS', 'VOD · DASH', 'Live · LL-HLS', 'Live · LL-DASH']);
    for (const s of config.streams) {
      expect(s.url.startsWith(edgeUrl)).toBe(true);
      const r = await fetch(s.url);
      expect(r.status, s.url).toBe(200);
      expect(r.headers.get('cache-status'), s.url).toMatch(/^shield; .*, edge; /); // one entry per tier, origin side first
      await r.arrayBuffer();
    }
  });
});

describe('player demo in Chromium', () => {
  it('our player plays VOD through the edge for 10 s without a stall, with Cache-Status shown', async () => {
    const page = await open(`${edgeUrl}/vod/sample/master.m3u8`, 'ours');
    const s = await waitForPlayback(page, 10);
    expect(s.engine).toBe('ours');
    expect(s.stalls).toBe(0);
    expect(s.pageErrors).toEqual([]);
    expect(s.levels.length).toBeGreaterThanOrEqual(2);
    expect(s.requests.some((r) => /\bedge; (hit|fwd=)/.test(r.cacheStatus ?? ''))).toBe(true);
    // the sample's ad cues (20 s, and a 4 s break at 40 s): the page counts down to the first
    await page.waitForFunction(
      () => /^splice-1 in \d+\.\d s$/.test(document.getElementById('c-adbreak')?.textContent ?? ''),
      undefined,
      {
        timeout: 5_000,
        polling: 100,
      },
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'player-demo.png'), fullPage: true });
    await page.close();
  });

  it('switches down when bandwidth is limited below the top rendition, and back up when lifted', async () => {
    const page = await open(`${edgeUrl}/vod/sample/master.m3u8`, 'ours');
    await waitForPlayback(page, 0.5);
    const { levels } = await stats(page);
    const top = levels.length - 1;
    const level = () => stats(page).then((s) => s.currentLevel);
    await page.waitForFunction(
      (t) => (window.__streamedge.stats() as { currentLevel: number }).currentLevel === t,
      top,
      { timeout: 30_000 },
    );
    // A player that just climbed to the top rung may hold only a segment or two. With 6 s buffered
    // (three 2 s segments) a switch down fits before the buffer runs out, so a stall is the player's.
    await page.waitForFunction(() => (window.__streamedge.stats() as { bufferSec: number }).bufferSec >= 6, null, {
      timeout: 30_000,
    });
    // A harsh cut: just above the lowest rung plus audio (0.86 Mbit/s on the demo's ladder, 3.7x
    // below the top rung). Only the lowest rung fits. This once stalled 1.5 s in 2 of 4 runs: an
    // abandoned top-rung segment went on through the page's limited link for seconds (its body
    // ignored the abort), and a segment that took 7 s left the estimate at tens of Mbit/s (a fast
    // history outweighed it), so the top rung was chosen again. (A limit just under the top rung is
    // not acted on within 30 s while the buffer is deep, rightly.)
    // (About 3.5x below the top rung: the encode's bitrates move by a fraction of a percent from one
    // packaging to the next, and a fresh clone once measured 3.4999, so the bound leaves room.)
    const limitMbps = Math.max(0.5, ((levels[0].bitrate + levels[1].bitrate) / 2 / 1e6) * 1.2);
    expect(levels[top].bitrate / 1e6 / limitMbps).toBeGreaterThanOrEqual(3);
    expect(limitMbps * 1e6).toBeLessThan(levels[1].bitrate); // only the lowest rung fits
    await page.evaluate((m) => window.__streamedge.setBandwidth(m), limitMbps);
    await page.waitForFunction((t) => (window.__streamedge.stats() as { currentLevel: number }).currentLevel < t, top, {
      timeout: 30_000,
    });
    const limited = await level();
    expect(levels[limited].bitrate).toBeLessThan(levels[top].bitrate);
    await page.evaluate(() => window.__streamedge.setBandwidth(null));
    await page.waitForFunction(
      (l) => (window.__streamedge.stats() as { currentLevel: number }).currentLevel > l,
      limited,
      { timeout: 40_000 },
    );
    const end = await stats(page);
    const { stalls, currentTime, currentLevel } = end;
    expect(stalls, JSON.stringify({ stalls, currentTime, currentLevel, limited, limitMbps, end })).toBe(0);
    await page.close();
  });

  it('fast switching: after the link recovers, buffered lower-rung media ahead is replaced and plays at the higher rung', async () => {
    const page = await open(`${edgeUrl}/vod/sample/master.m3u8`, 'ours');
    await waitForPlayback(page, 0.5);
    const { levels } = await stats(page);
    const top = levels.length - 1;
    // A link that carries the second rung from the bottom and not the one above it: the player
    // goes down and fills its buffer with lower-rung media.
    const limitMbps = ((levels[1].bitrate + levels[2].bitrate) / 2 / 1e6) * 0.9;
    await page.evaluate((m) => window.__streamedge.setBandwidth(m), limitMbps);
    await page.waitForFunction(
      (t) => {
        const s = window.__streamedge.stats() as { currentLevel: number; bufferSec: number; playingLevel: number };
        return s.currentLevel < t && s.playingLevel < t && s.bufferSec >= 8;
      },
      top,
      { timeout: 60_000, polling: 250 },
    );
    await page.evaluate(() => window.__streamedge.setBandwidth(null));
    await page.waitForFunction(
      () => (window.__streamedge.stats() as { fastSwitches: number }).fastSwitches >= 1,
      null,
      { timeout: 40_000, polling: 250 },
    );
    const after = (await page.evaluate(() => window.__streamedge.stats())) as PageStats & {
      replacements: { startSec: number; endSec: number; from: number; to: number }[];
      levels: { height?: number }[];
    };
    const r = after.replacements[0];
    expect(r.to).toBeGreaterThan(r.from);
    // the replaced range was ahead of the playhead when it was replaced; wait until it plays
    await page.waitForFunction(
      (at) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= at,
      r.startSec + 0.5,
      { timeout: 30_000, polling: 100 },
    );
    const shown = await page.evaluate(() => {
      const s = window.__streamedge.stats() as {
        currentTime: number;
        playingLevel: number;
        replacements: { startSec: number; endSec: number; from: number; to: number }[];
      };
      return { height: document.querySelector('video')!.videoHeight, ...s };
    });
    expect(shown.currentTime).toBeLessThan(r.endSec); // still inside the replaced range
    // the range may have been replaced again, at a still higher rung, before it played: the last
    // replacement covering the playhead is what plays
    const last = shown.replacements
      .filter((x) => x.startSec <= shown.currentTime && shown.currentTime < x.endSec)
      .at(-1)!;
    expect(last.to).toBeGreaterThanOrEqual(r.to);
    expect(shown.playingLevel).toBe(last.to);
    expect(shown.height).toBe(after.levels[last.to].height);
    expect(after.levels[r.from].height).not.toBe(after.levels[last.to].height);
    const end = await stats(page);
    expect(end.stalls).toBe(0);
    expect(end.pageErrors).toEqual([]);
    await page.close();
  });

  it('a replacement a higher rung cannot deliver (404): the buffered chunk stays, the rung is left alone for a while, playback goes on', async () => {
    const proxy = await startFaultProxy(edgeUrl, []);
    try {
      const page = await open(`${proxy.url}/vod/sample/master.m3u8`, 'ours');
      await waitForPlayback(page, 0.5);
      const { levels } = await stats(page);
      expect(levels.map((l) => l.id)).toEqual(['240p', '360p', '540p', '720p']);
      // the buffer fills with 360p or lower on a link that does not carry 540p, as above
      const limitMbps = ((levels[1].bitrate + levels[2].bitrate) / 2 / 1e6) * 0.9;
      await page.evaluate((m) => window.__streamedge.setBandwidth(m), limitMbps);
      await page.waitForFunction(
        () => {
          const s = window.__streamedge.stats() as { currentLevel: number; playingLevel: number; bufferSec: number };
          return s.currentLevel < 2 && s.playingLevel < 2 && s.bufferSec >= 8;
        },
        null,
        { timeout: 60_000, polling: 250 },
      );
      // from now on, the segments buffered at 240p or 360p are missing (404) at 540p and 720p:
      // exactly the ones fast switching would replace
      const low = [...proxy.requests.keys()]
        .map((p) => /\/(?:240p|360p)\/seg-(\d+)\.m4s$/.exec(p)?.[1])
        .filter((n) => n !== undefined);
      const before = new Map(proxy.requests);
      proxy.rules.push({
        path: new RegExp(`/(540p|720p)/seg-(${low.join('|')})\\.m4s$`),
        fault: { status: 404 },
        times: Infinity,
      });
      await page.evaluate(() => window.__streamedge.setBandwidth(null));
      await page.waitForFunction(
        () => (window.__streamedge.stats() as { retryNotes: string[] }).retryNotes.some((n) => /; keeping /.test(n)),
        null,
        { timeout: 40_000, polling: 250 },
      );
      const s0 = (await stats(page)) as PageStats & { disabledLevels: number[] };
      expect(s0.disabledLevels.length).toBeGreaterThan(0);
      expect(Math.min(...s0.disabledLevels)).toBeGreaterThanOrEqual(2);
      await waitForPlayback(page, s0.currentTime + 4);
      const s = (await stats(page)) as PageStats & { retryNotes: string[]; disabledLevels: number[] };
      expect(s.pageErrors).toEqual([]);
      // each failure noted: the chunk already buffered stays; nothing was retried at a rung that said 404
      for (const n of s.retryNotes) expect(n).toMatch(/\/(540p|720p)\/seg-\d+\.m4s: HTTP 404; keeping (240p|360p)$/);
      for (const f of proxy.injected) expect(proxy.requests.get(f.path)! - (before.get(f.path) ?? 0)).toBe(1);
      // a rung is not asked for anything after a 404 disabled it (for 30 s, longer than this test)
      for (const i of s0.disabledLevels) {
        const seg = `/${levels[i].id}/seg-`;
        const failedAt = proxy.log.findIndex((p) => p.includes(seg) && proxy.injected.some((f) => f.path === p));
        expect(failedAt).toBeGreaterThanOrEqual(0);
        expect(proxy.log.slice(failedAt + 1).filter((p) => p.includes(seg))).toEqual([]);
      }
      await page.close();
    } finally {
      await proxy.close();
    }
  });

  it('our player seeks (HLS and DASH): the seek bar spans the whole asset; a seek past the buffer fetches from there, nothing between; a seek back into the buffer fetches nothing', async () => {
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
      const page = await open(`${edgeUrl}/vod/sample/${manifest}`, 'ours');
      const videoSegs: number[] = [];
      page.on('request', (r) => {
        const m = /\/\d+p\/seg-(\d+)\.m4s$/.exec(new URL(r.url()).pathname);
        if (m) videoSegs.push(Number(m[1]));
      });
      await waitForPlayback(page, 1);
      const video = () =>
        page.evaluate(() => {
          const v = document.getElementById('video') as HTMLVideoElement;
          return { duration: v.duration, currentTime: v.currentTime, seeking: v.seeking };
        });
      // the demo's sample is 60 s long, not "as long as what is buffered"
      expect((await video()).duration).toBeCloseTo(60, 0);
      const before = videoSegs.length;
      // what was fetched before the seek: no more than the page's 12 s buffer target past the
      // playhead and the one 2 s segment that crossed it (segments from seg-1), even while audio
      // lags (the video loop measures its own SourceBuffer)
      const fetchedBefore = Math.max(...videoSegs);
      const playhead = (await video()).currentTime;
      expect(fetchedBefore).toBeLessThanOrEqual(Math.ceil((playhead + 12 + 2) / 2));
      await page.evaluate(() => {
        (document.getElementById('video') as HTMLVideoElement).currentTime = 45;
      });
      await page.waitForFunction(
        () => {
          const v = document.getElementById('video') as HTMLVideoElement;
          return !v.seeking && v.currentTime >= 46.5;
        },
        undefined,
        { timeout: 30_000, polling: 100 },
      );
      const after = videoSegs.slice(before);
      // 2 s segments from seg-1: 45 s is in seg-23; what lies between was never asked for (but the
      // one next segment the loop may have asked for as the seek was made)
      expect(after).toContain(23);
      expect(after.filter((n) => n > fetchedBefore + 1 && n <= 22)).toEqual([]);
      // back to 1.5 s, still buffered: plays on with no new request for it
      const beforeBack = videoSegs.length;
      await page.evaluate(() => {
        (document.getElementById('video') as HTMLVideoElement).currentTime = 1.5;
      });
      await page.waitForFunction(
        () => {
          const v = document.getElementById('video') as HTMLVideoElement;
          return !v.seeking && v.currentTime >= 2.5 && v.currentTime < 10;
        },
        undefined,
        { timeout: 30_000, polling: 100 },
      );
      expect(videoSegs.slice(beforeBack).filter((n) => n <= 2)).toEqual([]);
      const s = (await stats(page)) as PageStats & { seeks: number };
      expect(s.pageErrors).toEqual([]);
      expect(s.seeks).toBe(1); // the seek back stayed in the buffer
      await page.close();
    }
  });

  it('our player plays live LL-HLS through the edge and settles just above PART-HOLD-BACK behind it (under 2.6 s), never below it', async () => {
    const openedAt = Date.now();
    const page = await open(`${edgeUrl}/live/news/master.m3u8`, 'ours');
    const first = await waitForPlayback(page, 0);
    // Let it settle on the latency target, then read what the page shows over a few seconds.
    await page.waitForFunction(
      (t) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t + 8,
      first.currentTime,
      {
        timeout: 60_000,
        polling: 250,
      },
    );
    // Wall-clock latency = how far behind the playlist's end the player sits + how late the edge
    // lists its parts (edgeDelaySec: the player measures it from the playlists' arrival). The
    // player steers the first to 2.15 s (PART-HOLD-BACK 2 s + 0.15) with a playback rate within
    // 1 ± 0.1; a start-up that a loaded machine delayed takes a few seconds to win back: wait,
    // bounded, until it has converged.
    await settledNearHoldBack(page, openedAt, false);
    const latencies: number[] = [];
    const behind: number[] = [];
    const samples: { t: number; latency: number | null; edgeDelay: number | null; currentTime: number }[] = [];
    while (latencies.length < 8) {
      const before = (await stats(page)).currentTime;
      await page.waitForFunction(
        (t) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t + 0.5,
        before,
        { timeout: 10_000 },
      );
      const s = await stats(page);
      samples.push({
        t: (Date.now() - openedAt) / 1000,
        latency: s.latencySec,
        edgeDelay: s.edgeDelaySec ?? null,
        currentTime: s.currentTime,
      });
      expect(s.latencySec).not.toBeNull();
      expect(s.edgeDelaySec).not.toBeNull();
      latencies.push(s.latencySec!);
      behind.push(s.latencySec! - s.edgeDelaySec!);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const s = await stats(page);
    // On failure, the facts a future engineer needs (this once failed at 15.0 s with the
    // distance behind the playlist's end in range, i.e. edgeDelaySec ~13 s, and was not caught).
    const why = JSON.stringify({ samples, ...(await liveFacts(page, openedAt)) }, null, 1);
    expect(s.pageErrors, why).toEqual([]);
    expect(median(behind), why).toBeGreaterThan(1.9); // not below PART-HOLD-BACK
    expect(median(behind), why).toBeLessThan(2.6);
    expect(median(latencies), why).toBeLessThan(5);
    expect(s.requests.some((r) => /seg-\d+\.\d+\.m4s/.test(r.url))).toBe(true); // parts, not just segments
    await page.close();
  });

  it('our player seeks back into the live DVR window (LL-HLS and LL-DASH): plays from there without catching up, and returns to the edge on a seek there', async () => {
    await waitForDvrWindow();
    for (const manifest of ['master.m3u8', 'manifest.mpd']) {
      const page = await open(`${edgeUrl}/live/news/${manifest}`, 'ours');
      const first = await waitForPlayback(page, 0);
      await waitForPlayback(page, first.currentTime + 2);
      const ranges = () => videoRanges(page);
      const r = await ranges();
      // the channel has run since the suite started: its window (120 s) reaches well before the join
      expect(r.seekableStart).toBeLessThan(r.bufferedStart - 14);
      const target = r.bufferedStart - 12;
      // The media for the seek comes only once the edge media buffered ahead of it is gone: left
      // there, it is a later range the gap skip jumps to whenever playback reaches the end of what
      // has come so far (seen in CI, with the first 11 ms of the target's audio and video in).
      const release = await holdMedia(page);
      await page.evaluate((t) => {
        (document.getElementById('video') as HTMLVideoElement).currentTime = t;
      }, target);
      await page
        .waitForFunction(
          (t) => {
            const { trackRanges: tr } = window.__streamedge.stats() as {
              trackRanges: Record<string, [number, number][]>;
            };
            return [tr['video'], tr['audio']].every((rs) => rs.every(([start]) => start < t + 1));
          },
          target,
          { timeout: 10_000, polling: 100 },
        )
        .catch(async (e: unknown) => {
          throw new Error(`${String(e)}\n${JSON.stringify(await liveFacts(page, Date.now()), null, 1)}`);
        });
      await release();
      await waitForPlayback(page, target + 3, 30_000);
      const back = (await stats(page)) as PageStats & {
        dvr: boolean;
        seeks: number;
        behindEdgeSec: number | null;
        trackRanges: { video: [number, number][]; audio: [number, number][] };
      };
      const why = JSON.stringify({ target, ...(await liveFacts(page, Date.now())) }, null, 1);
      expect(back.currentTime, why).toBeLessThan(target + 8); // played on from there: no jump to the edge
      // both tracks hold the media there (the element's buffered is only where both do)
      const holds = (rs: [number, number][]) => rs.some(([a, b]) => a <= target + 0.5 && b >= target + 2.5);
      expect(holds(back.trackRanges.video), why).toBe(true);
      expect(holds(back.trackRanges.audio), why).toBe(true);
      expect(back.dvr).toBe(true);
      expect(back.seeks).toBe(1);
      expect(back.latencySec!).toBeGreaterThan(12);
      // the distance behind the edge is kept up to date in the DVR window too (nothing steers it)
      expect(back.behindEdgeSec!).toBeGreaterThan(10);
      expect((await ranges()).rate).toBe(1);
      // the page says so and offers the way back: its "go live" button seeks near the window's end
      await page.waitForSelector('#go-live', { state: 'visible', timeout: 5_000 });
      expect(await page.textContent('#c-latency')).toMatch(/ s \(DVR\)$/);
      await page.click('#go-live');
      await page.waitForFunction(
        () => {
          const s = window.__streamedge.stats() as { dvr: boolean; latencySec: number | null; paused: boolean };
          return !s.dvr && s.latencySec !== null && s.latencySec < 5 && !s.paused;
        },
        undefined,
        { timeout: 30_000, polling: 250 },
      );
      const live = await stats(page);
      await waitForPlayback(page, live.currentTime + 2, 30_000);
      await page.waitForSelector('#go-live', { state: 'hidden', timeout: 5_000 });
      expect((await stats(page)).pageErrors).toEqual([]);
      await page.close();
    }
  });

  it('our player, stalled far behind the live edge, resyncs to it; a seek back into the DVR window meanwhile wins over the resync', async () => {
    await waitForDvrWindow();
    const openedAt = Date.now();
    const page = await open(`${edgeUrl}/live/news/master.m3u8`, 'ours');
    const first = await waitForPlayback(page, 0);
    await waitForPlayback(page, first.currentTime + 2);
    type LiveStats = PageStats & { resyncs: number; dvr: boolean; latencyNotes: string[] };
    const facts = async (extra: Record<string, unknown> = {}) =>
      JSON.stringify({ ...extra, ...(await liveFacts(page, openedAt)) }, null, 1);

    // A stall: the media requests are held (the playlists flow), the buffer runs dry and the
    // latency climbs past the resync limit (PART-HOLD-BACK + 3 s).
    let release = await holdMedia(page);
    await latencyAbove(page, 8);
    await release();
    await page
      .waitForFunction(
        () => {
          const st = window.__streamedge.stats() as { resyncs: number; latencySec: number | null };
          return st.resyncs >= 1 && st.latencySec !== null && st.latencySec < 5;
        },
        undefined,
        { timeout: 30_000, polling: 250 },
      )
      .catch(async (e: unknown) => {
        throw new Error(`${String(e)}\n${await facts()}`);
      });
    const resynced = (await stats(page)) as LiveStats;
    expect(resynced.stalls).toBeGreaterThanOrEqual(1);
    expect(
      resynced.latencyNotes.some((n) => n.includes('the fetches resync to it')),
      await facts(),
    ).toBe(true);
    expect(resynced.dvr).toBe(false);

    // The same stall, but this time the viewer seeks back into the DVR window while far behind:
    // the seek is where playback goes on, the resync due before it is not made after it.
    release = await holdMedia(page);
    await latencyAbove(page, 8);
    const r = await videoRanges(page);
    const target = r.bufferedStart - 12;
    expect(r.seekableStart).toBeLessThan(target);
    await page.evaluate((t) => {
      (document.getElementById('video') as HTMLVideoElement).currentTime = t;
    }, target);
    await release();
    await waitForPlayback(page, target + 3, 30_000);
    const back = (await stats(page)) as LiveStats;
    const why = await facts({ target });
    expect(back.currentTime, why).toBeLessThan(target + 8);
    expect(back.dvr, why).toBe(true);
    expect(back.resyncs, why).toBe(resynced.resyncs);
    expect(back.pageErrors).toEqual([]);
    await page.close();
  });

  it("our player plays live LL-DASH through the edge, joining the MPD's target latency behind the live edge on the MPD's clock", async () => {
    const openedAt = Date.now();
    const mpd = await (await fetch(`${edgeUrl}/live/news/manifest.mpd`)).text();
    const target = Number(/<Latency[^>]*target="(\d+)"/.exec(mpd)?.[1]) / 1000;
    expect(target).toBeGreaterThan(0);
    const page = await open(`${edgeUrl}/live/news/manifest.mpd`, 'ours');
    const first = await waitForPlayback(page, 0);
    await page.waitForFunction(
      (t) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t + 4,
      first.currentTime,
      {
        timeout: 60_000,
      },
    );
    const s = await stats(page);
    const why = JSON.stringify(await liveFacts(page, openedAt), null, 1);
    expect(s.pageErrors, why).toEqual([]);
    expect(s.latencySec, why).not.toBeNull();
    // The live edge is now on the MPD's clock (UTCTiming), and the player starts in the segment
    // holding the join point: it joins the target (just above the MPD's) behind the edge. It used
    // to join the segment being produced with one part buffered, 0.0-0.4 s behind the edge, and
    // play at 0.9x for seconds to fall back (stalling in 2 of 4 probes).
    const joined = s.latencyNotes.map((n) => /joined (\d+\.\d+) s behind the live edge/.exec(n)?.[1]).find(Boolean);
    expect(joined, why).toBeDefined();
    expect(Number(joined), why).toBeGreaterThan(target - 0.1);
    expect(s.latencySec!, why).toBeGreaterThan(target - 0.1);
    await page.close();
  });

  for (const [engine, vod, live] of [
    ['hlsjs', '/vod/sample/master.m3u8', '/live/news/master.m3u8'],
    ['dashjs', '/vod/sample/manifest.mpd', '/live/news/manifest.mpd'],
  ] as const) {
    it(`${engine} plays our VOD and live streams through the edge without errors`, async () => {
      for (const path of [vod, live]) {
        const page = await open(`${edgeUrl}${path}`, engine);
        const first = await waitForPlayback(page, 0);
        await page.waitForFunction(
          (t) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t + 3,
          first.currentTime,
          {
            timeout: 60_000,
          },
        );
        const s = await stats(page);
        expect(s.engine).toBe(engine === 'hlsjs' ? 'hls.js' : 'dash.js');
        expect(s.pageErrors, path).toEqual([]);
        await page.close();
      }
    });
  }
});

// Last in the file: it restarts the demo's live encoder, which the tests above do not expect.
describe('live channel encoder restart', () => {
  interface ChannelHealth {
    channels: { pid?: number; restarts: number; state: string }[];
  }
  const health = async () => (await (await fetch(`${originUrl}/health`)).json()) as ChannelHealth;

  it('our LL-HLS player rides out an encoder restart: stalls, skips the gap and is back just above PART-HOLD-BACK', async () => {
    expect(originUrl).not.toBe('');
    const openedAt = Date.now();
    const page = await open(`${edgeUrl}/live/news/master.m3u8`, 'ours');
    await waitForPlayback(page, 0);
    await page.waitForFunction(
      () => {
        const st = window.__streamedge.stats() as { latencySec: number | null; edgeDelaySec: number | null };
        return st.latencySec !== null && st.edgeDelaySec !== null && st.latencySec - st.edgeDelaySec < 2.4;
      },
      undefined,
      { timeout: 60_000, polling: 250 },
    );
    const before = (await health()).channels[0];
    expect(before.pid).toBeDefined();
    // The encoder hangs (as a starved or wedged ffmpeg does): no media until the origin gives up on
    // it after its stall timeout and starts a new run, after a gap, with a discontinuity. Meanwhile
    // the player's blocking reload is answered 503 (not satisfied within 3 target durations).
    process.kill(before.pid!, 'SIGSTOP');
    try {
      const deadline = Date.now() + 60_000;
      while ((await health()).channels[0].restarts <= before.restarts) {
        if (Date.now() > deadline) throw new Error('the origin did not restart the stopped encoder within 60 s');
        await new Promise((r) => setTimeout(r, 250)); // polling the origin's state, bounded above
      }
    } finally {
      try {
        process.kill(before.pid!, 'SIGCONT'); // if the origin has not already ended it
      } catch {
        /* already gone */
      }
    }
    // The player stalled at the end of the old run's media; it must jump the gap and steer back.
    await settledNearHoldBack(page, openedAt, true);
    const latencies: number[] = [];
    const behind: number[] = [];
    while (latencies.length < 4) {
      const t = (await stats(page)).currentTime;
      await page.waitForFunction(
        (t0) => (window.__streamedge.stats() as { currentTime: number }).currentTime >= t0 + 0.5,
        t,
        { timeout: 10_000 },
      );
      const s = await stats(page);
      latencies.push(s.latencySec!);
      behind.push(s.latencySec! - s.edgeDelaySec!);
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const why = JSON.stringify({ latencies, behind, ...(await liveFacts(page, openedAt)) }, null, 1);
    const s = (await stats(page)) as PageStats & { errors: string[]; latencyNotes: string[] };
    expect(s.errors, why).toEqual([]); // the 503s were retried, not fatal
    expect(
      s.latencyNotes.some((n) => n.includes('skipped a buffer gap')),
      why,
    ).toBe(true);
    expect(median(behind), why).toBeGreaterThan(1.9);
    expect(median(behind), why).toBeLessThan(2.6);
    expect(median(latencies), why).toBeLessThan(5);
    expect((await health()).channels[0].state).toBe('running');
    await page.close();
  });
});

// Last of all: it stops the demo.
describe('stopping', () => {
  it('a SIGTERM to npm alone (as `timeout` or a supervisor sends it) stops the whole demo: every port it opened is closed', async () => {
    const exited = new Promise<void>((resolve) => demo.once('exit', () => resolve()));
    process.kill(demo.pid!, 'SIGTERM'); // npm only, not its process group
    await exited;
    // npm waits for the demo, which waits for each of its services to stop
    const refused = async (url: string): Promise<string> => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        return `answered ${res.status}`;
      } catch (e) {
        return ((e as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? String(e);
      }
    };
    const shieldUrl = /\bshield (http:\/\/127\.0\.0\.1:\d+)/.exec(demoOutput)?.[1] ?? '';
    for (const url of [pageUrl, edgeUrl, shieldUrl, originUrl]) expect(await refused(url), url).toBe('ECONNREFUSED');
  });
});
