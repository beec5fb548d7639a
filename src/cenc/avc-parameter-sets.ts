/**
 * H.264 parameter sets, as far as a slice header parse needs them:
 *  - the AVCDecoderConfigurationRecord (avcC payload, ISO/IEC 14496-15 §5.3.3.1): NAL length size
 *    and the SPS/PPS it lists;
 *  - seq_parameter_set_data (ITU-T H.264 §7.3.2.1.1, scaling lists §7.3.2.1.1.1 skipped), through
 *    frame_mbs_only_flag / mb_adaptive_frame_field_flag;
 *  - pic_parameter_set_rbsp (§7.3.2.2), through redundant_pic_cnt_present_flag (the fields after it,
 *    behind more_rbsp_data(), never reach the slice header);
 *  - a table of both by id, filled from avcC and updated by in-band SPS/PPS NAL units (§7.4.1.2.1:
 *    a parameter set applies from where it appears, replacing one with the same id).
 * Malformed input throws StreamedgeError('BAD_MEDIA').
 */
import { StreamedgeError } from '../errors.js';
import { RbspReader } from './avc-rbsp.js';

export const NAL_SLICE = 1;
export const NAL_IDR_SLICE = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

/** The SPS fields that shape a slice header. */
export interface AvcSps {
  id: number;
  profileIdc: number;
  levelIdc: number;
  chromaFormatIdc: number;
  separateColourPlaneFlag: boolean;
  /** ChromaArrayType (§7.4.2.1.1): 0 with separate colour planes, else chroma_format_idc. */
  chromaArrayType: number;
  seqScalingMatrixPresentFlag: boolean;
  log2MaxFrameNum: number;
  picOrderCntType: number;
  /** 0 unless pic_order_cnt_type is 0. */
  log2MaxPicOrderCntLsb: number;
  deltaPicOrderAlwaysZeroFlag: boolean;
  gapsInFrameNumValueAllowedFlag: boolean;
  picWidthInMbs: number;
  picHeightInMapUnits: number;
  frameMbsOnlyFlag: boolean;
  mbAdaptiveFrameFieldFlag: boolean;
}

/** The PPS fields that shape a slice header. */
export interface AvcPps {
  id: number;
  spsId: number;
  entropyCodingModeFlag: boolean;
  bottomFieldPicOrderInFramePresentFlag: boolean;
  numSliceGroupsMinus1: number;
  /** Meaningful when numSliceGroupsMinus1 > 0. */
  sliceGroupMapType: number;
  /** SliceGroupChangeRate (slice_group_change_rate_minus1 + 1), for map types 3 to 5. */
  sliceGroupChangeRate: number;
  numRefIdxL0DefaultActiveMinus1: number;
  numRefIdxL1DefaultActiveMinus1: number;
  weightedPredFlag: boolean;
  weightedBipredIdc: number;
  picInitQpMinus26: number;
  deblockingFilterControlPresentFlag: boolean;
  redundantPicCntPresentFlag: boolean;
}

/** profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices (§7.3.2.1.1). */
const HIGH_PROFILES: ReadonlySet<number> = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

function bad(message: string): StreamedgeError {
  return new StreamedgeError('BAD_MEDIA', message);
}

/** nal_unit_type of a NAL unit's first byte. */
export function nalUnitType(headerByte: number): number {
  return headerByte & 0x1f;
}

function readerAfterHeader(nal: Buffer, type: number, what: string): RbspReader {
  if (nal.length < 2) throw bad(`${what}: a ${nal.length}-byte NAL unit is too short`);
  if (nalUnitType(nal[0]) !== type) {
    throw bad(`${what}: expected nal_unit_type ${type}, got ${nalUnitType(nal[0])}`);
  }
  return new RbspReader(nal, 1, nal.length, what);
}

/** scaling_list() (§7.3.2.1.1.1): read and dropped, only its length matters here. */
function skipScalingList(r: RbspReader, size: number): void {
  let lastScale = 8;
  let nextScale = 8;
  for (let j = 0; j < size; j++) {
    if (nextScale !== 0) {
      const delta = r.se();
      if (delta < -128 || delta > 127) throw bad(`SPS/PPS: delta_scale ${delta} is outside [-128, 127]`);
      nextScale = (lastScale + delta + 256) % 256;
    }
    lastScale = nextScale === 0 ? lastScale : nextScale;
  }
}

/** Parses a sequence parameter set NAL unit (its header byte included, emulation prevention still in place). */
export function parseSps(nal: Buffer): AvcSps {
  const r = readerAfterHeader(nal, NAL_SPS, 'SPS');
  const profileIdc = r.u(8);
  r.u(8); // constraint_set0..5_flag, reserved_zero_2bits
  const levelIdc = r.u(8);
  const id = r.ueMax(31, 'seq_parameter_set_id');
  let chromaFormatIdc = 1;
  let separateColourPlaneFlag = false;
  let seqScalingMatrixPresentFlag = false;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ueMax(3, 'chroma_format_idc');
    if (chromaFormatIdc === 3) separateColourPlaneFlag = r.flag();
    r.ueMax(6, 'bit_depth_luma_minus8');
    r.ueMax(6, 'bit_depth_chroma_minus8');
    r.u1(); // qpprime_y_zero_transform_bypass_flag
    seqScalingMatrixPresentFlag = r.flag();
    if (seqScalingMatrixPresentFlag) {
      const lists = chromaFormatIdc !== 3 ? 8 : 12;
      for (let i = 0; i < lists; i++) {
        if (r.flag()) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  const log2MaxFrameNum = r.ueMax(12, 'log2_max_frame_num_minus4') + 4;
  const picOrderCntType = r.ueMax(2, 'pic_order_cnt_type');
  let log2MaxPicOrderCntLsb = 0;
  let deltaPicOrderAlwaysZeroFlag = false;
  if (picOrderCntType === 0) {
    log2MaxPicOrderCntLsb = r.ueMax(12, 'log2_max_pic_order_cnt_lsb_minus4') + 4;
  } else if (picOrderCntType === 1) {
    deltaPicOrderAlwaysZeroFlag = r.flag();
    r.se(); // offset_for_non_ref_pic
    r.se(); // offset_for_top_to_bottom_field
    const cycle = r.ueMax(255, 'num_ref_frames_in_pic_order_cnt_cycle');
    for (let i = 0; i < cycle; i++) r.se(); // offset_for_ref_frame[i]
  }
  r.ue(); // max_num_ref_frames
  const gapsInFrameNumValueAllowedFlag = r.flag();
  const picWidthInMbs = r.ue() + 1;
  const picHeightInMapUnits = r.ue() + 1;
  const frameMbsOnlyFlag = r.flag();
  const mbAdaptiveFrameFieldFlag = frameMbsOnlyFlag ? false : r.flag();
  return {
    id,
    profileIdc,
    levelIdc,
    chromaFormatIdc,
    separateColourPlaneFlag,
    chromaArrayType: separateColourPlaneFlag ? 0 : chromaFormatIdc,
    seqScalingMatrixPresentFlag,
    log2MaxFrameNum,
    picOrderCntType,
    log2MaxPicOrderCntLsb,
    deltaPicOrderAlwaysZeroFlag,
    gapsInFrameNumValueAllowedFlag,
    picWidthInMbs,
    picHeightInMapUnits,
    frameMbsOnlyFlag,
    mbAdaptiveFrameFieldFlag,
  };
}

/** Parses a picture parameter set NAL unit (header byte included) up to redundant_pic_cnt_present_flag. */
export function parsePps(nal: Buffer): AvcPps {
  const r = readerAfterHeader(nal, NAL_PPS, 'PPS');
  const id = r.ueMax(255, 'pic_parameter_set_id');
  const spsId = r.ueMax(31, 'seq_parameter_set_id');
  const entropyCodingModeFlag = r.flag();
  const bottomFieldPicOrderInFramePresentFlag = r.flag();
  const numSliceGroupsMinus1 = r.ueMax(7, 'num_slice_groups_minus1');
  let sliceGroupMapType = 0;
  let sliceGroupChangeRate = 1;
  if (numSliceGroupsMinus1 > 0) {
    sliceGroupMapType = r.ueMax(6, 'slice_group_map_type');
    if (sliceGroupMapType === 0) {
      for (let g = 0; g <= numSliceGroupsMinus1; g++) r.ue(); // run_length_minus1[g]
    } else if (sliceGroupMapType === 2) {
      for (let g = 0; g < numSliceGroupsMinus1; g++) {
        r.ue(); // top_left[g]
        r.ue(); // bottom_right[g]
      }
    } else if (sliceGroupMapType >= 3 && sliceGroupMapType <= 5) {
      r.u1(); // slice_group_change_direction_flag
      sliceGroupChangeRate = r.ue() + 1;
    } else if (sliceGroupMapType === 6) {
      const units = r.ue() + 1; // pic_size_in_map_units_minus1 + 1
      const bits = ceilLog2(numSliceGroupsMinus1 + 1);
      for (let i = 0; i < units; i++) r.u(bits); // slice_group_id[i]
    }
  }
  const numRefIdxL0DefaultActiveMinus1 = r.ueMax(31, 'num_ref_idx_l0_default_active_minus1');
  const numRefIdxL1DefaultActiveMinus1 = r.ueMax(31, 'num_ref_idx_l1_default_active_minus1');
  const weightedPredFlag = r.flag();
  const weightedBipredIdc = r.u(2);
  if (weightedBipredIdc === 3) throw bad('PPS: weighted_bipred_idc is 3, a reserved value');
  const picInitQpMinus26 = r.se();
  r.se(); // pic_init_qs_minus26
  r.se(); // chroma_qp_index_offset
  const deblockingFilterControlPresentFlag = r.flag();
  r.u1(); // constrained_intra_pred_flag
  const redundantPicCntPresentFlag = r.flag();
  return {
    id,
    spsId,
    entropyCodingModeFlag,
    bottomFieldPicOrderInFramePresentFlag,
    numSliceGroupsMinus1,
    sliceGroupMapType,
    sliceGroupChangeRate,
    numRefIdxL0DefaultActiveMinus1,
    numRefIdxL1DefaultActiveMinus1,
    weightedPredFlag,
    weightedBipredIdc,
    picInitQpMinus26,
    deblockingFilterControlPresentFlag,
    redundantPicCntPresentFlag,
  };
}

/** Ceil(Log2(n)) for n >= 1. */
function ceilLog2(n: number): number {
  let bits = 0;
  while (2 ** bits < n) bits++;
  return bits;
}

export interface AvcDecoderConfig {
  /** Bytes of each NAL unit's length prefix in a sample: lengthSizeMinusOne + 1 (1, 2 or 4). */
  lengthSize: number;
  /** The NAL units listed (header byte included). */
  sps: Buffer[];
  pps: Buffer[];
}

/** Reads the AVCDecoderConfigurationRecord (the avcC box payload, after its 8-byte header). */
export function readAvcDecoderConfig(avcC: Buffer): AvcDecoderConfig {
  if (avcC.length < 7) throw bad(`avcC: ${avcC.length} bytes is too short for an AVCDecoderConfigurationRecord`);
  if (avcC[0] !== 1) throw bad(`avcC: configurationVersion is ${avcC[0]}, expected 1`);
  const lengthSize = (avcC[4] & 0x03) + 1;
  if (lengthSize === 3) throw bad('avcC: lengthSizeMinusOne is 2, which ISO/IEC 14496-15 does not allow');
  let pos = 6;
  const list = (count: number, what: string): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (pos + 2 > avcC.length) throw bad(`avcC: the length of ${what} #${i + 1} is cut off`);
      const len = avcC.readUInt16BE(pos);
      pos += 2;
      if (pos + len > avcC.length) {
        throw bad(`avcC: ${what} #${i + 1} declares ${len} bytes but only ${avcC.length - pos} remain`);
      }
      out.push(avcC.subarray(pos, pos + len));
      pos += len;
    }
    return out;
  };
  const sps = list(avcC[5] & 0x1f, 'SPS');
  if (pos >= avcC.length) throw bad('avcC: numOfPictureParameterSets is cut off');
  const ppsCount = avcC[pos];
  pos++;
  const pps = list(ppsCount, 'PPS');
  return { lengthSize, sps, pps };
}

/** The SPS and PPS in force, by id. */
export class AvcParameterSets {
  private readonly spsById = new Map<number, AvcSps>();
  private readonly ppsById = new Map<number, AvcPps>();

  constructor(config?: AvcDecoderConfig) {
    for (const nal of config?.sps ?? []) this.update(nal);
    for (const nal of config?.pps ?? []) this.update(nal);
  }

  /** Takes in an SPS or PPS NAL unit (replacing the one with the same id); true if it was one. */
  update(nal: Buffer): boolean {
    if (nal.length === 0) return false;
    const type = nalUnitType(nal[0]);
    if (type === NAL_SPS) {
      const sps = parseSps(nal);
      this.spsById.set(sps.id, sps);
      return true;
    }
    if (type === NAL_PPS) {
      const pps = parsePps(nal);
      this.ppsById.set(pps.id, pps);
      return true;
    }
    return false;
  }

  /** The PPS with this id and the SPS it refers to; throws BAD_MEDIA if either is unknown. */
  lookup(ppsId: number): { pps: AvcPps; sps: AvcSps } {
    const pps = this.ppsById.get(ppsId);
    if (!pps) {
      throw bad(`slice refers to PPS ${ppsId}, which neither the avcC nor an earlier in-band PPS defines`);
    }
    const sps = this.spsById.get(pps.spsId);
    if (!sps) {
      throw bad(`PPS ${ppsId} refers to SPS ${pps.spsId}, which neither the avcC nor an earlier in-band SPS defines`);
    }
    return { pps, sps };
  }
}
