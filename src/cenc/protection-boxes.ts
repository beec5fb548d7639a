/**
 * The boxes of Common Encryption (ISO/IEC 23001-7 §8; ISO/IEC 14496-12 §8.7.8–9, §8.12):
 * writers for the init segment's protection scheme information (sinf: frma, schm, schi/tenc) and
 * pssh, and for a fragment's sample auxiliary information (senc, saiz, saio); readers for tenc
 * and senc, which the tests and a decrypting reader use.
 */
import { StreamedgeError } from '../errors.js';
import { ByteReader } from '../cmaf/byte-reader.js';
import { box, fullBox } from '../cmaf/writers.js';
import type { ProtectionScheme } from './content-keys.js';

export interface Subsample {
  clear: number;
  protected: number;
}

export interface TrackEncryption {
  scheme: ProtectionScheme;
  /** 32 hex. */
  kid: string;
  /** Bytes of IV per sample in senc: 8 for cenc, 0 for cbcs (constant IV). */
  perSampleIvSize: 0 | 8 | 16;
  /** cbcs: the IV every subsample starts from. */
  constantIv?: Buffer;
  /** cbcs pattern: encrypt `crypt` blocks, skip `skip` (1:9 for video, 0:0 = every block for audio). */
  cryptByteBlock: number;
  skipByteBlock: number;
}

function u8(n: number): Buffer {
  return Buffer.from([n & 0xff]);
}
function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** tenc: version 1 carries the pattern (cbcs), version 0 for cenc. */
export function tenc(t: TrackEncryption): Buffer {
  const version = t.scheme === 'cbcs' ? 1 : 0;
  const second = version === 1 ? ((t.cryptByteBlock & 0xf) << 4) | (t.skipByteBlock & 0xf) : 0;
  const parts = [u8(0), u8(second), u8(1), u8(t.perSampleIvSize), Buffer.from(t.kid, 'hex')];
  if (t.perSampleIvSize === 0) {
    if (!t.constantIv || (t.constantIv.length !== 8 && t.constantIv.length !== 16))
      throw new StreamedgeError('BAD_ARGUMENT', 'a constant IV of 8 or 16 bytes is needed when samples carry none');
    parts.push(u8(t.constantIv.length), t.constantIv);
  }
  return fullBox('tenc', version, 0, ...parts);
}

/** sinf for a sample entry whose original format was `originalFormat` (e.g. "avc1"). */
export function sinf(originalFormat: string, t: TrackEncryption): Buffer {
  return box(
    'sinf',
    box('frma', Buffer.from(originalFormat, 'latin1')),
    fullBox('schm', 0, 0, Buffer.from(t.scheme, 'latin1'), u32(0x00010000)),
    box('schi', tenc(t)),
  );
}

/** A version-1 pssh listing key ids, with optional system-specific data. */
export function pssh(systemIdHex: string, kids: readonly string[], data: Buffer = Buffer.alloc(0)): Buffer {
  return fullBox(
    'pssh',
    1,
    0,
    Buffer.from(systemIdHex, 'hex'),
    u32(kids.length),
    ...kids.map((k) => Buffer.from(k, 'hex')),
    u32(data.length),
    data,
  );
}

export interface SampleEncryptionEntry {
  iv: Buffer;
  subsamples?: Subsample[];
}

/** senc (flags 0x2 when samples have subsamples). */
export function senc(entries: readonly SampleEncryptionEntry[], useSubsamples: boolean): Buffer {
  const parts: Buffer[] = [u32(entries.length)];
  for (const e of entries) {
    parts.push(e.iv);
    if (useSubsamples) {
      const subs = e.subsamples ?? [];
      parts.push(u16(subs.length));
      for (const s of subs) parts.push(u16(s.clear), u32(s.protected));
    }
  }
  return fullBox('senc', 0, useSubsamples ? 2 : 0, ...parts);
}

/** The size of each sample's entry in senc (what saiz lists). */
export function sencEntrySize(e: SampleEncryptionEntry, useSubsamples: boolean): number {
  return e.iv.length + (useSubsamples ? 2 + 6 * (e.subsamples?.length ?? 0) : 0);
}

/** saiz: one default size when every entry has it (0 means "sizes follow", so never a default of 0). */
export function saiz(sizes: readonly number[]): Buffer {
  const same = sizes.every((s) => s === sizes[0]);
  if (same && sizes[0] > 0) return fullBox('saiz', 0, 0, u8(sizes[0]), u32(sizes.length));
  return fullBox('saiz', 0, 0, u8(0), u32(sizes.length), Buffer.from(sizes));
}

/** saio with one offset (from the moof's first byte, default-base-is-moof). */
export function saio(offset: number): Buffer {
  return fullBox('saio', 0, 0, u32(1), u32(offset));
}

/** Byte offset of the first sample entry inside a senc box (header 8 + version/flags 4 + count 4). */
export const SENC_ENTRIES_OFFSET = 16;

export function parseTenc(payload: Buffer): TrackEncryption & { isProtected: boolean } {
  const r = new ByteReader(payload, 'tenc');
  const { version } = r.fullHeader();
  r.u8();
  const second = r.u8();
  const isProtected = r.u8() === 1;
  const perSampleIvSize = r.u8() as 0 | 8 | 16;
  const kid = r.bytes(16).toString('hex');
  const out: TrackEncryption & { isProtected: boolean } = {
    scheme: version === 1 ? 'cbcs' : 'cenc',
    kid,
    perSampleIvSize,
    cryptByteBlock: version === 1 ? second >> 4 : 0,
    skipByteBlock: version === 1 ? second & 0xf : 0,
    isProtected,
  };
  if (isProtected && perSampleIvSize === 0) out.constantIv = Buffer.from(r.bytes(r.u8()));
  return out;
}

export function parseSenc(payload: Buffer, ivSize: number): SampleEncryptionEntry[] {
  const r = new ByteReader(payload, 'senc');
  const { flags } = r.fullHeader();
  const count = r.u32();
  const out: SampleEncryptionEntry[] = [];
  for (let i = 0; i < count; i++) {
    const e: SampleEncryptionEntry = { iv: Buffer.from(r.bytes(ivSize)) };
    if (flags & 2) {
      const n = r.u16();
      e.subsamples = [];
      for (let j = 0; j < n; j++) e.subsamples.push({ clear: r.u16(), protected: r.u32() });
    }
    out.push(e);
  }
  return out;
}
