/**
 * A VOD asset packaged with `--ad-cues 3.3,5+1.2` read by players in Debian's Chromium, through
 * an edge in front of the origin: each finds the two cues where they were asked for, on the
 * media timeline. hls.js lists the EXT-X-DATERANGEs (placed by the playlist's
 * PROGRAM-DATE-TIME); Shaka Player turns the MPD's SCTE 35 EventStream into timeline regions;
 * dash.js fires the Events as the playhead reaches them; our player lists the breaks (HLS and
 * DASH) and holds the break as an active metadata cue while it plays. The same asset packaged
 * with `--dash-periods cues` (a Period from each cue and return, as ad inserters stitch them):
 * Shaka, dash.js and our player play it from start to end across the Periods, with the same Events.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the players' own globals and events, read in the page untyped */
import type { AdBreakStat } from '../../player-demo/player/ad-cues.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { packageSmall, playbackStarted, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { fixture } from '../../media-fixtures/generate.js';

const SCRIPTS: Record<string, string> = {
  '/hls.js': 'node_modules/hls.js/dist/hls.min.js',
  '/shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js',
  '/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

let rig: BrowserRig;
let scripts: ScriptPage;
let base = '';
/** The asset packaged with `--dash-periods cues`. */
let periods = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-vod-ad-cues-');
  // 8 s of 720p: a splice point at 3.3 s and a 1.2 s break at 5 s
  await packageSmall(rig.dir, await fixture('sample'), 'movie', {
    partDuration: 0.5,
    adCues: [{ atSec: 3.3 }, { atSec: 5, durationSec: 1.2 }],
  });
  await packageSmall(rig.dir, await fixture('sample'), 'periods', {
    partDuration: 0.5,
    adCues: [{ atSec: 3.3 }, { atSec: 5, durationSec: 1.2 }],
    dashPeriods: 'cues',
  });
  const origin = await rig.origin({ root: join(rig.dir, 'root') });
  const edge = (await rig.edge(origin, 'edge')).url;
  base = `${edge}/vod/movie`;
  periods = `${edge}/vod/periods`;
  scripts = await startScriptPage(SCRIPTS);
}, 240_000);

afterAll(async () => {
  await scripts?.close();
  await rig?.close();
});

async function onPage<T>(url: string, fn: (page: Page) => Promise<T>): Promise<T> {
  const page = await rig.browser.newPage();
  try {
    await page.goto(url);
    return await fn(page);
  } finally {
    await page.close();
  }
}

/** What our player's stats say that these tests read. */
interface OurStats {
  adBreaks?: AdBreakStat[];
  currentTime: number;
  pageErrors: string[];
}

/** Shaka's timeline regions of the Events (id, start and end in ms): the splice point's out and in, the break's. */
const REGIONS = [
  ['2', 3300, 3300],
  ['3', 3300, 3300],
  ['4', 5000, 6200],
  ['5', 6200, 6200],
];
/** The Events dash.js fires: id and time in ms. */
const EVENTS = REGIONS.map(([id, at]) => [Number(id), at]);

function regionMs(r: { id: string; start: number; end: number }): (string | number)[] {
  return [r.id, Math.round(r.start * 1000), Math.round(r.end * 1000)];
}

/**
 * dash.js plays `src` to its end: the SCTE 35 Events it fired (with the playhead then), the
 * Periods it switched into (with the playhead then), where it ended and its played ranges.
 */
function dashjsPlays(src: string) {
  return onPage(scripts.url, (page) =>
    page.evaluate(async (src) => {
      const dashjs = (window as unknown as { dashjs: any }).dashjs;
      const player = dashjs.MediaPlayer().create();
      const video = document.getElementById('v') as HTMLVideoElement;
      const fired: { id: number; at: number; playhead: number }[] = [];
      const switches: { to: string; at: number }[] = [];
      player.on(
        'urn:scte:scte35:2014:xml+bin',
        (e: any) =>
          fired.push({ id: Number(e.event.id), at: e.event.calculatedPresentationTime, playhead: video.currentTime }),
        null,
        { mode: dashjs.MediaPlayer.events.EVENT_MODE_ON_START },
      );
      player.on(dashjs.MediaPlayer.events.PERIOD_SWITCH_COMPLETED, (e: any) =>
        switches.push({ to: String(e.toStreamInfo?.id), at: video.currentTime }),
      );
      await new Promise<void>((resolve, reject) => {
        player.on(dashjs.MediaPlayer.events.ERROR, (e: unknown) => reject(new Error(JSON.stringify(e))));
        video.addEventListener('ended', () => resolve());
        player.on(dashjs.MediaPlayer.events.PLAYBACK_ENDED, (e: any) => {
          if (e.isLast) resolve(); // (it fires at the end of each Period)
        });
        player.initialize(video, src, true);
      });
      const out = { fired, switches, end: video.currentTime, played: video.played.length };
      player.reset();
      return out;
    }, src),
  );
}

describe('players read the SCTE 35 ad cues of a VOD asset', () => {
  it('hls.js: both DATERANGEs, at 3.3 s and 5 s of media time, with their SCTE35-OUT', async () => {
    const ranges = await onPage(scripts.url, (page) =>
      page.evaluate(async (src) => {
        const Hls = (window as unknown as { Hls: any }).Hls;
        const hls = new Hls();
        const details = await new Promise<any>((resolve, reject) => {
          hls.on(Hls.Events.LEVEL_LOADED, (_: unknown, d: { details: unknown }) => resolve(d.details));
          hls.on(Hls.Events.ERROR, (_: unknown, d: { fatal: boolean; details: string }) => {
            if (d.fatal) reject(new Error(d.details));
          });
          hls.loadSource(src);
          hls.attachMedia(document.getElementById('v'));
        });
        const out = Object.values(details.dateRanges).map((r: any) => ({
          id: r.id as string,
          startTime: r.startTime as number,
          duration: r.duration as number | null,
          scte35Out: typeof r.attr['SCTE35-OUT'] === 'string',
        }));
        hls.destroy();
        return out;
      }, `${base}/master.m3u8`),
    );
    expect(ranges.map((r) => r.id).sort()).toEqual(['splice-1', 'splice-2']);
    const byId = new Map(ranges.map((r) => [r.id, r]));
    expect(byId.get('splice-1')!.startTime).toBeCloseTo(3.3, 3);
    expect(byId.get('splice-1')!.duration).toBe(0);
    expect(byId.get('splice-2')!.startTime).toBeCloseTo(5, 3);
    expect(byId.get('splice-2')!.duration).toBeCloseTo(1.2, 3);
    expect(ranges.every((r) => r.scte35Out)).toBe(true);
  }, 60_000);

  it('Shaka Player (DASH): a timeline region per Event, at 3.3, 3.3, 5 (1.2 s long) and 6.2 s', async () => {
    const regions = await onPage(scripts.url, (page) =>
      page.evaluate(async (src) => {
        const shaka = (window as unknown as { shaka: any }).shaka;
        const player = new shaka.Player();
        const seen: { scheme: string; id: string; start: number; end: number }[] = [];
        player.addEventListener('timelineregionadded', (e: any) => {
          seen.push({
            scheme: e.detail.schemeIdUri,
            id: e.detail.id,
            start: e.detail.startTime,
            end: e.detail.endTime,
          });
        });
        await player.attach(document.getElementById('v'));
        await player.load(src);
        await player.destroy();
        return seen;
      }, `${base}/manifest.mpd`),
    );
    expect(regions.every((r) => r.scheme === 'urn:scte:scte35:2014:xml+bin')).toBe(true);
    expect(regions.map(regionMs)).toEqual(REGIONS);
  }, 60_000);

  it('dash.js: fires each Event as the playhead reaches it', async () => {
    const { fired } = await dashjsPlays(`${base}/manifest.mpd`);
    expect(fired.map((e) => [e.id, Math.round(e.at * 1000)])).toEqual(EVENTS);
    // not before the playhead got there (dash.js checks every 100 ms or so)
    for (const e of fired) expect(e.playhead).toBeGreaterThanOrEqual(e.at - 0.05);
  }, 90_000);

  it.each(['master.m3u8', 'manifest.mpd'])(
    'our player (%s): lists both, and is in the break (an active metadata cue) while the playhead is in 5–6.2 s',
    async (manifest) => {
      const page = await rig.browser.newPage();
      try {
        await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${base}/${manifest}`)}&engine=ours`);
        await playbackStarted(page);
        const seen = await page
          .waitForFunction(
            () => {
              const s = window.__streamedge.stats() as OurStats;
              const b = s.adBreaks?.find((x) => x.id === 'splice-2');
              if (!b?.playing) return false;
              const track = [...document.querySelector('video')!.textTracks].find((t) => t.label === 'ad breaks');
              return {
                adBreaks: s.adBreaks!,
                currentTime: s.currentTime,
                activeCues: [...(track?.activeCues ?? [])].map((c) => c.id),
                pageErrors: s.pageErrors,
              };
            },
            undefined,
            { timeout: 45_000, polling: 50 },
          )
          .then(
            (h) =>
              h.jsonValue() as Promise<{
                adBreaks: AdBreakStat[];
                currentTime: number;
                activeCues: string[];
                pageErrors: string[];
              }>,
          );
        expect(seen.pageErrors).toEqual([]);
        const byId = new Map(seen.adBreaks.map((b) => [b.id, b]));
        expect(byId.get('splice-1')).toMatchObject({ returned: true });
        expect(byId.get('splice-1')!.startSec).toBeCloseTo(3.3, 2);
        expect(byId.get('splice-1')!.endSec).toBeCloseTo(3.3, 2);
        expect(byId.get('splice-2')!.startSec).toBeCloseTo(5, 2);
        expect(byId.get('splice-2')!.endSec).toBeCloseTo(6.2, 2);
        expect(seen.currentTime).toBeGreaterThanOrEqual(5);
        expect(seen.currentTime).toBeLessThan(6.2 + 0.3);
        expect(seen.activeCues).toContain('splice-2');
      } finally {
        await page.close();
      }
    },
    90_000,
  );
});

describe('players play a VOD asset whose MPD is split into Periods at its cues', () => {
  it('the MPD: four Periods (0, 3.3, 5, 6.2 s), each AdaptationSet after the first continuing the one before', async () => {
    const mpd = await (await fetch(`${periods}/manifest.mpd`)).text();
    const starts = [...mpd.matchAll(/<Period id="(\d+)" start="([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(starts).toEqual([
      ['0', 'PT0S'],
      ['1', 'PT3.3S'],
      ['2', 'PT5S'],
      ['3', 'PT6.2S'],
    ]);
    // the video and the audio AdaptationSet of each later Period
    expect(mpd.match(/period-continuity:2015" value="\d"/g)).toEqual(
      ['0', '0', '1', '1', '2', '2'].map((v) => `period-continuity:2015" value="${v}"`),
    );
  });

  it('Shaka Player: plays from start to end across the Periods, with a timeline region per Event', async () => {
    const run = await onPage(scripts.url, (page) =>
      page.evaluate(async (src) => {
        const shaka = (window as unknown as { shaka: any }).shaka;
        const video = document.getElementById('v') as HTMLVideoElement;
        const player = new shaka.Player();
        const regions: { id: string; start: number; end: number }[] = [];
        player.addEventListener('timelineregionadded', (e: any) =>
          regions.push({ id: e.detail.id, start: e.detail.startTime, end: e.detail.endTime }),
        );
        const errors: string[] = [];
        player.addEventListener('error', (e: any) => errors.push(String(e.detail?.code)));
        await player.attach(video);
        await player.load(src);
        await new Promise<void>((resolve, reject) => {
          video.addEventListener('ended', () => resolve());
          player.addEventListener('error', (e: any) => reject(new Error(`Shaka error ${e.detail?.code}`)));
          video.muted = true;
          void video.play();
        });
        const out = { regions, errors, end: video.currentTime, duration: video.duration, played: video.played.length };
        await player.destroy();
        return out;
      }, `${periods}/manifest.mpd`),
    );
    expect(run.errors).toEqual([]);
    expect(run.end).toBeGreaterThan(7.9);
    // one played range: no seek over a hole at a Period's start
    expect(run.played).toBe(1);
    expect(run.regions.map(regionMs)).toEqual(REGIONS);
  }, 90_000);

  it('dash.js: plays to the end through each Period in turn, firing each Event as the playhead reaches it', async () => {
    const run = await dashjsPlays(`${periods}/manifest.mpd`);
    // into the first Period at the start, then into each next one at (or just after) its start
    expect(run.switches.map((s) => s.to)).toEqual(['0', '1', '2', '3']);
    run.switches.slice(1).forEach((s, i) => {
      expect(s.at).toBeGreaterThanOrEqual([3.3, 5, 6.2][i] - 0.05);
      expect(s.at).toBeLessThan([3.3, 5, 6.2][i] + 0.5);
    });
    expect(run.end).toBeGreaterThan(7.9);
    expect(run.played).toBe(1);
    expect(run.fired.map((e) => [e.id, Math.round(e.at * 1000)])).toEqual(EVENTS);
    for (const e of run.fired) expect(e.playhead).toBeGreaterThanOrEqual(e.at - 0.05);
  }, 90_000);

  it('our player: plays from start to end across the Periods and lists both breaks', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${periods}/manifest.mpd`)}&engine=ours`);
      await playbackStarted(page);
      const seen = await page
        .waitForFunction(
          () => {
            const s = window.__streamedge.stats() as OurStats;
            const video = document.querySelector('video')!;
            return video.ended || video.currentTime > 7.9
              ? {
                  adBreaks: s.adBreaks ?? [],
                  currentTime: s.currentTime,
                  pageErrors: s.pageErrors,
                  played: video.played.length,
                }
              : false;
          },
          undefined,
          { timeout: 60_000, polling: 100 },
        )
        .then(
          (h) =>
            h.jsonValue() as Promise<{
              adBreaks: AdBreakStat[];
              currentTime: number;
              pageErrors: string[];
              played: number;
            }>,
        );
      expect(seen.pageErrors).toEqual([]);
      expect(seen.currentTime).toBeGreaterThan(7.9);
      expect(seen.played).toBe(1);
      expect(seen.adBreaks.map((b) => [b.id, Math.round(b.startSec! * 1000), Math.round(b.endSec! * 1000)])).toEqual([
        ['splice-1', 3300, 3300],
        ['splice-2', 5000, 6200],
      ]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
