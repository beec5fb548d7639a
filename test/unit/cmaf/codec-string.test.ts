import { describe, expect, it } from 'vitest';
import { avcCodecString, hevcCodecString, mp4aCodecString, parseEsds } from '../../../src/cmaf/codec-string.js';
import { StreamedgeError } from '../../../src/errors.js';

/** hvcC start: version, profile byte, 32-bit compat flags, 6 constraint bytes, level. */
function hvcC(
  space: number,
  tier: number,
  profile: number,
  compat: number,
  constraints: number[],
  level: number,
): Buffer {
  const b = Buffer.alloc(23);
  b[0] = 1;
  b[1] = (space << 6) | (tier << 5) | profile;
  b.writeUInt32BE(compat >>> 0, 2);
  constraints.forEach((c, i) => (b[6 + i] = c));
  b[12] = level;
  return b;
}

/** Bit writer for AudioSpecificConfig. */
function bits(...fields: [value: number, width: number][]): Buffer {
  let s = '';
  for (const [v, w] of fields) s += v.toString(2).padStart(w, '0');
  while (s.length % 8) s += '0';
  return Buffer.from(s.match(/.{8}/g)!.map((x) => parseInt(x, 2)));
}

/** MPEG-4 descriptor; `long` uses the 4-byte 0x80-continued size some muxers write. */
function desc(tag: number, body: Buffer, long = false): Buffer {
  const size = long
    ? Buffer.from([
        0x80 | ((body.length >> 21) & 0x7f),
        0x80 | ((body.length >> 14) & 0x7f),
        0x80 | ((body.length >> 7) & 0x7f),
        body.length & 0x7f,
      ])
    : Buffer.from([body.length]);
  return Buffer.concat([Buffer.from([tag]), size, body]);
}

function esds(oti: number, asc: Buffer | undefined, long = false, esFlags = 0): Buffer {
  const dcd = Buffer.concat([
    Buffer.from([oti, 0x15, 0, 0, 0, 0, 0, 0xfa, 0, 0, 0, 0xfa, 0]),
    ...(asc ? [desc(5, asc, long)] : []),
  ]);
  const extra = esFlags & 0x80 ? Buffer.from([0, 9]) : Buffer.alloc(0);
  const url = esFlags & 0x40 ? Buffer.from([3, 0x61, 0x62, 0x63]) : Buffer.alloc(0);
  const es = Buffer.concat([
    Buffer.from([0, 1, esFlags]),
    extra,
    url,
    desc(4, dcd, long),
    desc(6, Buffer.from([2]), long),
  ]);
  return Buffer.concat([Buffer.alloc(4), desc(3, es, long)]);
}

describe('avc1 codec strings', () => {
  it('hex profile, constraint flags, level', () => {
    expect(avcCodecString('avc1', Buffer.from([1, 0x64, 0x00, 0x1f, 0xff]))).toBe('avc1.64001f');
    expect(avcCodecString('avc1', Buffer.from([1, 0x42, 0xc0, 0x1e, 0xff]))).toBe('avc1.42c01e');
    expect(avcCodecString('avc3', Buffer.from([1, 0x4d, 0x40, 0x28]))).toBe('avc3.4d4028');
    expect(() => avcCodecString('avc1', Buffer.from([1, 0x64]))).toThrow(StreamedgeError);
  });
});

describe('hvc1/hev1 codec strings (ISO/IEC 14496-15 Annex E)', () => {
  it('Main, level 3.1, one constraint byte', () => {
    expect(hevcCodecString('hvc1', hvcC(0, 0, 1, 0x60000000, [0xb0, 0, 0, 0, 0, 0], 93))).toBe('hvc1.1.6.L93.B0');
  });
  it('Main 10, high tier', () => {
    expect(hevcCodecString('hev1', hvcC(0, 1, 2, 0x20000000, [0xb0, 0, 0, 0, 0, 0], 120))).toBe('hev1.2.4.H120.B0');
  });
  it('profile space letter, zero bytes kept between non-zero ones, trailing zeros dropped', () => {
    expect(hevcCodecString('hvc1', hvcC(1, 0, 4, 0x08000000, [0x90, 0, 0x12, 0, 0, 0], 150))).toBe(
      'hvc1.A4.10.L150.90.0.12',
    );
    expect(hevcCodecString('hvc1', hvcC(0, 0, 1, 0x60000000, [0, 0, 0, 0, 0, 0], 63))).toBe('hvc1.1.6.L63');
  });
});

describe('mp4a codec strings from esds', () => {
  it('AAC-LC 48 kHz stereo', () => {
    const asc = bits([2, 5], [3, 4], [2, 4]);
    expect(mp4aCodecString('mp4a', esds(0x40, asc))).toBe('mp4a.40.2');
    expect(parseEsds(esds(0x40, asc))).toEqual({
      objectTypeIndication: 0x40,
      audioObjectType: 2,
      sampleRate: 48000,
      channelConfiguration: 2,
    });
  });
  it('HE-AAC with 4-byte descriptor sizes and ES flags', () => {
    const asc = bits([5, 5], [6, 4], [1, 4]);
    expect(mp4aCodecString('mp4a', esds(0x40, asc, true, 0x80 | 0x40))).toBe('mp4a.40.5');
  });
  it('audioObjectType escape (31 + 6 bits) and explicit sampling frequency', () => {
    const usac = bits([31, 5], [42 - 32, 6], [15, 4], [50000, 24], [1, 4]);
    expect(parseEsds(esds(0x40, usac))).toEqual({
      objectTypeIndication: 0x40,
      audioObjectType: 42,
      sampleRate: 50000,
      channelConfiguration: 1,
    });
    expect(mp4aCodecString('mp4a', esds(0x40, usac))).toBe('mp4a.40.42');
  });
  it('non-MPEG-4-audio object types and a missing DecoderSpecificInfo', () => {
    expect(mp4aCodecString('mp4a', esds(0x6b, undefined))).toBe('mp4a.6B');
    expect(mp4aCodecString('mp4a', esds(0x40, undefined))).toBe('mp4a.40');
  });
  it('malformed esds throws BAD_BOX', () => {
    expect(() => parseEsds(Buffer.concat([Buffer.alloc(4), Buffer.from([4, 1, 0])]))).toThrow(/ES_Descriptor/);
    const cut = esds(0x40, bits([2, 5], [3, 4], [2, 4]));
    expect(() => parseEsds(cut.subarray(0, cut.length - 6))).toThrow(StreamedgeError);
  });
});
