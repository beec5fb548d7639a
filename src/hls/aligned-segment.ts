/**
 * Matching a rendition numbered apart by time: a packager may give an audio playlist other media
 * sequence numbers than the video's (HLS does not require them alike), so the audio segment for
 * a video segment is found by program date-time. Shared by our player (where its audio loop
 * starts) and the load tester's viewers (the audio chunk fetched with each video chunk).
 */

/** A listed segment: its media sequence number, program date-time (epoch ms) and duration (s). */
export interface DatedSegment {
  msn: number;
  pdt?: number;
  duration: number;
}

/**
 * The media sequence number of the segment of `segments` for media that starts at `atMs`: `hint`
 * (the same number, or the shift found before) when that segment starts within half a segment
 * of it, else any that does (segments start a few ms apart across renditions: AAC frames), else
 * the one whose span holds `atMs`; undefined when none is listed with a date there.
 */
export function segmentStartingAt(
  atMs: number,
  segments: ReadonlyMap<number, DatedSegment>,
  hint: number,
): number | undefined {
  // (no closure: the load tester calls this once per chunk per viewer)
  if (startsNear(segments.get(hint), atMs)) return hint;
  let holding: number | undefined;
  for (const s of segments.values()) {
    if (startsNear(s, atMs)) return s.msn;
    if (s.pdt !== undefined && s.pdt <= atMs && atMs < s.pdt + s.duration * 1000) holding = s.msn;
  }
  return holding;
}

function startsNear(s: DatedSegment | undefined, atMs: number): boolean {
  return s?.pdt !== undefined && Math.abs(s.pdt - atMs) < s.duration * 500;
}
