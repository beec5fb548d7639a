/**
 * Folding a tiny trailing segment into the one before it (VOD only). The end of a source rarely
 * falls on a segment boundary: AAC's last frame (or a key frame forced a few frames before the
 * end) can leave a tail segment of a few milliseconds, whose bit rate would also dominate the
 * measured peak. A segment file is its parts' bytes with one leading styp, so the merged file is
 * the previous file followed by the tail without its styp.
 */
import type { Segment } from '../src/media/presentation.js';

/** Length of a leading styp box in a segment's bytes (0 if none). */
export function leadingStypLength(bytes: Buffer): number {
  if (bytes.length >= 8 && bytes.toString('latin1', 4, 8) === 'styp') return bytes.readUInt32BE(0);
  return 0;
}

/** The bytes to append to the previous segment file, and the merged Segment record. */
export function mergeTail(prev: Segment, tail: Segment, tailBytes: Buffer): { append: Buffer; merged: Segment } {
  const skip = leadingStypLength(tailBytes);
  const append = tailBytes.subarray(skip);
  const parts = [
    ...prev.parts,
    ...tail.parts.map((p, i) => ({ ...p, index: prev.parts.length + i, bytes: i === 0 ? p.bytes - skip : p.bytes })),
  ];
  const merged: Segment = {
    ...prev,
    duration: prev.duration + tail.duration,
    bytes: prev.bytes + append.length,
    parts,
  };
  if (prev.iframes || tail.iframes) {
    const shift = prev.bytes - skip;
    const prevFrames = (prev.iframes ?? []).map((f) => ({ ...f }));
    const last = prevFrames[prevFrames.length - 1];
    // The previous segment's last I-frame ran to its end; now it runs to the tail's first I-frame (or the new end).
    if (last && (tail.iframes?.length ?? 0) === 0) last.duration += tail.duration;
    merged.iframes = [...prevFrames, ...(tail.iframes ?? []).map((f) => ({ ...f, offset: f.offset + shift }))];
  }
  return { append, merged };
}
