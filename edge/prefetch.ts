/**
 * Prefetch: when a segment or part is served, fetch the next one before a viewer asks, so the
 * second viewer never waits on the origin. "Next" comes from a CMCD `nor` key (Next Object
 * Request, CTA-5004) on the request — query `CMCD=` or header `CMCD-Request` — or else from what
 * the edge learnt when it filled the object: the origin's `CMSD-Static` `nor` (CTA-5006; the one
 * source for DASH, whose segment templates the edge does not read) or the order of URIs in the
 * last playlist it filled for that directory (segments, parts and the preload hint of LL-HLS).
 */
import { normalizePath } from '../src/http/cache-key.js';
import { cmcdQueryValue, nextObjectOf } from '../src/http/cmcd.js';

const MAX_ENTRIES = 20_000;

/** Media playlists and MPDs are what name the next object. */
function isManifestPath(path: string): boolean {
  return /\.(m3u8|mpd)$/i.test(path);
}

/** Resolve a URI reference against a base path (same origin; absolute URLs keep their path). */
export function resolveAgainst(basePath: string, ref: string): string | undefined {
  try {
    const u = new URL(ref, `http://edge${basePath}`);
    return normalizePath(u.pathname);
  } catch {
    return undefined;
  }
}

/** URIs of a media playlist in playback order: segments, parts, preload hints. */
export function playlistUris(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (/^#EXT-X-(PART|PRELOAD-HINT):/.test(line)) {
        const m = /URI="([^"]+)"/.exec(line);
        if (m) out.push(m[1]);
      }
      continue;
    }
    out.push(line);
  }
  return out;
}

/** Where the next object's name came from (the `source` label of edge_prefetches_total). */
export type PrefetchSource = 'cmcd' | 'cmsd' | 'playlist';

export class Prefetcher {
  private readonly next = new Map<string, { path: string; source: PrefetchSource }>();

  constructor(private readonly start: (target: string, source: PrefetchSource) => Promise<void>) {}

  /** An object was filled: its `CMSD-Static` names the next object (origin's `nor`), if it says. */
  onObject(target: string, cmsdStatic: string | undefined): void {
    const nor = nextObjectOf(cmsdStatic);
    // CTA-5006: a path relative to the object; an absolute URL (another host) is not followed
    if (nor === undefined || /^([a-z][a-z0-9+.-]*:|\/\/)/i.test(nor)) return;
    const path = target.split('?')[0];
    const next = resolveAgainst(path, nor);
    if (next === undefined || next === path || isManifestPath(next)) return;
    this.remember(path, { path: next, source: 'cmsd' });
  }

  private remember(path: string, next: { path: string; source: PrefetchSource }): void {
    this.next.delete(path);
    this.next.set(path, next);
    while (this.next.size > MAX_ENTRIES) this.next.delete(this.next.keys().next().value!);
  }

  static isPlaylist(target: string, contentType: string | undefined): boolean {
    const path = target.split('?')[0];
    return /\.m3u8$/i.test(path) || /mpegurl/i.test(contentType ?? '');
  }

  /** Remember the order of a playlist's URIs (paths without query); what the origin said (CMSD) stands. */
  onPlaylist(target: string, text: string): void {
    const base = target.split('?')[0];
    const uris = playlistUris(text)
      .map((u) => resolveAgainst(base, u))
      .filter((u): u is string => u !== undefined && !isManifestPath(u));
    for (let i = 0; i + 1 < uris.length; i++) {
      if (uris[i] === uris[i + 1] || this.next.get(uris[i])?.source === 'cmsd') continue;
      this.remember(uris[i], { path: uris[i + 1], source: 'playlist' });
    }
  }

  /** A request was served: prefetch what it says comes next. */
  onServed(target: string, rawUrl: string, headers: Record<string, string | string[] | undefined>): void {
    const path = target.split('?')[0];
    if (isManifestPath(path)) return;
    const q = rawUrl.indexOf('?');
    let cmcd: string | undefined;
    if (q !== -1) {
      for (const part of rawUrl.slice(q + 1).split('&')) {
        if (part.startsWith('CMCD=')) cmcd = cmcdQueryValue(part.slice(5));
      }
    }
    const h = headers['cmcd-request'];
    cmcd ??= Array.isArray(h) ? h.join(',') : h;
    const nor = nextObjectOf(cmcd);
    if (nor !== undefined) {
      const t = resolveAgainst(path, nor);
      if (t !== undefined) void this.start(t, 'cmcd').catch(() => undefined);
      return;
    }
    const n = this.next.get(path);
    if (n !== undefined) void this.start(n.path, n.source).catch(() => undefined);
  }
}
