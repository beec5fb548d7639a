/**
 * HLS Interstitials (RFC 8216bis appendix D.2) of `package --ad-cues … --interstitial <ad asset>`,
 * played by hls.js in Debian's Chromium (the ad is another packaged asset on the same origin: its
 * segments are fetched). A pre-roll (`--ad-cues 0,…`, `CUE="PRE"`) plays before the programme's
 * first frame; a mid-roll at 3.3 s pauses the programme there, plays the ad to its end and resumes
 * the programme where it left it (`X-RESUME-OFFSET=0`: nothing of it skipped), to its end;
 * `X-RESTRICT="JUMP"` makes a seek over the cue play the ad first; a post-roll (`end`,
 * `CUE="POST"`) plays after the programme's last frame.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- hls.js's global and events, read in the page untyped */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { fixture } from '../../media-fixtures/generate.js';
import { installInterstitialLog, type InterstitialLog, type InterstitialSeen } from '../support/interstitial-log.js';

let rig: BrowserRig;
let scripts: ScriptPage;
let origin = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-vod-interstitials-');
  // the origin first: the programme's playlist names the ad by its absolute URL
  mkdirSync(join(rig.dir, 'root'));
  origin = await rig.origin({ root: join(rig.dir, 'root') });
  await packageSmall(rig.dir, await fixture('small'), 'ad');
  await packageSmall(rig.dir, await fixture('sample'), 'movie', {
    partDuration: 0.5,
    adCues: [{ atSec: 0 }, { atSec: 3.3 }],
    interstitial: { assetUri: `${origin}/vod/ad/master.m3u8` },
  });
  // a post-roll only (`--ad-cues end`)
  await packageSmall(rig.dir, await fixture('sample'), 'post', {
    partDuration: 0.5,
    adCues: [{ atSec: Infinity, postRoll: true }],
    interstitial: { assetUri: `${origin}/vod/ad/master.m3u8` },
  });
  // a mid-roll only, with and without X-RESTRICT="JUMP"
  for (const [id, restrict] of [
    ['jump', ['JUMP' as const]],
    ['free', undefined],
  ] as const) {
    await packageSmall(rig.dir, await fixture('sample'), id, {
      partDuration: 0.5,
      adCues: [{ atSec: 3.3 }],
      interstitial: { assetUri: `${origin}/vod/ad/master.m3u8`, ...(restrict ? { restrict: [...restrict] } : {}) },
    });
  }
  scripts = await startScriptPage({ '/hls.js': 'node_modules/hls.js/dist/hls.min.js' });
}, 240_000);

afterAll(async () => {
  await scripts?.close();
  await rig?.close();
});

/**
 * hls.js plays `src` from its start, logging each interstitial's start, its asset's start and
 * end, its end and the programme's resumption (with the programme's playhead at each), until the
 * programme resumes after the first interstitial ('handover') or plays past 7.5 s of its 8 after
 * every interstitial ('end'). After 60 s it fails saying where playback stood.
 */
async function playLogged(
  src: string,
  until: 'handover' | 'end',
): Promise<{ seen: InterstitialSeen[]; adRequests: string[] }> {
  const page = await rig.browser.newPage();
  const adRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/vod/ad/')) adRequests.push(r.url());
  });
  try {
    await page.addInitScript(installInterstitialLog);
    await page.goto(scripts.url);
    const seen = await page.evaluate(
      async ({ src, until }) => {
        const Hls = (window as unknown as { Hls: any }).Hls;
        const video = document.getElementById('v') as HTMLVideoElement;
        const hls = new Hls();
        const { log, primary } = (
          window as unknown as { __logInterstitials: (...a: unknown[]) => InterstitialLog }
        ).__logInterstitials(Hls, hls, video);
        await new Promise<void>((resolve, reject) => {
          hls.on(Hls.Events.ERROR, (_: unknown, d: { fatal: boolean; details: string }) => {
            if (d.fatal) reject(new Error(d.details));
          });
          // (the element's own 'ended' also fires at the end of the ad asset's media)
          const began = performance.now();
          const tick = setInterval(() => {
            const resumed = log.some((e) => e.what === 'resumed');
            const done = until === 'handover' ? resumed : resumed && primary() > 7.5;
            if (done) {
              clearInterval(tick);
              resolve();
            } else if (performance.now() - began > 60_000) {
              // say where playback stood rather than let the test time out silently
              clearInterval(tick);
              const ranges = (r: TimeRanges) =>
                Array.from({ length: r.length }, (_, i) => `${r.start(i).toFixed(2)}-${r.end(i).toFixed(2)}`).join(',');
              reject(
                new Error(
                  `no ${until} after 60 s: ${JSON.stringify({
                    log,
                    primary: primary(),
                    currentTime: video.currentTime,
                    paused: video.paused,
                    ended: video.ended,
                    readyState: video.readyState,
                    buffered: ranges(video.buffered),
                    playingItem: hls.interstitialsManager?.playingItem?.event?.identifier,
                  })}`,
                ),
              );
            }
          }, 100);
          hls.loadSource(src);
          hls.attachMedia(video);
          video.muted = true;
          void video.play().catch(() => undefined);
        });
        log.push({ what: 'stop', primaryTime: primary() });
        hls.destroy();
        return log;
      },
      { src, until },
    );
    return { seen, adRequests };
  } finally {
    await page.close();
  }
}

/** An interstitial played through: started, its asset started and ended, it ended, the programme resumed. */
const ONE = ['started', 'asset', 'asset ended', 'ended', 'resumed'];
/** The ad asset's own media segments. */
const AD_SEGMENT = /\/vod\/ad\/v1\/[^/]+\/seg-\d+\.m4s$/;

describe('hls.js plays a VOD asset’s interstitials at its ad cues', () => {
  /**
   * Only up to the hand-over: hls.js 1.7.4 sometimes never starts the programme after a pre-roll
   * on a loaded machine (the log ends with the pre-roll played and the programme "resumed" at 0,
   * the element at readyState 0 with nothing buffered: one CI run of four timed out on it, another
   * got through on a retry, and once in six runs beside the integration suite; never on an idle
   * machine). What the programme does after a hand-over is the mid-roll test's.
   */
  it('plays the pre-roll (CUE="PRE") before the programme’s first frame, to its end, and hands over at 0', async () => {
    const { seen, adRequests } = await playLogged(`${origin}/vod/movie/master.m3u8`, 'handover');
    expect(seen.map((e) => e.what)).toEqual([...ONE, 'stop']);
    const [pre, asset, ended, , resumed] = seen;
    expect(pre).toMatchObject({ id: 'ad-1', resumeOffset: 0 });
    expect(pre.startTime).toBeLessThan(0.05);
    expect(pre.primaryTime).toBeLessThan(0.5);
    expect(asset.asset).toBe(`${origin}/vod/ad/master.m3u8`);
    expect(ended.adTime).toBeGreaterThan(3.5); // the 4 s ad played through
    expect(resumed.primaryTime).toBeLessThan(0.5);
    expect(adRequests.some((u) => AD_SEGMENT.test(u))).toBe(true);
  }, 90_000);

  it('pauses the programme at 3.3 s for the ad, plays the ad through, resumes at 3.3 s and plays to the end', async () => {
    const { seen, adRequests } = await playLogged(`${origin}/vod/free/master.m3u8`, 'end');
    expect(seen.map((e) => e.what)).toEqual([...ONE, 'stop']);
    const [mid, asset, ended, , resumed, stop] = seen;
    // the programme stood at the cue while the ad played (X-RESUME-OFFSET=0), and went on from there
    expect(mid).toMatchObject({ id: 'ad-1', resumeOffset: 0 });
    expect(mid.startTime).toBeCloseTo(3.3, 2);
    expect(mid.primaryTime).toBeGreaterThan(3.0);
    expect(mid.primaryTime).toBeLessThan(3.6);
    expect(asset.asset).toBe(`${origin}/vod/ad/master.m3u8`);
    expect(ended.adTime).toBeGreaterThan(3.5);
    expect(resumed.primaryTime).toBeGreaterThan(3.0);
    expect(resumed.primaryTime).toBeLessThan(4.0);
    expect(stop.primaryTime).toBeGreaterThan(7.5);
    expect(adRequests.some((u) => AD_SEGMENT.test(u))).toBe(true);
  }, 90_000);
});

/**
 * hls.js plays `src` from its start and, once past 0.5 s, seeks to 6 s (over the cue at 3.3 s):
 * the interstitials it starts after that (with the programme's playhead then), and where the
 * programme stood at its end.
 */
async function seekOverTheCue(src: string): Promise<{ started: { id: string; primaryTime: number }[]; end: number }> {
  const page = await rig.browser.newPage();
  try {
    await page.goto(scripts.url);
    return await page.evaluate(async (src) => {
      const Hls = (window as unknown as { Hls: any }).Hls;
      const video = document.getElementById('v') as HTMLVideoElement;
      const hls = new Hls();
      const primary = () => Number(hls.interstitialsManager?.primary?.currentTime ?? video.currentTime);
      const started: { id: string; primaryTime: number }[] = [];
      let sought = false;
      hls.on(Hls.Events.INTERSTITIAL_STARTED, (_: unknown, d: any) =>
        started.push({ id: d.event.identifier, primaryTime: primary() }),
      );
      await new Promise<void>((resolve, reject) => {
        hls.on(Hls.Events.ERROR, (_: unknown, d: { fatal: boolean; details: string }) => {
          if (d.fatal) reject(new Error(d.details));
        });
        const began = performance.now();
        const tick = setInterval(() => {
          if (!sought && video.currentTime > 0.5) {
            sought = true;
            video.currentTime = 6;
          } else if (sought && primary() > 7.5) {
            clearInterval(tick);
            resolve();
          } else if (performance.now() - began > 60_000) {
            clearInterval(tick);
            reject(new Error(`no end after 60 s: ${JSON.stringify({ started, primary: primary(), sought })}`));
          }
        }, 50);
        hls.loadSource(src);
        hls.attachMedia(video);
        video.muted = true;
        void video.play().catch(() => undefined);
      });
      const end = primary();
      hls.destroy();
      return { started, end };
    }, src);
  } finally {
    await page.close();
  }
}

describe('X-RESTRICT="JUMP" (--interstitial-restrict jump)', () => {
  it('a seek past the cue plays the ad first; without it, the same seek skips the ad', async () => {
    const jump = await seekOverTheCue(`${origin}/vod/jump/master.m3u8`);
    expect(jump.started.map((e) => e.id)).toEqual(['ad-1']);
    expect(jump.end).toBeGreaterThan(7.5);
    const free = await seekOverTheCue(`${origin}/vod/free/master.m3u8`);
    expect(free.started).toEqual([]);
    expect(free.end).toBeGreaterThan(7.5);
  }, 120_000);
});

describe('a post-roll (--ad-cues end)', () => {
  it('plays the ad asset to its end after the programme’s last frame', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(scripts.url);
      const log = await page.evaluate(async (src) => {
        const Hls = (window as unknown as { Hls: any }).Hls;
        const video = document.getElementById('v') as HTMLVideoElement;
        const hls = new Hls();
        const primary = () => Number(hls.interstitialsManager?.primary?.currentTime ?? video.currentTime);
        const seen: { what: string; id?: string; cue?: string[]; primaryTime: number; adTime?: number }[] = [];
        hls.on(Hls.Events.INTERSTITIAL_STARTED, (_: unknown, d: any) =>
          seen.push({
            what: 'started',
            id: d.event.identifier,
            cue: Object.keys(d.event.cue).filter((k) => d.event.cue[k] === true),
            primaryTime: primary(),
          }),
        );
        hls.on(Hls.Events.INTERSTITIAL_ASSET_ENDED, (_: unknown, d: any) =>
          seen.push({ what: 'asset ended', adTime: Number(d.player.currentTime), primaryTime: primary() }),
        );
        await new Promise<void>((resolve, reject) => {
          hls.on(Hls.Events.ERROR, (_: unknown, d: { fatal: boolean; details: string }) => {
            if (d.fatal) reject(new Error(d.details));
          });
          hls.on(Hls.Events.INTERSTITIAL_ENDED, () => resolve());
          setTimeout(
            () => reject(new Error(`no post-roll end in 60 s: ${JSON.stringify({ seen, primary: primary() })}`)),
            60_000,
          );
          hls.loadSource(src);
          hls.attachMedia(video);
          video.muted = true;
          void video.play().catch(() => undefined);
        });
        hls.destroy();
        return seen;
      }, `${origin}/vod/post/master.m3u8`);
      expect(log.map((e) => e.what)).toEqual(['started', 'asset ended']);
      expect(log[0]).toMatchObject({ id: 'ad-post', cue: ['post'] });
      // after the programme's 8 s (its last frame), and the ad played through its 4 s
      expect(log[0].primaryTime).toBeGreaterThan(7.5);
      expect(log[1].adTime).toBeGreaterThan(3.5);
    } finally {
      await page.close();
    }
  }, 90_000);
});
