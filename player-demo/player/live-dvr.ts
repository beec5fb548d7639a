/**
 * Live: whether the viewer's seek lands in the DVR window (no latency steering, no jump back to
 * the edge, a VOD-sized buffer ahead) or near the live edge.
 */

/**
 * How far behind the live edge a position is, in seconds: the larger of the edge as estimated
 * (its media time minus the position's) and the position's own latency (now − its PDT). LL-DASH
 * lists no edge, and its estimate (from the freshest chunk's arrival) can lag the real edge by
 * seconds after a pause; the far-behind check measures latency, so a seek judged by the estimate
 * alone was resynced away at once (seen in CI: 11.4 s behind, the seek lost). Null when neither
 * is known.
 */
export function secondsBehindLive(edgeBehindSec: number | null, latencySec: number | null): number | null {
  if (edgeBehindSec === null) return latencySec;
  if (latencySec === null) return edgeBehindSec;
  return Math.max(edgeBehindSec, latencySec);
}

/** A seek `behindSec` behind the edge is a DVR seek when past the resync limit (where catching up gives way). */
export function isDvrSeek(behindSec: number | null, resyncLimitSec: number): boolean {
  return behindSec !== null && behindSec > resyncLimitSec;
}
