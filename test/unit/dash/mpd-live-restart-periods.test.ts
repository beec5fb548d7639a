/**
 * A live MPD across an encoder restart (a source or an origin restart): the new run starts later
 * than the last one ended (the restart took a second or so), so one SegmentTimeline would leave a
 * gap between two of its segments (DASH-IF timing model §9.2 forbids it). The channel starts a
 * Period at the run's first segment instead: id and start from its start, presentationTimeOffset
 * there; the Period before ends with its media (its @duration), and the new one does not claim to
 * continue it (no period-continuity: the media do not).
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import { splitPeriods } from '../../../src/dash/mpd-periods.js';
import type { Presentation } from '../../../src/media/presentation.js';
import { DISCONTINUITY_AT, livePresentation } from '../hls/fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

/** The restart took this long (s): the new run's media start this much after the old ones end. */
const OUTAGE = 1.216;

/**
 * The fixture (2 s segments 100..109 complete, 110 in progress; a discontinuity at 105) with the
 * run from 105 on starting OUTAGE later, as the channel's run anchor places it; `cut`: the channel
 * has started the new Period (its first segment is complete).
 */
function restarted(cut = true): { p: Presentation; runStart: number; oldEnds: number[] } {
  const base = livePresentation();
  const oldEnds: number[] = [];
  const timelines = base.timelines.map((t) => {
    const ts = t.rendition.timescale;
    const segments = t.segments.map((s) =>
      s.number >= DISCONTINUITY_AT ? { ...s, start: s.start + Math.round(OUTAGE * ts) } : s,
    );
    const last = segments.find((s) => s.number === DISCONTINUITY_AT - 1)!;
    oldEnds.push((last.start + last.duration) / ts);
    return { ...t, segments };
  });
  const ref = timelines[0];
  const runStart = ref.segments.find((s) => s.number === DISCONTINUITY_AT)!.start / ref.rendition.timescale;
  return { p: { ...base, timelines, ...(cut ? { dashPeriodStarts: [runStart] } : {}) }, runStart, oldEnds };
}

/** Each SegmentTimeline of an MPD's Period: its segments' [start, end) in timescale units. */
function timelinesOf(periodXml: string): Array<Array<[number, number]>> {
  return [...periodXml.matchAll(/<SegmentTimeline>([\s\S]*?)<\/SegmentTimeline>/g)].map((m) => {
    const out: Array<[number, number]> = [];
    let t = 0;
    for (const s of m[1].matchAll(/<S\b([^>]*)\/>/g)) {
      const a = Object.fromEntries([...s[1].matchAll(/(\w+)="(\d+)"/g)].map((x) => [x[1], Number(x[2])]));
      if (a.t !== undefined) t = a.t;
      for (let i = 0; i <= (a.r ?? 0); i++) {
        out.push([t, t + a.d]);
        t += a.d;
      }
    }
    return out;
  });
}

/** The XML of the Period with this id in a whole MPD. */
function periodXml(mpd: string, id: string): string {
  const from = mpd.indexOf(`<Period id="${id}"`);
  return mpd.slice(from, mpd.indexOf('</Period>', from));
}

describe('writeMpd: a live MPD across an encoder restart', () => {
  const { p, runStart, oldEnds } = restarted();
  const xml = writeMpd(p);
  const periods = splitPeriods(xml);
  const id = `p${Math.round(runStart * 1000)}`;

  it('validates against the ISO/IEC 23009-1 schema', async () => {
    expect((await validateMpd(xml)).errors).toBe('');
  });

  it('starts a Period at the new run, named by its start; the Period before ends with its media', () => {
    const mediaEnd = Math.min(...oldEnds);
    expect(runStart - mediaEnd).toBeGreaterThan(1);
    expect(periods.map((x) => x.key)).toEqual(['0', id]);
    expect(periods[1].startSec).toBeCloseTo(runStart, 3);
    // the earliest end of the renditions' media (the video's, the audio's is the later here)
    expect(periods[0].durationSec).toBeCloseTo(mediaEnd, 3);
    expect(periods[1].durationSec).toBeUndefined();
    // the open Period has no @duration
    expect(xml).toMatch(new RegExp(`<Period id="${id}" start="[^"]+">`));
  });

  it('leaves no gap between the segments of any SegmentTimeline', () => {
    for (const x of ['0', id]) {
      const lists = timelinesOf(periodXml(xml, x));
      expect(lists.length, x).toBeGreaterThanOrEqual(2);
      for (const list of lists) {
        expect(list.length, x).toBeGreaterThan(0);
        list.forEach(([start], i) => i > 0 && expect(start, `Period ${x}`).toBe(list[i - 1][1]));
      }
    }
  });

  it('lists the old run’s segments in the first Period and the new run’s in the second, numbers running on', () => {
    const numbers = (x: string) => [...periodXml(xml, x).matchAll(/startNumber="(\d+)"/g)].map((m) => Number(m[1]));
    expect(numbers('0')).toEqual([100, 100]);
    expect(numbers(id)).toEqual([DISCONTINUITY_AT, DISCONTINUITY_AT]);
    const [oldVideo] = timelinesOf(periodXml(xml, '0'));
    expect(oldVideo).toHaveLength(DISCONTINUITY_AT - 100);
  });

  it('times the new Period’s media from its start, and does not say they continue the Period before', () => {
    const offsets = [...periodXml(xml, id).matchAll(/<SegmentTemplate\b[^>]*>/g)].map(
      (m) => /presentationTimeOffset="(\d+)"/.exec(m[0])?.[1],
    );
    const scales = p.timelines.map((t) => t.rendition.timescale);
    expect(offsets).toEqual([Math.round(runStart * scales[0]), Math.round(runStart * scales[2])].map(String));
    expect(xml).not.toContain('period-continuity');
  });

  it('until the new run’s first segment is complete (no cut yet): one Period, as before', () => {
    const single = writeMpd(restarted(false).p);
    expect(splitPeriods(single).map((x) => [x.key, x.startSec, x.durationSec])).toEqual([['0', 0, undefined]]);
  });

  it('lists the Period before while its media are in the window, and not once they have left', () => {
    const slid = (count: number): Presentation => ({
      ...p,
      timelines: p.timelines.map((t) => ({ ...t, segments: t.segments.slice(count) })),
    });
    // 100..103 gone: 104 still in the old Period
    expect(splitPeriods(writeMpd(slid(4))).map((x) => x.key)).toEqual(['0', id]);
    expect(splitPeriods(writeMpd(slid(4)))[0].durationSec).toBeCloseTo(Math.min(...oldEnds), 3);
    // 100..104 gone: the new Period alone, still with its id, start and offset
    const alone = writeMpd(slid(5));
    expect(splitPeriods(alone).map((x) => x.key)).toEqual([id]);
    expect(splitPeriods(alone)[0].startSec).toBeCloseTo(runStart, 3);
    expect(alone).toContain(`presentationTimeOffset="${Math.round(runStart * p.timelines[0].rendition.timescale)}"`);
  });

  it('an ad-break Period after the restart continues the run’s Period as before', () => {
    const later = runStart + 4;
    const x = writeMpd({ ...p, dashPeriodStarts: [runStart, later] });
    expect(x).toContain(`schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="${id}"`);
    expect(splitPeriods(x).map((y) => y.key)).toEqual(['0', id, `p${Math.round(later * 1000)}`]);
    expect(splitPeriods(x)[1].durationSec).toBeCloseTo(4, 3);
  });
});
