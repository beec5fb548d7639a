/**
 * The SCTE-35 "enhanced" segment tags of ad breaks (EXT-X-CUE-OUT, -CUE-OUT-CONT, -CUE-IN with
 * EXT-OATCLS-SCTE35): on the break's first segment, each segment inside it, and the return's.
 */
import { describe, expect, it } from 'vitest';
import { cueTags } from '../../../src/hls/cue-tags.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import type { AdBreak } from '../../../src/media/presentation.js';
import { ladder, vodPresentation } from './fixture-presentations.js';

const OUT = '0xFC3011';
const OUT_B64 = Buffer.from('FC3011', 'hex').toString('base64');
/** The return's section, as `slate` gives it. */
const IN = `#EXT-OATCLS-SCTE35:${Buffer.from('FC3022', 'hex').toString('base64')}`;

/** A break of `length` s at `at` (decided: its return known). */
function slate(at: number, length: number): AdBreak {
  return {
    eventId: 1,
    startDate: at * 1000,
    mediaStart: at,
    plannedDuration: length,
    scte35Out: OUT,
    end: { date: (at + length) * 1000, mediaTime: at + length, scte35In: '0xFC3022' },
  };
}

describe('cueTags', () => {
  it('a 30 s break over 4 s segments: out at its first, a continuation on each inside, in at the return', () => {
    const breaks = [slate(60, 30)];
    expect([56, 60, 64, 88, 90, 94].map((t) => cueTags(breaks, t, 4))).toEqual([
      [],
      [`#EXT-OATCLS-SCTE35:${OUT_B64}`, '#EXT-X-CUE-OUT:30.000'],
      [`#EXT-X-CUE-OUT-CONT:ElapsedTime=4.000,Duration=30.000,SCTE35=${OUT_B64}`],
      [`#EXT-X-CUE-OUT-CONT:ElapsedTime=28.000,Duration=30.000,SCTE35=${OUT_B64}`],
      [IN, '#EXT-X-CUE-IN'],
      [],
    ]);
  });

  it('an edge belongs to the segment that starts nearest it: audio a fraction of a frame off, or live audio cut apart', () => {
    const breaks = [slate(5, 1.2)];
    expect(cueTags(breaks, 5.0107, 1.2)).toEqual([`#EXT-OATCLS-SCTE35:${OUT_B64}`, '#EXT-X-CUE-OUT:1.200']);
    expect(cueTags(breaks, 6.1893, 1.8)).toEqual([IN, '#EXT-X-CUE-IN']);
    // 1.024 s audio segments beside 1 s video ones: 9.216, 10.24, 11.264, 12.288 around a break of 10–12 s
    const live = [slate(10, 2)];
    expect([9.216, 10.24, 11.264, 12.288].map((t) => cueTags(live, t, 1.024))).toEqual([
      [],
      [`#EXT-OATCLS-SCTE35:${OUT_B64}`, '#EXT-X-CUE-OUT:2.000'],
      [`#EXT-X-CUE-OUT-CONT:ElapsedTime=1.264,Duration=2.000,SCTE35=${OUT_B64}`],
      [IN, '#EXT-X-CUE-IN'],
    ]);
  });

  it('a live break whose length is not known yet: a bare CUE-OUT, continuations without Duration', () => {
    const open: AdBreak = { eventId: 2, startDate: 10_000, mediaStart: 10, scte35Out: OUT };
    expect(cueTags([open], 10, 2)).toEqual([`#EXT-OATCLS-SCTE35:${OUT_B64}`, '#EXT-X-CUE-OUT']);
    expect(cueTags([open], 12, 2)).toEqual([`#EXT-X-CUE-OUT-CONT:ElapsedTime=2.000,SCTE35=${OUT_B64}`]);
  });

  it('a splice point (nothing replaced) has none', () => {
    const point = { ...slate(3.3, 0), plannedDuration: undefined };
    expect([3.3, 4].map((t) => cueTags([point], t, 0.7))).toEqual([[], []]);
  });
});

describe('a VOD media playlist with --hls-cue-tags', () => {
  it('puts the tags on the segments, before their EXTINF; without the option, none', () => {
    // the fixture's video segments start at 0, 4, 8, 12.033, 16, …: a break from 8 to 16 s
    const p = { ...vodPresentation(), adBreaks: [slate(8, 8)], dateOrigin: 0, hlsCueTags: true };
    const lines = writeMediaPlaylist(p, ladder[0].id).split('\n');
    const before = (uri: string) => lines[lines.indexOf(uri) - 2];
    expect(lines.slice(lines.indexOf('seg-3.m4s') - 3, lines.indexOf('seg-3.m4s') + 1)).toEqual([
      `#EXT-OATCLS-SCTE35:${OUT_B64}`,
      '#EXT-X-CUE-OUT:8.000',
      '#EXTINF:4.03333,',
      'seg-3.m4s',
    ]);
    expect(before('seg-4.m4s')).toMatch(/^#EXT-X-CUE-OUT-CONT:ElapsedTime=4\.033,Duration=8\.000,SCTE35=/);
    expect(before('seg-5.m4s')).toBe('#EXT-X-CUE-IN');
    expect(lines[lines.indexOf('seg-5.m4s') - 3]).toBe(IN);
    expect(lines.filter((l) => l.startsWith('#EXT-X-CUE'))).toHaveLength(3);
    expect(writeMediaPlaylist({ ...p, hlsCueTags: undefined }, ladder[0].id)).not.toContain('CUE-OUT');
  });
});
