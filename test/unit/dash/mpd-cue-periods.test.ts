/**
 * A VOD MPD split into Periods at its ad cues (`package --dash-periods cues`): each Period lists
 * its own segments with a presentationTimeOffset at its start, carries the Events that fall in it,
 * and continues the Period before (period-continuity); thumbnails are listed per Period.
 */
import { describe, expect, it } from 'vitest';
import { writeMpd } from '../../../src/dash/mpd.js';
import type { AdBreak, Presentation } from '../../../src/media/presentation.js';
import { splitPeriods } from '../../../src/dash/mpd-periods.js';
import { vodPresentation } from '../hls/fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

/** A break from 8 s to 16 s of the fixture (4 s video segments; 8 and 16 are segment starts). */
const BREAK: AdBreak = {
  eventId: 1,
  startDate: 1_700_000_008_000,
  mediaStart: 8,
  plannedDuration: 8,
  scte35Out: '0xfc3001',
  end: { date: 1_700_000_016_000, mediaTime: 16, scte35In: '0xfc3002' },
};

function split(extra: Partial<Presentation> = {}): Presentation {
  return { ...vodPresentation(), adBreaks: [BREAK], dashPeriodStarts: [8, 16], ...extra };
}

/** The attributes of the first `<name …>` start tag in `xml`. */
function attrsOf(xml: string, name: string): Record<string, string> {
  const tag = new RegExp(`<${name}\\b([^>]*)>`).exec(xml)?.[1] ?? '';
  return Object.fromEntries([...tag.matchAll(/([\w:]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

describe('writeMpd: a VOD MPD split into Periods at its cues', () => {
  const xml = writeMpd(split());
  const periods = splitPeriods(xml);

  it('validates against the ISO/IEC 23009-1 schema', async () => {
    const r = await validateMpd(xml);
    expect(r.errors).toBe('');
    expect(r.valid).toBe(true);
  });

  it('has a Period from 0, from the break and from its return, each with its length', () => {
    expect(periods.map((p) => [p.key, p.startSec, p.durationSec])).toEqual([
      ['0', 0, 8],
      ['1', 8, 8],
      ['2', 16, 14],
    ]);
    expect(xml).toContain('<Period id="1" start="PT8S" duration="PT8S">');
  });

  it('lists each Period’s own segments, timed from its start', () => {
    const video = periods.map((p) => attrsOf(p.text.slice(p.text.indexOf('contentType="video"')), 'SegmentTemplate'));
    expect(video.map((t) => [t.startNumber, t.presentationTimeOffset])).toEqual([
      ['1', undefined],
      ['3', String(8 * 15360)],
      ['5', String(16 * 15360)],
    ]);
    const counts = periods.map((p) => {
      const set = p.text.slice(p.text.indexOf('contentType="video"'));
      const timeline = set.slice(0, set.indexOf('</SegmentTimeline>'));
      return [...timeline.matchAll(/<S\b[^>]*?(?: r="(\d+)")?\/>/g)].reduce((n, m) => n + 1 + Number(m[1] ?? 0), 0);
    });
    expect(counts).toEqual([2, 2, 4]);
    // the audio's segment nearest each cut starts its Period (within half an AAC frame)
    const audio = periods.map((p) => attrsOf(p.text.slice(p.text.indexOf('contentType="audio"')), 'SegmentTemplate'));
    expect(audio.map((t) => t.startNumber)).toEqual(['1', '3', '5']);
    expect(audio[1].presentationTimeOffset).toBe(String(8 * 48000));
    const firstAudio = Number(attrsOf(periods[1].text.slice(periods[1].text.indexOf('contentType="audio"')), 'S').t);
    expect(Math.abs(firstAudio - 8 * 48000)).toBeLessThanOrEqual(512);
  });

  it('continues each AdaptationSet from the Period before', () => {
    expect(periods[0].text).not.toContain('period-continuity');
    for (const [i, p] of periods.slice(1).entries()) {
      const marks = [...p.text.matchAll(/schemeIdUri="urn:mpeg:dash:period-continuity:2015" value="(\d+)"/g)];
      expect(marks.map((m) => m[1])).toEqual([String(i), String(i)]);
    }
  });

  it('puts each Event in the Period it falls in, timed from that Period', () => {
    expect(periods[0].text).not.toContain('<EventStream');
    expect(attrsOf(periods[1].text, 'EventStream').presentationTimeOffset).toBe('8000');
    expect(attrsOf(periods[1].text, 'Event')).toMatchObject({ presentationTime: '8000', duration: '8000', id: '2' });
    expect(attrsOf(periods[2].text, 'EventStream').presentationTimeOffset).toBe('16000');
    expect(attrsOf(periods[2].text, 'Event')).toMatchObject({ presentationTime: '16000', id: '3' });
  });

  it('lists the thumbnail sheets that overlap each Period', async () => {
    const thumbnails = {
      id: 'thumbnails',
      width: 240,
      height: 136,
      columns: 2,
      rows: 2,
      intervalSec: 2,
      sheets: 4,
      bandwidth: 20_000,
    };
    const withThumbs = writeMpd(split({ thumbnails }));
    expect((await validateMpd(withThumbs)).valid).toBe(true);
    // a sheet is 8 s: Period 0 is sheet 1, Period 1 sheet 2, Period 2 (16–30 s) sheets 3 and 4
    const sheets = splitPeriods(withThumbs).map((p) => {
      const set = p.text.slice(p.text.indexOf('contentType="image"'));
      return [attrsOf(set, 'SegmentTemplate').startNumber, attrsOf(set, 'S')];
    });
    expect(sheets).toEqual([
      ['1', { t: '0', d: '8000' }],
      ['2', { t: '8000', d: '8000' }],
      ['3', { t: '16000', d: '8000', r: '1' }],
    ]);
  });

  it('refuses whole-file subtitles, whose times a Period cannot shift', () => {
    const subtitles = [{ id: 'sub-en', language: 'en', name: 'English', default: true, forced: false }];
    expect(() => writeMpd(split({ subtitles } as Partial<Presentation>))).toThrow(/Periods/);
  });

  it('writes one Period, as before, when no cuts are asked for', () => {
    const one = writeMpd({ ...split(), dashPeriodStarts: undefined });
    expect(splitPeriods(one)).toHaveLength(1);
    expect(one).toContain('<Period id="0" start="PT0S">');
    expect(one).not.toContain('presentationTimeOffset');
  });
});
