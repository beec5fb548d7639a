/**
 * DASH SegmentBase (ISO/IEC 23009-1 §5.3.9.2): a Representation that is one file, its init
 * segment at `Initialization@range` and its (sub)segments indexed by the sidx box at
 * `@indexRange` (ISO/IEC 14496-12 §8.16.3). This is what on-demand profile packagers write:
 * Shaka Packager's VOD default, MP4Box `-profile onDemand`, ffmpeg `-movflags global_sidx`.
 * mpd-parser reads the MPD side (`playlist.sidx`); the client fetches the index range and this
 * turns it into segments with their byte ranges. Shared by our player (browser) and the load
 * tester (Node): it reads through src/cmaf/sidx.ts, which uses no Node API.
 */
import { parseSidxPayload } from '../cmaf/sidx.js';
import { StreamedgeError } from '../errors.js';
import type { ByteRange } from '../hls/listed-byte-range.js';

/** A SegmentBase Representation as mpd-parser gives it (`playlist.sidx`). */
export interface MpdSegmentBase {
  resolvedUri: string;
  /** `@indexRange`: where the sidx is. */
  byterange: ByteRange;
  /** `Initialization@range` (the init segment), in the same file. */
  map?: { resolvedUri?: string; byterange?: ByteRange };
}

/**
 * Where an indexed segment starts in the presentation (s): its Period's start, plus its media time
 * (the sidx's) less the Representation's SegmentBase@presentationTimeOffset in seconds (ISO/IEC
 * 23009-1 §5.3.9.2; `baseOffsets` of src/dash/segment-template.ts readSegmentInfo). A file whose
 * timestamps run on across Periods says so with that offset; one that starts at 0 has none.
 */
export function indexedStartSec(mediaStartSec: number, periodStartSec: number, offsetSec: number): number {
  return periodStartSec + mediaStartSec - offsetSec;
}

export interface IndexedSegment {
  /** Media time of its first sample (the sidx's earliest presentation time on), seconds. */
  startSec: number;
  durationSec: number;
  /** Its bytes in the Representation's file. */
  range: ByteRange;
}

/**
 * The segments the sidx at the start of `index` (the bytes of `indexRange` of `url`) lists.
 * Offsets count from the first byte after the sidx box plus its first_offset (§8.16.3.3).
 * Throws INDEX_UNREADABLE naming `url` when the range holds no sidx, is cut short, or indexes
 * other sidx boxes (a hierarchical index, which single-file packagers do not write).
 */
export function segmentsFromIndex(index: Uint8Array, indexRange: ByteRange, url: string): IndexedSegment[] {
  const where = `${url} bytes ${indexRange.offset}-${indexRange.offset + indexRange.length - 1}`;
  const fail = (why: string): never => {
    throw new StreamedgeError('INDEX_UNREADABLE', `the SegmentBase index at ${where} ${why}`);
  };
  if (index.length < 8) fail(`is ${index.length} bytes: too short for a box`);
  const view = new DataView(index.buffer, index.byteOffset, index.byteLength);
  const size = view.getUint32(0);
  const type = String.fromCharCode(index[4], index[5], index[6], index[7]);
  if (type !== 'sidx') fail(`holds a "${type}" box, not a sidx`);
  if (size < 8 || size > index.length) fail(`holds a sidx of ${size} bytes, ${index.length} arrived`);
  let sidx;
  try {
    sidx = parseSidxPayload(index.subarray(8, size));
  } catch (e) {
    return fail(`is not a readable sidx: ${(e as Error).message}`);
  }
  if (sidx.timescale === 0) fail('has a timescale of 0');
  if (sidx.references.some((r) => r.referenceType === 1)) fail('refers to other sidx boxes (a hierarchical index)');
  let offset = indexRange.offset + size + sidx.firstOffset;
  let t = sidx.earliestPresentationTime;
  return sidx.references.map((r) => {
    const segment = {
      startSec: t / sidx.timescale,
      durationSec: r.duration / sidx.timescale,
      range: { offset, length: r.size },
    };
    offset += r.size;
    t += r.duration;
    return segment;
  });
}
