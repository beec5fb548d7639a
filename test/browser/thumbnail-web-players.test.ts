/**
 * Our thumbnail tracks read by players we did not write, in Debian's Chromium, through an edge
 * in front of the origin: Shaka Player (npm `shaka-player`) finds the image track in the HLS
 * multivariant playlist (EXT-X-IMAGE-STREAM-INF, the image playlist's EXT-X-TILES) and in the
 * MPD (the DASH-IF thumbnail_tile AdaptationSet), dash.js in the MPD; each, asked for the picture
 * at a time, names the sheet and the cell that holds it, and the browser loads that sheet at the
 * size the manifests promise. A live channel's pictures (one per segment) in Shaka, HLS and DASH:
 * times a segment apart get consecutive pictures, each covering the time asked for; and Shaka
 * joins the LL-HLS channel PART-HOLD-BACK behind its edge, image playlist and all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { fixture } from '../../media-fixtures/generate.js';
import { packageVod } from '../../packager/vod-job.js';
import { createOrigin, type Origin } from '../../packager/origin/server.js';
import { createEdge, type Edge } from '../../edge/server.js';

let dir = '';
let origin: Origin;
let edge: Edge;
let edgeUrl = '';
let live: Origin;
let liveEdge: Edge;
let liveUrl = '';
let pages: ScriptPage | undefined;
let pagesUrl = '';
let browser: Browser;

const SCRIPTS: Record<string, string> = {
  '/shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  '/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-thumbs-players-'));
  // 8 s, one picture a second, 3×2 a sheet: sheet 1 covers 0–6 s, sheet 2 6–8 s
  await packageVod({
    input: await fixture('sample'),
    outDir: join(dir, 'root'),
    assetId: 'movie',
    ladder: 'small',
    segmentDuration: 2,
    thumbnails: { intervalSec: 1, width: 160, columns: 3, rows: 2 },
  });
  origin = await createOrigin({ root: join(dir, 'root'), logger: false, processMetrics: false });
  const originUrl = await origin.listen(0, '127.0.0.1');
  edge = createEdge({
    upstream: originUrl,
    logLevel: 'silent',
    store: { dir: join(dir, 'edge'), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  pages = await startScriptPage(SCRIPTS);
  pagesUrl = pages.url;
  // a live channel with a picture per 2 s segment, through its own edge
  mkdirSync(join(dir, 'live'));
  live = await createOrigin({
    root: join(dir, 'live'),
    logger: false,
    processMetrics: false,
    live: [
      {
        id: 'ch',
        source: 'lavfi:testsrc2=size=320x180:rate=30',
        segmentDuration: 2,
        partDuration: 0.5,
        dvrWindow: 30,
        thumbnails: { width: 160 },
      },
    ],
  });
  liveEdge = createEdge({
    upstream: await live.listen(0, '127.0.0.1'),
    logLevel: 'silent',
    store: { dir: join(dir, 'live-edge'), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
  });
  liveUrl = await liveEdge.listen(0, '127.0.0.1');
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await pages?.close();
  await edge?.close();
  await origin?.close();
  await liveEdge?.close();
  await live?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a player said about the picture at a time, normalised across players. */
interface ShakaCell extends Cell {
  at: number;
  startTime: number;
  duration: number;
}

interface Cell {
  url: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The sheet's size once the browser has loaded it (0×0 when it could not). */
function loadedSize(page: Page, url: string): Promise<[number, number]> {
  return page.evaluate(
    (u) =>
      new Promise<[number, number]>((resolve) => {
        const img = new Image();
        img.onload = () => resolve([img.naturalWidth, img.naturalHeight]);
        img.onerror = () => resolve([0, 0]);
        img.src = u;
      }),
    url,
  );
}

/**
 * Shaka: the picture at each time (VOD), or, with `times` null (live), at two times a segment
 * apart from the start of the seek range; each with the time asked and the span Shaka says it covers.
 */
async function shakaCells(page: Page, src: string, times: number[] | null): Promise<ShakaCell[]> {
  return page.evaluate(
    async ({ src, times }) => {
      const shaka = (window as unknown as { shaka: any }).shaka; // eslint-disable-line @typescript-eslint/no-explicit-any
      const player = new shaka.Player();
      await player.attach(document.getElementById('v'));
      await player.load(src);
      const tracks = player.getImageTracks() as { id: number }[];
      if (tracks.length !== 1) throw new Error(`Shaka found ${tracks.length} image tracks`);
      const { start, end } = player.seekRange() as { start: number; end: number };
      if (!times && end - start < 2.2) throw new Error(`a seek range of ${start}–${end} s: less than a segment`);
      const cells: ShakaCell[] = [];
      for (const t of times ?? [start + 0.1, start + 2.1]) {
        const th = await player.getThumbnails(tracks[0].id, t);
        if (!th) throw new Error(`Shaka has no thumbnail at ${t} s (seek range ${start}–${end})`);
        const cell = { url: th.uris[0], x: th.positionX, y: th.positionY, width: th.width, height: th.height };
        cells.push({ ...cell, at: t, startTime: th.startTime, duration: th.duration });
      }
      await player.destroy();
      return cells;
    },
    { src, times },
  );
}

async function dashjsCells(page: Page, src: string, times: number[]): Promise<Cell[]> {
  return page.evaluate(
    async ({ src, times }) => {
      const dashjs = (window as unknown as { dashjs: any }).dashjs; // eslint-disable-line @typescript-eslint/no-explicit-any
      const player = dashjs.MediaPlayer().create();
      await new Promise<void>((resolve, reject) => {
        player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => resolve());
        player.on(dashjs.MediaPlayer.events.ERROR, (e: unknown) => reject(new Error(JSON.stringify(e))));
        player.initialize(document.getElementById('v'), src, false);
      });
      const cells: Cell[] = [];
      for (const t of times) {
        const th = await new Promise<Cell | null>((resolve) => player.provideThumbnail(t, resolve));
        if (!th) throw new Error(`dash.js has no thumbnail at ${t} s`);
        cells.push({ url: th.url, x: th.x, y: th.y, width: th.width, height: th.height });
      }
      player.reset();
      return cells;
    },
    { src, times },
  );
}

// 0.5 s: sheet 1, first cell; 4.2 s: sheet 1, picture 4 = second row, middle; 7.5 s: sheet 2, second cell
const TIMES = [0.5, 4.2, 7.5];
const EXPECTED = [
  { sheet: 1, x: 0, y: 0 },
  { sheet: 1, x: 160, y: 90 },
  { sheet: 2, x: 160, y: 0 },
];

describe('Shaka Player and dash.js in Chromium read our thumbnail tracks', () => {
  it.each([
    ['Shaka, HLS', shakaCells, 'master.m3u8'],
    ['Shaka, DASH', shakaCells, 'manifest.mpd'],
    ['dash.js, DASH', dashjsCells, 'manifest.mpd'],
  ] as const)('%s: the cell at each time, and the sheet loads at 480×180', async (_name, cells, manifest) => {
    const page = await browser.newPage();
    try {
      await page.goto(pagesUrl);
      const got = await cells(page, `${edgeUrl}/vod/movie/${manifest}`, TIMES);
      got.forEach((c, i) => {
        expect(c.url).toBe(`${edgeUrl}/vod/movie/v1/thumbnails/tile-${EXPECTED[i].sheet}.jpg`);
        expect([c.x, c.y, c.width, c.height]).toEqual([EXPECTED[i].x, EXPECTED[i].y, 160, 90]);
      });
      expect(await loadedSize(page, got[2].url)).toEqual([480, 180]);
    } finally {
      await page.close();
    }
  });
});

/** Four pictures listed: 8 s of the channel behind the edge. */
async function livePicturesListed(): Promise<void> {
  for (const deadline = Date.now() + 40_000; Date.now() < deadline;) {
    const r = await fetch(`${liveUrl}/live/ch/thumbnails/index.m3u8`);
    if (r.status === 200 && ((await r.text()).match(/tile-\d+\.jpg/g) ?? []).length >= 4) return;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error('the live channel listed no four pictures in 40 s');
}

describe('the WebVTT thumbnail index, as Chromium reads it', () => {
  it('Chromium’s own WebVTT parser: a cue a second, each naming its sheet and cell', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(pagesUrl);
      const cues = await page.evaluate(async (src) => {
        const video = document.createElement('video');
        video.crossOrigin = 'anonymous';
        const track = document.createElement('track');
        track.kind = 'metadata';
        track.src = src;
        track.default = true;
        video.appendChild(track);
        document.body.appendChild(video);
        await new Promise<void>((resolve, reject) => {
          track.onload = () => resolve();
          track.onerror = () => reject(new Error(`the index did not load: ${src}`));
        });
        return [...(track.track.cues ?? [])].map((c) => [c.startTime, c.endTime, (c as VTTCue).text]);
      }, `${edgeUrl}/vod/movie/v1/thumbnails/thumbnails.vtt`);
      expect(cues).toHaveLength(8);
      expect(cues[4]).toEqual([4, 5, 'tile-1.jpg#xywh=160,90,160,90']);
      expect(cues[7]).toEqual([7, 8, 'tile-2.jpg#xywh=160,0,160,90']);
    } finally {
      await page.close();
    }
  });
});

describe('live thumbnails in Shaka Player (HLS and DASH), through an edge', () => {
  it.each(['master.m3u8', 'manifest.mpd'])(
    '%s: two times a segment apart, consecutive pictures of 160×90, each covering its time',
    async (manifest) => {
      await livePicturesListed();
      const page = await browser.newPage();
      try {
        await page.goto(pagesUrl);
        const cells = await shakaCells(page, `${liveUrl}/live/ch/${manifest}`, null);
        const numbers = cells.map((c) => {
          expect(c.url).toMatch(new RegExp(`^${liveUrl}/live/ch/thumbnails/tile-\\d+\\.jpg$`));
          expect([c.x, c.y, c.width, c.height]).toEqual([0, 0, 160, 90]);
          return Number(/tile-(\d+)/.exec(c.url)![1]);
        });
        // 2 s segments: 2 s later is the next segment's picture, and each covers the time asked for
        expect(numbers[1] - numbers[0]).toBe(1);
        for (const c of cells) {
          expect(c.duration).toBeCloseTo(2, 1);
          expect(c.at).toBeGreaterThanOrEqual(c.startTime);
          expect(c.at).toBeLessThan(c.startTime + c.duration);
        }
        expect(await loadedSize(page, cells[1].url)).toEqual([160, 90]);
      } finally {
        await page.close();
      }
    },
  );

  // Shaka takes a live presentation's delay from the first live playlist it loads, which can be
  // the image playlist: without the media playlists' PART-HOLD-BACK there it started three
  // segments (6 s) behind the live edge (src/hls/image-playlist.ts).
  it('LL-HLS: Shaka in low-latency mode starts PART-HOLD-BACK (2 s) behind the live edge, not three segments', async () => {
    await livePicturesListed();
    const page = await browser.newPage();
    try {
      await page.goto(pagesUrl);
      const got = await page.evaluate(async (src) => {
        const shaka = (window as unknown as { shaka: any }).shaka; // eslint-disable-line @typescript-eslint/no-explicit-any
        const player = new shaka.Player();
        player.configure({ streaming: { lowLatencyMode: true } });
        await player.attach(document.getElementById('v'));
        await player.load(src);
        const images = (player.getImageTracks() as unknown[]).length;
        // the playhead's program date-time against the clock: where Shaka put the start
        const latencySec = (Date.now() - (player.getPlayheadTimeAsDate() as Date).getTime()) / 1000;
        await player.destroy();
        return { images, latencySec };
      }, `${liveUrl}/live/ch/master.m3u8`);
      expect(got.images).toBe(1);
      // PART-HOLD-BACK 2 s, plus the newest part's age (under half a second) and the edge's delay
      expect(got.latencySec).toBeGreaterThan(1.5);
      expect(got.latencySec).toBeLessThan(4);
    } finally {
      await page.close();
    }
  });
});
