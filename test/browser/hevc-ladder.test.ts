/**
 * A ladder packaged in H.264 and HEVC (`--video-codecs h264,hevc`) in Debian's Chromium: each
 * player offers and fetches the renditions of the one codec family this browser's MSE decodes
 * (HEVC where it can, as Apple's players do; H.264 where it cannot, Chromium on Linux without a
 * hardware decoder), never a mix, and plays. Our player (HLS and DASH), hls.js and dash.js, from
 * our origin on loopback, with real libx265 output.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';

let rig: BrowserRig;
let originUrl = '';
/** Whether this Chromium's MSE decodes the HEVC rungs (asked of the page, as the players ask). */
let hevcPlays = false;

beforeAll(async () => {
  rig = await startBrowserRig('se-hevc-ladder-');
  await packageSmall(rig.dir, await fixture('small'), 'movie', { videoCodecs: ['h264', 'hevc'] });
  originUrl = await rig.origin({ root: join(rig.dir, 'root') });
  const page = await rig.browser.newPage();
  try {
    await page.goto(rig.pages.url);
    hevcPlays = await page.evaluate(() => MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L63.90"'));
  } finally {
    await page.close();
  }
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

interface DemoApi {
  stats(): { currentTime: number; pageErrors: string[]; levels?: { id?: string; codecs?: string }[] };
}

/** Opens `manifest` with `engine`, waits until the playhead passes 2.5 s; the video segment paths it fetched. */
async function play(engine: string, manifest: string): Promise<{ video: string[]; errors: string[] }> {
  const page: Page = await rig.browser.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  try {
    await page.goto(
      `${rig.pages.url}?src=${encodeURIComponent(`${originUrl}/vod/movie/${manifest}`)}&engine=${engine}`,
    );
    await page.waitForFunction(
      () => {
        const s = (window as unknown as { __streamedge: DemoApi }).__streamedge.stats();
        return s.pageErrors.length > 0 || (document.getElementById('video') as HTMLVideoElement).currentTime > 2.5;
      },
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    const errors = await page.evaluate(
      () => (window as unknown as { __streamedge: DemoApi }).__streamedge.stats().pageErrors,
    );
    const video = requested.filter((p) => /\/(?:360p|240p)(?:-hevc)?\/(?:seg-\d+\.m4s|init\.mp4)$/.test(p));
    return { video, errors };
  } finally {
    await page.close();
  }
}

describe('a ladder in H.264 and HEVC', () => {
  for (const [engine, manifest, label] of [
    ['ours', 'master.m3u8', 'our player, HLS'],
    ['ours', 'manifest.mpd', 'our player, DASH'],
    ['hlsjs', 'master.m3u8', 'hls.js'],
    ['dashjs', 'manifest.mpd', 'dash.js'],
  ] as const) {
    it(`${label}: fetches the one codec family this browser decodes, never the other, and plays`, async () => {
      const { video, errors } = await play(engine, manifest);
      expect(errors).toEqual([]);
      expect(video.length).toBeGreaterThanOrEqual(2); // an init segment and media at least
      const hevc = video.filter((p) => p.includes('-hevc/'));
      if (hevcPlays) expect(hevc).toEqual(video);
      else expect(hevc).toEqual([]);
    }, 90_000);
  }
});
