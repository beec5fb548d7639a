/**
 * src/dash/mpd-periods.ts: an MPD of several Periods cut into one single-Period MPD each, with the
 * start and duration each Period has in the whole (ISO/IEC 23009-1 §5.3.2.1: @start, else the
 * previous Period's start plus its @duration; the duration up to the next Period or the end), and
 * the Representation that plays a ladder rung in a Period whose ids differ. mpd-parser reads each
 * cut Period as it stands in the whole (it merged them with the wrong times). The load tester's
 * viewers playing such an MPD: test/unit/loadtest-dash-periods.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'mpd-parser';
import {
  matchAcrossPeriods,
  PeriodCursors,
  richestPeriod,
  splitPeriods,
  withinPeriod,
} from '../../../src/dash/mpd-periods.js';
import { parseXsDuration } from '../../../src/dash/xs-duration.js';
import { MULTI_PERIOD_MPD } from '../../support/multi-period-mpd.js';

describe('splitPeriods', () => {
  it('gives each Period its start and duration in the whole, keyed by its id', () => {
    const periods = splitPeriods(MULTI_PERIOD_MPD);
    expect(periods.map(({ key, startSec, durationSec }) => ({ key, startSec, durationSec }))).toEqual([
      { key: 'main-1', startSec: 0, durationSec: 6 },
      // no @start: the previous Period's start plus its @duration
      { key: 'ad-1', startSec: 6, durationSec: 4 },
      // no @duration, the last: up to mediaPresentationDuration
      { key: 'main-2', startSec: 10, durationSec: 4 },
    ]);
  });

  it('cuts one MPD per Period, each with the MPD header and that Period only, its times explicit', () => {
    // the ad break with a @start and no @duration: it lasts up to the next Period's start
    const mpd = MULTI_PERIOD_MPD.replace('<Period id="ad-1" duration="PT4S">', '<Period id="ad-1" start="PT6S">');
    const periods = splitPeriods(mpd);
    expect(periods.map((p) => [p.key, p.startSec, p.durationSec])).toEqual([
      ['main-1', 0, 6],
      ['ad-1', 6, 4],
      ['main-2', 10, 4],
    ]);
    for (const p of periods) {
      expect(p.text.match(/<Period\b/g)).toHaveLength(1);
      expect(p.text).toContain('mediaPresentationDuration="PT14S"');
      expect(p.text.trimEnd().endsWith('</MPD>')).toBe(true);
    }
    // the ad break's duration, implied in the whole, is written into its own MPD
    expect(periods[1].text).toMatch(/<Period duration="PT4S" id="ad-1" start="PT6S">/);
    // and the start implied in the fixture's own
    expect(splitPeriods(MULTI_PERIOD_MPD)[1].text).toMatch(/<Period start="PT6S" id="ad-1" duration="PT4S">/);
    // mpd-parser reads each as it stands in the whole: the programme resumes at 10 s, numbered from 3
    const resumed = parse(periods[2].text, { manifestUri: 'http://h/a/manifest.mpd' }) as unknown as {
      playlists: { attributes: { NAME: string }; segments: { uri: string }[] }[];
    };
    expect(resumed.playlists.map((p) => [p.attributes.NAME, p.segments.map((s) => s.uri)])).toEqual([
      ['360p', ['main/360p/seg-3.m4s', 'main/360p/seg-4.m4s']],
      ['720p', ['main/720p/seg-3.m4s', 'main/720p/seg-4.m4s']],
    ]);
  });

  it('keys a Period without an id by its start; leaves an MPD of one Period as it is', () => {
    const one = MULTI_PERIOD_MPD.replace(/<Period id="ad-1"[\s\S]*<\/MPD>/, '</MPD>').replace(' id="main-1"', '');
    const periods = splitPeriods(one);
    expect(periods).toHaveLength(1);
    expect(periods[0]).toMatchObject({ key: '@0', startSec: 0, durationSec: 6, text: one });
    expect(splitPeriods('<MPD type="static"></MPD>')).toEqual([]);
  });
});

describe('matchAcrossPeriods', () => {
  const ad = [
    { id: 'ad-lo', bw: 400_000 },
    { id: 'ad-hi', bw: 1_500_000 },
  ];
  const match = (id: string, bitrate: number) =>
    matchAcrossPeriods(
      { id, bitrate },
      ad,
      (c) => c.id,
      (c) => c.bw,
    )?.id;

  it('takes the same id, else the highest bandwidth within the rung, else the lowest', () => {
    expect(match('ad-lo', 5_000_000)).toBe('ad-lo');
    expect(match('720p', 3_000_000)).toBe('ad-hi');
    expect(match('360p', 900_000)).toBe('ad-lo');
    // 5 % over the rung still fits
    expect(match('540p', 1_450_000)).toBe('ad-hi');
    expect(match('240p', 200_000)).toBe('ad-lo');
    expect(matchAcrossPeriods({ id: 'x', bitrate: 1 }, [], String, Number)).toBeUndefined();
  });
});

describe('richestPeriod and withinPeriod', () => {
  it('takes the first Period with the most video Representations', () => {
    const p = (name: string, n: number) => ({ name, video: Array.from({ length: n }) });
    expect(richestPeriod([p('pre-roll', 1), p('programme', 3), p('ad', 1), p('again', 3)])?.name).toBe('programme');
    expect(richestPeriod([])).toBeUndefined();
  });

  it('keeps a segment that overlaps the Period, not one before its start or from its end on', () => {
    const period = { key: 'p', startSec: 10, durationSec: 4, text: '' };
    expect(withinPeriod(period, 10, 2)).toBe(true);
    // straddling the start (audio a little longer than video): kept, the append window trims it
    expect(withinPeriod(period, 8.005, 2.005)).toBe(true);
    expect(withinPeriod(period, 8, 2)).toBe(false);
    expect(withinPeriod(period, 14, 2)).toBe(false);
    expect(withinPeriod({ ...period, durationSec: undefined }, 1000, 2)).toBe(true);
  });
});

describe('PeriodCursors', () => {
  it("keeps the first Period's $Number$s, numbers later ones apart and rising, and maps back", () => {
    const c = new PeriodCursors();
    c.see(['main-1', 'ad-1']);
    expect(c.cursor('v', 'main-1', 812_345_678)).toBe(812_345_678);
    const ad = [1, 2, 3].map((n) => c.cursor('v', 'ad-1', n));
    // the ad break's from 2^32, its first number seen counted as 0
    expect(ad).toEqual([2 ** 32, 2 ** 32 + 1, 2 ** 32 + 2]);
    expect(ad.map((m) => c.number('v', 'ad-1', m))).toEqual([1, 2, 3]);
    expect(ad.map((m) => c.ordinalOf(m))).toEqual([1, 1, 1]);
    expect(c.ordinalOf(812_345_678)).toBe(0);
    // a Period seen in a later reload comes after; one seen before keeps its place
    c.see(['ad-1', 'main-2']);
    expect(c.ordinal('main-2')).toBe(2);
    expect(c.cursor('v', 'main-2', 3)).toBe(2 * 2 ** 32);
    expect(c.cursor('v', 'main-2', 3)).toBeGreaterThan(ad[2]);
    // each rendition counts its own first number (audio numbered apart)
    expect(c.cursor('a', 'ad-1', 7)).toBe(2 ** 32);
  });
});

describe('parseXsDuration', () => {
  it('reads days, hours, minutes and fractional seconds; refuses what is not one', () => {
    expect(parseXsDuration('PT1.5S')).toBe(1.5);
    expect(parseXsDuration('PT2M')).toBe(120);
    expect(parseXsDuration('P1DT1H0.25S')).toBe(90_000.25);
    expect(parseXsDuration('2S')).toBeUndefined();
    expect(parseXsDuration(undefined)).toBeUndefined();
  });
});
