/**
 * EXT-X-TARGETDURATION (RFC 8216bis 4.4.3.1): "The EXTINF duration of each Media Segment in a
 * Playlist file, when rounded to the nearest integer, MUST be less than or equal to the Target
 * Duration". So the target is the largest rounded duration.
 *
 * Durations are rounded the way they are printed in EXTINF first (5 decimals, see `extinf`),
 * because a client rounds the printed value: 2.4999996 prints as "2.50000" and rounds to 3.
 * Never less than 1 (a zero target duration would make live reload intervals meaningless).
 */
export function targetDuration(segmentSeconds: number[]): number {
  let max = 1;
  for (const s of segmentSeconds) {
    if (!Number.isFinite(s) || s < 0) continue;
    const printed = Number(s.toFixed(EXTINF_DECIMALS));
    max = Math.max(max, Math.round(printed));
  }
  return max;
}

/** Decimals used for EXTINF and EXT-X-PART DURATION values. */
export const EXTINF_DECIMALS = 5;

/** A duration in seconds as written in EXTINF / EXT-X-PART DURATION ("4.00000"). */
export function extinf(seconds: number): string {
  return seconds.toFixed(EXTINF_DECIMALS);
}
