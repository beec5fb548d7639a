/**
 * DASH Content Steering (DASH-IF CTS 001 / ETSI TS 103 998): an MPD names a steering server in a
 * `ContentSteering` element and offers each CDN as a `BaseURL` with its `serviceLocation`; the
 * client asks the server for a steering manifest (the same JSON as HLS Content Steering: VERSION,
 * TTL, RELOAD-URI, PATHWAY-PRIORITY, with `_DASH_pathway` and `_DASH_throughput` on the query)
 * every TTL seconds and fetches from the first service location of PATHWAY-PRIORITY it can.
 *
 * Unlike HLS, where one playlist with relative URIs is cloned onto each CDN's host, the MPD lists
 * every CDN's BaseURL in full: dash.js resolves a clone's host and port against the BaseURL it
 * copies, and a relative BaseURL has neither. So the MPD served for a request carries absolute
 * URLs built from the CDNs' base URLs and the path the MPD was asked for.
 */
import { escapeXml, unescapeXml } from './xml-element.js';

export interface ServiceLocation {
  /** The serviceLocation (a Pathway ID). */
  id: string;
  /** The CDN's base URL: scheme, host and port (`https://cdn-a.example.com`). */
  url: string;
}

export interface DashSteeringOptions {
  /** The steering server (relative URIs resolve against the MPD's own URL, so it is asked of the CDN that served the MPD). */
  serverUri: string;
  /** The CDNs, the default first. */
  locations: ServiceLocation[];
  /** The path the MPD was requested at (`/vod/movie/manifest.mpd`): relative BaseURLs resolve against it. */
  requestPath: string;
}

/** The MPD-level header: from after the `<MPD …>` start tag to the first `<Period`. */
const MPD_START = /<MPD\b[^>]*>/;
const BASE_URL = /[ \t]*<BaseURL\b[^>]*>([^<]*)<\/BaseURL>[ \t]*\r?\n?/g;

/**
 * The MPD with its MPD-level BaseURLs replaced by one absolute BaseURL per CDN (each with its
 * `serviceLocation`), and a `ContentSteering` element naming the server, the first CDN as the
 * default, and `queryBeforeStart` (the client asks the server before its first segment, so a CDN
 * that is down at start-up is never tried). The path each BaseURL carries is what the MPD's own
 * BaseURL resolved to against `requestPath` (an entry point's `v3/` stays in), or the MPD's
 * folder. A text without an MPD start tag, or without a Period, comes back as it was.
 */
export function withDashContentSteering(mpd: string, o: DashSteeringOptions): string {
  const start = MPD_START.exec(mpd);
  if (!start || o.locations.length === 0) return mpd;
  const headerFrom = start.index + start[0].length;
  const periodAt = mpd.indexOf('<Period', headerFrom);
  if (periodAt < 0) return mpd;
  const header = mpd.slice(headerFrom, periodAt);
  let first: string | undefined;
  const rest = header.replace(BASE_URL, (_m, text: string) => {
    first ??= unescapeXml(text.trim());
    return '';
  });
  const basePath = resolvedPath(first ?? '', o.requestPath);
  const lines = o.locations.map(
    (l) =>
      `  <BaseURL serviceLocation="${escapeXml(l.id)}">${escapeXml(`${l.url.replace(/\/+$/, '')}${basePath}`)}</BaseURL>`,
  );
  lines.push(
    `  <ContentSteering defaultServiceLocation="${escapeXml(o.locations[0].id)}" queryBeforeStart="true">${escapeXml(o.serverUri)}</ContentSteering>`,
  );
  return `${mpd.slice(0, headerFrom)}\n${lines.join('\n')}${rest.startsWith('\n') ? rest : `\n${rest}`}${mpd.slice(periodAt)}`;
}

/** The path `base` (a relative or absolute URL, or "") resolves to from `requestPath`. */
function resolvedPath(base: string, requestPath: string): string {
  const resolved = new URL(base, new URL(requestPath, 'http://mpd.invalid'));
  return resolved.pathname.replace(/[^/]*$/, '');
}

/**
 * The service locations a DASH client says it uses: `_DASH_pathway` is a quoted, comma-separated
 * list (dash.js sends every one it has fetched from, in the order it first used them).
 */
export function dashPathways(param: unknown): string[] {
  if (typeof param !== 'string') return [];
  return param
    .replace(/^"|"$/g, '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
}
