/**
 * A live MPD split into Periods at its ad breaks (`origin --live-dash-periods cues`): the
 * programme's Period, the break's and the programme's again, each listing its own segments of the
 * sliding window with a presentationTimeOffset at its start, ids that stay the same across
 * updates, the last one open; Periods whose media left the DVR window are not listed.
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import { splitPeriods } from '../../../src/dash/mpd-periods.js';
import type { AdBreak, Presentation } from '../../../src/media/presentation.js';
import { AST, livePresentation } from '../hls/fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

// the fixture: 2 s segments 100..109 complete (media 200 s to 220 s), 110 in progress
const BREAK: AdBreak = {
  eventId: 7,
  startDate: AST + 204_000,
  mediaStart: 204,
  plannedDuration: 8,
  scte35Out: '0xfc3001',
  end: { date: AST + 212_000, mediaTime: 212, scte35In: '0xfc3002' },
};

const TS = livePresentation().timelines[0].rendition.timescale;

function split(starts: number[]): Presentation {
  return { ...livePresentation(), adBreaks: [BREAK], dashPeriodStarts: starts };
}

/** A Period's video SegmentTemplate attributes and the segment numbers its timeline lists. */
function videoOf(periodXml: string): { attrs: Record<string, string>; numbers: number[] } {
  const set = periodXml.slice(periodXml.indexOf('contentType="video"'));
  const tag = /<SegmentTemplate\b([^>]*)>/.exec(set)![1];
  const attrs = Object.fromEntries([...tag.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const timeline = set.slice(0, set.indexOf('</SegmentTimeline>'));
  const count = [...timeline.matchAll(/<S\b[^>]*?(?: r="(\d+)")?\/>/g)].reduce((n, m) => n + 1 + Number(m[1] ?? 0), 0);
  const first = Number(attrs.startNumber);
  return { attrs, numbers: Array.from({ length: count }, (_, i) => first + i) };
}

/** The media times (s) of the segments a Period's audio SegmentTimeline lists, and its first $Number$. */
function audioOf(periodXml: string): { spans: Array<[number, number]>; startNumber: number } {
  const set = periodXml.slice(periodXml.indexOf('contentType="audio"'));
  const tag = /<SegmentTemplate\b([^>]*)>/.exec(set)![1];
  const ts = Number(/timescale="(\d+)"/.exec(tag)![1]);
  const timeline = set.slice(0, set.indexOf('</SegmentTimeline>'));
  const spans: Array<[number, number]> = [];
  let t = 0;
  for (const m of timeline.matchAll(/<S\b([^>]*)\/>/g)) {
    const a = Object.fromEntries([...m[1].matchAll(/(\w+)="(\d+)"/g)].map((x) => [x[1], Number(x[2])]));
    if (a.t !== undefined) t = a.t;
    for (let i = 0; i <= (a.r ?? 0); i++) {
      spans.push([t / ts, (t + a.d) / ts]);
      t += a.d;
    }
  }
  return { spans, startNumber: Number(/startNumber="(\d+)"/.exec(tag)![1]) };
}

describe('writeMpd: a live MPD split at its ad breaks', () => {
  const xml = writeMpd(split([204, 212]));
  const periods = splitPeriods(xml);

  it('validates against the ISO/IEC 23009-1 schema', async () => {
    expect((await validateMpd(xml)).errors).toBe('');
  });

  it('has the programme, the break and the programme again; ids are their starts; the last is open', () => {
    expect(periods.map((p) => [p.key, p.startSec, p.durationSec])).toEqual([
      ['0', 0, 204],
      ['p204000', 204, 8],
      ['p212000', 212, undefined],
    ]);
    expect(xml).toContain('<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"');
    expect(xml).toContain('type="dynamic"');
  });

  it('each Period lists its own complete segments of the window, timed from its start', () => {
    const video = periods.map((p) => videoOf(p.text));
    expect(video.map((v) => v.numbers)).toEqual([
      [100, 101],
      [102, 103, 104, 105],
      [106, 107, 108, 109],
    ]);
    expect(video.map((v) => v.attrs.presentationTimeOffset)).toEqual([undefined, String(204 * TS), String(212 * TS)]);
    // low latency: every Period's template keeps the chunked availability
    for (const v of video) expect(v.attrs.availabilityTimeOffset).toBe('1.5');
  });

  it('each Period’s audio covers it to its edges: a segment straddling a cut is listed in both Periods', () => {
    // a live channel's audio segments: four 24-frame AAC parts (2.048 s), cut near the video's
    // grid, not on it: 202.048–204.096 straddles the break's start, 210.24–212.288 its return
    const base = split([204, 212]);
    const timelines = base.timelines.map((t) => {
      if (t.rendition.kind !== 'audio') return t;
      const d = 4 * 24 * 1024 * (t.rendition.timescale / 48000);
      return {
        ...t,
        segments: t.segments.map((seg, i) => ({ ...seg, start: 200 * t.rendition.timescale + i * d, duration: d })),
      };
    });
    const audio = splitPeriods(writeMpd({ ...base, timelines })).map((p) => audioOf(p.text));
    const bounds: Array<[number, number]> = [
      [200, 204],
      [204, 212],
      [212, Infinity],
    ];
    audio.forEach(({ spans }, i) => {
      expect(spans[0][0], `Period ${i}`).toBeLessThanOrEqual(bounds[i][0]);
      if (i < 2) expect(spans.at(-1)![1], `Period ${i}`).toBeGreaterThanOrEqual(bounds[i][1]);
      // no segment is listed in a Period it does not reach into
      expect(spans[0][1], `Period ${i}`).toBeGreaterThan(bounds[i][0]);
      expect(spans.at(-1)![0], `Period ${i}`).toBeLessThan(bounds[i][1]);
    });
    // the straddling segment is the same one, by time and by number, in both Periods
    for (const i of [0, 1]) {
      expect(audio[i + 1].spans[0]).toEqual(audio[i].spans.at(-1));
      expect(audio[i + 1].startNumber).toBe(audio[i].startNumber + audio[i].spans.length - 1);
    }
  });

  it('an audio segment reaching less than half an audio frame over a cut stays in its own Period alone', () => {
    // the fixture's audio: 93/94 AAC frames a segment, 11 ms short of the cut at 204
    const audio = periods.map((p) => audioOf(p.text));
    expect(audio[0].spans.at(-1)![1]).toBeCloseTo(203.989, 3);
    expect(audio[1].spans[0][0]).toBeCloseTo(203.989, 3);
    expect(audio[1].startNumber).toBe(audio[0].startNumber + audio[0].spans.length);
  });

  it('the break’s start Event is in its Period, the return in the next, each timed on the same clock', () => {
    expect(periods[0].text).not.toContain('<Event ');
    expect(periods[1].text).toMatch(
      /<EventStream [^>]*presentationTimeOffset="204000"[^>]*>\s*<Event presentationTime="204000" duration="8000" id="14">/,
    );
    expect(periods[2].text).toMatch(/<Event presentationTime="212000" id="15">/);
  });

  it('each AdaptationSet continues its namesake in the Period before', () => {
    expect(periods[0].text).not.toContain('period-continuity');
    expect(periods[1].text).toContain('schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="0"');
    expect(periods[2].text).toContain('schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="p204000"');
  });

  it('a Period whose media has all left the DVR window is not listed; the one the window starts in is', async () => {
    const slid = writeMpd(split([150, 204]));
    expect(splitPeriods(slid).map((p) => [p.key, p.startSec])).toEqual([
      ['p150000', 150],
      ['p204000', 204],
    ]);
    expect(videoOf(splitPeriods(slid)[0].text).numbers).toEqual([100, 101]);
    expect((await validateMpd(slid)).errors).toBe('');
  });

  it('without cuts: one Period from 0, as before', () => {
    const single = writeMpd({ ...livePresentation(), adBreaks: [BREAK] });
    expect(splitPeriods(single).map((p) => [p.key, p.startSec, p.durationSec])).toEqual([['0', 0, undefined]]);
    expect(videoOf(single).numbers).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
  });
});
