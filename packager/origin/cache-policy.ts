/**
 * Cache-Control values the origin sends (RFC 9111), in one place.
 *
 * - Init and media segments/parts never change once published: a year + immutable.
 * - VOD manifests: long TTL. A republish switches the asset symlink to a new version; an edge
 *   drops the old manifests at once through a purge by `Surrogate-Key: <asset>`.
 * - Live playlists (non-blocking): "about half a part". HTTP freshness is whole seconds, so we
 *   send `max-age=0, s-maxage=floor(part/2)`: for 0.5 s parts that is 0, and an edge still
 *   collapses concurrent misses for one URL into a single fetch (coalescing needs no freshness);
 *   with longer parts shared caches may reuse it for half a part. Players use blocking reloads.
 * - Blocking-reload responses (`_HLS_msn` in the URL): the URL names a playlist version that
 *   contains at least the requested part, so any later copy answers it equally well; cacheable
 *   for several target durations (Apple's LL-HLS guidance: edge caches key them by full URL).
 * - DASH dynamic MPD: refreshed at minimumUpdatePeriod; same short TTL as live playlists.
 */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const VOD_MANIFEST = 'public, max-age=86400';

export function livePlaylistCacheControl(partDuration: number): string {
  const half = Math.floor(partDuration / 2);
  return `public, max-age=0, s-maxage=${half}`;
}

export function blockingReloadCacheControl(targetDuration: number): string {
  return `public, max-age=${Math.max(1, Math.round(6 * targetDuration))}`;
}

export const NO_STORE = 'no-store';
