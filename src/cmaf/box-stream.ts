/**
 * Incremental top-level box parser for fragmented MP4 arriving on a pipe: chunks may split a
 * box (or its header) at any byte. Complete boxes are emitted in order; a box that sits wholly
 * inside one chunk is emitted as a view of that chunk (no copy), a box spanning chunks is
 * assembled once when its last byte arrives (no quadratic re-concatenation).
 */
import { StreamedgeError } from '../errors.js';

export interface RawBox {
  type: string;
  /** The whole box, header included. */
  bytes: Buffer;
  /** Byte offset of the box in the stream (bytes pushed before it). */
  offset: number;
}

export interface BoxStreamOptions {
  /** Reject any box larger than this (a corrupt size must not make us buffer forever). Default 1 GiB. */
  maxBoxSize?: number;
}

const DEFAULT_MAX = 1024 * 1024 * 1024;

export class BoxStreamParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Offset in the stream of the first byte of chunks[0]. */
  private streamOffset = 0;
  /** Size of the box currently being assembled, once its header is known. */
  private need = -1;
  private needType = '';
  /** The pending box declared size 0: it extends to the end of the stream. */
  private toEnd = false;
  private ended = false;
  private readonly maxBoxSize: number;

  constructor(options: BoxStreamOptions = {}) {
    this.maxBoxSize = options.maxBoxSize ?? DEFAULT_MAX;
  }

  /** Bytes received but not yet emitted as part of a complete box. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Total bytes consumed so far (emitted boxes plus pending bytes). */
  get bytesSeen(): number {
    return this.streamOffset + this.buffered;
  }

  /** Feeds a chunk; returns the boxes it completed (possibly none). */
  push(chunk: Buffer): RawBox[] {
    if (this.ended) throw new StreamedgeError('BOX_STREAM_ENDED', 'BoxStreamParser.push() called after end()');
    const out: RawBox[] = [];
    if (chunk.length === 0) return out;
    if (this.toEnd) {
      this.append(chunk);
      return out;
    }
    let data = chunk;
    // Finish a box already in progress first.
    if (this.buffered > 0) {
      if (this.need < 0) {
        // Header incomplete: borrow just enough bytes to learn the size.
        const want = Math.min(16 - this.buffered, data.length);
        this.append(data.subarray(0, want));
        data = data.subarray(want);
        this.parsePendingHeader();
        if (this.toEnd) {
          if (data.length) this.append(data);
          return out;
        }
        if (this.need < 0) {
          // Still not enough bytes for the header (or for its 64-bit size).
          if (data.length) this.append(data);
          return out;
        }
        if (this.buffered > this.need) {
          // We borrowed past the end of a tiny box: give the excess back to `data`.
          const whole = Buffer.concat(this.chunks, this.buffered);
          this.chunks = [whole.subarray(0, this.need)];
          this.buffered = this.need;
          data = data.length ? Buffer.concat([whole.subarray(this.need), data]) : whole.subarray(this.need);
        }
      }
      const missing = this.need - this.buffered;
      if (data.length < missing) {
        this.append(data);
        return out;
      }
      this.append(data.subarray(0, missing));
      data = data.subarray(missing);
      out.push(this.takePending());
    }
    // Now at a box boundary: emit whole boxes straight from `data` as views.
    let pos = 0;
    while (pos < data.length) {
      const left = data.length - pos;
      const size = this.sizeAt(data, pos, left);
      if (size === undefined) break; // header incomplete
      if (size === 0) {
        this.toEnd = true;
        this.needType = data.toString('latin1', pos + 4, pos + 8);
        break;
      }
      if (size > left) break;
      out.push({
        type: data.toString('latin1', pos + 4, pos + 8),
        bytes: data.subarray(pos, pos + size),
        offset: this.streamOffset,
      });
      this.streamOffset += size;
      pos += size;
    }
    if (pos < data.length) {
      this.append(data.subarray(pos));
      if (!this.toEnd) this.parsePendingHeader();
    }
    return out;
  }

  /**
   * Declares the end of the stream. Throws StreamedgeError('TRUNCATED_BOX') when a partial box
   * is pending. A pending size-0 box (to end of stream) is complete here: use finish() to get it.
   */
  end(): void {
    this.finishInternal(false);
  }

  /** Like end(), but returns a final size-0 ("to end of stream") box if one was pending. */
  finish(): RawBox[] {
    return this.finishInternal(true);
  }

  private finishInternal(emitToEnd: boolean): RawBox[] {
    if (this.ended) return [];
    this.ended = true;
    if (this.toEnd) {
      const bytes = Buffer.concat(this.chunks, this.buffered);
      const box = { type: this.needType, bytes, offset: this.streamOffset };
      this.reset(bytes.length);
      return emitToEnd ? [box] : [];
    }
    if (this.buffered > 0) {
      const what =
        this.need >= 0
          ? `"${this.needType}" box needs ${this.need} bytes, got ${this.buffered}`
          : `${this.buffered} byte(s) of an unfinished box header`;
      throw new StreamedgeError(
        'TRUNCATED_BOX',
        `stream ended inside a box at byte ${this.streamOffset}: ${what} (the producer stopped mid-fragment)`,
      );
    }
    return [];
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.buffered += b.length;
  }

  private takePending(): RawBox {
    const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const box = { type: this.needType, bytes, offset: this.streamOffset };
    this.reset(bytes.length);
    return box;
  }

  private reset(consumed: number): void {
    this.streamOffset += consumed;
    this.chunks = [];
    this.buffered = 0;
    this.need = -1;
    this.needType = '';
    this.toEnd = false;
  }

  private parsePendingHeader(): void {
    if (this.buffered < 8) return;
    const head = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    if (this.chunks.length > 1) this.chunks = [head];
    const size = this.sizeAt(head, 0, head.length);
    if (size === undefined) return;
    this.needType = head.toString('latin1', 4, 8);
    if (size === 0) {
      this.toEnd = true;
      return;
    }
    this.need = size;
  }

  /**
   * Declared size of the box at data[pos] (0 = to end of stream), or undefined when fewer header
   * bytes than needed are available. Throws BAD_BOX for impossible sizes.
   */
  private sizeAt(data: Buffer, pos: number, left: number): number | undefined {
    if (left < 8) return undefined;
    const size32 = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    let size = size32;
    let header = 8;
    if (size32 === 1) {
      if (left < 16) return undefined;
      const big = data.readBigUInt64BE(pos + 8);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(type, `an impossible 64-bit size ${big}`);
      size = Number(big);
      header = 16;
    } else if (size32 === 0) {
      return 0;
    }
    if (type === 'uuid') header += 16;
    if (size < header) this.fail(type, `size ${size}, smaller than its ${header}-byte header`);
    if (size > this.maxBoxSize) this.fail(type, `size ${size}, above the ${this.maxBoxSize}-byte limit`);
    return size;
  }

  private fail(type: string, what: string): never {
    const shown = /^[\x20-\x7e\xa9]{4}$/.test(type) ? type : Buffer.from(type, 'latin1').toString('hex');
    throw new StreamedgeError(
      'BAD_BOX',
      `box "${shown}" at stream byte ${this.streamOffset} declares ${what}: the input is not fragmented MP4 or is corrupt`,
    );
  }
}
