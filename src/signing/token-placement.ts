/**
 * Finding and removing the token in a request URL, so the cache key and the upstream request
 * are token-free (all viewers share one cached copy).
 *
 * Two placements:
 * - path:  `/t/<token>/vod/asset1/master.m3u8` → `/vod/asset1/master.m3u8`
 * - query: `/vod/asset1/master.m3u8?a=1&token=<token>&b=2` → `/vod/asset1/master.m3u8?a=1&b=2`
 *
 * Spelling: the canonical forms are the lowercase parameter name `token` and the lowercase first
 * path segment `t`. Percent-encoded spellings of the same characters are the same URL (RFC 3986
 * §6.2.2.2: `%74oken` is `token`, `/%74/` is `/t/`) and are accepted alike; other cases (`TOKEN`,
 * `/T/`) are different names, never a token (a request carrying only those is unsigned). Origin and
 * edge both call this function, so they accept exactly the same spellings; `redact.ts` hides every
 * spelling, accepted or not, from logs.
 *
 * Works on a request-target (`/path?query`, what node:http gives) or an absolute URL, and keeps
 * everything else byte-for-byte (no URL-class normalization, other parameters in order and
 * encoding). If both placements are present the path token wins and every `token=` parameter is
 * removed anyway, so no token ever reaches a cache key. Never throws.
 */
import { TOKEN_PARAM, TOKEN_PATH_SEGMENT, type TokenPlacement } from './issue.js';

export interface ExtractedToken {
  token?: string;
  placement?: TokenPlacement;
  /** The URL with the `/t/<token>` prefix and all `token=` parameters removed. */
  strippedUrl: string;
}

export interface SplitUrl {
  /** `scheme://authority` for absolute URLs, '' for a request-target. */
  origin: string;
  path: string;
  /** Without the leading '?'; undefined when there is no '?'. */
  query: string | undefined;
  /** Including the leading '#', or ''. */
  fragment: string;
}

const ABSOLUTE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/;

/** Splits a URL or request-target into its parts without normalizing anything. */
export function splitUrl(raw: string): SplitUrl {
  const m = ABSOLUTE.exec(raw);
  const origin = m ? m[0] : '';
  let rest = raw.slice(origin.length);
  let fragment = '';
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    fragment = rest.slice(hash);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf('?');
  return q >= 0
    ? { origin, path: rest.slice(0, q), query: rest.slice(q + 1), fragment }
    : { origin, path: rest, query: undefined, fragment };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // left as-is: verification reports it as malformed
  }
}

/** Is this raw (still percent-encoded) query parameter name the token parameter? */
export function isTokenParamName(rawName: string): boolean {
  return rawName === TOKEN_PARAM || (rawName.includes('%') && safeDecode(rawName) === TOKEN_PARAM);
}

/** Is this raw (still percent-encoded) first path segment the one that introduces a path token? */
export function isTokenPathSegment(rawSegment: string): boolean {
  return (
    rawSegment === TOKEN_PATH_SEGMENT || (rawSegment.includes('%') && safeDecode(rawSegment) === TOKEN_PATH_SEGMENT)
  );
}

export function extractToken(rawUrl: string): ExtractedToken {
  if (typeof rawUrl !== 'string') return { strippedUrl: '' };
  const u = splitUrl(rawUrl);
  let token: string | undefined;
  let placement: TokenPlacement | undefined;
  let path = u.path;

  const first = path.startsWith('/') ? path.indexOf('/', 1) : -1;
  if (first > 0 && isTokenPathSegment(path.slice(1, first))) {
    const end = path.indexOf('/', first + 1);
    const seg = end >= 0 ? path.slice(first + 1, end) : path.slice(first + 1);
    token = safeDecode(seg);
    placement = 'path';
    path = end >= 0 ? path.slice(end) : '/';
  }

  let query = u.query;
  if (query !== undefined && query.length > 0) {
    const kept: string[] = [];
    let removed = false;
    for (const part of query.split('&')) {
      const eq = part.indexOf('=');
      if (isTokenParamName(eq >= 0 ? part.slice(0, eq) : part)) {
        if (token === undefined) {
          token = safeDecode(eq >= 0 ? part.slice(eq + 1) : '');
          placement = 'query';
        }
        removed = true;
        continue;
      }
      kept.push(part);
    }
    if (removed) query = kept.length > 0 ? kept.join('&') : undefined;
  }

  const strippedUrl = `${u.origin}${path}${query !== undefined ? `?${query}` : ''}${u.fragment}`;
  const out: ExtractedToken = { strippedUrl };
  if (token !== undefined) {
    out.token = token;
    out.placement = placement!;
  }
  return out;
}
