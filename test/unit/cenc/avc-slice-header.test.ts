/**
 * The H.264 SPS/PPS/slice header parser on hand-built bitstreams: the syntax x264 never writes
 * (SPS scaling lists, separate colour planes, pic_order_cnt_type 1, field pictures, SP/SI slices,
 * explicit bi-prediction weights, slice groups, redundant_pic_cnt) and emulation-prevention bytes
 * inside a slice header. Each case writes the syntax of ITU-T H.264 §7.3.2.1.1, §7.3.2.2 and §7.3.3
 * element by element, then checks the parsed fields and that the header length is exactly the bits
 * written (the real-encoder cross-checks are in avc-subsamples.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { AvcParameterSets, parsePps, parseSps, readAvcDecoderConfig } from '../../../src/cenc/avc-parameter-sets.js';
import { parseSliceHeader } from '../../../src/cenc/avc-slice-header.js';
import { AvcSubsampler } from '../../../src/cenc/avc-subsamples.js';
import { badMedia } from './bad-media.js';

/** MSB-first bit writer with the Exp-Golomb codes of §9.1. */
class BitWriter {
  private bitsOut: number[] = [];

  get length(): number {
    return this.bitsOut.length;
  }

  u(width: number, value: number): this {
    for (let i = width - 1; i >= 0; i--) this.bitsOut.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  flag(b: boolean): this {
    return this.u(1, b ? 1 : 0);
  }

  ue(v: number): this {
    const len = Math.floor(Math.log2(v + 1));
    this.u(len, 0);
    return this.u(len + 1, v + 1);
  }

  se(v: number): this {
    return this.ue(v > 0 ? 2 * v - 1 : -2 * v);
  }

  /** Ones up to the next byte boundary (cabac_alignment_one_bit). */
  alignOnes(): this {
    while (this.bitsOut.length % 8) this.bitsOut.push(1);
    return this;
  }

  /** rbsp_trailing_bits(): a stop bit and zeros to the byte boundary. */
  trailing(): this {
    this.bitsOut.push(1);
    while (this.bitsOut.length % 8) this.bitsOut.push(0);
    return this;
  }

  bytes(): Buffer {
    if (this.bitsOut.length % 8) throw new Error('BitWriter: not byte-aligned');
    const out = Buffer.alloc(this.bitsOut.length / 8);
    this.bitsOut.forEach((b, i) => (out[i >> 3] |= b << (7 - (i & 7))));
    return out;
  }
}

/** §7.4.1: an emulation_prevention_three_byte before any 0x00..0x03 that follows two zero bytes. */
function escape(rbsp: Buffer): { bytes: Buffer; inserted: number[] } {
  const out: number[] = [];
  const inserted: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      inserted.push(out.length);
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return { bytes: Buffer.from(out), inserted };
}

/** A NAL unit: header byte (nal_ref_idc, nal_unit_type), then the escaped RBSP. */
function nal(refIdc: number, type: number, w: BitWriter): Buffer {
  return Buffer.concat([Buffer.from([(refIdc << 5) | type]), escape(w.bytes()).bytes]);
}

/** AVCDecoderConfigurationRecord with 4-byte NAL lengths. */
function avcC(sps: Buffer[], pps: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([1, sps[0]?.[1] ?? 100, 0, 30, 0xff, 0xe0 | sps.length])];
  for (const s of sps) parts.push(Buffer.from([s.length >> 8, s.length & 0xff]), s);
  parts.push(Buffer.from([pps.length]));
  for (const p of pps) parts.push(Buffer.from([p.length >> 8, p.length & 0xff]), p);
  return Buffer.concat(parts);
}

/** scaling_list() coding `values` (1..255), then, if shorter than `size`, the delta that ends it early. */
function scalingList(w: BitWriter, size: number, values: number[]): void {
  let last = 8;
  const wrap = (d: number): number => ((((d + 128) % 256) + 256) % 256) - 128;
  for (const v of values) {
    w.se(wrap(v - last));
    last = v;
  }
  if (values.length < size) w.se(wrap(-last));
}

/** Slice data stand-in: `n` bytes (12 by default, one 00 00 01 run among them), and the trailing bits. */
function sliceData(w: BitWriter, n = 12): BitWriter {
  const head = [0x9a, 0x5c, 0x00, 0x00, 0x01, 0x77, 0xe1, 0x42, 0x13, 0x88, 0x21, 0x6f];
  for (let i = 0; i < n; i++) w.u(8, i < head.length ? head[i] : (i * 73 + 29) & 0xff);
  return w.trailing();
}

/** A baseline-ish SPS: id 0, frame_num 4 bits, pic_order_cnt_type 2, 11x9 macroblocks, frames only. */
function simpleSps(opts: { log2MaxFrameNum?: number; pocType?: number; log2MaxPocLsb?: number } = {}): Buffer {
  const w = new BitWriter().u(8, 77).u(8, 0).u(8, 30).ue(0);
  w.ue((opts.log2MaxFrameNum ?? 4) - 4).ue(opts.pocType ?? 2);
  if (opts.pocType === 0) w.ue((opts.log2MaxPocLsb ?? 4) - 4);
  w.ue(1).flag(false).ue(10).ue(8).flag(true).flag(true).flag(false).flag(false);
  return nal(3, 7, w.trailing());
}

/** A PPS: ids 0/0, CAVLC, one slice group, defaults 1/1 ref, no weighting, deblocking control present. */
function simplePps(over: { cabac?: boolean; deblocking?: boolean; bottomFieldPoc?: boolean } = {}): Buffer {
  const w = new BitWriter()
    .ue(0)
    .ue(0)
    .flag(over.cabac ?? false)
    .flag(over.bottomFieldPoc ?? false)
    .ue(0);
  w.ue(0)
    .ue(0)
    .flag(false)
    .u(2, 0)
    .se(0)
    .se(0)
    .se(0)
    .flag(over.deblocking ?? true)
    .flag(false)
    .flag(false);
  return nal(3, 8, w.trailing());
}

function tables(sps: Buffer[], pps: Buffer[]): AvcParameterSets {
  return new AvcParameterSets({ lengthSize: 4, sps, pps });
}

describe('SPS', () => {
  it('skips the scaling lists of a High 4:4:4 SPS (12 lists, early-ended and full ones) and reads separate_colour_plane_flag', () => {
    const w = new BitWriter().u(8, 244).u(8, 0).u(8, 40).ue(3); // profile_idc, constraints, level, sps id 3
    w.ue(3).flag(true); // chroma_format_idc 3, separate_colour_plane_flag
    w.ue(2).ue(2).flag(false); // bit depths 10/10, qpprime_y_zero_transform_bypass_flag
    w.flag(true); // seq_scaling_matrix_present_flag
    const lists: (number[] | undefined)[] = [
      [6, 13, 20, 28, 13, 20, 28, 32, 20, 28, 32, 37, 28, 32, 37, 42], // full 4x4 list
      undefined,
      [], // "use default": the first delta makes nextScale 0
      [16, 16, 200], // ended early after 3 values
      undefined,
      [255, 1, 128, 7],
      Array.from({ length: 64 }, (_, i) => 6 + ((i * 37) % 200)), // full 8x8 list
      undefined,
      [9, 9, 9, 9, 250],
      [],
      Array.from({ length: 40 }, (_, i) => 1 + i * 6),
      [77],
    ];
    lists.forEach((l, i) => {
      w.flag(l !== undefined);
      if (l) scalingList(w, i < 6 ? 16 : 64, l);
    });
    w.ue(12).ue(0).ue(12); // log2_max_frame_num 16, pic_order_cnt_type 0, log2_max_pic_order_cnt_lsb 16
    w.ue(4).flag(false).ue(19).ue(10).flag(true).flag(true).flag(false).flag(false);
    const sps = parseSps(nal(3, 7, w.trailing()));
    expect(sps).toMatchObject({
      id: 3,
      profileIdc: 244,
      chromaFormatIdc: 3,
      separateColourPlaneFlag: true,
      chromaArrayType: 0,
      seqScalingMatrixPresentFlag: true,
      log2MaxFrameNum: 16,
      picOrderCntType: 0,
      log2MaxPicOrderCntLsb: 16,
      picWidthInMbs: 20,
      picHeightInMapUnits: 11,
      frameMbsOnlyFlag: true,
    });
  });

  it('reads pic_order_cnt_type 1 with its offset cycle, and field coding', () => {
    const w = new BitWriter().u(8, 100).u(8, 0).u(8, 31).ue(1).ue(1).ue(0).ue(0).flag(false).flag(false);
    w.ue(2).ue(1).flag(false).se(-1).se(3).ue(3).se(4).se(-7).se(100); // log2 frame_num 6, poc type 1, cycle of 3
    w.ue(2).flag(true).ue(44).ue(17).flag(false).flag(true).flag(true).flag(false).flag(false);
    expect(parseSps(nal(3, 7, w.trailing()))).toMatchObject({
      id: 1,
      chromaFormatIdc: 1,
      chromaArrayType: 1,
      log2MaxFrameNum: 6,
      picOrderCntType: 1,
      deltaPicOrderAlwaysZeroFlag: false,
      gapsInFrameNumValueAllowedFlag: true,
      picWidthInMbs: 45,
      picHeightInMapUnits: 18,
      frameMbsOnlyFlag: false,
      mbAdaptiveFrameFieldFlag: true,
    });
  });

  it('rejects out-of-range fields with BAD_MEDIA', () => {
    const w = new BitWriter().u(8, 66).u(8, 0).u(8, 30).ue(0).ue(13); // log2_max_frame_num_minus4 13 > 12
    expect(badMedia(() => parseSps(nal(3, 7, w.trailing()))).message).toMatch(/log2_max_frame_num_minus4 is 13/);
    expect(badMedia(() => parseSps(Buffer.from([0x67, 66, 0]))).message).toMatch(/SPS: runs past the end/);
  });
});

describe('PPS', () => {
  it('reads past every slice group map syntax to the fields the slice header needs', () => {
    const body = (w: BitWriter): Buffer =>
      nal(3, 8, w.ue(2).ue(1).flag(true).u(2, 1).se(-4).se(0).se(2).flag(true).flag(false).flag(true).trailing());
    const base = (groupsMinus1: number, type: number): BitWriter =>
      new BitWriter().ue(7).ue(2).flag(true).flag(true).ue(groupsMinus1).ue(type);
    const want = {
      id: 7,
      spsId: 2,
      entropyCodingModeFlag: true,
      bottomFieldPicOrderInFramePresentFlag: true,
      numRefIdxL0DefaultActiveMinus1: 2,
      numRefIdxL1DefaultActiveMinus1: 1,
      weightedPredFlag: true,
      weightedBipredIdc: 1,
      picInitQpMinus26: -4,
      deblockingFilterControlPresentFlag: true,
      redundantPicCntPresentFlag: true,
    };
    // type 0: run_length_minus1 per group
    expect(parsePps(body(base(2, 0).ue(5).ue(0).ue(33)))).toMatchObject({ ...want, sliceGroupMapType: 0 });
    // type 2: top_left / bottom_right for all but the last group
    expect(parsePps(body(base(2, 2).ue(0).ue(20).ue(3).ue(40)))).toMatchObject({ ...want, sliceGroupMapType: 2 });
    // type 5: change direction and rate
    expect(parsePps(body(base(1, 5).flag(true).ue(6)))).toMatchObject({
      ...want,
      numSliceGroupsMinus1: 1,
      sliceGroupMapType: 5,
      sliceGroupChangeRate: 7,
    });
    // type 6: an explicit map, Ceil(Log2(num_slice_groups_minus1 + 1)) = 3 bits per map unit for 5 groups
    const explicit = base(4, 6).ue(9);
    for (let i = 0; i < 10; i++) explicit.u(3, i % 5);
    expect(parsePps(body(explicit))).toMatchObject({ ...want, numSliceGroupsMinus1: 4, sliceGroupMapType: 6 });
  });
});

describe('slice header', () => {
  it('field picture with pic_order_cnt_type 1: bottom_field_flag, delta_pic_order_cnt[0] only, a P slice with an override and reordering', () => {
    const sps = new BitWriter().u(8, 77).u(8, 0).u(8, 30).ue(0).ue(0).ue(1).flag(false).se(-2).se(1).ue(1).se(2);
    sps.ue(3).flag(false).ue(10).ue(4).flag(false).flag(false).flag(true).flag(false).flag(false); // PAFF, no MBAFF
    const pps = simplePps({ bottomFieldPoc: true });
    const p = tables([nal(3, 7, sps.trailing())], [pps]);
    const w = new BitWriter().ue(33).ue(0).ue(0); // first_mb 33, P, pps 0
    w.u(4, 9).flag(true).flag(true); // frame_num 9, field_pic_flag, bottom_field_flag
    w.se(-5); // delta_pic_order_cnt[0] (no [1]: field picture)
    w.flag(true).ue(4); // num_ref_idx_active_override_flag, l0 active minus1 = 4 (up to 31 for fields)
    w.flag(true).ue(0).ue(2).ue(2).ue(1).ue(1).ue(6).ue(3); // ref_pic_list_modification l0: three operations
    w.flag(true).ue(1).ue(0).ue(3).ue(4).ue(2).ue(6).ue(1).ue(0); // adaptive marking: mmco 1, 3, 6, then 0
    w.se(-3).ue(2); // slice_qp_delta, disable_deblocking_filter_idc 2 (not 1: the offsets follow) ...
    w.se(-6).se(6); // ... slice_alpha_c0_offset_div2, slice_beta_offset_div2
    const bits = w.length;
    const h = parseSliceHeader(nal(2, 1, sliceData(w)), p);
    expect(h).toMatchObject({
      firstMbInSlice: 33,
      sliceType: 0,
      frameNum: 9,
      fieldPicFlag: true,
      bottomFieldFlag: true,
      deltaPicOrderCnt: [-5, 0],
      numRefIdxL0Active: 5,
      refPicListModifications: [3, 0],
      memoryManagementOperations: 3,
      sliceQpDelta: -3,
      sliceQp: 23,
      disableDeblockingFilterIdc: 2,
      sliceAlphaC0OffsetDiv2: -6,
      sliceBetaOffsetDiv2: 6,
      headerBits: bits,
      headerBytes: 1 + Math.ceil(bits / 8),
    });
    expect(h.picOrderCntLsb).toBeUndefined();
  });

  it('frame picture with pic_order_cnt_type 1 reads both delta_pic_order_cnt', () => {
    const sps = new BitWriter().u(8, 77).u(8, 0).u(8, 30).ue(0).ue(0).ue(1).flag(false).se(0).se(0).ue(0);
    sps.ue(1).flag(false).ue(10).ue(4).flag(false).flag(false).flag(true).flag(false).flag(false);
    const p = tables([nal(3, 7, sps.trailing())], [simplePps({ bottomFieldPoc: true, deblocking: false })]);
    const w = new BitWriter().ue(0).ue(7).ue(0).u(4, 0).flag(false).ue(2); // I (7), frame_num 0, frame, idr_pic_id 2
    w.se(4).se(-1); // delta_pic_order_cnt[0], [1]
    w.flag(false).flag(true).se(5); // no_output_of_prior_pics, long_term_reference, slice_qp_delta
    const bits = w.length;
    const h = parseSliceHeader(nal(3, 5, sliceData(w)), p);
    expect(h).toMatchObject({ idrPicId: 2, deltaPicOrderCnt: [4, -1], sliceQpDelta: 5, headerBits: bits });
    expect(h.disableDeblockingFilterIdc).toBe(0);
  });

  it('separate colour planes: colour_plane_id; SP slice: sp_for_switch_flag and slice_qs_delta; redundant_pic_cnt', () => {
    const sps = new BitWriter().u(8, 244).u(8, 0).u(8, 40).ue(0).ue(3).flag(true).ue(0).ue(0).flag(false).flag(false);
    sps.ue(1).ue(0).ue(2).ue(1).flag(false).ue(3).ue(3).flag(true).flag(true).flag(false).flag(false);
    const pps = new BitWriter().ue(0).ue(0).flag(false).flag(false).ue(0).ue(0).ue(0).flag(false).u(2, 0);
    pps.se(0).se(0).se(0).flag(true).flag(false).flag(true); // deblocking control, redundant_pic_cnt_present
    const p = tables([nal(3, 7, sps.trailing())], [nal(3, 8, pps.trailing())]);
    const w = new BitWriter().ue(2).ue(3).ue(0).u(2, 2); // first_mb 2, SP, pps 0, colour_plane_id 2
    w.u(5, 17).u(6, 40).ue(1); // frame_num (5 bits), pic_order_cnt_lsb (6 bits), redundant_pic_cnt
    w.flag(false).flag(false); // no override, no list-0 modification
    w.se(2).flag(true).se(-4); // slice_qp_delta, sp_for_switch_flag, slice_qs_delta
    w.ue(1); // disable_deblocking_filter_idc 1: no offsets
    const bits = w.length;
    const h = parseSliceHeader(nal(0, 1, sliceData(w)), p);
    expect(h).toMatchObject({
      colourPlaneId: 2,
      sliceType: 3,
      frameNum: 17,
      picOrderCntLsb: 40,
      redundantPicCnt: 1,
      spForSwitchFlag: true,
      sliceQsDelta: -4,
      disableDeblockingFilterIdc: 1,
      memoryManagementOperations: 0,
      headerBits: bits,
    });
    // SI: slice_qs_delta without sp_for_switch_flag, no reference list syntax at all
    const si = new BitWriter().ue(0).ue(4).ue(0).u(2, 0).u(5, 3).u(6, 2).ue(0).se(1).se(2).ue(1);
    const siBits = si.length;
    expect(parseSliceHeader(nal(0, 1, sliceData(si)), p)).toMatchObject({
      sliceType: 4,
      sliceQsDelta: 2,
      headerBits: siBits,
    });
  });

  it('explicit bi-prediction weights (weighted_bipred_idc 1) with chroma, after a CABAC B header; ChromaArrayType 0 has no chroma weights', () => {
    for (const chroma of [1, 0]) {
      const sps = new BitWriter().u(8, 100).u(8, 0).u(8, 30).ue(0).ue(chroma).ue(0).ue(0).flag(false).flag(false);
      sps.ue(0).ue(0).ue(0).ue(3).flag(false).ue(10).ue(8).flag(true).flag(true).flag(false).flag(false);
      const pps = new BitWriter().ue(0).ue(0).flag(true).flag(false).ue(0).ue(0).ue(0).flag(true).u(2, 1);
      pps.se(0).se(0).se(0).flag(true).flag(false).flag(false);
      const p = tables([nal(3, 7, sps.trailing())], [nal(3, 8, pps.trailing())]);
      const w = new BitWriter().ue(0).ue(6).ue(0).u(4, 5).u(4, 6); // B (6), frame_num 5, poc lsb 6
      w.flag(false).flag(true).ue(2).ue(1); // direct_spatial_mv_pred_flag 0, override: 3 and 2 refs
      w.flag(false).flag(true).ue(1).ue(0).ue(3); // no l0 modification; l1: one op
      w.ue(5); // luma_log2_weight_denom
      if (chroma) w.ue(3); // chroma_log2_weight_denom
      let explicit = 0;
      for (const refs of [3, 2]) {
        for (let i = 0; i < refs; i++) {
          const luma = (i + refs) % 2 === 0;
          w.flag(luma);
          if (luma) w.se(40).se(-3);
          explicit += luma ? 1 : 0;
          if (chroma) {
            w.flag(i === 0);
            if (i === 0) w.se(8).se(1).se(-9).se(0);
            explicit += i === 0 ? 1 : 0;
          }
        }
      }
      w.flag(false); // adaptive_ref_pic_marking_mode_flag (nal_ref_idc 1)
      w.ue(2).se(-1).ue(0).se(1).se(-1); // cabac_init_idc, slice_qp_delta, deblocking 0 + offsets
      const bits = w.length;
      const h = parseSliceHeader(nal(1, 1, sliceData(w.alignOnes())), p);
      expect(h).toMatchObject({
        sliceType: 6,
        directSpatialMvPredFlag: false,
        numRefIdxL0Active: 3,
        numRefIdxL1Active: 2,
        refPicListModifications: [0, 1],
        predWeightTable: true,
        explicitWeights: explicit,
        cabacInitIdc: 2,
        sliceAlphaC0OffsetDiv2: 1,
        sliceBetaOffsetDiv2: -1,
        cabac: true,
        headerBits: bits,
      });
    }
  });

  it('slice groups of map type 3 to 5 carry slice_group_change_cycle in Ceil(Log2(PicSizeInMapUnits ÷ rate + 1)) bits', () => {
    const sps = simpleSps(); // 11 x 9 = 99 map units
    for (const [rate, bitsWanted] of [
      [5, 5], // 99/5 + 1 = 20.8 -> 5
      [1, 7], // 100 -> 7
      [99, 1], // 2 -> 1
      [33, 2], // 4 -> 2
      [200, 1], // 1.495 -> 1
    ]) {
      const pps = new BitWriter()
        .ue(0)
        .ue(0)
        .flag(false)
        .flag(false)
        .ue(1)
        .ue(4)
        .flag(false)
        .ue(rate - 1);
      pps.ue(0).ue(0).flag(false).u(2, 0).se(0).se(0).se(0).flag(false).flag(false).flag(false);
      const p = tables([sps], [nal(3, 8, pps.trailing())]);
      const cycle = 2 ** bitsWanted - 1;
      const w = new BitWriter().ue(0).ue(7).ue(0).u(4, 0).ue(0).flag(false).flag(false).se(0).u(bitsWanted, cycle);
      const bits = w.length;
      const h = parseSliceHeader(nal(3, 5, sliceData(w)), p);
      expect(h.sliceGroupChangeCycle).toBe(cycle);
      expect(h.headerBits).toBe(bits);
    }
  });

  it('counts the emulation-prevention bytes inside a slice header in the clear bytes (original, escaped bytes)', () => {
    // frame_num and pic_order_cnt_lsb of 16 bits each, 0 and 1: 31 zero bits in a row inside the header.
    const sps = simpleSps({ log2MaxFrameNum: 16, pocType: 0, log2MaxPocLsb: 16 });
    const pps = simplePps({ cabac: true, deblocking: false });
    const w = new BitWriter().ue(0).ue(2).ue(0); // first_mb_in_slice 0, slice_type I (2), pps 0: "1 011 1"
    w.u(16, 0).u(16, 1); // frame_num 0, pic_order_cnt_lsb 1
    w.se(0); // slice_qp_delta (nal_ref_idc 0: no dec_ref_pic_marking)
    const bits = w.length;
    expect(bits).toBe(38);
    const rbsp = sliceData(w.alignOnes(), 50).bytes();
    expect(rbsp.subarray(0, 5)).toEqual(Buffer.from([0xb8, 0x00, 0x00, 0x00, 0x0f]));
    const escaped = escape(rbsp).bytes;
    // The escaped header: B8 00 00 [03] 00 0F, one emulation-prevention byte inside it.
    expect(escaped.subarray(0, 6)).toEqual(Buffer.from([0xb8, 0x00, 0x00, 0x03, 0x00, 0x0f]));
    const sliceNal = Buffer.concat([Buffer.from([0x01]), escaped]);
    const h = parseSliceHeader(sliceNal, tables([sps], [pps]));
    expect(h).toMatchObject({ sliceType: 2, frameNum: 0, picOrderCntLsb: 1, sliceQpDelta: 0, headerBits: 38 });
    expect(h.emulationPreventionBytes).toBe(1);
    expect(h.headerBytes).toBe(1 + 6); // NAL header + 5 RBSP bytes + the emulation-prevention byte
    // The bits after the header up to the byte boundary are the alignment ones, in the escaped byte 0x0F.
    expect(sliceNal[h.headerBytes - 1]).toBe(0x0f);

    // Through the subsampler: clear = length prefix + NAL header + escaped header bytes.
    const sample = Buffer.concat([Buffer.alloc(4), sliceNal]);
    sample.writeUInt32BE(sliceNal.length, 0);
    const cbcs = new AvcSubsampler(avcC([sps], [pps]), 'cbcs').subsamples(sample);
    expect(cbcs).toEqual([{ clear: 4 + 7, protected: sliceNal.length - 7 }]);
    const cenc = new AvcSubsampler(avcC([sps], [pps]), 'cenc').subsamples(sample);
    const prot = Math.floor((sliceNal.length - 7) / 16) * 16;
    expect(prot).toBeGreaterThan(0);
    expect(cenc).toEqual([{ clear: sample.length - prot, protected: prot }]);
  });

  it('rejects a header cut short, an unknown PPS, and an IDR slice that is not I', () => {
    const p = tables([simpleSps()], [simplePps()]);
    const full = new BitWriter().ue(0).ue(7).ue(0).u(4, 0).ue(0).flag(false).flag(false).se(0).ue(1);
    const cut = nal(3, 5, full.alignOnes()).subarray(0, 2);
    expect(badMedia(() => parseSliceHeader(cut, p)).message).toMatch(
      /slice header \(nal_unit_type 5\): runs past the end of the NAL unit/,
    );
    const otherPps = new BitWriter().ue(0).ue(0).ue(3).u(4, 0).ue(0).trailing();
    expect(badMedia(() => parseSliceHeader(nal(3, 5, otherPps), p)).message).toMatch(
      /slice refers to PPS 3, which neither the avcC nor an earlier in-band PPS defines/,
    );
    const idrP = new BitWriter().ue(0).ue(5).ue(0).u(4, 0).ue(0).trailing();
    expect(badMedia(() => parseSliceHeader(nal(3, 5, idrP), p)).message).toMatch(/IDR slice has slice_type 5/);
    const longCode = Buffer.from([0x65, 0, 0, 0, 0, 0x80]); // 32+ leading zero bits
    expect(badMedia(() => parseSliceHeader(longCode, p)).message).toMatch(/more than 31 leading zero bits/);
  });
});

describe('avcC', () => {
  it('lists every SPS and PPS and the NAL length size', () => {
    const sps = [simpleSps(), simpleSps({ log2MaxFrameNum: 8 })];
    const pps = [simplePps(), simplePps({ cabac: true }), simplePps({ deblocking: false })];
    const cfg = readAvcDecoderConfig(avcC(sps, pps));
    expect(cfg.lengthSize).toBe(4);
    expect(cfg.sps).toEqual(sps);
    expect(cfg.pps).toEqual(pps);
    const two = avcC(sps, pps);
    two[4] = 0xfd;
    expect(readAvcDecoderConfig(two).lengthSize).toBe(2);
    expect(badMedia(() => readAvcDecoderConfig(avcC(sps, pps).subarray(0, 20))).message).toMatch(/avcC: SPS #2/);
  });
});
