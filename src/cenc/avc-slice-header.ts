/**
 * H.264 slice header parser (ITU-T H.264 §7.3.3 slice_header(), with §7.3.3.1
 * ref_pic_list_modification(), §7.3.3.2 pred_weight_table() and §7.3.3.3 dec_ref_pic_marking();
 * semantics §7.4.3) for the coded-slice NAL units a CENC subsample map splits: nal_unit_type 1
 * (non-IDR) and 5 (IDR). Its job is the header's exact length: slice_data() (§7.3.4) starts right
 * after it (after cabac_alignment_one_bit with CABAC), and ISO/IEC 23001-7 / CMAF ISO/IEC 23000-19
 * keep the NAL header and slice header clear. The length is given both in RBSP bits and in bytes of
 * the original NAL unit, emulation-prevention bytes included.
 */
import { StreamedgeError } from '../errors.js';
import { type AvcParameterSets, type AvcSps, NAL_IDR_SLICE, NAL_SLICE, nalUnitType } from './avc-parameter-sets.js';
import { RbspReader } from './avc-rbsp.js';

/** slice_type % 5 (Table 7-6). */
export const SLICE_P = 0;
export const SLICE_B = 1;
export const SLICE_I = 2;
export const SLICE_SP = 3;
export const SLICE_SI = 4;

export interface SliceHeader {
  nalUnitType: number;
  nalRefIdc: number;
  firstMbInSlice: number;
  /** slice_type as coded, 0..9 (5..9: every slice of the picture has this type). */
  sliceType: number;
  picParameterSetId: number;
  colourPlaneId?: number;
  frameNum: number;
  fieldPicFlag: boolean;
  bottomFieldFlag: boolean;
  idrPicId?: number;
  picOrderCntLsb?: number;
  deltaPicOrderCntBottom?: number;
  deltaPicOrderCnt?: [number, number];
  redundantPicCnt?: number;
  directSpatialMvPredFlag?: boolean;
  /** num_ref_idx_l0_active_minus1 + 1 for P, SP and B slices (overridden or the PPS default). */
  numRefIdxL0Active?: number;
  numRefIdxL1Active?: number;
  /** Operations in ref_pic_list_modification(), for list 0 and list 1 (the closing idc 3 not counted). */
  refPicListModifications: [number, number];
  /** pred_weight_table() was present. */
  predWeightTable: boolean;
  /** Luma and chroma weight/offset entries that were explicitly coded in pred_weight_table(). */
  explicitWeights: number;
  /** memory_management_control_operation entries (the closing 0 not counted). */
  memoryManagementOperations: number;
  cabacInitIdc?: number;
  sliceQpDelta: number;
  /** SliceQPY = 26 + pic_init_qp_minus26 + slice_qp_delta (§7.4.3). */
  sliceQp: number;
  spForSwitchFlag?: boolean;
  sliceQsDelta?: number;
  disableDeblockingFilterIdc: number;
  sliceAlphaC0OffsetDiv2: number;
  sliceBetaOffsetDiv2: number;
  sliceGroupChangeCycle?: number;
  /** CABAC (the PPS's entropy_coding_mode_flag): slice_data() opens with cabac_alignment_one_bits. */
  cabac: boolean;
  /** Length of the slice header in RBSP bits, counted after the NAL header byte. */
  headerBits: number;
  /**
   * Bytes of the original NAL unit, from its header byte through the byte that holds the last bit
   * of the slice header, emulation-prevention bytes included: the part a subsample keeps clear.
   */
  headerBytes: number;
  /** Emulation-prevention bytes among those `headerBytes`. */
  emulationPreventionBytes: number;
}

function bad(message: string): StreamedgeError {
  return new StreamedgeError('BAD_MEDIA', message);
}

/** Ceil(Log2(PicSizeInMapUnits ÷ SliceGroupChangeRate + 1)) (§7.4.3, exact division). */
function sliceGroupChangeCycleBits(sps: AvcSps, rate: number): number {
  const picSizeInMapUnits = sps.picWidthInMbs * sps.picHeightInMapUnits;
  let bits = 0;
  while (2 ** bits * rate < picSizeInMapUnits + rate) bits++;
  return bits;
}

/** ref_pic_list_modification() for one list: the number of operations. */
function readRefPicListModification(r: RbspReader): number {
  if (!r.flag()) return 0; // ref_pic_list_modification_flag_lX
  let ops = 0;
  for (;;) {
    const idc = r.ueMax(3, 'modification_of_pic_nums_idc');
    if (idc === 3) return ops;
    r.ue(); // abs_diff_pic_num_minus1 (idc 0, 1) or long_term_pic_num (idc 2)
    ops++;
  }
}

/** pred_weight_table(): the number of explicit weight entries. */
function readPredWeightTable(r: RbspReader, chromaArrayType: number, l0: number, l1: number | undefined): number {
  let entries = 0;
  r.ueMax(7, 'luma_log2_weight_denom');
  if (chromaArrayType !== 0) r.ueMax(7, 'chroma_log2_weight_denom');
  for (const count of l1 === undefined ? [l0] : [l0, l1]) {
    for (let i = 0; i < count; i++) {
      if (r.flag()) {
        r.se(); // luma_weight_lX[i]
        r.se(); // luma_offset_lX[i]
        entries++;
      }
      if (chromaArrayType !== 0 && r.flag()) {
        for (let j = 0; j < 2; j++) {
          r.se(); // chroma_weight_lX[i][j]
          r.se(); // chroma_offset_lX[i][j]
        }
        entries++;
      }
    }
  }
  return entries;
}

/** dec_ref_pic_marking(): the number of memory management operations. */
function readDecRefPicMarking(r: RbspReader, idr: boolean): number {
  if (idr) {
    r.u1(); // no_output_of_prior_pics_flag
    r.u1(); // long_term_reference_flag
    return 0;
  }
  if (!r.flag()) return 0; // adaptive_ref_pic_marking_mode_flag
  let ops = 0;
  for (;;) {
    const mmco = r.ueMax(6, 'memory_management_control_operation');
    if (mmco === 0) return ops;
    if (mmco === 1 || mmco === 3) r.ue(); // difference_of_pic_nums_minus1
    if (mmco === 2) r.ue(); // long_term_pic_num
    if (mmco === 3 || mmco === 6) r.ue(); // long_term_frame_idx
    if (mmco === 4) r.ue(); // max_long_term_frame_idx_plus1
    ops++;
  }
}

/**
 * Parses the slice header of a coded-slice NAL unit (nal_unit_type 1 or 5; `nal` starts with the
 * NAL header byte and still holds its emulation-prevention bytes), with the SPS/PPS in `params`.
 * Throws StreamedgeError('BAD_MEDIA') when the header is cut short, out of range, or refers to a
 * parameter set `params` does not hold.
 */
export function parseSliceHeader(nal: Buffer, params: AvcParameterSets): SliceHeader {
  if (nal.length < 2) throw bad(`slice header: a ${nal.length}-byte NAL unit is too short`);
  const type = nalUnitType(nal[0]);
  if (type !== NAL_SLICE && type !== NAL_IDR_SLICE) {
    throw bad(`slice header: nal_unit_type ${type} is not a coded slice (1 or 5)`);
  }
  const idr = type === NAL_IDR_SLICE;
  const nalRefIdc = (nal[0] >> 5) & 3;
  const r = new RbspReader(nal, 1, nal.length, `slice header (nal_unit_type ${type})`);
  const firstMbInSlice = r.ue();
  const sliceType = r.ueMax(9, 'slice_type');
  const kind = sliceType % 5;
  const picParameterSetId = r.ueMax(255, 'pic_parameter_set_id');
  const { sps, pps } = params.lookup(picParameterSetId);
  if (idr && kind !== SLICE_I && kind !== SLICE_SI) {
    throw bad(`slice header: an IDR slice has slice_type ${sliceType}, which is not I or SI`);
  }
  const colourPlaneId = sps.separateColourPlaneFlag ? r.u(2) : undefined;
  const frameNum = r.u(sps.log2MaxFrameNum);
  let fieldPicFlag = false;
  let bottomFieldFlag = false;
  if (!sps.frameMbsOnlyFlag) {
    fieldPicFlag = r.flag();
    if (fieldPicFlag) bottomFieldFlag = r.flag();
  }
  const idrPicId = idr ? r.ueMax(65535, 'idr_pic_id') : undefined;
  let picOrderCntLsb: number | undefined;
  let deltaPicOrderCntBottom: number | undefined;
  let deltaPicOrderCnt: [number, number] | undefined;
  if (sps.picOrderCntType === 0) {
    picOrderCntLsb = r.u(sps.log2MaxPicOrderCntLsb);
    if (pps.bottomFieldPicOrderInFramePresentFlag && !fieldPicFlag) deltaPicOrderCntBottom = r.se();
  }
  if (sps.picOrderCntType === 1 && !sps.deltaPicOrderAlwaysZeroFlag) {
    const first = r.se();
    const second = pps.bottomFieldPicOrderInFramePresentFlag && !fieldPicFlag ? r.se() : 0;
    deltaPicOrderCnt = [first, second];
  }
  const redundantPicCnt = pps.redundantPicCntPresentFlag ? r.ueMax(127, 'redundant_pic_cnt') : undefined;
  const directSpatialMvPredFlag = kind === SLICE_B ? r.flag() : undefined;
  let numRefIdxL0Active: number | undefined;
  let numRefIdxL1Active: number | undefined;
  if (kind === SLICE_P || kind === SLICE_SP || kind === SLICE_B) {
    numRefIdxL0Active = pps.numRefIdxL0DefaultActiveMinus1 + 1;
    if (kind === SLICE_B) numRefIdxL1Active = pps.numRefIdxL1DefaultActiveMinus1 + 1;
    if (r.flag()) {
      // num_ref_idx_active_override_flag
      numRefIdxL0Active = r.ueMax(31, 'num_ref_idx_l0_active_minus1') + 1;
      if (kind === SLICE_B) numRefIdxL1Active = r.ueMax(31, 'num_ref_idx_l1_active_minus1') + 1;
    }
  }
  // ref_pic_list_modification() (nal_unit_type 20/21 would use the MVC variant: not parsed here).
  const refPicListModifications: [number, number] = [0, 0];
  if (kind !== SLICE_I && kind !== SLICE_SI) {
    refPicListModifications[0] = readRefPicListModification(r);
    if (kind === SLICE_B) refPicListModifications[1] = readRefPicListModification(r);
  }
  const predWeightTable =
    (pps.weightedPredFlag && (kind === SLICE_P || kind === SLICE_SP)) ||
    (pps.weightedBipredIdc === 1 && kind === SLICE_B);
  const explicitWeights = predWeightTable
    ? readPredWeightTable(r, sps.chromaArrayType, numRefIdxL0Active!, numRefIdxL1Active)
    : 0;
  const memoryManagementOperations = nalRefIdc !== 0 ? readDecRefPicMarking(r, idr) : 0;
  const cabacInitIdc =
    pps.entropyCodingModeFlag && kind !== SLICE_I && kind !== SLICE_SI ? r.ueMax(2, 'cabac_init_idc') : undefined;
  const sliceQpDelta = r.se();
  let spForSwitchFlag: boolean | undefined;
  let sliceQsDelta: number | undefined;
  if (kind === SLICE_SP || kind === SLICE_SI) {
    if (kind === SLICE_SP) spForSwitchFlag = r.flag();
    sliceQsDelta = r.se();
  }
  let disableDeblockingFilterIdc = 0;
  let sliceAlphaC0OffsetDiv2 = 0;
  let sliceBetaOffsetDiv2 = 0;
  if (pps.deblockingFilterControlPresentFlag) {
    disableDeblockingFilterIdc = r.ueMax(2, 'disable_deblocking_filter_idc');
    if (disableDeblockingFilterIdc !== 1) {
      sliceAlphaC0OffsetDiv2 = r.se();
      sliceBetaOffsetDiv2 = r.se();
    }
  }
  let sliceGroupChangeCycle: number | undefined;
  if (pps.numSliceGroupsMinus1 > 0 && pps.sliceGroupMapType >= 3 && pps.sliceGroupMapType <= 5) {
    sliceGroupChangeCycle = r.u(sliceGroupChangeCycleBits(sps, pps.sliceGroupChangeRate));
  }
  return {
    nalUnitType: type,
    nalRefIdc,
    firstMbInSlice,
    sliceType,
    picParameterSetId,
    colourPlaneId,
    frameNum,
    fieldPicFlag,
    bottomFieldFlag,
    idrPicId,
    picOrderCntLsb,
    deltaPicOrderCntBottom,
    deltaPicOrderCnt,
    redundantPicCnt,
    directSpatialMvPredFlag,
    numRefIdxL0Active,
    numRefIdxL1Active,
    refPicListModifications,
    predWeightTable,
    explicitWeights,
    memoryManagementOperations,
    cabacInitIdc,
    sliceQpDelta,
    sliceQp: 26 + pps.picInitQpMinus26 + sliceQpDelta,
    spForSwitchFlag,
    sliceQsDelta,
    disableDeblockingFilterIdc,
    sliceAlphaC0OffsetDiv2,
    sliceBetaOffsetDiv2,
    sliceGroupChangeCycle,
    cabac: pps.entropyCodingModeFlag,
    headerBits: r.bitsRead,
    headerBytes: 1 + r.escapedBytesRead,
    emulationPreventionBytes: r.emulationPreventionBytes,
  };
}
