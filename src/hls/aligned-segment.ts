/**
 * Matching a rendition numbered apart by time: a packager may give an audio playlist other media
 * sequence numbers than the video's (HLS does not require them alike), so the audio segment for
 * a video segment is found by program date-time. Shared by our player (where its audio loop
 * starts) and the load tester's viewers (the audio chunk fetched with each video chunk).
 */

/**
 * A listed segment: its media sequence number, program date-time (epoch ms) and duration (s).
 * `complete: false`: an LL-HLS segment still being produced, listed by its parts alone (no
 * EXTINF yet): its duration is what is listed so far (0 or a few parts), not its length.
 */
export interface DatedSegment {
  msn: number;
  pdt?: number;
  duration: number;
  complete?: boolean;
}

/**
 * The media sequence number of the segment of `segments` for media that starts at `atMs`: `hint`
 * (the same number, or the shift found before) when that segment starts within half a segment
 * of it, else any that does (segments start a few ms apart across renditions: AAC frames), else
 * the one whose span holds `atMs`; undefined when none is listed with a date there.
 *
 * A segment still being produced counts as `targetSec` long (the playlist's target duration):
 * its listed duration is only what it has so far. Counted by that (0 s in our player), the
 * segment being produced never started near anything, and a viewer joining a live channel in it
 * had its audio start one segment after its video: 2 s of video without sound, and the join
 * (where both tracks have media) a second or more closer to the edge than PART-HOLD-BACK.
 */
export function segmentStartingAt(
  atMs: number,
  segments: ReadonlyMap<number, DatedSegment>,
  hint: number,
  targetSec = 0,
): number | undefined {
  // (no closure: the load tester calls this once per chunk per viewer)
  if (startsNear(segments.get(hint), atMs, targetSec)) return hint;
  let holding: number | undefined;
  for (const s of segments.values()) {
    if (startsNear(s, atMs, targetSec)) return s.msn;
    if (s.pdt !== undefined && s.pdt <= atMs && atMs < s.pdt + spanSec(s, targetSec) * 1000) holding = s.msn;
  }
  return holding;
}

/** How long a segment counts as: a segment being produced, at least the target duration. */
export function spanSec(s: DatedSegment, targetSec: number): number {
  return s.complete === false ? Math.max(s.duration, targetSec) : s.duration;
}

function startsNear(s: DatedSegment | undefined, atMs: number, targetSec: number): boolean {
  return s?.pdt !== undefined && Math.abs(s.pdt - atMs) < spanSec(s, targetSec) * 500;
}
