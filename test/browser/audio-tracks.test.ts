/**
 * Audio languages and subtitles on the demo page, in Debian's Chromium: an asset with two source
 * audio tracks (English at 440 Hz, French at 880 Hz, from their container language tags) plus a
 * German dub (`--audio de=…`, 660 Hz) and two subtitle tracks, packaged by the real packager and
 * served by a real origin. For our player (HLS and DASH), hls.js and dash.js, the page lists the
 * three languages and both subtitle tracks; choosing French makes the player fetch the French
 * segments and the audio the page actually plays (Web Audio analyser on the video element)
 * changes from 440 Hz to 880 Hz; choosing French subtitles shows the French cue. Live: a
 * lavfi channel with two languages (440 / 660 Hz) in our player (LL-HLS) and hls.js switches too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { fixture } from '../../media-fixtures/generate.js';
import { writeTinyLadder } from '../integration/live/live-helpers.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';

let rig: BrowserRig;
let originUrl = '';
let liveUrl = '';

/** Segment duration: our player may keep the old language at most this long after a switch. */
const SEGMENT_SEC = 2;

beforeAll(async () => {
  rig = await startBrowserRig('se-audio-browser-');
  const dir = rig.dir;
  writeFileSync(join(dir, 'en.vtt'), 'WEBVTT\n\n00:00:00.100 --> 00:00:19.900\nHello from English\n');
  writeFileSync(join(dir, 'fr.vtt'), 'WEBVTT\n\n00:00:00.100 --> 00:00:19.900\nBonjour en français\n');
  const [input, dub] = await Promise.all([fixture('bilingualLong'), fixture('dubShort')]);
  await packageSmall(dir, input, 'movie', {
    segmentDuration: SEGMENT_SEC,
    audio: [{ language: 'de', file: dub }],
    subtitles: [
      { language: 'en', file: join(dir, 'en.vtt') },
      { language: 'fr', file: join(dir, 'fr.vtt') },
    ],
  });
  writeFileSync(
    join(dir, 'root', 'movie', 'manifest-periods.mpd'),
    twoPeriods(readFileSync(join(dir, 'root', 'movie', 'manifest.mpd'), 'utf8')),
  );
  originUrl = await rig.origin({ root: join(dir, 'root') });
  liveUrl = await rig.liveOrigin({ ladder: writeTinyLadder(dir), audioLanguages: ['en', 'fr'] });
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

/**
 * The asset's MPD as two Periods cut at 4 s (as a server-side ad inserter leaves a programme on
 * either side of a break): the same files, the second Period's presentationTimeOffset 4 s, each
 * chunk appended within its Period's bounds. Without the subtitle AdaptationSets.
 */
function twoPeriods(mpd: string): string {
  const head = mpd.slice(0, mpd.indexOf('<Period'));
  const sets = /<Period\b[^>]*>([\s\S]*)<\/Period>/
    .exec(mpd)![1]
    .replace(/<AdaptationSet\b[^>]*contentType="text"[\s\S]*?<\/AdaptationSet>\s*/g, '');
  expect(sets).not.toContain('contentType="text"');
  const offset = sets.replace(
    /<SegmentTemplate timescale="(\d+)"/g,
    (_, ts: string) => `<SegmentTemplate timescale="${ts}" presentationTimeOffset="${4 * Number(ts)}"`,
  );
  expect(offset).toContain('presentationTimeOffset=');
  return (
    head +
    `<Period id="part-1" start="PT0S" duration="PT4S">${sets}</Period>\n` +
    `  <Period id="part-2" start="PT4S">${offset}</Period>\n</MPD>\n`
  );
}

interface TrackInfo {
  id: string;
  language: string;
  name: string;
  active: boolean;
}
interface DemoApi {
  tracks(): { audio: TrackInfo[]; text: TrackInfo[] };
  setAudioTrack(id: string): void;
  setTextTrack(id: string | null): void;
  activeCues(): string[];
  stats(): {
    stallMs: number;
    stalls: number;
    currentTime: number;
    pageErrors: string[];
    audioSwitches?: number;
    trackRanges?: { video: [number, number][]; audio: [number, number][] };
  };
}
interface Probe {
  /** Frequency (Hz) of the loudest bin of what the video element plays now. */
  peakHz(): number;
}
interface Win {
  __streamedge: DemoApi;
  __probe?: Probe;
}

/** Each open page's answers (status and path, or why the request failed), in arrival order. */
const answersOf = new WeakMap<Page, string[]>();

/** Opens the demo page on `src` with `engine`; records every media request the page makes. */
async function open(src: string, engine: string): Promise<{ page: Page; requested: string[] }> {
  const page = await rig.browser.newPage();
  const requested: string[] = [];
  const answers: string[] = [];
  answersOf.set(page, answers);
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  page.on('response', (r) => answers.push(`${r.status()} ${new URL(r.url()).pathname}`));
  page.on('requestfailed', (r) => answers.push(`failed (${r.failure()?.errorText}) ${new URL(r.url()).pathname}`));
  await page.goto(`${rig.pages.url}?src=${encodeURIComponent(src)}&engine=${engine}`);
  return { page, requested };
}

/** Routes the video element through a Web Audio analyser (unmuted: Chromium runs with autoplay allowed). */
async function attachProbe(page: Page): Promise<void> {
  await page.evaluate(() => {
    const video = document.getElementById('video') as HTMLVideoElement;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    ctx.createMediaElementSource(video).connect(analyser);
    analyser.connect(ctx.destination);
    video.muted = false;
    void ctx.resume();
    const bins = new Float32Array(analyser.frequencyBinCount);
    (window as unknown as Win).__probe = {
      peakHz() {
        analyser.getFloatFrequencyData(bins);
        let best = 0;
        for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
        return bins[best] > -90 ? (best * ctx.sampleRate) / analyser.fftSize : 0;
      },
    };
  });
}

/**
 * Waits until the page plays a tone within 5 % of `hz`; on a timeout, says what was heard and where
 * the playhead was, so a failure tells a slow switch from content that ran out.
 */
async function hearTone(page: Page, hz: number, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(
      (want: number) => {
        const got = (window as unknown as Win).__probe!.peakHz();
        return Math.abs(got - want) < want * 0.05;
      },
      hz,
      { timeout: timeoutMs, polling: 50 },
    );
  } catch (err) {
    const at = await page.evaluate(() => {
      const video = document.getElementById('video') as HTMLVideoElement;
      const ranges = Array.from({ length: video.buffered.length }, (_, i) => [
        video.buffered.start(i),
        video.buffered.end(i),
      ]);
      return { peakHz: (window as unknown as Win).__probe!.peakHz(), t: video.currentTime, ended: video.ended, ranges };
    });
    // the audio requests last answered, so a switch that stalled says whether the server or the player held it
    const audio = (answersOf.get(page) ?? []).filter((a) => /\/audio|\.mpd|\.m3u8/.test(a)).slice(-16);
    throw new Error(`no ${hz} Hz tone within ${timeoutMs} ms: ${JSON.stringify({ ...at, audio })}`, { cause: err });
  }
}

async function tracksListed(page: Page, audio = 3, text = 2): Promise<{ audio: TrackInfo[]; text: TrackInfo[] }> {
  await page.waitForFunction(
    ([a, t]: number[]) => {
      const tracks = (window as unknown as Win).__streamedge.tracks();
      return tracks.audio.length === a && tracks.text.length === t && tracks.audio.some((x) => x.active);
    },
    [audio, text],
    { timeout: 30_000 },
  );
  return page.evaluate(() => (window as unknown as Win).__streamedge.tracks());
}

const CASES = [
  { engine: 'ours', manifest: 'master.m3u8', label: 'our player (HLS)' },
  { engine: 'ours', manifest: 'manifest.mpd', label: 'our player (DASH)' },
  { engine: 'hlsjs', manifest: 'master.m3u8', label: 'hls.js' },
  { engine: 'dashjs', manifest: 'manifest.mpd', label: 'dash.js' },
];

describe('audio languages and subtitles on the demo page', () => {
  for (const c of CASES) {
    it(`${c.label}: lists en/fr/de and both subtitle tracks, switches audio to French (880 Hz) and shows French cues`, async () => {
      const { page, requested } = await open(`${originUrl}/vod/movie/${c.manifest}`, c.engine);
      try {
        await attachProbe(page);
        const listed = await tracksListed(page);
        expect(listed.audio.map((a) => [a.language, a.name])).toEqual([
          ['en', 'English'],
          ['fr', 'French'],
          ['de', 'German'],
        ]);
        expect(listed.audio.find((a) => a.active)?.language).toBe('en'); // DEFAULT=YES / Role main
        expect(listed.text.map((t) => [t.language, t.name])).toEqual([
          ['en', 'English'],
          ['fr', 'French'],
        ]);

        await hearTone(page, 440, 15_000);
        expect(requested.some((p) => /\/audio-fr\/seg-\d+\.m4s$/.test(p))).toBe(false);
        const before = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());

        const fr = listed.audio.find((a) => a.language === 'fr')!.id;
        await page.evaluate((id: string) => (window as unknown as Win).__streamedge.setAudioTrack(id), fr);
        // the switch keeps at most a segment of English; on a loaded machine fetching the French
        // segments and refilling the buffer can take a few seconds more (the asset is 20 s long)
        await hearTone(page, 880, 12_000);
        expect(requested.some((p) => /\/audio-fr\/seg-\d+\.m4s$/.test(p))).toBe(true);
        const [tracksAfter, stats] = await page.evaluate(() => {
          const api = (window as unknown as Win).__streamedge;
          return [api.tracks(), api.stats()] as const;
        });
        expect(tracksAfter.audio.find((a) => a.active)?.language).toBe('fr');
        expect(stats.pageErrors).toEqual([]);
        if (c.engine === 'ours') {
          // the switch replaced the buffered audio without starving the playhead for a segment
          expect(stats.audioSwitches).toBe(1);
          expect(stats.stallMs - before.stallMs).toBeLessThan(SEGMENT_SEC * 1000);
        }

        const frText = listed.text.find((t) => t.language === 'fr')!.id;
        await page.evaluate((id: string) => (window as unknown as Win).__streamedge.setTextTrack(id), frText);
        await page.waitForFunction(
          () => (window as unknown as Win).__streamedge.activeCues().some((t) => t.includes('Bonjour')),
          undefined,
          { timeout: 10_000 },
        );
        const textNow = await page.evaluate(() => (window as unknown as Win).__streamedge.tracks().text);
        expect(textNow.find((t) => t.active)?.language).toBe('fr');
      } finally {
        await page.close();
      }
    }, 60_000);
  }
});

describe('a live channel with two audio languages', () => {
  for (const c of [
    { engine: 'ours', manifest: 'master.m3u8', label: 'our player (LL-HLS)' },
    { engine: 'ours', manifest: 'manifest.mpd', label: 'our player (LL-DASH)' },
    { engine: 'hlsjs', manifest: 'master.m3u8', label: 'hls.js' },
    { engine: 'dashjs', manifest: 'manifest.mpd', label: 'dash.js' },
  ]) {
    it(`${c.label}: lists English and French, switches to French (660 Hz) and fetches its parts`, async () => {
      const { page, requested } = await open(`${liveUrl}/live/ch/${c.manifest}`, c.engine);
      try {
        await attachProbe(page);
        const listed = await tracksListed(page, 2, 0);
        expect(listed.audio.map((a) => [a.language, a.name, a.active])).toEqual([
          ['en', 'English', true],
          ['fr', 'French', false],
        ]);
        await hearTone(page, 440, 30_000);
        const before = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());
        const fr = listed.audio.find((a) => a.language === 'fr')!.id;
        await page.evaluate((id: string) => (window as unknown as Win).__streamedge.setAudioTrack(id), fr);
        // live keeps the latency's worth of English already buffered, then the French parts play
        await hearTone(page, 660, 15_000);
        expect(requested.some((p) => /\/live\/ch\/audio-fr\/seg-\d+(\.\d+)?\.m4s$/.test(p))).toBe(true);
        const [tracks, stats] = await page.evaluate(() => {
          const api = (window as unknown as Win).__streamedge;
          return [api.tracks(), api.stats()] as const;
        });
        expect(tracks.audio.find((a) => a.active)?.language).toBe('fr');
        expect(stats.pageErrors).toEqual([]);
        if (c.engine === 'ours') {
          expect(stats.audioSwitches).toBe(1);
          expect(stats.stallMs - before.stallMs).toBeLessThan(SEGMENT_SEC * 1000);
        }
      } finally {
        await page.close();
      }
    }, 90_000);
  }
});

describe('an audio switch inside a DASH presentation of several Periods', () => {
  it('our player: the new language replaces the old from the switch point on, not from its Period chunk under the playhead', async () => {
    const { page, requested } = await open(`${originUrl}/vod/movie/manifest-periods.mpd`, 'ours');
    try {
      await attachProbe(page);
      const listed = await tracksListed(page, 3, 0);
      await hearTone(page, 440, 15_000);
      // paused 0.3 s into the second Period, English buffered well past it
      await page.evaluate(() => {
        const video = document.getElementById('video') as HTMLVideoElement;
        video.pause();
        video.currentTime = 4.3;
      });
      await page
        .waitForFunction(
          () => {
            const video = document.getElementById('video') as HTMLVideoElement;
            const audio = (window as unknown as Win).__streamedge.stats().trackRanges?.audio ?? [];
            return !video.seeking && audio.some(([a, b]) => a <= 4.3 && b >= 7);
          },
          undefined,
          { timeout: 15_000 },
        )
        .catch(async (e: unknown) => {
          // what each track held, and where the element stood, when the seek's media did not come
          const facts = await page.evaluate(() => {
            const video = document.getElementById('video') as HTMLVideoElement;
            const st = (window as unknown as Win).__streamedge.stats();
            return { currentTime: video.currentTime, seeking: video.seeking, trackRanges: st.trackRanges };
          });
          throw new Error(`${String(e)}\n${JSON.stringify(facts)}`);
        });
      const fr = listed.audio.find((a) => a.language === 'fr')!.id;
      await page.evaluate((id: string) => (window as unknown as Win).__streamedge.setAudioTrack(id), fr);
      // the switch point is 1 s ahead of the playhead (5.3 s): the French chunk holding it starts
      // at 4.01 s, in the Period [4, 20): it is appended from 5.3 s, the English before kept
      // (the switch counts once the English from 5.3 s is removed: then the range reaches 7 s again
      // only with French)
      await page.waitForFunction(
        () => {
          const stats = (window as unknown as Win).__streamedge.stats();
          return stats.audioSwitches === 1 && (stats.trackRanges?.audio ?? []).some(([a, b]) => a <= 4.3 && b >= 7);
        },
        undefined,
        { timeout: 15_000 },
      );
      expect(requested.some((p) => /\/audio-fr\/seg-\d+\.m4s$/.test(p))).toBe(true);
      const samples = await page.evaluate(
        () =>
          new Promise<[number, number][]>((resolve) => {
            const video = document.getElementById('video') as HTMLVideoElement;
            const heard: [number, number][] = [];
            const timer = setInterval(() => {
              heard.push([video.currentTime, (window as unknown as Win).__probe!.peakHz()]);
              if (video.currentTime >= 6.8 || heard.length > 400) {
                clearInterval(timer);
                resolve(heard);
              }
            }, 25);
            void video.play();
          }),
      );
      const near = (hz: number, want: number) => Math.abs(hz - want) < want * 0.05;
      const before = samples.filter(([t]) => t > 4.35 && t < 5.1);
      const after = samples.filter(([t]) => t > 5.7);
      const why = JSON.stringify(samples.map(([t, hz]) => [Number(t.toFixed(2)), Math.round(hz)]));
      // English up to the switch point (before, French from 4.01 s, right under the playhead)
      expect(before.length, why).toBeGreaterThan(5);
      expect(
        before.filter(([, hz]) => near(hz, 880)),
        why,
      ).toEqual([]);
      expect(
        before.some(([, hz]) => near(hz, 440)),
        why,
      ).toBe(true);
      expect(
        after.some(([, hz]) => near(hz, 880)),
        why,
      ).toBe(true);
      const stats = await page.evaluate(() => (window as unknown as Win).__streamedge.stats());
      expect(stats.pageErrors).toEqual([]);
      expect(stats.audioSwitches).toBe(1);
    } finally {
      await page.close();
    }
  }, 90_000);
});
