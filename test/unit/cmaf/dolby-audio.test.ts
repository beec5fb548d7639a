/**
 * The Dolby configuration boxes (src/cmaf/dolby-audio.ts): channel count and DASH channel mask of
 * dac3 (AC-3) and dec3 (E-AC-3) payloads written bit by bit from ETSI TS 102 366 Annex F.
 */
import { describe, expect, it } from 'vitest';
import { ac3Channels, dolbyMaskHex, ec3Channels } from '../../../src/cmaf/dolby-audio.js';

/** Packs [value, bits] fields MSB first into bytes (zero-padded). */
function pack(fields: [number, number][]): Buffer {
  let bits = '';
  for (const [v, n] of fields) bits += v.toString(2).padStart(n, '0');
  bits = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
  return Buffer.from(bits.match(/.{8}/g)!.map((b) => parseInt(b, 2)));
}

const dac3 = (acmod: number, lfeon: number): Buffer =>
  pack([
    [0, 2],
    [8, 5],
    [0, 3],
    [acmod, 3],
    [lfeon, 1],
    [14, 5],
    [0, 5],
  ]);
const dec3 = (acmod: number, lfeon: number, dependents = 0): Buffer =>
  pack([
    [384, 13],
    [0, 3],
    [0, 2],
    [16, 5],
    [0, 1],
    [0, 1],
    [0, 3],
    [acmod, 3],
    [lfeon, 1],
    [0, 3],
    [dependents, 4],
    [0, dependents > 0 ? 9 : 1],
  ]);

describe('Dolby channel layouts', () => {
  it('reads 5.1 (3/2 + LFE) from dac3 and dec3 as six channels, mask F801', () => {
    expect(dac3(7, 1)).toEqual(Buffer.from([0x10, 0x3d, 0xc0]));
    expect(ac3Channels(dac3(7, 1))).toEqual({ channels: 6, mask: 0xf801 });
    expect(dec3(7, 1)).toEqual(Buffer.from([0x0c, 0x00, 0x20, 0x0f, 0x00]));
    expect(ec3Channels(dec3(7, 1))).toEqual({ channels: 6, mask: 0xf801 });
    expect(dolbyMaskHex(0xf801)).toBe('F801');
  });

  it('reads the other modes: stereo, mono, 3/0, 2/1, 2/2 with and without LFE', () => {
    expect(ec3Channels(dec3(2, 0))).toEqual({ channels: 2, mask: 0xa000 });
    expect(ac3Channels(dac3(1, 0))).toEqual({ channels: 1, mask: 0x4000 });
    expect(ac3Channels(dac3(3, 1))).toEqual({ channels: 4, mask: 0xe001 });
    expect(ec3Channels(dec3(4, 0))).toEqual({ channels: 3, mask: 0xa100 });
    expect(ec3Channels(dec3(6, 1))).toEqual({ channels: 5, mask: 0xb801 });
    expect(dolbyMaskHex(0xa000)).toBe('A000');
    expect(dolbyMaskHex(0x4000)).toBe('4000');
  });

  it('refuses a truncated box and E-AC-3 with dependent substreams, by name', () => {
    expect(() => ac3Channels(Buffer.from([0x10]))).toThrow(/dac3 is too short/);
    expect(() => ec3Channels(dec3(7, 1).subarray(0, 3))).toThrow(/dec3 is too short/);
    expect(() => ec3Channels(dec3(7, 1, 1))).toThrow(/dependent substreams/);
  });
});
