/** sidx (SegmentIndexBox, ISO/IEC 14496-12 §8.16.3) reader, versions 0 and 1. */
import type { Box } from './box.js';
import { ByteReader } from './byte-reader.js';

export interface SidxReference {
  /** Referenced bytes (from the first byte of one subsegment to the next). */
  size: number;
  /** Subsegment duration in the sidx timescale. */
  duration: number;
  startsWithSap: boolean;
  /** 1 = the reference points at another sidx (hierarchical index), 0 = media. */
  referenceType?: 0 | 1;
  /** SAP type 0-7 (1 or 2 for an IDR start). */
  sapType?: number;
  sapDeltaTime?: number;
}

export interface SidxInfo {
  version: 0 | 1;
  referenceId: number;
  timescale: number;
  earliestPresentationTime: number;
  /** Bytes from the end of this sidx to the first referenced byte. */
  firstOffset: number;
  references: Required<SidxReference>[];
}

export function parseSidx(box: Box): SidxInfo {
  const r = new ByteReader(box.payload, 'sidx');
  const { version } = r.fullHeader();
  const referenceId = r.u32();
  const timescale = r.u32();
  const earliestPresentationTime = version === 0 ? r.u32() : r.u64();
  const firstOffset = version === 0 ? r.u32() : r.u64();
  r.u16(); // reserved
  const count = r.u16();
  const references: Required<SidxReference>[] = [];
  for (let i = 0; i < count; i++) {
    const a = r.u32();
    const duration = r.u32();
    const c = r.u32();
    references.push({
      referenceType: (a >>> 31) as 0 | 1,
      size: a & 0x7fffffff,
      duration,
      startsWithSap: c >>> 31 === 1,
      sapType: (c >>> 28) & 7,
      sapDeltaTime: c & 0x0fffffff,
    });
  }
  return { version: version === 1 ? 1 : 0, referenceId, timescale, earliestPresentationTime, firstOffset, references };
}
