/**
 * SCTE 35 splice_info_section (src/scte35/splice-info.ts) against the standard's own samples
 * (ANSI/SCTE 35, §14: a splice_insert with an avail_descriptor, a time_signal with a
 * segmentation_descriptor): read with their CRCs checked, and a splice_insert written with the
 * sample's fields comes out as the sample's bytes (its descriptor left out).
 */
import { describe, expect, it } from 'vitest';
import {
  crc32Mpeg2,
  decodeSpliceInfo,
  encodeSpliceInsert,
  fromHexSequence,
  toHexSequence,
} from '../../../src/scte35/splice-info.js';

const SPLICE_INSERT_SAMPLE = '/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=';
const TIME_SIGNAL_SAMPLE = '/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==';
/** The splice_insert of the standard's sample. */
const SAMPLE_INSERT = {
  spliceEventId: 0x4800008f,
  outOfNetwork: true,
  ptsTime: 0x07369c02e,
  breakDuration: { autoReturn: true, duration: 0x00052ccf5 },
  uniqueProgramId: 0,
  availNum: 0,
  availsExpected: 0,
};
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

describe('SCTE 35 splice_info_section', () => {
  it("reads the standard's splice_insert sample", () => {
    const info = decodeSpliceInfo(bytes(SPLICE_INSERT_SAMPLE));
    expect(info.commandType).toBe(5);
    expect(info.tier).toBe(0xfff);
    expect(info.spliceInsert).toEqual(SAMPLE_INSERT);
    // avail_descriptor: identifier "CUEI", provider_avail_id 0x135
    expect(info.descriptors).toEqual([{ tag: 0, data: Uint8Array.from([0x43, 0x55, 0x45, 0x49, 0, 0, 1, 0x35]) }]);
  });

  it("reads the standard's time_signal sample", () => {
    const info = decodeSpliceInfo(bytes(TIME_SIGNAL_SAMPLE));
    expect(info.commandType).toBe(6);
    expect(info.timeSignalPts).toBe(0x072bd0050);
    expect(info.descriptors.map((d) => d.tag)).toEqual([2]); // a segmentation_descriptor
  });

  it('writes a splice_insert byte for byte as the sample (without its descriptor)', () => {
    const sample = bytes(SPLICE_INSERT_SAMPLE);
    // the sample with its 10-byte descriptor loop emptied (loop length 0): section_length 10
    // shorter, CRC anew
    const expected = new Uint8Array([...sample.subarray(0, 34), 0, 0, 0, 0, 0, 0]);
    expected[2] -= 10;
    new DataView(expected.buffer).setUint32(36, crc32Mpeg2(expected.subarray(0, 36)));
    const written = encodeSpliceInsert(SAMPLE_INSERT);
    expect(Buffer.from(written).toString('hex')).toBe(Buffer.from(expected).toString('hex'));
  });

  it('a return (in to the network, no duration) and a splice_immediate read back as written', () => {
    const back = {
      spliceEventId: 7,
      outOfNetwork: false,
      ptsTime: 2 ** 33 + 90_000,
      uniqueProgramId: 1,
      availNum: 0,
      availsExpected: 0,
    };
    expect(decodeSpliceInfo(encodeSpliceInsert(back)).spliceInsert).toEqual({ ...back, ptsTime: 90_000 }); // 33-bit wrap
    const now = { spliceEventId: 8, outOfNetwork: true, uniqueProgramId: 1, availNum: 1, availsExpected: 2 };
    expect(decodeSpliceInfo(encodeSpliceInsert(now)).spliceInsert).toEqual(now);
  });

  it('a damaged section is refused with a clear error', () => {
    const b = bytes(SPLICE_INSERT_SAMPLE);
    b[20] ^= 1;
    expect(() => decodeSpliceInfo(b)).toThrow(/CRC_32 mismatch/);
    expect(() => decodeSpliceInfo(Uint8Array.from([0x00, 0x30, 0x11]))).toThrow(/table_id/);
    expect(() => decodeSpliceInfo(bytes(SPLICE_INSERT_SAMPLE).subarray(0, 30))).toThrow(/bytes, the section says/);
  });

  it('hex as HLS writes it, and back', () => {
    const b = encodeSpliceInsert({
      spliceEventId: 1,
      outOfNetwork: true,
      uniqueProgramId: 0,
      availNum: 0,
      availsExpected: 0,
    });
    const hex = toHexSequence(b);
    expect(hex).toMatch(/^0xFC30[0-9A-F]+$/);
    expect(fromHexSequence(hex)).toEqual(b);
    expect(() => fromHexSequence('FC30')).toThrow(/hexadecimal-sequence/);
  });
});
