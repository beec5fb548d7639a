/**
 * The subsample map of H.264 samples for Common Encryption: which bytes of each length-prefixed NAL
 * unit (ISO/IEC 14496-15 §5.3) stay clear and which are protected, per ISO/IEC 23001-7 subsample
 * encryption of NAL-structured video (schemes 'cenc' §10.1 and 'cbcs' §10.4) with the CMAF
 * (ISO/IEC 23000-19) constraints on AVC:
 *  - Non-VCL NAL units (everything but coded slices, nal_unit_type 1 and 5) stay clear.
 *  - A coded slice keeps clear its length prefix, NAL header byte and slice header (ITU-T H.264
 *    §7.3.3) rounded up to a whole byte, in original (escaped) bytes; the rest is protected.
 *  - 'cenc': every protected range is a multiple of 16 bytes (the remainder joins the clear bytes).
 *    'cbcs': the protected range starts at the first byte after the slice header, unaligned (the
 *    pattern leaves a trailing partial block clear).
 *  - A slice left with no protected bytes is clear; clear runs join the next subsample's clear
 *    count, which is 16 bits: runs over 65535 bytes are split into (65535, 0) entries.
 * SPS/PPS come from the avcC and from in-band SPS/PPS NAL units, which update the table as the
 * samples go by (one AvcSubsampler per track, fed its samples in decode order).
 */
import { StreamedgeError } from '../errors.js';
import { type Box, childBox, readBox, readBoxHeader } from '../cmaf/box.js';
import { AvcParameterSets, NAL_IDR_SLICE, NAL_SLICE, nalUnitType, readAvcDecoderConfig } from './avc-parameter-sets.js';
import { type SliceHeader, parseSliceHeader } from './avc-slice-header.js';

export interface Subsample {
  /** BytesOfClearData: 16 bits in the senc entry. */
  clear: number;
  /** BytesOfProtectedData: 32 bits. */
  protected: number;
}

export type CencScheme = 'cenc' | 'cbcs';

/** One NAL unit of a sample. */
export interface AvcNalUnit {
  /** Offset of its length prefix in the sample. */
  offset: number;
  /** Bytes of the NAL unit itself (header byte included, length prefix not). */
  size: number;
  nalUnitType: number;
  /** For coded slices (nal_unit_type 1 and 5): the parsed slice header. */
  slice?: SliceHeader;
}

const MAX_CLEAR = 0xffff;
const AES_BLOCK = 16;

function bad(message: string, cause?: unknown): StreamedgeError {
  return new StreamedgeError('BAD_MEDIA', message, cause === undefined ? undefined : { cause });
}

/** One per video track: turns its samples into subsample entries. */
export class AvcSubsampler {
  /** NAL unit length prefix size from the avcC (1, 2 or 4 bytes). */
  readonly lengthSize: number;
  private readonly params: AvcParameterSets;

  /** `avcC` is the avcC box payload (AVCDecoderConfigurationRecord, after its 8-byte box header). */
  constructor(
    avcC: Buffer,
    readonly scheme: CencScheme,
  ) {
    if (scheme !== 'cenc' && scheme !== 'cbcs') {
      throw new StreamedgeError('BAD_ARGUMENT', `unknown protection scheme "${String(scheme)}": use 'cenc' or 'cbcs'`);
    }
    const config = readAvcDecoderConfig(avcC);
    this.lengthSize = config.lengthSize;
    this.params = new AvcParameterSets(config);
  }

  /**
   * The NAL units of one sample, with the slice header of every coded slice. SPS/PPS NAL units met
   * on the way update the parameter sets for what follows. Throws BAD_MEDIA on a length prefix that
   * is cut off or runs past the sample, and on an unparsable SPS, PPS or slice header.
   */
  nalUnits(sample: Buffer): AvcNalUnit[] {
    const out: AvcNalUnit[] = [];
    const n = this.lengthSize;
    let pos = 0;
    while (pos < sample.length) {
      if (sample.length - pos < n) {
        throw bad(
          `H.264 sample of ${sample.length} bytes: the NAL unit length at byte ${pos} needs ${n} bytes, only ${sample.length - pos} remain`,
        );
      }
      const size = sample.readUIntBE(pos, n);
      const start = pos + n;
      if (size > sample.length - start) {
        throw bad(
          `H.264 sample of ${sample.length} bytes: the NAL unit at byte ${pos} declares ${size} bytes but only ${sample.length - start} remain (truncated sample, or a NAL length size other than the avcC's ${n})`,
        );
      }
      const nal = sample.subarray(start, start + size);
      const unit: AvcNalUnit = { offset: pos, size, nalUnitType: size > 0 ? nalUnitType(nal[0]) : -1 };
      if (size > 0 && (nal[0] & 0x80) !== 0) {
        throw bad(`H.264 sample: the NAL unit at byte ${pos} has forbidden_zero_bit set (not an H.264 NAL unit)`);
      }
      try {
        if (unit.nalUnitType === NAL_SLICE || unit.nalUnitType === NAL_IDR_SLICE) {
          unit.slice = parseSliceHeader(nal, this.params);
        } else {
          this.params.update(nal);
        }
      } catch (e) {
        const m = e instanceof Error ? e.message : String(e);
        throw bad(`H.264 sample: NAL unit (nal_unit_type ${unit.nalUnitType}) at byte ${pos}: ${m}`, e);
      }
      out.push(unit);
      pos = start + size;
    }
    return out;
  }

  /**
   * The subsample entries of one sample (length-prefixed NAL units). Their clear + protected bytes
   * add up to sample.length. Throws StreamedgeError('BAD_MEDIA') as nalUnits() does.
   */
  subsamples(sample: Buffer): Subsample[] {
    const out: Subsample[] = [];
    let pendingClear = 0;
    const push = (clear: number, prot: number): void => {
      while (clear > MAX_CLEAR) {
        out.push({ clear: MAX_CLEAR, protected: 0 });
        clear -= MAX_CLEAR;
      }
      out.push({ clear, protected: prot });
    };
    for (const unit of this.nalUnits(sample)) {
      const total = this.lengthSize + unit.size;
      let clear = total;
      if (unit.slice) {
        clear = this.lengthSize + unit.slice.headerBytes;
        if (this.scheme === 'cenc') clear += (total - clear) % AES_BLOCK;
      }
      const prot = total - clear;
      if (prot === 0) {
        pendingClear += total;
      } else {
        push(pendingClear + clear, prot);
        pendingClear = 0;
      }
    }
    if (pendingClear > 0) push(pendingClear, 0);
    return out;
  }
}

/**
 * The avcC payload (AVCDecoderConfigurationRecord) of a track in an initialization segment (or a
 * whole MP4): moov/trak/mdia/minf/stbl/stsd, first sample entry (avc1, avc3 or encv), its avcC child.
 * `trackId` picks the track; without it, the first track that has one. Undefined when there is none.
 */
export function avcConfigOf(init: Buffer, trackId?: number): Buffer | undefined {
  let pos = 0;
  let moov: Box | undefined;
  while (pos < init.length && !moov) {
    const h = readBoxHeader(init, pos);
    if (h.type === 'moov') moov = readBox(init, pos);
    pos += h.size;
  }
  for (const trak of moov?.children ?? []) {
    if (trak.type !== 'trak') continue;
    const tkhd = childBox(trak, 'tkhd');
    if (trackId !== undefined) {
      if (!tkhd || tkhd.payload.length < 24) continue;
      const id = tkhd.payload.readUInt32BE(tkhd.payload[0] === 1 ? 20 : 12);
      if (id !== trackId) continue;
    }
    const mdia = childBox(trak, 'mdia');
    const minf = mdia && childBox(mdia, 'minf');
    const stbl = minf && childBox(minf, 'stbl');
    const stsd = stbl && childBox(stbl, 'stsd');
    if (!stsd || stsd.payload.length < 16) continue;
    const entry = readBox(stsd.payload, 8);
    if (!['avc1', 'avc3', 'encv'].includes(entry.type)) continue;
    // VisualSampleEntry: 8 bytes of SampleEntry fields and 70 of its own, then the child boxes.
    let at = 78;
    while (entry.payload.length - at >= 8) {
      const child = readBox(entry.payload, at);
      if (child.type === 'avcC') return child.payload;
      at += child.size;
    }
  }
  return undefined;
}
