/**
 * Seek-bar thumbnail previews in our player, in Debian's Chromium: the 4 s small fixture packaged
 * by our packager (real ffmpeg) with a thumbnail track of one picture a second, 160 pixels wide,
 * 3×2 to a sheet, served by a real origin. Over HLS (EXT-X-IMAGE-STREAM-INF and its image
 * playlist) and DASH (the image AdaptationSet): the player's stats name the track and keep it out
 * of the ladder; the demo page's seek bar shows, and hovering it at 1.5 s and at 3.5 s shows the
 * sheet at two different cells (the second and the fourth picture) with the time; the sheet the
 * preview asked for came back 200 image/jpeg and decodes to the whole 480×180 grid; a click on the
 * bar seeks there. The same asset packaged without thumbnails plays with the seek bar hidden, and
 * no thumbnail request is made.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, playbackStarted, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';

let rig: BrowserRig;
let origin = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-player-thumbnails-');
  const input = await fixture('small');
  await packageSmall(rig.dir, input, 'movie', { thumbnails: { intervalSec: 1, width: 160, columns: 3, rows: 2 } });
  await packageSmall(rig.dir, input, 'plain');
  origin = await rig.origin({ root: join(rig.dir, 'root') });
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

interface Stats {
  levels: { id: string }[];
  thumbnails: {
    sheets: number;
    width: number;
    height: number;
    columns: number;
    rows: number;
    intervalSec: number;
  } | null;
  pageErrors: string[];
}

/** What the preview shows after the pointer moved over the seek bar at media time `t`. */
async function hoverAt(
  page: Page,
  t: number,
): Promise<{ image: string; position: string; size: string; time: string }> {
  const box = (await page.locator('#seekbar').boundingBox())!;
  const duration = await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).duration);
  await page.mouse.move(box.x + (box.width * t) / duration, box.y + box.height / 2);
  await page.locator('#seek-preview').waitFor({ state: 'visible' });
  return page.evaluate(() => {
    const thumb = document.getElementById('seek-thumb')!;
    return {
      image: thumb.style.backgroundImage,
      position: thumb.style.backgroundPosition,
      size: `${thumb.style.width} ${thumb.style.height}`,
      time: document.getElementById('seek-time')!.textContent ?? '',
    };
  });
}

async function open(page: Page, manifest: string): Promise<void> {
  await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${origin}/vod/${manifest}`)}&engine=ours`);
  await playbackStarted(page);
}

describe('our player previews the thumbnail under the pointer on its seek bar', () => {
  for (const [protocol, manifest] of [
    ['HLS', 'movie/master.m3u8'],
    ['DASH', 'movie/manifest.mpd'],
  ] as const) {
    it(`${protocol}: two times, two cells of the sheet, which loaded; a click seeks`, async () => {
      const page = await rig.browser.newPage();
      try {
        const sheetUrl = `${origin}/vod/movie/v1/thumbnails/tile-1.jpg`;
        const sheetAnswer = page.waitForResponse((r) => r.url() === sheetUrl, { timeout: 30_000 });
        sheetAnswer.catch(() => {}); // (awaited below)
        await open(page, manifest);
        await page.locator('#seekbar').waitFor({ state: 'visible', timeout: 10_000 });
        const stats = (await page.evaluate(() => window.__streamedge.stats())) as Stats;
        expect(stats.thumbnails).toMatchObject({
          sheets: 1,
          width: 160,
          height: 90,
          columns: 3,
          rows: 2,
          intervalSec: 1,
        });
        expect(stats.levels.map((l) => l.id).sort()).toEqual(['240p', '360p']);
        await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).pause());

        const second = await hoverAt(page, 1.5);
        expect(second).toEqual({
          image: `url("${sheetUrl}")`,
          position: '-160px 0px',
          size: '160px 90px',
          time: '0:01',
        });
        const answer = await sheetAnswer;
        expect(answer.status()).toBe(200);
        expect(answer.headers()['content-type']).toBe('image/jpeg');
        const fourth = await hoverAt(page, 3.5);
        expect(fourth).toEqual({
          image: `url("${sheetUrl}")`,
          position: '0px -90px',
          size: '160px 90px',
          time: '0:03',
        });
        // the sheet the preview shows is the whole 3×2 grid of 160×90 pictures
        const natural = await page.evaluate(async (url) => {
          const img = new Image();
          img.src = url;
          await img.decode();
          return `${img.naturalWidth}x${img.naturalHeight}`;
        }, sheetUrl);
        expect(natural).toBe('480x180');

        const box = (await page.locator('#seekbar').boundingBox())!;
        const duration = await page.evaluate(() => (document.getElementById('video') as HTMLVideoElement).duration);
        await page.mouse.click(box.x + (box.width * 1.5) / duration, box.y + box.height / 2);
        await page.waitForFunction(
          () => {
            const v = document.getElementById('video') as HTMLVideoElement;
            return !v.seeking && Math.abs(v.currentTime - 1.5) < 0.1;
          },
          undefined,
          { timeout: 10_000, polling: 50 },
        );
        expect(((await page.evaluate(() => window.__streamedge.stats())) as Stats).pageErrors).toEqual([]);
      } finally {
        await page.close();
      }
    }, 90_000);
  }

  it('a stream without thumbnails plays with the seek bar hidden, and asks for none', async () => {
    const page = await rig.browser.newPage();
    const asked: string[] = [];
    page.on('request', (r) => asked.push(new URL(r.url()).pathname));
    try {
      await open(page, 'plain/master.m3u8');
      // (the page has rendered the engine's stats at least once)
      await page.waitForFunction(() => document.getElementById('c-engine')?.textContent === 'ours');
      const stats = (await page.evaluate(() => window.__streamedge.stats())) as Stats;
      expect(stats.thumbnails).toBeNull();
      expect(await page.locator('#seekbar').isHidden()).toBe(true);
      expect(asked.filter((p) => p.includes('thumbnails'))).toEqual([]);
      expect(stats.pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
