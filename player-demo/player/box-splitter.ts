/**
 * Splits a byte stream of ISO-BMFF boxes into appendable CMAF chunks (…moof+mdat) as they
 * complete, for streaming appends of a segment that is still being produced (LL-DASH).
 * Browser-safe (no Buffer). Also reads a fragment's base media decode time (tfdt).
 */
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

function boxType(b: Uint8Array, at: number): string {
  return String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
}

/** Base media decode time (seconds) of the first traf in the first moof of `bytes`, given the track timescale. */
export function firstDecodeTime(bytes: Uint8Array, timescale: number): number | undefined {
  const t = findPath(bytes, 0, bytes.byteLength, ['moof', 'traf', 'tfdt']);
  if (t === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[t + 8];
  const v = version === 1 ? Number(view.getBigUint64(t + 12)) : view.getUint32(t + 12);
  return v / timescale;
}

/** Media timescale (mdhd) of the first track of an init segment. */
export function initTimescale(bytes: Uint8Array): number | undefined {
  const m = findPath(bytes, 0, bytes.byteLength, ['moov', 'trak', 'mdia', 'mdhd']);
  if (m === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = bytes[m + 8];
  return view.getUint32(m + (version === 1 ? 28 : 20));
}

function findPath(b: Uint8Array, start: number, end: number, path: string[]): number | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at;
    if (size < header) return undefined;
    if (boxType(b, at + 4) === path[0]) {
      if (path.length === 1) return at;
      return findPath(b, at + header, Math.min(end, at + size), path.slice(1));
    }
    at += size;
  }
  return undefined;
}
