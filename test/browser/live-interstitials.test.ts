/**
 * A live channel's ad break as an HLS Interstitial (`origin --live-interstitial <ad>`), played by
 * hls.js in Debian's Chromium: the channel (real ffmpeg, lavfi) is playing at its live edge when
 * the operator cues a 4 s break through the ad-break API; hls.js reads the interstitial DATERANGE
 * from the next playlist, plays the ad (another packaged asset, on a VOD origin) when its playhead
 * reaches the break, and resumes the channel the break's length on (`X-RESUME-OFFSET=4`: the ad
 * replaced the break, the viewer is as far from the live edge as before), and the channel plays on.
 * hls.js plays the ad in a MediaSource of its own (`interstitialAppendInPlace: false`): appended
 * in place into the channel's buffer, hls.js 1.7.4 ended a live ad after a fraction of a second,
 * or resumed the channel 30 s off, in five runs of eight on a loaded machine (with or without
 * X-PLAYOUT-LIMIT); in its own MediaSource it played every run through.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- hls.js's global and events, read in the page untyped */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { fixture } from '../../media-fixtures/generate.js';
import { installInterstitialLog, type InterstitialLog, type InterstitialSeen } from '../support/interstitial-log.js';
import { until } from '../integration/live/live-helpers.js';

const CREDENTIAL = 'cue-credential-for-tests-0123456789';
let rig: BrowserRig;
let scripts: ScriptPage;
let ads = '';
let live = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-live-interstitials-');
  mkdirSync(join(rig.dir, 'root'));
  ads = await rig.origin({ root: join(rig.dir, 'root') });
  await packageSmall(rig.dir, await fixture('small'), 'ad'); // 4 s
  live = await rig.liveOrigin(
    { interstitial: { assetUri: `${ads}/vod/ad/master.m3u8` } },
    { cueCredential: CREDENTIAL },
  );
  scripts = await startScriptPage({ '/hls.js': 'node_modules/hls.js/dist/hls.min.js' });
}, 240_000);

afterAll(async () => {
  await scripts?.close();
  await rig?.close();
});

/** hls.js playing the channel, logging interstitial events into `window.__seen`. */
async function playLive(page: Page): Promise<void> {
  await page.addInitScript(installInterstitialLog);
  await page.goto(scripts.url);
  await page.evaluate((src) => {
    const Hls = (window as unknown as { Hls: any }).Hls;
    const video = document.getElementById('v') as HTMLVideoElement;
    const hls = new Hls({ interstitialAppendInPlace: false });
    const w = window as unknown as { __seen: InterstitialSeen[]; __primary: () => number; __fatal?: string };
    const { log, primary } = (
      window as unknown as { __logInterstitials: (...a: unknown[]) => InterstitialLog }
    ).__logInterstitials(Hls, hls, video);
    w.__seen = log;
    w.__primary = primary;
    hls.on(Hls.Events.ERROR, (_: unknown, d: { fatal: boolean; details: string }) => {
      if (d.fatal) w.__fatal = d.details;
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    video.muted = true;
    void video.play().catch(() => undefined);
  }, `${live}/live/ch/master.m3u8`);
}

/**
 * Waits (up to `ms`) for `what` in the page's log ('playing': the channel's playhead past 0.5 s),
 * failing with the log and the element's state.
 */
async function waitFor(page: Page, what: string, ms: number): Promise<void> {
  try {
    await page.waitForFunction(
      (what) => {
        const w = window as unknown as { __seen: InterstitialSeen[]; __primary: () => number; __fatal?: string };
        if (w.__fatal) throw new Error(`hls.js: ${w.__fatal}`);
        return what === 'playing' ? w.__primary() > 0.5 : w.__seen.some((e) => e.what === what);
      },
      what,
      { timeout: ms, polling: 100 },
    );
  } catch (e) {
    const state = await page.evaluate(() => {
      const v = document.getElementById('v') as HTMLVideoElement;
      const w = window as unknown as { __seen: InterstitialSeen[]; __primary: () => number };
      return { log: w.__seen, primary: w.__primary(), currentTime: v.currentTime, readyState: v.readyState };
    });
    throw new Error(`waiting for ${what}: ${String(e).split('\n')[0]}; ${JSON.stringify(state)}`, { cause: e });
  }
}

async function cueBreak(durationSec: number): Promise<{ id: string; startDate: string }> {
  const res = await fetch(`${live}/_live/ch/ad-breaks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CREDENTIAL}`, 'content-type': 'application/json' },
    body: JSON.stringify({ duration: durationSec }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; startDate: string };
}

describe('hls.js plays a live channel’s ad break as an interstitial', () => {
  it('plays the ad at the break and resumes the channel the break’s length on', async () => {
    const page = await rig.browser.newPage();
    try {
      // a young channel: its playlists once its first segment is out (hls.js gives up on a 404)
      await until(
        async () => {
          const res = await fetch(`${live}/live/ch/master.m3u8`);
          const master = await res.text();
          const media = /^[^#].*\.m3u8$/m.exec(master)?.[0];
          return (
            res.ok &&
            media !== undefined &&
            (await (await fetch(`${live}/live/ch/${media}`)).text()).includes('#EXTINF')
          );
        },
        60_000,
        'the channel’s first segment',
      );
      await playLive(page);
      await waitFor(page, 'playing', 60_000);
      const cued = await cueBreak(4);
      expect(cued.id).toBe('splice-1');
      await waitFor(page, 'resumed', 60_000);
      const seen = await page.evaluate(() => (window as unknown as { __seen: InterstitialSeen[] }).__seen);
      expect(seen.map((e) => e.what)).toEqual(['started', 'asset', 'asset ended', 'ended', 'resumed']);
      const [started, asset, ended, , resumed] = seen;
      expect(started).toMatchObject({ id: 'ad-1', resumeOffset: 4 });
      // the channel's playhead stood at the break when the ad began
      expect(Math.abs(started.primaryTime - started.startTime!)).toBeLessThan(0.6);
      expect(asset.asset).toBe(`${ads}/vod/ad/master.m3u8`);
      expect(ended.adTime).toBeGreaterThan(3.5); // the 4 s ad played through
      // and went on from the break's end
      expect(resumed.primaryTime).toBeGreaterThan(started.startTime! + 4 - 0.6);
      expect(resumed.primaryTime).toBeLessThan(started.startTime! + 4 + 1.5);
      // where the channel plays on
      await page.waitForFunction(
        (from) => (window as unknown as { __primary: () => number }).__primary() > from + 1,
        resumed.primaryTime,
        { timeout: 30_000, polling: 100 },
      );
    } finally {
      await page.close();
    }
  }, 180_000);
});
