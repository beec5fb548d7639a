/**
 * ISO-BMFF box writers: generic box/fullBox, file/segment type, segment index, event message,
 * and the movie-fragment boxes (mfhd, tfhd, tfdt, trun, trex) a segmenter needs. Everything
 * returns a fresh Buffer; mdatHeader() lets callers send media payloads without concatenating.
 */
import type { EmsgInfo } from './emsg.js';
import { StreamedgeError } from '../errors.js';
import type { SidxReference } from './sidx.js';
import {
  TFHD_BASE_DATA_OFFSET,
  TFHD_DEFAULT_BASE_IS_MOOF,
  TFHD_DEFAULT_SAMPLE_DURATION,
  TFHD_DEFAULT_SAMPLE_FLAGS,
  TFHD_DEFAULT_SAMPLE_SIZE,
  TFHD_DURATION_IS_EMPTY,
  TFHD_SAMPLE_DESCRIPTION_INDEX,
  TRUN_DATA_OFFSET,
  TRUN_FIRST_SAMPLE_FLAGS,
  TRUN_SAMPLE_COMPOSITION_TIME_OFFSET,
  TRUN_SAMPLE_DURATION,
  TRUN_SAMPLE_FLAGS,
  TRUN_SAMPLE_SIZE,
} from './fragment.js';
import type { TrexDefaults } from './trex.js';

function badArg(message: string): StreamedgeError {
  return new StreamedgeError('BAD_ARGUMENT', message);
}

function fourcc(type: string): Buffer {
  const b = Buffer.from(type, 'latin1');
  if (b.length !== 4 || type.length !== 4) throw badArg(`box type must be 4 characters, got "${type}"`);
  return b;
}

function u32(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw badArg(`${what} must be an integer in [0, 2^32), got ${n}`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function u64(n: number | bigint, what: string): Buffer {
  const v = typeof n === 'bigint' ? n : Number.isSafeInteger(n) ? BigInt(n) : -1n;
  if (v < 0n || v > 0xffffffffffffffffn) throw badArg(`${what} must be an integer in [0, 2^64), got ${n}`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
}

/** A box with the given payload parts; switches to a 64-bit largesize past 4 GiB. */
export function box(type: string, ...payload: Buffer[]): Buffer {
  const t = fourcc(type);
  const len = payload.reduce((n, p) => n + p.length, 0);
  if (8 + len <= 0xffffffff) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + len, 0);
    t.copy(head, 4);
    return Buffer.concat([head, ...payload], 8 + len);
  }
  const head = Buffer.alloc(16);
  head.writeUInt32BE(1, 0);
  t.copy(head, 4);
  head.writeBigUInt64BE(BigInt(16 + len), 8);
  return Buffer.concat([head, ...payload], 16 + len);
}

export function fullBox(type: string, version: number, flags: number, ...payload: Buffer[]): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > 255) throw badArg(`version must be 0-255, got ${version}`);
  if (!Number.isInteger(flags) || flags < 0 || flags > 0xffffff) throw badArg(`flags must fit 24 bits, got ${flags}`);
  return box(type, u32(((version << 24) | flags) >>> 0, 'version/flags'), ...payload);
}

/** Just the header of an mdat holding `payloadSize` bytes: write it, then the payload, no concat. */
export function mdatHeader(payloadSize: number): Buffer {
  if (!Number.isSafeInteger(payloadSize) || payloadSize < 0)
    throw badArg(`mdat payload size must be a non-negative integer, got ${payloadSize}`);
  if (payloadSize + 8 <= 0xffffffff) {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(payloadSize + 8, 0);
    h.write('mdat', 4, 'latin1');
    return h;
  }
  const h = Buffer.alloc(16);
  h.writeUInt32BE(1, 0);
  h.write('mdat', 4, 'latin1');
  h.writeBigUInt64BE(BigInt(payloadSize + 16), 8);
  return h;
}

export function ftyp(major: string, minor: number, compatible: string[]): Buffer {
  return box('ftyp', fourcc(major), u32(minor, 'minor version'), ...compatible.map(fourcc));
}

/**
 * A segment type box. Defaults: major "cmfs" (CMAF segment), compatible [major, "msdh"]
 * (DASH media segment); the major brand is always listed among the compatible ones.
 */
export function styp(majorBrand = 'cmfs', compatible?: string[]): Buffer {
  const list = compatible ?? ['msdh'];
  const all = list.includes(majorBrand) ? list : [majorBrand, ...list];
  return box('styp', fourcc(majorBrand), u32(0, 'minor version'), ...all.map(fourcc));
}

export interface SidxOptions {
  referenceId: number;
  timescale: number;
  earliestPresentationTime: number;
  /** Bytes from the end of the sidx to the first referenced byte. */
  firstOffset: number;
  references: SidxReference[];
  /** Forced box version; by default 0 unless a time or offset needs 64 bits. */
  version?: 0 | 1;
}

export function sidx(opts: SidxOptions): Buffer {
  if (opts.references.length > 0xffff)
    throw badArg(`sidx holds at most 65535 references, got ${opts.references.length}`);
  const wide = opts.earliestPresentationTime > 0xffffffff || opts.firstOffset > 0xffffffff;
  const version = opts.version ?? (wide ? 1 : 0);
  if (version === 0 && wide) throw badArg('sidx version 0 cannot hold a 64-bit time or offset');
  const refs = Buffer.alloc(12 * opts.references.length);
  opts.references.forEach((ref, i) => {
    if (!Number.isInteger(ref.size) || ref.size < 0 || ref.size > 0x7fffffff)
      throw badArg(`sidx reference size must fit 31 bits, got ${ref.size}`);
    const sapType = ref.sapType ?? (ref.startsWithSap ? 1 : 0);
    const sapDelta = ref.sapDeltaTime ?? 0;
    if (sapType < 0 || sapType > 7 || sapDelta < 0 || sapDelta > 0x0fffffff)
      throw badArg('sidx SAP type must be 0-7 and SAP delta fit 28 bits');
    refs.writeUInt32BE((((ref.referenceType ?? 0) << 31) | ref.size) >>> 0, i * 12);
    refs.writeUInt32BE(u32(ref.duration, 'sidx reference duration').readUInt32BE(0), i * 12 + 4);
    refs.writeUInt32BE((((ref.startsWithSap ? 1 : 0) << 31) | (sapType << 28) | sapDelta) >>> 0, i * 12 + 8);
  });
  const count = Buffer.alloc(4);
  count.writeUInt16BE(opts.references.length, 2);
  return fullBox(
    'sidx',
    version,
    0,
    u32(opts.referenceId, 'sidx reference id'),
    u32(opts.timescale, 'sidx timescale'),
    version === 0
      ? u32(opts.earliestPresentationTime, 'earliest presentation time')
      : u64(opts.earliestPresentationTime, 'earliest presentation time'),
    version === 0 ? u32(opts.firstOffset, 'first offset') : u64(opts.firstOffset, 'first offset'),
    count,
    refs,
  );
}

/** What `emsg` writes: the fields `parseEmsg` reads back. */
type EmsgOptions = EmsgInfo;

function cstr(s: string): Buffer {
  if (s.includes('\0')) throw badArg('emsg strings cannot contain NUL characters');
  return Buffer.from(`${s}\0`, 'utf8');
}

export function emsg(opts: EmsgOptions): Buffer {
  if (opts.version === 0) {
    if (opts.presentationTimeDelta === undefined) throw badArg('emsg version 0 needs presentationTimeDelta');
    return fullBox(
      'emsg',
      0,
      0,
      cstr(opts.schemeIdUri),
      cstr(opts.value),
      u32(opts.timescale, 'emsg timescale'),
      u32(opts.presentationTimeDelta, 'emsg presentation time delta'),
      u32(opts.eventDuration, 'emsg event duration'),
      u32(opts.id, 'emsg id'),
      opts.messageData,
    );
  }
  if (opts.presentationTime === undefined) throw badArg('emsg version 1 needs presentationTime');
  return fullBox(
    'emsg',
    1,
    0,
    u32(opts.timescale, 'emsg timescale'),
    u64(opts.presentationTime, 'emsg presentation time'),
    u32(opts.eventDuration, 'emsg event duration'),
    u32(opts.id, 'emsg id'),
    cstr(opts.schemeIdUri),
    cstr(opts.value),
    opts.messageData,
  );
}

export function mfhd(sequenceNumber: number): Buffer {
  return fullBox('mfhd', 0, 0, u32(sequenceNumber, 'sequence number'));
}

export interface TfhdOptions {
  trackId: number;
  baseDataOffset?: number;
  sampleDescriptionIndex?: number;
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  durationIsEmpty?: boolean;
  defaultBaseIsMoof?: boolean;
}

export function tfhd(o: TfhdOptions): Buffer {
  let flags = 0;
  const parts: Buffer[] = [u32(o.trackId, 'track id')];
  if (o.baseDataOffset !== undefined) {
    flags |= TFHD_BASE_DATA_OFFSET;
    parts.push(u64(o.baseDataOffset, 'base data offset'));
  }
  if (o.sampleDescriptionIndex !== undefined) {
    flags |= TFHD_SAMPLE_DESCRIPTION_INDEX;
    parts.push(u32(o.sampleDescriptionIndex, 'sample description index'));
  }
  if (o.defaultSampleDuration !== undefined) {
    flags |= TFHD_DEFAULT_SAMPLE_DURATION;
    parts.push(u32(o.defaultSampleDuration, 'default sample duration'));
  }
  if (o.defaultSampleSize !== undefined) {
    flags |= TFHD_DEFAULT_SAMPLE_SIZE;
    parts.push(u32(o.defaultSampleSize, 'default sample size'));
  }
  if (o.defaultSampleFlags !== undefined) {
    flags |= TFHD_DEFAULT_SAMPLE_FLAGS;
    parts.push(u32(o.defaultSampleFlags, 'default sample flags'));
  }
  if (o.durationIsEmpty) flags |= TFHD_DURATION_IS_EMPTY;
  if (o.defaultBaseIsMoof) flags |= TFHD_DEFAULT_BASE_IS_MOOF;
  return fullBox('tfhd', 0, flags, ...parts);
}

/** tfdt; version 1 when forced or when the time needs 64 bits. */
export function tfdt(baseMediaDecodeTime: number | bigint, version?: 0 | 1): Buffer {
  const big = typeof baseMediaDecodeTime === 'bigint' ? baseMediaDecodeTime : BigInt(baseMediaDecodeTime);
  const v = version ?? (big > 0xffffffffn ? 1 : 0);
  if (v === 0) return fullBox('tfdt', 0, 0, u32(Number(big), 'base media decode time'));
  return fullBox('tfdt', 1, 0, u64(big, 'base media decode time'));
}

export interface TrunSample {
  duration?: number;
  size?: number;
  flags?: number;
  compositionOffset?: number;
}

export interface TrunOptions {
  /** 1 makes composition offsets signed. Default: 1 if any offset is negative, else 0. */
  version?: 0 | 1;
  dataOffset?: number;
  firstSampleFlags?: number;
  /** A per-sample field is written when the first sample defines it (then every sample must). */
  samples: TrunSample[];
}

export function trun(o: TrunOptions): Buffer {
  const first = o.samples[0] ?? {};
  const has = {
    duration: first.duration !== undefined,
    size: first.size !== undefined,
    flags: first.flags !== undefined,
    cto: first.compositionOffset !== undefined,
  };
  const version = o.version ?? (o.samples.some((s) => (s.compositionOffset ?? 0) < 0) ? 1 : 0);
  let flags = 0;
  if (o.dataOffset !== undefined) flags |= TRUN_DATA_OFFSET;
  if (o.firstSampleFlags !== undefined) flags |= TRUN_FIRST_SAMPLE_FLAGS;
  if (has.duration) flags |= TRUN_SAMPLE_DURATION;
  if (has.size) flags |= TRUN_SAMPLE_SIZE;
  if (has.flags) flags |= TRUN_SAMPLE_FLAGS;
  if (has.cto) flags |= TRUN_SAMPLE_COMPOSITION_TIME_OFFSET;
  const per = 4 * (Number(has.duration) + Number(has.size) + Number(has.flags) + Number(has.cto));
  const head = Buffer.alloc(4 + (o.dataOffset !== undefined ? 4 : 0) + (o.firstSampleFlags !== undefined ? 4 : 0));
  head.writeUInt32BE(o.samples.length, 0);
  let p = 4;
  if (o.dataOffset !== undefined) {
    if (!Number.isInteger(o.dataOffset) || o.dataOffset < -0x80000000 || o.dataOffset > 0x7fffffff)
      throw badArg(`trun data offset must fit a signed 32-bit integer, got ${o.dataOffset}`);
    head.writeInt32BE(o.dataOffset, p);
    p += 4;
  }
  if (o.firstSampleFlags !== undefined)
    head.writeUInt32BE(u32(o.firstSampleFlags, 'first sample flags').readUInt32BE(0), p);
  const body = Buffer.alloc(per * o.samples.length);
  let q = 0;
  const put = (v: number | undefined, field: string, i: number): void => {
    if (v === undefined) throw badArg(`trun sample ${i} lacks ${field}, which sample 0 defines`);
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw badArg(`trun sample ${i} ${field} must be an unsigned 32-bit integer, got ${v}`);
    body.writeUInt32BE(v, q);
    q += 4;
  };
  o.samples.forEach((s, i) => {
    if (has.duration) put(s.duration, 'duration', i);
    if (has.size) put(s.size, 'size', i);
    if (has.flags) put(s.flags, 'flags', i);
    if (has.cto) {
      const v = s.compositionOffset;
      if (v === undefined) throw badArg(`trun sample ${i} lacks compositionOffset, which sample 0 defines`);
      if (version === 1) {
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff)
          throw badArg(`trun sample ${i} composition offset must fit a signed 32-bit integer, got ${v}`);
        body.writeInt32BE(v, q);
        q += 4;
      } else put(v, 'compositionOffset', i);
    }
  });
  return fullBox('trun', version, flags, head, body);
}

export function trex(t: TrexDefaults): Buffer {
  return fullBox(
    'trex',
    0,
    0,
    u32(t.trackId, 'track id'),
    u32(t.defaultSampleDescriptionIndex, 'default sample description index'),
    u32(t.defaultSampleDuration, 'default sample duration'),
    u32(t.defaultSampleSize, 'default sample size'),
    u32(t.defaultSampleFlags, 'default sample flags'),
  );
}
