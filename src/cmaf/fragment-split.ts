/**
 * Splitting one movie fragment (moof + mdat of a single track) in two at a sample boundary, so a
 * segment can start where an audio fragment from the encoder does not (VOD ad cues: the audio
 * starts its segment at the AAC frame nearest the video's key frame, not up to half a part away).
 * Each half is a self-contained CMAF chunk: mfhd, one traf (tfhd default-base-is-moof, tfdt, one
 * trun with every sample's duration, size and flags, and composition offsets when any is not 0),
 * then an mdat with exactly its samples' bytes.
 */
import { StreamedgeError } from '../errors.js';
import type { TrackFragmentInfo } from './fragment.js';
import { box, mdatHeader, mfhd, tfdt, tfhd, trun, type TrunSample } from './writers.js';

/** A chunk's two boxes. */
export interface Chunk {
  moof: Buffer;
  mdat: Buffer;
}

/**
 * The chunk `{moof, mdat}` (whose one track fragment is `traf`, as parseFragment read it) as two
 * chunks: samples [0, at) and [at, n). `sequence` numbers the halves' mfhd (the second gets one more).
 */
export function splitFragment(chunk: Chunk, traf: TrackFragmentInfo, at: number, sequence: number): [Chunk, Chunk] {
  const n = traf.samples.length;
  if (!(at > 0 && at < n)) {
    throw new StreamedgeError('BAD_FRAGMENT', `cannot split a fragment of ${n} samples at sample ${at}`);
  }
  if (traf.dataOffsetBase !== 'moof') {
    throw new StreamedgeError('BAD_FRAGMENT', 'cannot split a fragment whose data offsets are absolute in its file');
  }
  const first = traf.samples.slice(0, at);
  const before = first.reduce((t, s) => t + s.duration, 0);
  return [
    rebuild(chunk, traf, first, traf.baseDecodeTimeExact, sequence),
    rebuild(chunk, traf, traf.samples.slice(at), traf.baseDecodeTimeExact + BigInt(before), sequence + 1),
  ];
}

function rebuild(
  chunk: Chunk,
  traf: TrackFragmentInfo,
  samples: TrackFragmentInfo['samples'],
  decodeTime: bigint,
  sequence: number,
): Chunk {
  // sample offsets count from the first byte of the moof; the mdat follows it directly
  const data = samples.map((s) => {
    const at = s.offset - chunk.moof.length;
    if (at < 8 || at + s.size > chunk.mdat.length) {
      throw new StreamedgeError('BAD_FRAGMENT', 'a sample lies outside the mdat that follows its moof');
    }
    return chunk.mdat.subarray(at, at + s.size);
  });
  const withOffsets = samples.some((s) => s.compositionOffset !== 0);
  const rows: TrunSample[] = samples.map((s) => ({
    duration: s.duration,
    size: s.size,
    flags: s.flags,
    ...(withOffsets ? { compositionOffset: s.compositionOffset } : {}),
  }));
  const moofWith = (dataOffset: number): Buffer =>
    box(
      'moof',
      mfhd(sequence),
      box(
        'traf',
        tfhd({ trackId: traf.trackId, sampleDescriptionIndex: traf.sampleDescriptionIndex, defaultBaseIsMoof: true }),
        tfdt(decodeTime),
        trun({ dataOffset, samples: rows }),
      ),
    );
  const size = data.reduce((t, d) => t + d.length, 0);
  const header = mdatHeader(size);
  // the data offset's own size does not depend on its value: measure once, then write it
  const moof = moofWith(moofWith(0).length + header.length);
  return { moof, mdat: Buffer.concat([header, ...data], header.length + size) };
}
