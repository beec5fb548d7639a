/**
 * The dynamic MPD a running live channel serves (real ffmpeg lavfi source, real origin on
 * loopback) validates against the ISO/IEC 23009-1 schema (test/schemas/dash, offline): the very
 * first MPD the channel answers, and MPDs after the DVR window has rolled (oldest segments gone,
 * startNumber moved on). The origin's live MPD is always the LL-DASH form, so the same documents
 * prove the low-latency attributes valid: availabilityTimeOffset on every SegmentTemplate,
 * ServiceDescription, UTCTiming.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateMpd } from '../../support/xml-validate.js';
import { periodTimelines } from '../../support/multi-period-mpd.js';
import { parseM3u8, TEST_SOURCE, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';

const SEGMENT = 1;
const PART = 0.5;
const DVR = 4;

let dir: string;
let o: LiveOrigin;
/** The first MPD the channel answered with 200, fetched as early as the origin serves one. */
let firstMpd = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-mpd-'));
  const ladder = writeTinyLadder(dir);
  const root = join(dir, 'root');
  mkdirSync(root);
  o = await startLiveOrigin(root, [
    { id: 'ch', source: TEST_SOURCE, segmentDuration: SEGMENT, partDuration: PART, dvrWindow: DVR, ladder },
  ]);
  firstMpd = await until(
    async () => {
      const r = await o.get('/live/ch/manifest.mpd');
      return r.status === 200 ? r.text : undefined;
    },
    30_000,
    'the first live MPD',
  );
});

afterAll(async () => {
  await o?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** startNumber of every SegmentTemplate, and the number of S entries (with @r) per timeline. */
function timelineShape(mpd: string): { startNumbers: number[]; counts: number[] } {
  const startNumbers = [...mpd.matchAll(/<SegmentTemplate[^>]*startNumber="(\d+)"/g)].map((m) => Number(m[1]));
  const counts = [...mpd.matchAll(/<SegmentTimeline>([\s\S]*?)<\/SegmentTimeline>/g)].map((m) =>
    [...m[1].matchAll(/<S\b[^>]*?(?:r="(\d+)")?[^>]*\/>/g)].reduce((n, s) => n + 1 + Number(s[1] ?? 0), 0),
  );
  return { startNumbers, counts };
}

async function expectValid(mpd: string): Promise<void> {
  const v = await validateMpd(mpd);
  expect(v.errors).toBe('');
  expect(v.valid).toBe(true);
}

describe('live MPD against the DASH schema', () => {
  it('the first MPD the channel serves is a valid dynamic LL-DASH MPD', async () => {
    expect(firstMpd).toContain('type="dynamic"');
    expect(firstMpd).toMatch(/timeShiftBufferDepth="PT4(\.0+)?S"/);
    await expectValid(firstMpd);
  });

  it('after the DVR window has rolled, the MPD is still valid (startNumber moved, window bounded)', async () => {
    const rolled = await until(
      async () => {
        const r = await o.get('/live/ch/manifest.mpd');
        if (r.status !== 200) return undefined;
        const shape = timelineShape(r.text);
        return shape.startNumbers.length > 0 && shape.startNumbers.every((n) => n > 3) ? r.text : undefined;
      },
      60_000,
      'the DVR window to roll past segment 3',
    );
    await expectValid(rolled);
    const { startNumbers, counts } = timelineShape(rolled);
    expect(startNumbers.length).toBe(2); // 180p video and audio
    for (const c of counts) {
      expect(c).toBeGreaterThan(0);
      expect(c).toBeLessThanOrEqual(DVR / SEGMENT + 1);
    }
    // Two further MPD updates, each validated as served while the window keeps sliding.
    let last = rolled;
    for (let i = 0; i < 2; i++) {
      const before = Math.max(...timelineShape(last).startNumbers);
      last = await until(
        async () => {
          const r = await o.get('/live/ch/manifest.mpd');
          return r.status === 200 && Math.max(...timelineShape(r.text).startNumbers) > before ? r.text : undefined;
        },
        30_000,
        'the window to slide by a segment',
      );
      await expectValid(last);
    }
  });

  it('the LL-DASH attributes are present on what was validated: availabilityTimeOffset, ServiceDescription, UTCTiming', async () => {
    const r = await o.get('/live/ch/manifest.mpd');
    expect(r.status).toBe(200);
    await expectValid(r.text);
    const offsets = [...r.text.matchAll(/<SegmentTemplate[^>]*availabilityTimeOffset="([\d.]+)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(offsets).toEqual([SEGMENT - PART, SEGMENT - PART]);
    expect(r.text).toMatch(/<SegmentTemplate[^>]*availabilityTimeComplete="false"/);
    expect(r.text).toContain('<ServiceDescription');
    expect(r.text).toContain('<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014"');
  });

  it('lists the segment in production at the length it then has, and serves it before it is complete', async () => {
    /** The newest segment of each SegmentTimeline (video, audio): its number and [start, end). */
    const newest = (mpd: string) => {
      const [period] = periodTimelines(mpd).slice(-1);
      const starts = [...mpd.matchAll(/<SegmentTemplate[^>]*startNumber="(\d+)"/g)].map((m) => Number(m[1])).slice(-2);
      return period.timelines.map((list, i) => ({ number: starts[i] + list.length - 1, span: list[list.length - 1] }));
    };
    /** The newest complete segment's number of a rendition (its HLS playlist's last EXTINF). */
    const lastComplete = async (rendition: string) => {
      const m = parseM3u8((await o.get(`/live/ch/${rendition}/index.m3u8`)).text);
      return m.mediaSequence + m.segments.length - 1;
    };
    // an MPD whose newest video and audio segment was still in production after it was served
    const { listed, mpd } = await until(
      async () => {
        const r = await o.get('/live/ch/manifest.mpd');
        const [video, audio] = newest(r.text);
        const done = [await lastComplete('180p'), await lastComplete('audio')];
        return video.number > done[0] && audio.number > done[1] ? { listed: [video, audio], mpd: r.text } : undefined;
      },
      20_000,
      'an MPD listing the segments in production',
    );
    await expectValid(mpd);
    // it is served as it is made (chunked), whole once complete: its first fragment starts where the MPD says
    const body = (await o.get(`/live/ch/180p/seg-${listed[0].number}.m4s`)).body;
    const tfdt = body.indexOf('tfdt');
    expect(tfdt).toBeGreaterThan(0);
    const version = body[tfdt + 4];
    const start = version === 1 ? Number(body.readBigUInt64BE(tfdt + 8)) : body.readUInt32BE(tfdt + 8);
    expect(start).toBe(listed[0].span[0]);
    // once complete, each is listed as before: the length the first MPD gave it was the one it has
    const later = await until(
      async () => {
        const r = await o.get('/live/ch/manifest.mpd');
        return (await lastComplete('180p')) > listed[0].number && (await lastComplete('audio')) > listed[1].number
          ? { ...periodTimelines(r.text).slice(-1)[0], text: r.text }
          : undefined;
      },
      20_000,
      'the segments to complete',
    );
    for (const [i, { span }] of listed.entries()) expect(later.timelines[i], `timeline ${i}`).toContainEqual(span);
    // audio is cut on the video's grid: each segment number starts at the same time, to half an AAC frame
    const templates = [...later.text.matchAll(/<SegmentTemplate[^>]*timescale="(\d+)"[^>]*startNumber="(\d+)"/g)];
    const [[videoTs, videoFirst], [audioTs, audioFirst]] = templates.map((m) => [Number(m[1]), Number(m[2])]);
    const startOf = (list: Array<[number, number]>, first: number, ts: number, n: number) => list[n - first][0] / ts;
    const [video, audio] = later.timelines;
    const numbers = [];
    for (
      let n = Math.max(videoFirst, audioFirst);
      n < Math.min(videoFirst + video.length, audioFirst + audio.length);
      n++
    )
      numbers.push(n);
    expect(numbers.length).toBeGreaterThan(2);
    for (const n of numbers) {
      const apart = startOf(video, videoFirst, videoTs, n) - startOf(audio, audioFirst, audioTs, n);
      // (plus a tick of each timescale: the grid's origin is rounded to each track's ticks)
      expect(Math.abs(apart), `segment ${n}`).toBeLessThanOrEqual(512 / 48000 + 1 / videoTs + 1 / audioTs);
    }
  });
});
