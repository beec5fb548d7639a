/**
 * The load tester's DASH viewers (bench/loadtest/dash-client.ts) on MPDs of several Periods, as a
 * server-side ad inserter writes them: the viewer plays the programme, the ad break (whose
 * Representations have ids of their own and fewer rungs: the rung that fits the viewer's is
 * played, with its own init segment) and the programme again, where its template resumes with a
 * presentationTimeOffset. Before, mpd-parser merged the Periods: the ad break's Representations
 * became rungs of the ladder, and the resumed programme asked for segments 0 and 1 again (its
 * times came out 6 s early). Live: a Period that ends and the ones that follow it, as reloads of
 * the MPD list them. The end to end run (real sockets, the viewer's requests):
 * test/integration/loadtest/loadtest-other-packagers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DashClient } from '../../bench/loadtest/dash-client.js';
import type { HttpGetter } from '../../bench/loadtest/http-get.js';
import { sidx } from '../../src/cmaf/writers.js';
import type { Chunk, Cursor } from '../../bench/loadtest/stream-client.js';
import { fakeHttpGetter } from '../support/fake-http-getter.js';
import { liveMultiPeriodMpd, livePeriod, MULTI_PERIOD_MPD, multiPeriodPlayOrder } from '../support/multi-period-mpd.js';

const URL = 'http://127.0.0.1:1/vod/manifest.mpd';
const rel = (u: string) => u.replace('http://127.0.0.1:1/vod/', '');
const signal = new AbortController().signal;

/** Every chunk of rendition `id` from the start, with the audio chunk that goes with each video one. */
async function walk(client: DashClient, id: string): Promise<{ video: Chunk[]; audio: Chunk[] }> {
  const video: Chunk[] = [];
  const audio: Chunk[] = [];
  let cursor: Cursor = await client.startCursor(id, signal);
  for (let guard = 0; guard < 50; guard++) {
    const c = await client.chunkAt(id, cursor, signal);
    if (!c) break;
    video.push(c);
    const a = await client.chunkAt(client.audio!.id, client.audioCursor(cursor), signal);
    audio.push(a!);
    cursor = c.next;
  }
  return { video, audio };
}

describe('load tester DASH viewers on an MPD of several Periods (VOD)', () => {
  it("offer the programme's ladder, not the ad break's Representations", async () => {
    const client = new DashClient(
      fakeHttpGetter(() => MULTI_PERIOD_MPD),
      URL,
    );
    await client.open(signal);
    expect(client.video.map((v) => [v.id, v.bitrate])).toEqual([
      ['360p', 900_000],
      ['720p', 3_000_000],
    ]);
    expect(client.audio?.id).toBe('audio');
    expect(client.segmentSec).toBe(2);
  });

  for (const rung of ['720p', '360p'] as const) {
    it(`play on ${rung}: the programme, the ad break's one rung with its init, the programme from segment 3, then the end`, async () => {
      const client = new DashClient(
        fakeHttpGetter(() => MULTI_PERIOD_MPD),
        URL,
      );
      await client.open(signal);
      const { video, audio } = await walk(client, rung);
      const expected = multiPeriodPlayOrder(rung);
      expect(video.map((c) => [rel(c.initUrl), rel(c.url)])).toEqual(expected.video);
      expect(audio.map((c) => [rel(c.initUrl), rel(c.url)])).toEqual(expected.audio);
      expect(video.map((c) => c.durationSec)).toEqual([2, 2, 2, 2, 2, 2, 2]);
    });
  }

  it('resume a programme Period with a presentationTimeOffset at its number, in an MPD of that Period alone', async () => {
    // the @duration template's offset, one Period: mpd-parser's times were 6 s early, so the
    // numbers (counted from time) came out 3 low
    const one = MULTI_PERIOD_MPD.replace(/<Period id="main-1"[\s\S]*?(<Period id="main-2")/, '$1');
    const client = new DashClient(
      fakeHttpGetter(() => one),
      URL,
    );
    await client.open(signal);
    const { video } = await walk(client, '360p');
    expect(video.map((c) => rel(c.url))).toEqual(['main/360p/seg-3.m4s', 'main/360p/seg-4.m4s']);
  });

  it("leave out what a resumed Period's SegmentTimeline lists from before its start", async () => {
    // the programme resumed as our packager lists it: the whole timeline from 0 (2 s segments
    // numbered from 0), a presentationTimeOffset of 4 s: segments 0 and 1 fall before the Period
    const timeline = MULTI_PERIOD_MPD.replace(
      /(<Period id="main-2"[\s\S]*?)<SegmentTemplate timescale="90000" presentationTimeOffset="540000" ([^>]*?)startNumber="3" duration="180000"\/>/,
      '$1<SegmentTemplate timescale="90000" presentationTimeOffset="360000" $2startNumber="0"><SegmentTimeline><S t="0" d="180000" r="4"/></SegmentTimeline></SegmentTemplate>',
    ).replace('<Period id="main-2" start="PT10S">', '<Period id="main-2" start="PT10S" duration="PT6S">');
    expect(timeline).toContain('<S t="0" d="180000" r="4"/>');
    const client = new DashClient(
      fakeHttpGetter(() => timeline),
      URL,
    );
    await client.open(signal);
    const { video } = await walk(client, '360p');
    // media 4–10 s at 10–16 s: segments 2, 3 and 4
    expect(video.map((c) => rel(c.url)).slice(5)).toEqual([
      'main/360p/seg-2.m4s',
      'main/360p/seg-3.m4s',
      'main/360p/seg-4.m4s',
    ]);
  });
});

describe('load tester DASH viewers on a live MPD whose Periods change', () => {
  it('play on past the end of a Period into the ad break and back into the programme, as reloads list them', async () => {
    const versions = [
      // the programme, segments 0–4 (0–10 s), no end yet
      liveMultiPeriodMpd(livePeriod('p0', 0, 'main', 'v', 0, 0, 5), 2),
      // the programme ended at 10 s; the ad break from 10 s (2 segments, numbered from 1) and the
      // programme again from 14 s (segment 5 on, media time resumed at 10 s)
      liveMultiPeriodMpd(
        livePeriod('p0', 0, 'main', 'v', 0, 0, 5) +
          livePeriod('ad', 10, 'ad', 'adv', 1, 0, 2) +
          livePeriod('p1', 14, 'main', 'v', 5, 10_000, 1),
        2,
      ),
      // the window moves on: the first Period has left it, the programme lists 5–7
      liveMultiPeriodMpd(
        livePeriod('ad', 10, 'ad', 'adv', 1, 0, 2) + livePeriod('p1', 14, 'main', 'v', 5, 10_000, 3),
        2,
      ),
    ];
    let reloads = 0;
    const asked: string[] = [];
    const http = fakeHttpGetter(
      (u) => (u.endsWith('.mpd') ? versions[Math.min(reloads++, versions.length - 1)] : ''),
      asked,
    );
    const client = new DashClient(http, 'http://127.0.0.1:1/live/manifest.mpd');
    await client.open(signal);
    expect(client.live).toBe(true);
    let cursor = await client.startCursor('v', signal);
    const played: [string, string, number][] = [];
    for (let i = 0; i < 7; i++) {
      const c = (await client.chunkAt('v', cursor, signal))!;
      played.push([c.url.replace(/^.*\/live\//, ''), c.initUrl.replace(/^.*\/live\//, ''), c.programDateTimeMs!]);
      cursor = c.next;
    }
    // joined two segments back (suggestedPresentationDelay 4 s), then on through each Period
    expect(played).toEqual([
      ['main/v/3.m4s', 'main/v/init.mp4', 6000],
      ['main/v/4.m4s', 'main/v/init.mp4', 8000],
      ['ad/adv/1.m4s', 'ad/adv/init.mp4', 10_000],
      ['ad/adv/2.m4s', 'ad/adv/init.mp4', 12_000],
      ['main/v/5.m4s', 'main/v/init.mp4', 14_000],
      ['main/v/6.m4s', 'main/v/init.mp4', 16_000],
      ['main/v/7.m4s', 'main/v/init.mp4', 18_000],
    ]);
    // one reload to find the ad break, one to find segment 6
    expect(asked.filter((u) => u.endsWith('.mpd'))).toHaveLength(3);
  });
});

/** A one-file Representation: 100 bytes of init, its sidx (2 s segments of 1,000 bytes), its segments. */
function oneFile(earliestSec: number, segments: number, timescale: number): Buffer {
  const index = sidx({
    referenceId: 1,
    timescale,
    earliestPresentationTime: earliestSec * timescale,
    firstOffset: 0,
    references: Array.from({ length: segments }, () => ({ size: 1000, duration: 2 * timescale, startsWithSap: true })),
  });
  return Buffer.concat([Buffer.alloc(100), index, Buffer.alloc(1000 * segments)]);
}

describe('load tester DASH viewers on SegmentBase Periods', () => {
  it("ask with each video segment for the audio segment of its time, a file's presentationTimeOffset taken", async () => {
    // the programme's second video file keeps the programme's timestamps (from 6 s) and says so
    // with SegmentBase@presentationTimeOffset; its audio file starts at 0 and has none
    const files: Record<string, Buffer> = {
      'v1.mp4': oneFile(0, 3, 90_000),
      'a1.mp4': oneFile(0, 3, 48_000),
      'v2.mp4': oneFile(6, 3, 90_000),
      'a2.mp4': oneFile(0, 3, 48_000),
    };
    const rep = (file: string, kind: 'video' | 'audio', offset = '') => {
      const end = files[file].length - 3000 - 1; // the sidx: from byte 100 to the first segment
      const ts = kind === 'video' ? 90_000 : 48_000;
      const codecs = kind === 'video' ? 'avc1.64001e" width="640" height="360' : 'mp4a.40.2';
      return `<AdaptationSet contentType="${kind}" mimeType="${kind}/mp4"><Representation id="${kind}" bandwidth="900000" codecs="${codecs}">
        <BaseURL>${file}</BaseURL><SegmentBase timescale="${ts}"${offset} indexRange="100-${end}"><Initialization range="0-99"/></SegmentBase>
      </Representation></AdaptationSet>`;
    };
    const mpd = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT12S" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="one" start="PT0S" duration="PT6S">${rep('v1.mp4', 'video')}${rep('a1.mp4', 'audio')}</Period>
  <Period id="two" start="PT6S">${rep('v2.mp4', 'video', ' presentationTimeOffset="540000"')}${rep('a2.mp4', 'audio')}</Period>
</MPD>`;
    const getter = {
      stats: { error: () => undefined },
      get: (url: string, o: { range?: string }) => {
        const file = files[rel(url)];
        const m = /^bytes=(\d+)-(\d+)$/.exec(o.range ?? '');
        const body = file && m ? file.subarray(Number(m[1]), Number(m[2]) + 1) : Buffer.from(mpd);
        const r = { status: file ? 206 : 200, bytes: body.length, ttfbMs: 0, durationMs: 0, body };
        return Promise.resolve(file ? r : { ...r, text: mpd });
      },
      wait: () => Promise.resolve(),
    } as unknown as HttpGetter;
    const client = new DashClient(getter, URL);
    await client.open(signal);
    const { video, audio } = await walk(client, 'video');
    const where = (c: Chunk) => `${rel(c.url)} ${c.range}`;
    const seg = (file: string, n: number) => {
      const at = files[file].length - 3000 + n * 1000;
      return `${file} bytes=${at}-${at + 999}`;
    };
    expect(video.map(where)).toEqual(
      [0, 1, 2].flatMap((n) => [seg('v1.mp4', n)]).concat([0, 1, 2].map((n) => seg('v2.mp4', n))),
    );
    // (the file's media time 6 s is the Period's start: before, its audio was looked for 6 s later)
    expect(audio.map(where)).toEqual(
      [0, 1, 2].map((n) => seg('a1.mp4', n)).concat([0, 1, 2].map((n) => seg('a2.mp4', n))),
    );
  });
});
