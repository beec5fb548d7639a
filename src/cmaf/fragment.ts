/**
 * Movie fragment reader and patchers (ISO/IEC 14496-12 §8.8): moof/mfhd/traf/tfhd/tfdt/trun with
 * every optional-field flag, defaults resolved trun → tfhd → trex, sync samples from the sample
 * flags, and byte offsets of every sample's data. The patchers rewrite tfdt and mfhd for the
 * segmenter (renumbering, re-timing), fixing up box sizes and trun data offsets when tfdt grows.
 */
import { StreamedgeError } from '../errors.js';
import { type Box, type BoxHeader, childBox, readBox, readBoxHeader } from './box.js';
import { ByteReader } from './byte-reader.js';
import type { TrexDefaults } from './trex.js';

export type { TrexDefaults } from './trex.js';

/** tfhd flags. */
export const TFHD_BASE_DATA_OFFSET = 0x000001;
export const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002;
export const TFHD_DEFAULT_SAMPLE_DURATION = 0x000008;
export const TFHD_DEFAULT_SAMPLE_SIZE = 0x000010;
export const TFHD_DEFAULT_SAMPLE_FLAGS = 0x000020;
export const TFHD_DURATION_IS_EMPTY = 0x010000;
export const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** trun flags. */
export const TRUN_DATA_OFFSET = 0x000001;
export const TRUN_FIRST_SAMPLE_FLAGS = 0x000004;
export const TRUN_SAMPLE_DURATION = 0x000100;
export const TRUN_SAMPLE_SIZE = 0x000200;
export const TRUN_SAMPLE_FLAGS = 0x000400;
export const TRUN_SAMPLE_COMPOSITION_TIME_OFFSET = 0x000800;
/** Sample flags (§8.8.3.1). */
export const SAMPLE_IS_NON_SYNC = 0x10000;
/** sample_depends_on = 1 (depends on others: not an I picture), shifted into place. */
export const SAMPLE_DEPENDS_YES = 0x01000000;
/** sample_depends_on = 2 (does not depend on others: an I picture), shifted into place. */
export const SAMPLE_DEPENDS_NO = 0x02000000;

export interface SampleInfo {
  duration: number;
  size: number;
  /** The effective sample flags (first_sample_flags / trun / tfhd / trex, in that order). */
  flags: number;
  /** sample_is_non_sync_sample clear and sample_depends_on not 1 ("depends on others"). */
  isSync: boolean;
  /** Composition time offset (signed for trun version 1). */
  compositionOffset: number;
  /** sample_depends_on: 0 unknown, 1 depends on others, 2 independent (I picture). */
  dependsOn: number;
  /**
   * Offset of this sample's data: from the first byte of the moof when the track fragment's
   * `dataOffsetBase` is 'moof', else absolute in the file (explicit tfhd base_data_offset).
   */
  offset: number;
}

export interface TrackFragmentInfo {
  trackId: number;
  /** tfdt baseMediaDecodeTime (0 when the traf has no tfdt; see hasTfdt). Exact up to 2^53. */
  baseDecodeTime: number;
  /** The same, exact at any size. */
  baseDecodeTimeExact: bigint;
  hasTfdt: boolean;
  samples: SampleInfo[];
  /** Sum of sample durations (timescale units). */
  duration: number;
  /** Sum of sample sizes: the bytes this track has in the mdat. */
  bytes: number;
  startsWithSync: boolean;
  dataOffsetBase: 'moof' | 'file';
  sampleDescriptionIndex: number;
}

export interface FragmentInfo {
  sequenceNumber: number;
  tracks: TrackFragmentInfo[];
  /** Offset of the moof in the buffer passed in (styp/sidx/emsg may precede it). */
  moofStart: number;
  moofSize: number;
}

export function isSyncSampleFlags(flags: number): boolean {
  return (flags & SAMPLE_IS_NON_SYNC) === 0 && ((flags >>> 24) & 3) !== 1;
}

/** Finds the first top-level moof; boxes after it (the mdat) may be incomplete or absent. */
function locateMoof(buf: Buffer): { start: number; header: BoxHeader } {
  let pos = 0;
  while (pos < buf.length) {
    const h = readBoxHeader(buf, pos);
    if (h.type === 'moof') return { start: pos, header: h };
    pos += h.size;
  }
  throw new StreamedgeError('BAD_FRAGMENT', 'no moof box found: this is not a movie fragment');
}

interface TfhdFields {
  trackId: number;
  flags: number;
  baseDataOffset?: number;
  sampleDescriptionIndex?: number;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
}

function parseTfhd(b: Box): TfhdFields {
  const r = new ByteReader(b.payload, 'tfhd');
  const { flags } = r.fullHeader();
  const out: TfhdFields = { trackId: r.u32(), flags };
  if (flags & TFHD_BASE_DATA_OFFSET) out.baseDataOffset = r.u64();
  if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX) out.sampleDescriptionIndex = r.u32();
  if (flags & TFHD_DEFAULT_SAMPLE_DURATION) out.defaultSampleDuration = r.u32();
  if (flags & TFHD_DEFAULT_SAMPLE_SIZE) out.defaultSampleSize = r.u32();
  if (flags & TFHD_DEFAULT_SAMPLE_FLAGS) out.defaultSampleFlags = r.u32();
  return out;
}

function parseTfdt(b: Box): bigint {
  const r = new ByteReader(b.payload, 'tfdt');
  const { version } = r.fullHeader();
  return version === 1 ? r.u64big() : BigInt(r.u32());
}

function sequenceOf(moof: Box): number {
  const mfhd = childBox(moof, 'mfhd');
  if (!mfhd) throw new StreamedgeError('BAD_FRAGMENT', 'moof has no mfhd box');
  const r = new ByteReader(mfhd.payload, 'mfhd');
  r.fullHeader();
  return r.u32();
}

/**
 * Parses the first moof of `moof` (a buffer that may also hold a leading styp/sidx and the
 * trailing mdat). Sample durations/sizes/flags missing from trun fall back to tfhd, then to the
 * trex defaults of the init segment (parseInit(...).trex); a size or duration defined nowhere
 * throws BAD_FRAGMENT.
 */
export function parseFragment(moof: Buffer, trexDefaults?: Map<number, TrexDefaults>): FragmentInfo {
  const { start } = locateMoof(moof);
  const box = readBox(moof, start);
  const sequenceNumber = sequenceOf(box);
  const tracks: TrackFragmentInfo[] = [];
  /** Implicit base for a traf without base offset flags: the end of the previous traf's data. */
  let implicitBase = 0;
  let firstTraf = true;
  for (const traf of box.children!) {
    if (traf.type !== 'traf') continue;
    const tfhdBox = childBox(traf, 'tfhd');
    if (!tfhdBox) throw new StreamedgeError('BAD_FRAGMENT', 'traf has no tfhd box');
    const tfhd = parseTfhd(tfhdBox);
    const trex = trexDefaults?.get(tfhd.trackId);
    const tfdtBox = childBox(traf, 'tfdt');
    const bdt = tfdtBox ? parseTfdt(tfdtBox) : 0n;
    let base: number;
    let dataOffsetBase: 'moof' | 'file' = 'moof';
    if (tfhd.baseDataOffset !== undefined) {
      base = tfhd.baseDataOffset;
      dataOffsetBase = 'file';
    } else if (tfhd.flags & TFHD_DEFAULT_BASE_IS_MOOF || firstTraf) {
      base = 0;
    } else {
      base = implicitBase;
    }
    firstTraf = false;
    const samples: SampleInfo[] = [];
    let cursor = base;
    let duration = 0;
    let bytes = 0;
    const emptyDuration = (tfhd.flags & TFHD_DURATION_IS_EMPTY) !== 0;
    for (const run of traf.children!) {
      if (run.type !== 'trun') continue;
      const r = new ByteReader(run.payload, 'trun');
      const { version, flags } = r.fullHeader();
      const count = r.u32();
      if (flags & TRUN_DATA_OFFSET) cursor = base + r.i32();
      const firstFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? r.u32() : undefined;
      const perSample =
        (flags & TRUN_SAMPLE_DURATION ? 4 : 0) +
        (flags & TRUN_SAMPLE_SIZE ? 4 : 0) +
        (flags & TRUN_SAMPLE_FLAGS ? 4 : 0) +
        (flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSET ? 4 : 0);
      if (count * perSample > r.remaining) {
        throw new StreamedgeError(
          'BAD_BOX',
          `trun of track ${tfhd.trackId} declares ${count} samples but holds ${r.remaining} bytes of entries`,
        );
      }
      const defDuration = tfhd.defaultSampleDuration ?? trex?.defaultSampleDuration;
      const defSize = tfhd.defaultSampleSize ?? trex?.defaultSampleSize;
      const defFlags = tfhd.defaultSampleFlags ?? trex?.defaultSampleFlags ?? 0;
      if (count > 0 && !(flags & TRUN_SAMPLE_DURATION) && defDuration === undefined)
        throw missingDefault('duration', tfhd.trackId);
      if (count > 0 && !(flags & TRUN_SAMPLE_SIZE) && defSize === undefined) throw missingDefault('size', tfhd.trackId);
      for (let i = 0; i < count; i++) {
        const d = flags & TRUN_SAMPLE_DURATION ? r.u32() : defDuration!;
        const size = flags & TRUN_SAMPLE_SIZE ? r.u32() : defSize!;
        let f = flags & TRUN_SAMPLE_FLAGS ? r.u32() : defFlags;
        if (i === 0 && firstFlags !== undefined) f = firstFlags;
        const cto = flags & TRUN_SAMPLE_COMPOSITION_TIME_OFFSET ? (version === 0 ? r.u32() : r.i32()) : 0;
        samples.push({
          duration: d,
          size,
          flags: f,
          isSync: isSyncSampleFlags(f),
          compositionOffset: cto,
          dependsOn: (f >>> 24) & 3,
          offset: cursor,
        });
        cursor += size;
        duration += d;
        bytes += size;
      }
    }
    if (emptyDuration && samples.length > 0) {
      throw new StreamedgeError(
        'BAD_FRAGMENT',
        `traf of track ${tfhd.trackId} is flagged duration-is-empty but has samples`,
      );
    }
    implicitBase = cursor;
    tracks.push({
      trackId: tfhd.trackId,
      baseDecodeTime: Number(bdt),
      baseDecodeTimeExact: bdt,
      hasTfdt: tfdtBox !== undefined,
      samples,
      duration,
      bytes,
      startsWithSync: samples.length > 0 && samples[0].isSync,
      dataOffsetBase,
      sampleDescriptionIndex: tfhd.sampleDescriptionIndex ?? trex?.defaultSampleDescriptionIndex ?? 1,
    });
  }
  return { sequenceNumber, tracks, moofStart: start, moofSize: box.size };
}

function missingDefault(what: string, trackId: number): StreamedgeError {
  return new StreamedgeError(
    'BAD_FRAGMENT',
    `track ${trackId}: sample ${what} is in neither trun nor tfhd, and no trex default was given (pass parseInit(init).trex to parseFragment)`,
  );
}

/** Returns a copy of `moof` (same extent as the input) with the mfhd sequence_number replaced. */
export function setSequenceNumber(moof: Buffer, n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new StreamedgeError('BAD_ARGUMENT', `sequence number must be an integer in [0, 2^32), got ${n}`);
  }
  const { start } = locateMoof(moof);
  const box = readBox(moof, start);
  const mfhd = childBox(box, 'mfhd');
  if (!mfhd) throw new StreamedgeError('BAD_FRAGMENT', 'moof has no mfhd box');
  if (mfhd.payload.length < 8) throw new StreamedgeError('BAD_BOX', 'mfhd box is too short');
  const out = Buffer.from(moof);
  out.writeUInt32BE(n, mfhd.start + mfhd.headerSize + 4);
  return out;
}

/**
 * Returns a copy of `moof` (same extent as the input: pass only the moof to avoid copying media)
 * with track `trackId`'s tfdt baseMediaDecodeTime set to `t`. A version-0 tfdt that cannot hold
 * `t` becomes version 1, and a missing tfdt is inserted after tfhd; either way the moof and traf
 * sizes and every trun data_offset (or explicit tfhd base_data_offset, for data after the moof)
 * are patched, so the fragment stays playable.
 */
export function setBaseDecodeTime(moof: Buffer, trackId: number, t: bigint | number): Buffer {
  const time = typeof t === 'bigint' ? t : toBig(t);
  if (time < 0n || time > 0xffffffffffffffffn) {
    throw new StreamedgeError('BAD_ARGUMENT', `base decode time must be in [0, 2^64), got ${time}`);
  }
  const { start } = locateMoof(moof);
  const box = readBox(moof, start);
  const traf = box.children!.find(
    (c) => c.type === 'traf' && childBox(c, 'tfhd') && parseTfhd(childBox(c, 'tfhd')!).trackId === trackId,
  );
  if (!traf) {
    throw new StreamedgeError('NO_TRACK', `the fragment has no traf for track ${trackId}`);
  }
  const tfdt = childBox(traf, 'tfdt');
  if (tfdt) {
    const r = new ByteReader(tfdt.payload, 'tfdt');
    const { version } = r.fullHeader();
    const at = tfdt.start + tfdt.headerSize + 4;
    if (version === 1) {
      r.u64big();
      const out = Buffer.from(moof);
      out.writeBigUInt64BE(time, at);
      return out;
    }
    r.u32();
    if (time <= 0xffffffffn) {
      const out = Buffer.from(moof);
      out.writeUInt32BE(Number(time), at);
      return out;
    }
  }
  // Grow: replace (or insert) the tfdt with a version-1 box (or version 0 when inserting a small time).
  const version = time > 0xffffffffn ? 1 : 0;
  const fresh = Buffer.alloc(version === 1 ? 20 : 16);
  fresh.writeUInt32BE(fresh.length, 0);
  fresh.write('tfdt', 4, 'latin1');
  fresh.writeUInt32BE(version << 24, 8);
  if (version === 1) fresh.writeBigUInt64BE(time, 12);
  else fresh.writeUInt32BE(Number(time), 12);
  const tfhd = childBox(traf, 'tfhd')!;
  const cutStart = tfdt ? tfdt.start : tfhd.start + tfhd.size;
  const cutEnd = tfdt ? tfdt.start + tfdt.size : cutStart;
  const delta = fresh.length - (cutEnd - cutStart);
  const out = Buffer.concat([moof.subarray(0, cutStart), fresh, moof.subarray(cutEnd)]);
  const moved = (pos: number): number => (pos >= cutEnd ? pos + delta : pos);
  addToSize(out, box, delta, moved);
  addToSize(out, traf, delta, moved);
  // Media data follows the moof, so it moved by `delta`: shift every offset that points at it.
  for (const tr of box.children!) {
    if (tr.type !== 'traf') continue;
    const h = childBox(tr, 'tfhd');
    if (!h) continue;
    const fields = parseTfhd(h);
    if (fields.baseDataOffset !== undefined) {
      const at = moved(h.start + h.headerSize + 8);
      out.writeBigUInt64BE(out.readBigUInt64BE(at) + BigInt(delta), at);
      continue;
    }
    for (const run of tr.children!) {
      if (run.type !== 'trun') continue;
      const flags = run.payload.readUIntBE(1, 3);
      if (!(flags & TRUN_DATA_OFFSET)) continue;
      const at = moved(run.start + run.headerSize + 8);
      out.writeInt32BE(out.readInt32BE(at) + delta, at);
    }
  }
  return out;
}

function addToSize(out: Buffer, b: Box, delta: number, moved: (pos: number) => number): void {
  const at = moved(b.start);
  if (b.headerSize >= 16 && out.readUInt32BE(at) === 1) {
    out.writeBigUInt64BE(out.readBigUInt64BE(at + 8) + BigInt(delta), at + 8);
  } else if (out.readUInt32BE(at) !== 0) {
    // (size 0 = "to the end of the file" needs no patch)
    const size = out.readUInt32BE(at) + delta;
    if (size > 0xffffffff) throw new StreamedgeError('BAD_FRAGMENT', `box "${b.type}" would exceed 4 GiB`);
    out.writeUInt32BE(size, at);
  }
}

function toBig(n: number): bigint {
  if (!Number.isSafeInteger(n)) {
    throw new StreamedgeError('BAD_ARGUMENT', `base decode time ${n} is not a safe integer: pass a bigint`);
  }
  return BigInt(n);
}
