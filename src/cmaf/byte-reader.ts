/**
 * A bounds-checked big-endian cursor over a box payload. Every read past the end throws
 * StreamedgeError('BAD_BOX') naming the box, instead of a RangeError deep inside Buffer.
 */
import { StreamedgeError } from '../errors.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export class ByteReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    /** Used in error messages, e.g. "trun". */
    readonly what: string,
    offset = 0,
    readonly end: number = buf.length,
  ) {
    this.pos = offset;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number): void {
    if (this.pos + n > this.end) {
      throw new StreamedgeError(
        'BAD_BOX',
        `"${this.what}" box is too short: needed ${n} more byte(s) at offset ${this.pos}, only ${this.end - this.pos} left`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64big(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A 64-bit field that must fit a JS number exactly (offsets, sizes). */
  u64(): number {
    const v = this.u64big();
    if (v > MAX_SAFE) {
      throw new StreamedgeError('BAD_BOX', `"${this.what}" box has a 64-bit value ${v} beyond 2^53`);
    }
    return Number(v);
  }

  /** version (8) + flags (24) of a FullBox. */
  fullHeader(): { version: number; flags: number } {
    const version = this.u8();
    const flags = this.u24();
    return { version, flags };
  }

  fourcc(): string {
    this.need(4);
    const v = this.buf.toString('latin1', this.pos, this.pos + 4);
    this.pos += 4;
    return v;
  }

  /** A null-terminated UTF-8 string; tolerates a missing terminator at the end of the box. */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    const stop = nul === -1 || nul >= this.end ? this.end : nul;
    const s = this.buf.toString('utf8', this.pos, stop);
    this.pos = stop === this.end ? this.end : stop + 1;
    return s;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  rest(): Buffer {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }
}
