/**
 * The caption reader on CMAF fragments built here box by box: each picture's A/53 cc_data found
 * in its SEI and timed by its presentation time (B-frames reordered), the fragment's span; and
 * damaged input (every truncation, thousands of seeded byte flips, random bytes) never throws, as
 * the player reads every video fragment it appends and the origin every part it makes.
 */
import { describe, expect, it } from 'vitest';
import { box, fullBox, mdatHeader, mfhd, tfdt, tfhd, trun } from '../../../src/cmaf/writers.js';
import { captionTrackInfo, fragmentCaptions, type CaptionTrackInfo } from '../../../src/captions/fragment-captions.js';
import { Cea608Decoder, type CcTriplet } from '../../../src/captions/cea608.js';

const INFO: CaptionTrackInfo = { timescale: 1000, nalLengthSize: 4, hevc: false };

/** A length-prefixed SEI NAL carrying `pair` on field 1 (two bytes, parity already set), then a slice NAL. */
function sample(pair: [number, number]): Buffer {
  const payload = [0xb5, 0x00, 0x31, ...Buffer.from('GA94'), 0x03, 0x40 | 1, 0xff, 0xfc, ...pair, 0xff];
  const sei = Buffer.from([0x06, 4, payload.length, ...payload, 0x80]);
  const slice = Buffer.from([0x01, 0x9a, 0x00, 0x11, 0x22]);
  const len = (n: Buffer) => Buffer.from([0, 0, 0, n.length]);
  return Buffer.concat([len(sei), sei, len(slice), slice]);
}

function parity(b: number): number {
  let ones = 0;
  for (let x = b; x; x >>= 1) ones += x & 1;
  return ones % 2 === 0 ? b | 0x80 : b;
}
const chars = (s: string): [number, number] => [parity(s.charCodeAt(0)), parity(s.charCodeAt(1))];

/** moof + mdat: samples in decode order from 3 s, 100 ms each, with these composition offsets. */
function fragment(samples: { pair: [number, number]; cto: number }[]): Buffer {
  const bodies = samples.map((s) => sample(s.pair));
  const moof = (dataOffset: number) =>
    box(
      'moof',
      mfhd(1),
      box(
        'traf',
        tfhd({ trackId: 1, defaultBaseIsMoof: true }),
        tfdt(3000),
        trun({
          dataOffset,
          samples: samples.map((s, i) => ({ duration: 100, size: bodies[i].length, compositionOffset: s.cto })),
        }),
      ),
    );
  const size = moof(0).length;
  const mdat = Buffer.concat(bodies);
  return Buffer.concat([moof(size + 8), mdatHeader(mdat.length), mdat]);
}

/** An I P B B group: decode order I(3.1) P(3.4) B(3.2) B(3.3). */
const GOP = fragment([
  { pair: chars('AB'), cto: 100 },
  { pair: chars('GH'), cto: 300 },
  { pair: chars('CD'), cto: 0 },
  { pair: chars('EF'), cto: 0 },
]);

describe('caption data in CMAF fragments', () => {
  it('finds each picture’s pairs at its presentation time, in presentation order, and the fragment’s span', () => {
    const f = fragmentCaptions(GOP, INFO);
    expect(f.start).toBe(3);
    expect(f.end).toBeCloseTo(3.4, 9);
    expect(
      f.pictures.map((p) => [p.time, String.fromCharCode(p.triplets[0].b1 & 0x7f, p.triplets[0].b2 & 0x7f)]),
    ).toEqual([
      [3.1, 'AB'],
      [3.2, 'CD'],
      [3.3, 'EF'],
      [3.4, 'GH'],
    ]);
  });

  it('reads an init segment’s timescale and NAL length size, and nothing from one that is not video', () => {
    const avcC = box('avcC', Buffer.from([1, 0x64, 0, 0x1f, 0xfd, 0xe0])); // lengthSizeMinusOne 1 → 2 bytes
    const entry = box('avc1', Buffer.alloc(78), avcC);
    const stsd = fullBox('stsd', 0, 0, Buffer.from([0, 0, 0, 1]), entry);
    const mdhd = fullBox('mdhd', 0, 0, Buffer.alloc(8), Buffer.from([0, 0, 0x75, 0x30]), Buffer.alloc(8));
    const init = box('moov', box('trak', box('mdia', mdhd, box('minf', box('stbl', stsd)))));
    expect(captionTrackInfo(init)).toEqual({ timescale: 30000, nalLengthSize: 2, hevc: false });
    const audioStsd = fullBox('stsd', 0, 0, Buffer.from([0, 0, 0, 1]), box('mp4a', Buffer.alloc(28)));
    const audio = box('moov', box('trak', box('mdia', mdhd, box('minf', box('stbl', audioStsd)))));
    expect(captionTrackInfo(audio)).toBeUndefined();
    for (let n = 0; n < init.length; n++) expect(() => captionTrackInfo(init.subarray(0, n))).not.toThrow();
  });

  it('never throws on damaged fragments: every truncation, seeded byte flips, random bytes', () => {
    const decoder = new Cea608Decoder({ started: () => undefined, ended: () => undefined });
    const read = (bytes: Uint8Array) => {
      const f = fragmentCaptions(bytes, INFO);
      for (const p of f.pictures) decoder.feed(p.time, p.triplets);
    };
    for (let n = 0; n <= GOP.length; n++) expect(() => read(GOP.subarray(0, n))).not.toThrow();
    // boxes whose flags announce fields they do not hold, at the very end of the bytes
    const shortTfhd = box('moof', box('traf', fullBox('tfhd', 0, 0x01 | 0x08 | 0x10, Buffer.from([0, 0, 0, 1]))));
    expect(() => read(shortTfhd)).not.toThrow();
    const shortTrun = box(
      'moof',
      box('traf', tfhd({ trackId: 1 }), fullBox('trun', 0, 0x301, Buffer.from([0, 0, 0, 9]))),
    );
    expect(() => read(shortTrun)).not.toThrow();
    const shortTfdt = box('moof', box('traf', tfhd({ trackId: 1 }), fullBox('tfdt', 1, 0, Buffer.from([0, 0]))));
    expect(() => read(shortTfdt)).not.toThrow();
    let seed = 0x2545f491;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x100000000;
    };
    for (let i = 0; i < 5000; i++) {
      const damaged = Buffer.from(GOP);
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++)
        damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
      expect(() => read(damaged)).not.toThrow();
      expect(() => captionTrackInfo(damaged)).not.toThrow();
    }
    for (let i = 0; i < 200; i++) {
      const noise = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256)),
      );
      expect(() => read(noise)).not.toThrow();
    }
    // and the decoder on any pairs at all
    const any: CcTriplet[] = Array.from({ length: 20000 }, () => ({
      type: Math.floor(random() * 4),
      b1: Math.floor(random() * 256),
      b2: Math.floor(random() * 256),
    }));
    expect(() => {
      for (let i = 0; i < any.length; i += 2) decoder.feed(i / 60, any.slice(i, i + 2));
    }).not.toThrow();
  });
});
