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
