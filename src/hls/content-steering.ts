/**
 * HLS Content Steering (RFC 8216bis section 7 and Apple's Content Steering specification): a
 * multivariant playlist names a steering server (`EXT-X-CONTENT-STEERING:SERVER-URI=…`); the
 * client reloads the server's Steering Manifest (JSON) every TTL seconds, and plays from the
 * first Pathway of its `PATHWAY-PRIORITY` it can. Variants without a PATHWAY-ID are in the
 * default Pathway ".". A Pathway Clone copies a base Pathway's variants and renditions with
 * their URIs' host replaced (`URI-REPLACEMENT.HOST`; hls.js replaces the hostname and keeps the
 * port and scheme), which is how one playlist with relative URIs is offered over several CDNs.
 *
 * Shared by the origin (which writes the tag and serves the manifest) and the browser player
 * (which reads both).
 */
import { StreamedgeError } from '../errors.js';
import { attributeList, quoted } from './attribute-list.js';

/** Pathway IDs: letters, digits, '.', '-', '_' (the spec's alphabet). */
export const PATHWAY_ID = /^[A-Za-z0-9._-]{1,64}$/;
/** The Pathway of variants that name none. */
export const DEFAULT_PATHWAY = '.';

export interface UriReplacement {
  /** The hostname every URI of the clone gets. */
  HOST?: string;
  /** Query parameters added to every URI of the clone. */
  PARAMS?: Record<string, string>;
}

export interface PathwayClone {
  'BASE-ID': string;
  ID: string;
  'URI-REPLACEMENT': UriReplacement;
}

export interface SteeringManifest {
  VERSION: 1;
  /** Seconds until the client reloads the manifest. */
  TTL: number;
  /** Where to reload it from (relative to the manifest's own URL); default: the same URI. */
  'RELOAD-URI'?: string;
  /** Pathway IDs, the preferred first. */
  'PATHWAY-PRIORITY': string[];
  'PATHWAY-CLONES'?: PathwayClone[];
}

/** The `EXT-X-CONTENT-STEERING` line of a multivariant playlist. */
export function contentSteeringTag(serverUri: string, pathwayId?: string): string {
  if (pathwayId !== undefined && !PATHWAY_ID.test(pathwayId)) {
    throw new StreamedgeError('BAD_OPTION', `"${pathwayId}" is not a Pathway ID (letters, digits, ".", "-", "_")`);
  }
  const attrs: [string, ReturnType<typeof quoted>][] = [['SERVER-URI', quoted(serverUri)]];
  if (pathwayId !== undefined) attrs.push(['PATHWAY-ID', quoted(pathwayId)]);
  return `#EXT-X-CONTENT-STEERING:${attributeList(attrs)}`;
}

/**
 * A multivariant playlist with `tag` as its one EXT-X-CONTENT-STEERING: put after the header
 * lines (#EXTM3U, EXT-X-VERSION, EXT-X-INDEPENDENT-SEGMENTS), or in place of one it had. A text
 * that is not a multivariant playlist (no #EXTM3U first, or a media playlist) comes back as is.
 */
export function withContentSteering(playlist: string, tag: string): string {
  const lines = playlist.split('\n');
  if (lines[0]?.replace(/\r$/, '') !== '#EXTM3U') return playlist;
  if (lines.some((l) => l.startsWith('#EXTINF') || l.startsWith('#EXT-X-TARGETDURATION'))) return playlist;
  const kept = lines.filter((l) => !l.startsWith('#EXT-X-CONTENT-STEERING'));
  let at = 1;
  while (at < kept.length && /^#EXT-X-(VERSION|INDEPENDENT-SEGMENTS)\b/.test(kept[at])) at++;
  kept.splice(at, 0, tag);
  return kept.join('\n');
}

/** The SERVER-URI and PATHWAY-ID of a playlist's EXT-X-CONTENT-STEERING, or undefined. */
export function readContentSteering(playlist: string): { serverUri: string; pathwayId?: string } | undefined {
  const line = playlist.split('\n').find((l) => l.startsWith('#EXT-X-CONTENT-STEERING:'));
  if (!line) return undefined;
  const uri = /(?:^|[:,])SERVER-URI="([^"]*)"/.exec(line)?.[1];
  if (uri === undefined) return undefined;
  const pathwayId = /(?:^|[:,])PATHWAY-ID="([^"]*)"/.exec(line)?.[1];
  return { serverUri: uri, ...(pathwayId !== undefined ? { pathwayId } : {}) };
}

/** Checks a Steering Manifest as a client reads it; throws BAD_STEERING naming what is wrong. */
export function parseSteeringManifest(json: unknown): SteeringManifest {
  const bad = (why: string): never => {
    throw new StreamedgeError('BAD_STEERING', `steering manifest: ${why}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return bad('not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.VERSION !== 1) return bad(`VERSION ${String(o.VERSION)} (only 1 is known)`);
  const ttl = o.TTL;
  if (typeof ttl !== 'number' || !(ttl > 0)) return bad('TTL must be a positive number of seconds');
  const priority = o['PATHWAY-PRIORITY'];
  if (!Array.isArray(priority) || priority.length === 0) return bad('PATHWAY-PRIORITY must be a non-empty list');
  for (const id of priority) if (typeof id !== 'string' || !PATHWAY_ID.test(id)) bad(`bad Pathway ID ${String(id)}`);
  if (new Set(priority).size !== priority.length) bad('PATHWAY-PRIORITY lists a Pathway twice');
  const out: SteeringManifest = { VERSION: 1, TTL: ttl, 'PATHWAY-PRIORITY': priority as string[] };
  if (o['RELOAD-URI'] !== undefined) {
    if (typeof o['RELOAD-URI'] !== 'string') bad('RELOAD-URI must be a string');
    out['RELOAD-URI'] = o['RELOAD-URI'] as string;
  }
  const clones = o['PATHWAY-CLONES'];
  if (clones !== undefined) {
    if (!Array.isArray(clones)) return bad('PATHWAY-CLONES must be a list');
    out['PATHWAY-CLONES'] = clones.map((c: unknown) => {
      const x = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
      const id = x.ID;
      const base = x['BASE-ID'];
      if (typeof id !== 'string' || !PATHWAY_ID.test(id)) return bad(`a clone's ID ${String(id)}`);
      if (typeof base !== 'string' || !PATHWAY_ID.test(base)) return bad(`clone ${id}: BASE-ID ${String(base)}`);
      const r = (x['URI-REPLACEMENT'] ?? {}) as Record<string, unknown>;
      const rep: UriReplacement = {};
      if (r.HOST !== undefined) {
        if (typeof r.HOST !== 'string' || r.HOST === '') return bad(`clone ${id}: HOST must be a hostname`);
        rep.HOST = r.HOST;
      }
      if (r.PARAMS !== undefined) {
        if (typeof r.PARAMS !== 'object' || r.PARAMS === null) return bad(`clone ${id}: PARAMS must be an object`);
        rep.PARAMS = Object.fromEntries(Object.entries(r.PARAMS).map(([k, v]) => [k, String(v)]));
      }
      return { 'BASE-ID': base, ID: id, 'URI-REPLACEMENT': rep };
    });
  }
  return out;
}

// ------------------------------------------------------------------------- a client's side
// (our browser player, player-demo/player/pathway-steering.ts, and the load tester's viewers,
// bench/loadtest/steering.ts)

/**
 * Where a client asks its steering server: the manifest's URI with the Pathway it is on
 * (`_HLS_pathway`) and, once it has one, its throughput estimate in bit/s (`_HLS_throughput`).
 */
export function steeringRequestUrl(uri: string, pathway: string, throughputBps: number): URL {
  const url = new URL(uri);
  url.searchParams.set('_HLS_pathway', pathway);
  if (throughputBps > 0) url.searchParams.set('_HLS_throughput', String(Math.round(throughputBps)));
  return url;
}

/** Where the next reload goes: the manifest's RELOAD-URI (relative to the URL asked), else `uri` as it was. */
export function nextSteeringUri(m: SteeringManifest, asked: URL, uri: string): string {
  return m['RELOAD-URI'] !== undefined ? new URL(m['RELOAD-URI'], asked).href : uri;
}

/**
 * Adds a manifest's clones of the default Pathway (the only base our playlists have) to
 * `clones`; a clone already known keeps its first definition, as the specification asks.
 */
export function learnClones(clones: Map<string, UriReplacement>, m: SteeringManifest): void {
  for (const c of m['PATHWAY-CLONES'] ?? []) {
    if (c['BASE-ID'] === DEFAULT_PATHWAY && !clones.has(c.ID)) clones.set(c.ID, c['URI-REPLACEMENT']);
  }
}

/** A URI of a base Pathway as its clone has it: the hostname replaced, the clone's parameters added. */
export function cloneUri(absoluteUri: string, replacement: UriReplacement): string {
  const url = new URL(absoluteUri);
  if (replacement.HOST !== undefined) url.hostname = replacement.HOST;
  for (const [k, v] of Object.entries(replacement.PARAMS ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    url.searchParams.set(k, v);
  }
  return url.href;
}
