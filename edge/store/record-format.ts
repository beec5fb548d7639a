import { crc32c } from './crc32c.js';
import type { ObjectMeta } from './types.js';

/**
 * On-disk record layout inside a region file (all little-endian):
 *
 *   off  size  field
 *   0    4     magic 'SEGR' (0x52474553 as u32 LE)
 *   4    1     version (1)
 *   5    1     flags (0)
 *   6    2     reserved (0)
 *   8    4     key hash (CRC32C of the UTF-8 key)
 *   12   4     key length
 *   16   4     meta length (UTF-8 JSON of ObjectMeta)
 *   20   8     body length (u48 + 2 zero bytes)
 *   28   8     stored-at epoch ms (u48 + 2 zero bytes)
 *   36   4     CRC32C over key + meta + body
 *   40   4     CRC32C over header bytes 0..39 (the cheap check)
 *   44   4     reserved (0)
 *   48         key, meta, body
 */
export const RECORD_MAGIC = 0x52474553;
export const RECORD_VERSION = 1;
export const HEADER_BYTES = 48;
/** lmdb keys are limited to ~1978 bytes; tag rows are "<tag>\\0<key>". */
export const MAX_KEY_BYTES = 1024;
export const MAX_TAG_BYTES = 512;

export interface RecordHeader {
  keyHash: number;
  keyLength: number;
  metaLength: number;
  bodyLength: number;
  storedAt: number;
  crc: number;
}

export function encodeHeader(h: RecordHeader): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.writeUInt32LE(RECORD_MAGIC, 0);
  b.writeUInt8(RECORD_VERSION, 4);
  b.writeUInt32LE(h.keyHash >>> 0, 8);
  b.writeUInt32LE(h.keyLength, 12);
  b.writeUInt32LE(h.metaLength, 16);
  b.writeUIntLE(h.bodyLength, 20, 6);
  b.writeUIntLE(Number.isFinite(h.storedAt) ? Math.min(2 ** 48 - 1, Math.max(0, Math.floor(h.storedAt))) : 0, 28, 6);
  b.writeUInt32LE(h.crc >>> 0, 36);
  b.writeUInt32LE(crc32c(b.subarray(0, 40)), 40);
  return b;
}

/** Parses and checks a header; returns undefined if the bytes are not a valid version-1 header. */
export function decodeHeader(b: Buffer): RecordHeader | undefined {
  if (b.length < HEADER_BYTES) return undefined;
  if (b.readUInt32LE(0) !== RECORD_MAGIC || b.readUInt8(4) !== RECORD_VERSION) return undefined;
  if (b.readUInt32LE(40) !== crc32c(b.subarray(0, 40))) return undefined;
  return {
    keyHash: b.readUInt32LE(8),
    keyLength: b.readUInt32LE(12),
    metaLength: b.readUInt32LE(16),
    bodyLength: b.readUIntLE(20, 6),
    storedAt: b.readUIntLE(28, 6),
    crc: b.readUInt32LE(36),
  };
}

export function encodeMeta(meta: ObjectMeta): Buffer {
  return Buffer.from(JSON.stringify(meta), 'utf8');
}

/** The prefix of a record before its body: header placeholder excluded. */
export function recordLength(keyLength: number, metaLength: number, bodyLength: number): number {
  return HEADER_BYTES + keyLength + metaLength + bodyLength;
}
