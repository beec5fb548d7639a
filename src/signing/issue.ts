/**
 * Issuing signed-URL tokens (compact JWS/JWT, RFC 7519) and building the signed URL.
 *
 * Claims: `exp`, `nbf`, `iat` (seconds), `pfx` (the path-prefix scope the token grants),
 * optional `sub` (viewer id), `sid` (session id) and `ip` (client address or CIDR binding).
 * Short claim names keep the token small: it travels in every request URL.
 */
import { SignJWT } from 'jose';
import { StreamedgeError } from '../errors.js';
import type { SigningKey } from './keys.js';
import { parseIpBinding } from './ip-binding.js';

/** The private claim carrying the path-prefix scope. */
export const SCOPE_CLAIM = 'pfx';
/** The query parameter used for `?token=` placement. */
export const TOKEN_PARAM = 'token';
/** The first path segment that introduces a path-placed token: `/t/<token>/...`. */
export const TOKEN_PATH_SEGMENT = 't';

export interface TokenClaims {
  exp: number;
  nbf?: number;
  iat?: number;
  pfx: string;
  sub?: string;
  sid?: string;
  ip?: string;
}

export interface IssueTokenOptions {
  /** The path prefix the token grants, e.g. `/vod/asset1/` (segment-wise prefix match). */
  scope: string;
  /** Lifetime in seconds from `now`. */
  ttlSec: number;
  /** Token becomes valid this many seconds after `now` (default 0: valid immediately). */
  notBeforeSec?: number;
  viewerId?: string;
  sessionId?: string;
  /** Bind to one client address (`203.0.113.7`, `2001:db8::1`) or a CIDR (`203.0.113.0/24`). */
  clientIp?: string;
  /** Overrides the key's kid in the token header. */
  kid?: string;
  key: SigningKey;
  /** Issue time (default: now). */
  now?: Date;
}

/** Checks a scope prefix: absolute, printable, no dot-segments (a scope must mean what it says). */
export function validateScope(scope: string): string {
  if (typeof scope !== 'string' || !scope.startsWith('/')) {
    throw new StreamedgeError(
      'BAD_SCOPE',
      `a scope must be an absolute path prefix like /vod/asset1/ (got "${String(scope)}")`,
    );
  }
  if (/[\u0000-\u001f\u007f?#\\]/.test(scope) || scope.split('/').some((s) => s === '.' || s === '..')) {
    throw new StreamedgeError(
      'BAD_SCOPE',
      `a scope may not contain control characters, ?, #, \\ or dot-segments: "${scope}"`,
    );
  }
  return scope;
}

/**
 * The scope a signed path grants by default: a directory path (`/vod/asset1/`) is its own scope;
 * a file path grants its directory (`/vod/asset1/master.m3u8` → `/vod/asset1/`), so the player
 * can fetch the renditions, inits, segments and parts next to and below it.
 */
export function defaultScopeFor(path: string): string {
  const clean = path.split(/[?#]/, 1)[0];
  return clean.endsWith('/') ? clean : clean.slice(0, clean.lastIndexOf('/') + 1);
}

/** Signs a token. Throws StreamedgeError on bad options (this runs on trusted input). */
export async function issueToken(opts: IssueTokenOptions): Promise<string> {
  validateScope(opts.scope);
  if (!Number.isFinite(opts.ttlSec) || opts.ttlSec <= 0) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `the token lifetime must be a positive number of seconds (got ${opts.ttlSec})`,
    );
  }
  const notBefore = opts.notBeforeSec ?? 0;
  if (!Number.isFinite(notBefore) || notBefore < 0) {
    throw new StreamedgeError('BAD_OPTION', `not-before must be ≥ 0 seconds (got ${notBefore})`);
  }
  if (opts.clientIp !== undefined && parseIpBinding(opts.clientIp) === undefined) {
    throw new StreamedgeError('BAD_OPTION', `not an IP address or CIDR: "${opts.clientIp}"`);
  }
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const claims: Record<string, unknown> = { [SCOPE_CLAIM]: opts.scope };
  if (opts.viewerId !== undefined) claims.sub = opts.viewerId;
  if (opts.sessionId !== undefined) claims.sid = opts.sessionId;
  if (opts.clientIp !== undefined) claims.ip = opts.clientIp;
  const kid = opts.kid ?? opts.key.kid;
  return new SignJWT(claims)
    .setProtectedHeader(kid !== undefined ? { alg: opts.key.alg, kid } : { alg: opts.key.alg })
    .setIssuedAt(iat)
    .setNotBefore(iat + Math.floor(notBefore))
    .setExpirationTime(iat + Math.ceil(opts.ttlSec))
    .sign(opts.key.material());
}

export type TokenPlacement = 'path' | 'query';

/**
 * Builds the URL a player is given. `baseUrl` may be '' (a path-only URL), an origin
 * (`https://edge.example`) or an origin with a path prefix (`https://cdn.example/media`).
 *
 * - path:  `<base>/t/<token>/vod/asset1/master.m3u8` — relative URIs in playlists inherit it.
 * - query: `<base>/vod/asset1/master.m3u8?token=<token>` (other query parameters kept).
 */
export function signedUrl(baseUrl: string, path: string, token: string, placement: TokenPlacement = 'path'): string {
  if (!path.startsWith('/'))
    throw new StreamedgeError('BAD_OPTION', `the path to sign must start with / (got "${path}")`);
  const base = baseUrl.replace(/\/+$/, '');
  const enc = encodeURIComponent(token);
  if (placement === 'path') return `${base}/${TOKEN_PATH_SEGMENT}/${enc}${path}`;
  const hash = path.indexOf('#');
  const beforeHash = hash >= 0 ? path.slice(0, hash) : path;
  const fragment = hash >= 0 ? path.slice(hash) : '';
  const sep = beforeHash.includes('?') ? (beforeHash.endsWith('?') || beforeHash.endsWith('&') ? '' : '&') : '?';
  return `${base}${beforeHash}${sep}${TOKEN_PARAM}=${enc}${fragment}`;
}
