/**
 * ISO-BMFF box reading (ISO/IEC 14496-12 §4.2): box headers, 64-bit `largesize`, size 0
 * ("extends to the end of the enclosing space"), `uuid` user types, and the tree of the
 * container boxes a CMAF packager walks. Payloads are views (subarray) of the input: nothing
 * is copied, so reading a fragment never duplicates its mdat.
 */
import { StreamedgeError } from '../errors.js';

export interface Box {
  /** Four-character code, e.g. "moov" (latin1, so "©too" survives). */
  type: string;
  /** Total size in bytes, header included (size 0 is resolved to the end of the enclosing space). */
  size: number;
  /** Offset of the box header in the buffer it came from (children share their parent's buffer). */
  start: number;
  /** 8, 16 with a largesize, plus 16 for a uuid user type. */
  headerSize: number;
  /** The bytes after the header: a view into the source buffer, not a copy. */
  payload: Buffer;
  /** Child boxes, present for the container types listed in CONTAINER_TYPES. */
  children?: Box[];
  /** Hex of the 16-byte extended type of a "uuid" box. */
  userType?: string;
}

/**
 * Boxes whose payload is nothing but child boxes. (meta, stsd and sample entries carry fields
 * before their children and are handled by the readers that need them.)
 */
export const CONTAINER_TYPES: ReadonlySet<string> = new Set([
  'moov',
  'trak',
  'edts',
  'mdia',
  'minf',
  'dinf',
  'stbl',
  'mvex',
  'moof',
  'traf',
  'mfra',
  'udta',
  'tref',
  'sinf',
  'schi',
  'mvcd',
  'strk',
  'strd',
]);

export interface BoxHeader {
  type: string;
  /** Total size; for size 0 this is resolved against `end`. */
  size: number;
  headerSize: number;
  /** The box declared size 0 (to end). */
  toEnd: boolean;
  userType?: string;
}

function badBox(message: string): StreamedgeError {
  return new StreamedgeError('BAD_BOX', message);
}

/**
 * Reads one box header at `offset`, validating it fits in [offset, end). Throws BAD_BOX when the
 * header is cut short, the size is smaller than its header, or the box runs past `end`.
 */
export function readBoxHeader(buf: Buffer, offset: number, end: number = buf.length): BoxHeader {
  if (end - offset < 8) {
    throw badBox(`truncated box header at byte ${offset}: ${end - offset} byte(s) left, a header needs 8`);
  }
  let size = buf.readUInt32BE(offset);
  const type = buf.toString('latin1', offset + 4, offset + 8);
  let headerSize = 8;
  let toEnd = false;
  if (size === 1) {
    if (end - offset < 16) throw badBox(`truncated 64-bit box header of "${type}" at byte ${offset}`);
    const large = buf.readBigUInt64BE(offset + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw badBox(`box "${type}" at byte ${offset} declares an impossible size of ${large} bytes`);
    }
    size = Number(large);
    headerSize = 16;
  } else if (size === 0) {
    toEnd = true;
    size = end - offset;
  }
  let userType: string | undefined;
  if (type === 'uuid') {
    if (end - offset < headerSize + 16) throw badBox(`truncated uuid box header at byte ${offset}`);
    userType = buf.toString('hex', offset + headerSize, offset + headerSize + 16);
    headerSize += 16;
  }
  if (size < headerSize) {
    throw badBox(
      `box "${printable(type)}" at byte ${offset} declares size ${size}, smaller than its ${headerSize}-byte header`,
    );
  }
  if (offset + size > end) {
    throw badBox(
      `box "${printable(type)}" at byte ${offset} declares ${size} bytes but only ${end - offset} remain (truncated or not an MP4)`,
    );
  }
  return { type, size, headerSize, toEnd, userType };
}

function printable(type: string): string {
  return /^[\x20-\x7e\xa9]{4}$/.test(type) ? type : Buffer.from(type, 'latin1').toString('hex');
}

/** Reads the single box at `offset` (with its container children). */
export function readBox(buf: Buffer, offset = 0, end: number = buf.length): Box {
  const h = readBoxHeader(buf, offset, end);
  const payloadStart = offset + h.headerSize;
  const boxEnd = offset + h.size;
  const box: Box = {
    type: h.type,
    size: h.size,
    start: offset,
    headerSize: h.headerSize,
    payload: buf.subarray(payloadStart, boxEnd),
  };
  if (h.userType !== undefined) box.userType = h.userType;
  if (CONTAINER_TYPES.has(h.type)) box.children = readBoxes(buf, payloadStart, boxEnd);
  return box;
}

/**
 * Reads the sibling boxes in buf[offset, end). Known containers (CONTAINER_TYPES) get their
 * `children` filled in recursively; every `start` is an offset into `buf` itself.
 * Throws StreamedgeError('BAD_BOX') on malformed or truncated sizes.
 */
export function readBoxes(buf: Buffer, offset = 0, end: number = buf.length): Box[] {
  if (offset < 0 || end > buf.length || offset > end) {
    throw new RangeError(`readBoxes: range [${offset}, ${end}) is outside a ${buf.length}-byte buffer`);
  }
  const boxes: Box[] = [];
  let pos = offset;
  while (pos < end) {
    const b = readBox(buf, pos, end);
    boxes.push(b);
    pos += b.size;
  }
  return boxes;
}

/** The first box matching a slash path, e.g. findBox(boxes, 'moov/trak/mdia/mdhd'). */
export function findBox(boxes: Box[], path: string): Box | undefined {
  return findAll(boxes, path.split('/'), true)[0];
}

/** Every box matching a slash path, in file order, e.g. findBoxes(boxes, 'moov/trak'). */
export function findBoxes(boxes: Box[], path: string): Box[] {
  return findAll(boxes, path.split('/'), false);
}

function findAll(boxes: Box[], parts: string[], firstOnly: boolean): Box[] {
  const [head, ...rest] = parts;
  const out: Box[] = [];
  for (const b of boxes) {
    if (b.type !== head) continue;
    if (rest.length === 0) {
      out.push(b);
    } else if (b.children) {
      out.push(...findAll(b.children, rest, firstOnly));
    }
    if (firstOnly && out.length > 0) break;
  }
  return out;
}

/** The direct child of `box` with this type. */
export function childBox(box: Box, type: string): Box | undefined {
  return box.children?.find((c) => c.type === type);
}
