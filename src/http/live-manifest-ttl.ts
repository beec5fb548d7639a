/**
 * How long a shared cache may reuse a live manifest (a live HLS playlist, a dynamic MPD): about
 * half a part, in the whole seconds HTTP freshness is counted in (RFC 9111 delta-seconds), and
 * at least one. The origin's cache headers give it (packager/origin/cache-headers.ts); a
 * low-latency MPD asks its players to refresh as often (its minimumUpdatePeriod, src/dash/mpd.ts):
 * more often would only find the same copy at an edge.
 */
export function liveManifestTtlSec(partDuration: number): number {
  return Math.max(1, Math.floor(partDuration / 2));
}
