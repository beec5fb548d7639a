/** sidx (SegmentIndexBox, ISO/IEC 14496-12 §8.16.3) reader, versions 0 and 1; runs in Node and in the browser. */
import type { Box } from './box.js';
import { StreamedgeError } from '../errors.js';

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
  return parseSidxPayload(box.payload);
}

/**
 * A sidx box's payload (after its 8-byte header). Reads through a DataView, not Node's Buffer,
 * so the browser player reads a DASH SegmentBase index with it too. Throws BAD_BOX on a short
 * payload or a 64-bit field beyond 2^53.
 */
export function parseSidxPayload(payload: Uint8Array): SidxInfo {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let pos = 0;
  const need = (n: number): void => {
    if (pos + n > view.byteLength)
      throw new StreamedgeError(
        'BAD_BOX',
        `"sidx" box is too short: needed ${n} more byte(s) at offset ${pos}, only ${view.byteLength - pos} left`,
      );
  };
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4));
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw new StreamedgeError('BAD_BOX', `"sidx" box has a 64-bit value ${v} beyond 2^53`);
    return Number(v);
  };
  const version = u32() >>> 24; // version (8) and flags (24)
  const referenceId = u32();
  const timescale = u32();
  const earliestPresentationTime = version === 0 ? u32() : u64();
  const firstOffset = version === 0 ? u32() : u64();
  u16(); // reserved
  const count = u16();
  const references: Required<SidxReference>[] = [];
  for (let i = 0; i < count; i++) {
    const a = u32();
    const duration = u32();
    const c = u32();
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
