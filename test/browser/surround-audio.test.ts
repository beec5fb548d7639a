/**
 * A package with 5.1 audio (a stereo track and its 5.1 twin, from the `surround` fixture) on the
 * demo page, in Debian's Chromium, served by a real origin. Our HLS player plays the stereo group
 * (the 5.1 group lists every video variant again: its ladder must not double) and offers the twin
 * of the other group as a track; hls.js plays it; our player, on HLS and on DASH, lists stereo and
 * 5.1, starts on stereo (DASH: Role main) and, switched to 5.1, fetches the twin's segments and
 * plays on; dash.js plays it. Twins in
 * E-AC-3 and AAC ("surroundCodec": ["eac3", "aac"]): this Chromium's MSE cannot play E-AC-3, so our
 * player offers stereo and the AAC 5.1 twin only (HLS and DASH), and no engine fetches the E-AC-3 twin while
 * playing stereo. No page error anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';

let rig: BrowserRig;
let originUrl = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-surround-browser-');
  const dir = rig.dir;
  const input = await fixture('surround');
  await packageSmall(dir, input, 'movie');
  const dolby = join(dir, 'dolby.json');
  writeFileSync(
    dolby,
    JSON.stringify({
      video: [{ height: 240, bitrate: '300k' }],
      audio: { bitrate: '96k', surroundCodec: ['eac3', 'aac'] },
    }),
  );
  await packageSmall(dir, input, 'dolby', { ladder: dolby });
  originUrl = await rig.origin({ root: join(dir, 'root') });
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

interface TrackInfo {
  id: string;
  name: string;
  active: boolean;
}
interface DemoApi {
  tracks(): { audio: TrackInfo[] };
  setAudioTrack(id: string): void;
  stats(): { currentTime: number; pageErrors: string[]; levels: { id: string }[] };
}
interface Win {
  __streamedge: DemoApi;
}

async function open(engine: string, manifest: string, asset = 'movie'): Promise<{ page: Page; requested: string[] }> {
  const page = await rig.browser.newPage();
  const requested: string[] = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto(
    `${rig.pages.url}?src=${encodeURIComponent(`${originUrl}/vod/${asset}/${manifest}`)}&engine=${engine}`,
  );
  return { page, requested };
}

/** Waits until the playhead has passed `sec`. */
async function playedPast(page: Page, sec: number): Promise<void> {
  await page.waitForFunction(
    (t: number) => (document.getElementById('video') as HTMLVideoElement).currentTime > t,
    sec,
    { timeout: 30_000, polling: 100 },
  );
}

async function tracks(page: Page, count: number): Promise<TrackInfo[]> {
  await page.waitForFunction(
    (n: number) => {
      const audio = (window as unknown as Win).__streamedge.tracks().audio;
      return audio.length === n && audio.some((a) => a.active);
    },
    count,
    { timeout: 30_000 },
  );
  return page.evaluate(() => (window as unknown as Win).__streamedge.tracks().audio);
}

const twinSegment = /\/audio-5\.1\/seg-\d+\.m4s$/;
const stereoSegment = /\/audio\/seg-\d+\.m4s$/;
const dolbySegment = /\/audio-5\.1-eac3\/seg-\d+\.m4s$/;

describe('5.1 audio on the demo page', () => {
  for (const c of [
    { engine: 'ours', manifest: 'master.m3u8', label: 'our player (HLS)' },
    { engine: 'hlsjs', manifest: 'master.m3u8', label: 'hls.js' },
  ]) {
    it(`${c.label}: plays the stereo group`, async () => {
      const { page, requested } = await open(c.engine, c.manifest);
      try {
        // ours also offers the 5.1 twin (another group) as a track; hls.js lists its variant's group
        const audio = await tracks(page, c.engine === 'ours' ? 2 : 1);
        expect(audio[0].active).toBe(true);
        if (c.engine === 'ours') expect(audio.map((a) => a.name)).toEqual(['Audio 1', 'Audio 1 (5.1)']);
        await playedPast(page, 3);
        expect(requested.some((p) => stereoSegment.test(p))).toBe(true);
        const stats = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());
        expect(stats.pageErrors).toEqual([]);
        if (c.engine === 'ours') {
          expect(requested.some((p) => twinSegment.test(p))).toBe(false);
          // one level per video rendition, not one per variant (each is listed once per audio group)
          const master = await (await fetch(`${originUrl}/vod/movie/master.m3u8`)).text();
          const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
          expect(variants.filter((l) => l.includes('AUDIO="audio-6ch"')).length).toBeGreaterThan(0);
          expect(stats.levels).toHaveLength(variants.filter((l) => l.includes('AUDIO="audio"')).length);
        }
      } finally {
        await page.close();
      }
    }, 60_000);
  }

  for (const manifest of ['manifest.mpd', 'master.m3u8']) {
    it(`our player (${manifest}): lists stereo and 5.1, starts on stereo, switches to the twin and plays on`, async () => {
      const { page, requested } = await open('ours', manifest);
      try {
        const audio = await tracks(page, 2);
        expect(audio.map((a) => [a.name, a.active])).toEqual([
          ['Audio 1', true],
          ['Audio 1 (5.1)', false],
        ]);
        await playedPast(page, 1);
        expect(requested.some((p) => stereoSegment.test(p))).toBe(true);
        await page.evaluate((id: string) => (window as unknown as Win).__streamedge.setAudioTrack(id), audio[1].id);
        await playedPast(page, 6);
        expect(requested.some((p) => twinSegment.test(p))).toBe(true);
        const [now, stats] = await page.evaluate(() => {
          const api = (window as unknown as Win).__streamedge;
          return [api.tracks().audio, api.stats()] as const;
        });
        expect(now.find((a) => a.active)?.name).toBe('Audio 1 (5.1)');
        expect(stats.pageErrors).toEqual([]);
      } finally {
        await page.close();
      }
    }, 60_000);
  }

  it('dash.js: plays', async () => {
    const { page } = await open('dashjs', 'manifest.mpd');
    try {
      await playedPast(page, 3);
      const stats = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());
      expect(stats.pageErrors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('an E-AC-3 twin this browser cannot play (beside an AAC one): not offered by our player (HLS or DASH), never fetched, stereo plays on every engine', async () => {
    for (const [engine, manifest] of [
      ['ours', 'manifest.mpd'],
      ['ours', 'master.m3u8'],
      ['hlsjs', 'master.m3u8'],
      ['dashjs', 'manifest.mpd'],
    ]) {
      const { page, requested } = await open(engine, manifest, 'dolby');
      try {
        const ec3 = await page.evaluate(() => MediaSource.isTypeSupported('audio/mp4; codecs="ec-3"'));
        expect(ec3, 'Debian’s Chromium has no E-AC-3 decoder').toBe(false);
        if (engine === 'ours') {
          const offered =
            manifest === 'manifest.mpd' ? ['Audio 1', 'Audio 1 (5.1, AAC)'] : ['Audio 1', 'Audio 1 (5.1)'];
          expect((await tracks(page, offered.length)).map((a) => a.name)).toEqual(offered);
        }
        await playedPast(page, 3);
        expect(
          requested.some((p) => stereoSegment.test(p)),
          `${engine} ${manifest}`,
        ).toBe(true);
        expect(
          requested.some((p) => dolbySegment.test(p)),
          `${engine} ${manifest}`,
        ).toBe(false);
        const stats = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());
        expect(stats.pageErrors, `${engine} ${manifest}`).toEqual([]);
      } finally {
        await page.close();
      }
    }
  }, 120_000);
});
