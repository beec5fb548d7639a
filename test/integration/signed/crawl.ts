/**
 * A client that knows only a manifest URL and fetches everything it references, the way a
 * player resolves URIs (RFC 3986 against the URL it fetched), never adding a token itself.
 */
import { parse as parseMpd } from 'mpd-parser';
import { get, type Got } from './signed-helpers.js';

export interface Fetched {
  url: string;
  status: number;
  body: Buffer;
  kind: 'playlist' | 'init' | 'segment' | 'part' | 'mpd' | 'other';
}

/** URIs of an HLS playlist: URI lines and every URI="..." attribute. */
export function playlistUris(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      for (const m of line.matchAll(/URI="([^"]*)"/g)) out.push(m[1]);
      continue;
    }
    out.push(line);
  }
  return out;
}

function kindOf(u: string): Fetched['kind'] {
  const path = new URL(u).pathname;
  if (path.endsWith('.m3u8')) return 'playlist';
  if (path.endsWith('.mpd')) return 'mpd';
  if (path.endsWith('init.mp4')) return 'init';
  if (/seg-\d+\.\d+\.m4s$/.test(path)) return 'part';
  if (/seg-\d+\.m4s$/.test(path)) return 'segment';
  return 'other';
}

/** Fetches an HLS multivariant playlist and everything below it (each URL once). */
export async function crawlHls(masterUrl: string, opts: { skip?: (u: string) => boolean } = {}): Promise<Fetched[]> {
  const seen = new Map<string, Fetched>();
  const queue = [masterUrl];
  while (queue.length > 0) {
    const batch = queue.splice(0).filter((u) => !seen.has(u) && !(opts.skip?.(u) ?? false));
    const got = await Promise.all(batch.map(async (u) => [u, await get(u)] as [string, Got]));
    for (const [u, r] of got) {
      if (seen.has(u)) continue;
      const kind = kindOf(u);
      seen.set(u, { url: u, status: r.status, body: r.body, kind });
      if (kind === 'playlist' && r.status === 200) {
        for (const ref of playlistUris(r.text)) queue.push(new URL(ref, u).href);
      }
    }
  }
  return [...seen.values()];
}

/** What the crawler reads from an mpd-parser manifest. */
interface MpdPlaylist {
  segments?: { resolvedUri: string; map?: { resolvedUri?: string } }[];
}

interface MpdManifest {
  playlists: MpdPlaylist[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { playlists?: MpdPlaylist[] }>> };
}

/** Fetches a DASH MPD and every init and media segment its SegmentTemplates/timelines name. */
export async function crawlDash(mpdUrl: string): Promise<{ mpd: Got; fetched: Fetched[] }> {
  const mpd = await get(mpdUrl);
  const m = parseMpd(mpd.text, { manifestUri: mpdUrl }) as MpdManifest;
  const playlists: MpdPlaylist[] = [...m.playlists];
  for (const group of Object.values(m.mediaGroups?.AUDIO ?? {})) {
    for (const rendition of Object.values(group)) playlists.push(...(rendition.playlists ?? []));
  }
  const urls = new Set<string>();
  for (const p of playlists) {
    for (const s of p.segments ?? []) {
      if (s.map?.resolvedUri) urls.add(s.map.resolvedUri);
      urls.add(s.resolvedUri);
    }
  }
  const fetched = await Promise.all(
    [...urls].map(async (u) => {
      const r = await get(u);
      return { url: u, status: r.status, body: r.body, kind: kindOf(u) } satisfies Fetched;
    }),
  );
  return { mpd, fetched };
}
