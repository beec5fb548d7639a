import { describe, expect, it } from 'vitest';
import { parseFragment } from '../../../src/cmaf/fragment.js';
import { splitFragment } from '../../../src/cmaf/fragment-split.js';
import { box, mdatHeader, mfhd, tfdt, tfhd, trun } from '../../../src/cmaf/writers.js';
import { StreamedgeError } from '../../../src/errors.js';

/** An audio-like chunk as ffmpeg writes one: trex-free tfhd, tfdt, trun with sizes and durations. */
function chunk(decodeTime: number, sizes: number[], duration = 1024): { moof: Buffer; mdat: Buffer } {
  const data = sizes.map((size, i) => Buffer.alloc(size, 0x10 + i));
  const moofWith = (dataOffset: number): Buffer =>
    box(
      'moof',
      mfhd(7),
      box(
        'traf',
        tfhd({ trackId: 2, defaultBaseIsMoof: true, defaultSampleFlags: 0x02000000 }),
        tfdt(decodeTime),
        trun({ dataOffset, samples: sizes.map((size) => ({ size, duration })) }),
      ),
    );
  const total = sizes.reduce((a, b) => a + b, 0);
  const moof = moofWith(moofWith(0).length + 8);
  return { moof, mdat: Buffer.concat([mdatHeader(total), ...data]) };
}

/** Each sample's bytes, read the way a player reads them: from the moof's offsets into the mdat. */
function samplesOf(c: { moof: Buffer; mdat: Buffer }): Buffer[] {
  const all = Buffer.concat([c.moof, c.mdat]);
  return parseFragment(c.moof).tracks[0].samples.map((s) => all.subarray(s.offset, s.offset + s.size));
}

describe('splitFragment', () => {
  it('gives two chunks holding the samples before and after the cut, with their times and flags', () => {
    const whole = chunk(48_000, [5, 6, 7, 8, 9]);
    const traf = parseFragment(whole.moof).tracks[0];
    const [a, b] = splitFragment(whole, traf, 2, 11);
    const pa = parseFragment(a.moof);
    const pb = parseFragment(b.moof);
    expect([pa.sequenceNumber, pb.sequenceNumber]).toEqual([11, 12]);
    expect(pa.tracks[0]).toMatchObject({ trackId: 2, baseDecodeTime: 48_000, duration: 2048, bytes: 11 });
    expect(pb.tracks[0]).toMatchObject({ trackId: 2, baseDecodeTime: 48_000 + 2048, duration: 3072, bytes: 24 });
    expect(a.mdat.length).toBe(8 + 11);
    expect(b.mdat.length).toBe(8 + 24);
    // the same bytes, in order, and the same (effective) sample flags
    expect([...samplesOf(a), ...samplesOf(b)]).toEqual(samplesOf(whole));
    expect([...pa.tracks[0].samples, ...pb.tracks[0].samples].map((s) => s.flags)).toEqual(
      traf.samples.map((s) => s.flags),
    );
  });

  it('refuses a cut that leaves a half empty', () => {
    const whole = chunk(0, [5, 6]);
    const traf = parseFragment(whole.moof).tracks[0];
    for (const at of [0, 2]) {
      expect(() => splitFragment(whole, traf, at, 1)).toThrow(StreamedgeError);
    }
  });
});
