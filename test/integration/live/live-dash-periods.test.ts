/**
 * A real live channel (ffmpeg lavfi source, 1 s segments) with `--live-dash-periods cues`: an ad
 * break cued through the origin's API splits the MPD into the programme's Period, the break's and
 * the programme's again, each starting exactly at the break's start or return, with the segments
 * of its own span (numbers running on across them), a presentationTimeOffset at its start and the
 * SCTE 35 Event in the Period it falls in; schema-valid; and the load tester's DASH viewers play
 * across the Periods without an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateMpd } from '../../support/xml-validate.js';
import { splitPeriods } from '../../../src/dash/mpd-periods.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { TEST_SOURCE, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';

const CREDENTIAL = 'cue-credential-for-tests-0123456789';
let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-periods-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  o = await startLiveOrigin(
    root,
    [
      {
        id: 'ch',
        source: TEST_SOURCE,
        segmentDuration: 1,
        partDuration: 0.5,
        dvrWindow: 30,
        ladder: writeTinyLadder(dir),
        dashPeriods: 'cues',
      },
    ],
    {},
    { cueCredential: CREDENTIAL },
  );
  await until(async () => /<S /.test((await o.get('/live/ch/manifest.mpd')).text), 40_000, 'a listed segment');
}, 60_000);

afterAll(async () => {
  await o?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The video SegmentTemplate of a Period: its attributes and the numbers and start times (s) its timeline lists. */
function videoOf(periodXml: string): { attrs: Record<string, string>; numbers: number[]; starts: number[] } {
  const set = periodXml.slice(periodXml.indexOf('contentType="video"'));
  const tag = /<SegmentTemplate\b([^>]*)>/.exec(set)![1];
  const attrs = Object.fromEntries([...tag.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const timeline = set.slice(0, set.indexOf('</SegmentTimeline>'));
  const ts = Number(attrs.timescale);
  const starts: number[] = [];
  let t = 0;
  for (const m of timeline.matchAll(/<S\b([^>]*)\/>/g)) {
    const a = Object.fromEntries([...m[1].matchAll(/(\w+)="(\d+)"/g)].map((x) => [x[1], Number(x[2])]));
    if (a.t !== undefined) t = a.t;
    for (let i = 0; i <= (a.r ?? 0); i++) {
      starts.push(t / ts);
      t += a.d;
    }
  }
  const first = Number(attrs.startNumber);
  return { attrs, numbers: starts.map((_, i) => first + i), starts };
}

describe('a live channel with --live-dash-periods cues', () => {
  it('one Period until a break; then the programme, the break and the programme again, cut at its start and return', async () => {
    expect(splitPeriods((await o.get('/live/ch/manifest.mpd')).text).map((p) => p.key)).toEqual(['0']);
    const cued = await fetch(`${o.base}/_live/ch/ad-breaks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CREDENTIAL}`, 'content-type': 'application/json' },
      body: JSON.stringify({ duration: 2 }),
    });
    expect(cued.status).toBe(201);
    const b = (await cued.json()) as { eventId: number; startsWithSegment: number };
    // until a whole segment after the return is listed
    const mpd = await until(
      async () => {
        const text = (await o.get('/live/ch/manifest.mpd')).text;
        return splitPeriods(text).length === 3 ? text : undefined;
      },
      30_000,
      'three Periods',
    );
    expect((await validateMpd(mpd)).errors).toBe('');
    const periods = splitPeriods(mpd);
    const video = periods.map((p) => videoOf(p.text));
    const breakStart = video[1].starts[0];
    expect(periods.map((p) => p.key)).toEqual([
      '0',
      `p${Math.round(breakStart * 1000)}`,
      `p${Math.round((breakStart + 2) * 1000)}`,
    ]);
    // (Period@start in ms: the cut's media time to the ms)
    expect(periods[1].startSec).toBeCloseTo(breakStart, 3);
    expect(periods[2].startSec).toBeCloseTo(breakStart + 2, 3);
    expect(periods[1].durationSec).toBeCloseTo(2, 3);
    expect(periods[2].durationSec).toBeUndefined(); // the live Period is open
    // the break's Period starts with the segment the break starts with; numbers run on across Periods
    expect(video[1].numbers).toEqual([b.startsWithSegment, b.startsWithSegment + 1]);
    expect(video[0].numbers.at(-1)).toBe(b.startsWithSegment - 1);
    expect(video[2].numbers[0]).toBe(b.startsWithSegment + 2);
    // each Period's segments lie within it, its template timed from its start
    for (const [i, v] of video.entries()) {
      const p = periods[i];
      for (const s of v.starts) {
        expect(s).toBeGreaterThanOrEqual(p.startSec - 0.001);
        if (p.durationSec !== undefined) expect(s).toBeLessThan(p.startSec + p.durationSec);
      }
      if (i > 0) expect(Number(v.attrs.presentationTimeOffset) / Number(v.attrs.timescale)).toBeCloseTo(p.startSec, 3);
    }
    // the break's SCTE 35 Events: the start in its Period, the return in the next
    expect(periods[1].text).toContain(
      `<Event presentationTime="${Math.round(breakStart * 1000)}" duration="2000" id="${2 * b.eventId}">`,
    );
    expect(periods[2].text).toContain(
      `<Event presentationTime="${Math.round((breakStart + 2) * 1000)}" id="${2 * b.eventId + 1}">`,
    );
    // the HLS playlists are as without the option: one timeline, the break as a DATERANGE
    expect((await o.get('/live/ch/180p/index.m3u8')).text).toContain('#EXT-X-DATERANGE:ID="splice-1"');
  });

  it('the load tester’s DASH viewers play on across the Periods with no error', async () => {
    const r = await runLoadTest({ url: `${o.base}/live/ch/manifest.mpd`, viewers: 4, rampSec: 0.5, durationSec: 5 });
    expect(r.viewers).toMatchObject({ started: 4, ended: 4, failed: 0 });
    expect(r.errors).toEqual({});
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(4 * 3);
  });
});
