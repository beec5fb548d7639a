/**
 * Our player in Debian's Chromium plays a DASH MPD of several Periods, as a server-side ad
 * inserter writes one: 4 s of a programme, a 4 s ad break (another asset packaged by real ffmpeg,
 * its one video Representation under an id of its own, its media times starting at 0 again), and
 * the programme again from 8 s, its SegmentTemplate resuming with a presentationTimeOffset of 4 s.
 * Each rung of the ladder plays the Representation that fits it in each Period, each chunk after
 * its Period's init segment, with the timestampOffset that puts its media at its place in the
 * presentation and an append window at its Period's bounds (the programme's 2.005 s audio
 * segments straddle them). Before, mpd-parser merged the Periods: the ad break's Representation
 * was a rung of its own, and its media (0–4 s) would have overwritten the programme's.
 * Served by the origin and the edge on loopback, the fault proxy in front to see every request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

let rig: BrowserRig;
let proxy: FaultProxy;

/** The AdaptationSets of a one-Period MPD of ours. */
function adaptationSets(mpd: string): string {
  return /<Period\b[^>]*>([\s\S]*)<\/Period>/.exec(mpd)![1];
}

/**
 * The programme (`movie`, 8 s) with the ad break (`ad`, 4 s) at 4 s: three Periods, 12 s. The
 * programme resumes at $Number$ 3 by its SegmentTimeline (the segments before the Period's start
 * are left out by their times), its presentationTimeOffset 4 s in each timescale.
 */
function ssaiMpd(movie: string, ad: string): string {
  const head = movie
    .slice(0, movie.indexOf('<Period'))
    .replace('mediaPresentationDuration="PT8S"', 'mediaPresentationDuration="PT12S"');
  const programme = adaptationSets(movie);
  const resumed = programme.replace(
    /<SegmentTemplate timescale="(\d+)"/g,
    (_, ts: string) => `<SegmentTemplate timescale="${ts}" presentationTimeOffset="${4 * Number(ts)}"`,
  );
  const adSets = adaptationSets(ad)
    // one video Representation, under an id of its own (its files are still 360p/)
    .replace(/<Representation id="240p"[^>]*\/>\s*/, '')
    .replace('<Representation id="360p"', '<Representation id="ad-360p"')
    .replace(
      /(<AdaptationSet[^>]*contentType="video"[\s\S]*?<SegmentTemplate[^>]*?)media="\$RepresentationID\$\/seg-\$Number\$\.m4s" initialization="\$RepresentationID\$\/init\.mp4"/,
      '$1media="360p/seg-$Number$.m4s" initialization="360p/init.mp4"',
    )
    .replace('<Representation id="audio"', '<Representation id="ad-audio"')
    .replace(
      /(<AdaptationSet[^>]*contentType="audio"[\s\S]*?<SegmentTemplate[^>]*?)media="\$RepresentationID\$\/seg-\$Number\$\.m4s" initialization="\$RepresentationID\$\/init\.mp4"/,
      '$1media="audio/seg-$Number$.m4s" initialization="audio/init.mp4"',
    );
  expect(adSets).toContain('id="ad-360p"');
  expect(adSets).toContain('media="360p/seg-$Number$.m4s"');
  expect(adSets).toContain('media="audio/seg-$Number$.m4s"');
  return (
    head +
    `<Period id="main-1" start="PT0S" duration="PT4S">${programme}</Period>\n` +
    `  <Period id="ad-1" duration="PT4S">\n    <BaseURL>../../ad/v1/</BaseURL>${adSets}</Period>\n` +
    `  <Period id="main-2" start="PT8S">${resumed}</Period>\n</MPD>\n`
  );
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-periods-');
  await packageSmall(rig.dir, await fixture('sample'), 'movie');
  await packageSmall(rig.dir, await fixture('small'), 'ad');
  const movieDir = realpathSync(join(rig.dir, 'root', 'movie'));
  const adDir = realpathSync(join(rig.dir, 'root', 'ad'));
  const mpd = ssaiMpd(
    readFileSync(join(movieDir, 'manifest.mpd'), 'utf8'),
    readFileSync(join(adDir, 'manifest.mpd'), 'utf8'),
  );
  writeFileSync(join(movieDir, 'manifest-ssai.mpd'), mpd);
  const upstream = await rig.origin({ root: join(rig.dir, 'root') });
  proxy = await startFaultProxy((await rig.edge(upstream, 'edge-periods')).url, []);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await rig?.close();
});

describe('our player plays a DASH MPD of several Periods (an ad break stitched in)', () => {
  it('plays the programme, the ad break and the programme again to 12 s, one buffered range, each Period from its own files', async () => {
    const page = await rig.browser.newPage();
    let end: {
      pageErrors: string[];
      retries: number;
      currentTime: number;
      duration: number;
      buffered: number[][];
      ended: boolean;
    };
    try {
      await page.goto(
        `${rig.pages.url}?src=${encodeURIComponent(`${proxy.url}/vod/movie/manifest-ssai.mpd`)}&engine=ours`,
      );
      await page.waitForFunction(
        () => {
          const v = document.getElementById('video') as HTMLVideoElement;
          const s = window.__streamedge.stats() as { pageErrors: string[] };
          return s.pageErrors.length > 0 || v.ended;
        },
        undefined,
        { timeout: 60_000, polling: 100 },
      );
      end = await page.evaluate(() => {
        const v = document.getElementById('video') as HTMLVideoElement;
        const s = window.__streamedge.stats() as { pageErrors: string[]; retries: number };
        const buffered: number[][] = [];
        for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
        return {
          pageErrors: s.pageErrors,
          retries: s.retries,
          currentTime: v.currentTime,
          duration: v.duration,
          buffered,
          ended: v.ended,
        };
      });
    } finally {
      await page.close();
    }
    expect(end.pageErrors).toEqual([]);
    expect(end.retries).toBe(0);
    expect(end.ended).toBe(true);
    // 12 s played: the ad break's media placed after the programme's first 4 s, not over them
    expect(end.duration).toBeCloseTo(12, 1);
    expect(end.currentTime).toBeGreaterThan(11.9);
    expect(end.buffered).toHaveLength(1);
    expect(end.buffered[0][0]).toBeLessThan(0.1);
    expect(end.buffered[0][1]).toBeGreaterThan(11.9);

    const asked = proxy.log.map((p) => p.replace(/\?.*$/, ''));
    const firstAt = (re: RegExp) => asked.findIndex((p) => re.test(p));
    const video = (asset: string, n: number) => new RegExp(`^/vod/${asset}/v1/(240p|360p)/seg-${n}\\.m4s$`);
    // the ad break's one rendition and its audio, with their init segments, each once
    for (const f of [
      '360p/init.mp4',
      '360p/seg-1.m4s',
      '360p/seg-2.m4s',
      'audio/init.mp4',
      'audio/seg-1.m4s',
      'audio/seg-2.m4s',
    ])
      expect(
        asked.filter((p) => p === `/vod/ad/v1/${f}`),
        f,
      ).toHaveLength(1);
    // nothing of the ad asset past its 4 s, nor its 240p
    expect(
      asked.filter((p) => p.startsWith('/vod/ad/') && !/\/(360p|audio)\/(init\.mp4|seg-[12]\.m4s)$/.test(p)),
    ).toEqual([]);
    // in play order: the programme's segments 1 and 2, the ad break, the programme's 3 and 4
    const order = [
      video('movie', 1),
      video('movie', 2),
      video('ad', 1),
      video('ad', 2),
      video('movie', 3),
      video('movie', 4),
    ].map(firstAt);
    expect(
      order.every((i) => i >= 0),
      String(order),
    ).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // the programme's video before the ad break is asked no more after it (segments 1 and 2 are not played again)
    const adStart = firstAt(video('ad', 1));
    expect(asked.slice(adStart).filter((p) => video('movie', 1).test(p) || video('movie', 2).test(p))).toEqual([]);
  }, 150_000);
});
