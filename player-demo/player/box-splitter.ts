/**
 * Splits a byte stream of ISO-BMFF boxes into appendable CMAF chunks (…moof+mdat) as they
 * complete, for streaming appends of a segment that is still being produced (LL-DASH).
 * Browser-safe (no Buffer). Also reads a fragment's base media decode time (tfdt).
 */
import { boxAt, boxType } from '../../src/cmaf/box-walk.js';
export class ChunkSplitter {
  private buf = new Uint8Array(0);
  private pendingStart = 0; // start of the chunk being assembled (styp/moof not yet closed by an mdat)
  private scan = 0;

  /** Feed bytes; returns complete chunks (each ends with an mdat). */
  push(bytes: Uint8Array): Uint8Array[] {
    const merged = new Uint8Array(this.buf.byteLength + bytes.byteLength);
    merged.set(this.buf);
    merged.set(bytes, this.buf.byteLength);
    this.buf = merged;
    const out: Uint8Array[] = [];
    const view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    while (this.scan + 8 <= this.buf.byteLength) {
      let size = view.getUint32(this.scan);
      const type = boxType(this.buf, this.scan + 4);
      if (size === 1) {
        if (this.scan + 16 > this.buf.byteLength) break;
        size = Number(view.getBigUint64(this.scan + 8));
      }
      if (size < 8 || this.scan + size > this.buf.byteLength) break;
      this.scan += size;
      if (type === 'mdat') {
        out.push(this.buf.slice(this.pendingStart, this.scan));
        this.pendingStart = this.scan;
      }
    }
    if (this.pendingStart > 0) {
      this.buf = this.buf.slice(this.pendingStart);
      this.scan -= this.pendingStart;
      this.pendingStart = 0;
    }
    return out;
  }

  /** Bytes held that do not form a complete chunk yet. */
  get pending(): number {
    return this.buf.byteLength;
  }
}

/** Base media decode time (seconds) of the first traf in the first moof of `bytes`, given the track timescale. */
export function firstDecodeTime(bytes: Uint8Array, timescale: number): number | undefined {
  const t = boxAt(bytes, ['moof', 'traf', 'tfdt']);
  if (t === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v = bytes[t[0]] === 1 ? Number(view.getBigUint64(t[0] + 4)) : view.getUint32(t[0] + 4);
  return v / timescale;
}

/** Media timescale (mdhd) of the first track of an init segment. */
export function initTimescale(bytes: Uint8Array): number | undefined {
  const m = boxAt(bytes, ['moov', 'trak', 'mdia', 'mdhd']);
  if (m === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(m[0] + (bytes[m[0]] === 1 ? 20 : 12));
}
