/**
 * Cache-Control values the origin sends (RFC 9111), in one place.
 *
 * - Init and media segments/parts never change once published: a year + immutable.
 * - Versioned VOD assets (packager/publish.ts): everything under `/vod/<asset>/v<N>/` never
 *   changes, manifests included: immutable. The entry points (`master.m3u8`, `manifest.mpd`)
 *   and the unversioned rendition URLs follow the current version: short-lived, revalidated by
 *   ETag/Last-Modified; after a re-publish an edge drops them by a purge of those two URLs.
 * - VOD manifests of an asset published before versioned URLs: long TTL, as before.
 * - Live playlists (non-blocking): "about half a part", for shared caches only. HTTP freshness is
 *   whole seconds, so `max-age=0, s-maxage=max(1, floor(part/2))`: an edge may reuse a playlist
 *   for (at least) a second, which turns every plain poller of one version into one origin
 *   request (with s-maxage=0 an edge could only collapse requests arriving while a fetch was in
 *   flight: ~6 origin requests per version in bench/loadtest). LL-HLS players are not slowed by
 *   it: they ask for new parts with blocking reloads, whose URLs are distinct cache keys.
 *   For CDN caches only (RFC 9213 `CDN-Cache-Control`, which such a cache obeys over
 *   Cache-Control, and browsers ignore), the same freshness plus as long again of
 *   `stale-while-revalidate` (RFC 5861): the requests that reach an edge at a version's expiry
 *   are answered from the copy it holds while one refetch runs, instead of all waiting for that
 *   refetch (with 5,000 plain-HLS viewers on one edge, 0.6–1.5 % of all requests, and its
 *   playlist TTFB tail). A poller gets a copy at most the refetch's time older than without it;
 *   a browser player never gets a stale playlist from its own cache.
 * - Blocking-reload responses (`_HLS_msn` in the URL): the URL names a playlist version that
 *   contains at least the requested part, so any later copy answers it equally well; cacheable
 *   for several target durations (Apple's LL-HLS guidance: edge caches key them by full URL).
 * - DASH dynamic MPD: refreshed at minimumUpdatePeriod (with low latency, that TTL itself: see
 *   src/dash/mpd.ts); same short TTL as live playlists. With low latency, no
 *   stale-while-revalidate: a low-latency MPD names the segment in production,
 *   and a copy a refetch older could still name the one before, which the player has (it would
 *   wait for its next update, a segment later, to learn of the new one).
 */
import { liveManifestTtlSec } from '../../src/http/live-manifest-ttl.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
export const VOD_MANIFEST = 'public, max-age=86400';
export const VOD_ENTRY_POINT = 'public, max-age=30';

export function livePlaylistCacheControl(partDuration: number): string {
  return `public, max-age=0, s-maxage=${liveManifestTtlSec(partDuration)}`;
}

/** The `CDN-Cache-Control` of a live playlist (see above). */
export function livePlaylistCdnCacheControl(partDuration: number): string {
  const ttl = liveManifestTtlSec(partDuration);
  return `max-age=${ttl}, stale-while-revalidate=${ttl}`;
}

/** The `CDN-Cache-Control` of a live MPD (see above). */
export function liveMpdCdnCacheControl(partDuration: number, lowLatency: boolean): string {
  return lowLatency ? `max-age=${liveManifestTtlSec(partDuration)}` : livePlaylistCdnCacheControl(partDuration);
}

export function blockingReloadCacheControl(targetDuration: number): string {
  return `public, max-age=${Math.max(1, Math.round(6 * targetDuration))}`;
}
