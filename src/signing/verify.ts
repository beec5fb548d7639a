/**
 * Verifying signed-URL tokens. Pure and framework-agnostic: the origin and the edge call
 * `authorizeRequest` first thing, answer 403 with the reason code on failure, and use
 * `strippedUrl` (token removed) for the cache key and the upstream request.
 *
 * Nothing here throws on input: every failure is a `RejectReason`.
 *
 * Signature results are cached per token string (bounded, dropped when the key set changes), so a
 * viewer fetching hundreds of segments with one token pays for one signature check; the time,
 * scope and IP checks still run on every request.
 */
import { compactVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { StaticKeySet, TOKEN_ALGS, type KeySource, type TokenAlg, type VerificationKey } from './keys.js';
import { SCOPE_CLAIM, type TokenClaims, type TokenPlacement } from './issue.js';
import { extractToken, splitUrl } from './token-placement.js';
import { pathInScope } from './scope-match.js';
import { ipMatches, parseIpBinding, type IpBinding } from './ip-binding.js';

export type RejectReason =
  | 'missing'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_scope'
  | 'wrong_ip'
  | 'unknown_kid'
  | 'alg_not_allowed'
  /** A remote key set could not be fetched (yet): fail closed. */
  | 'key_unavailable';

/** Every reason code, e.g. to pre-create metric labels. */
export const REJECT_REASONS: readonly RejectReason[] = [
  'missing',
  'malformed',
  'bad_signature',
  'expired',
  'not_yet_valid',
  'wrong_scope',
  'wrong_ip',
  'unknown_kid',
  'alg_not_allowed',
  'key_unavailable',
];

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: RejectReason };

export interface VerifyContext {
  /** The request path, token already removed (a query string, if any, is ignored). */
  path: string;
  clientIp?: string;
  /** Override the clock (Date or epoch milliseconds); for tests and replays. */
  now?: Date | number;
}

export interface VerifierOptions {
  keys: KeySource | readonly VerificationKey[];
  /** Accepted clock skew for exp/nbf, in seconds (default 30). */
  clockToleranceSec?: number;
  /** Refuse tokens without an `ip` claim (default false: bind only when the token says so). */
  requireIpBinding?: boolean;
  /** Algorithm allowlist (default: whatever the keys can verify). `none` is never allowed. */
  algorithms?: readonly TokenAlg[];
  /** Verified-signature cache entries (default 10 000; 0 disables). */
  cacheSize?: number;
  /** Longer tokens are malformed without further work (default 4096 characters). */
  maxTokenLength?: number;
}

export interface Verifier {
  verify(token: string | undefined, ctx: VerifyContext): Promise<VerifyResult>;
}

interface CachedClaims {
  claims: TokenClaims;
  ip: IpBinding | undefined;
  generation: number;
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const MAX_CACHEABLE = 2048;

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Payload bytes → typed claims, or undefined when anything is off. */
function parseClaims(payload: Uint8Array): { claims: TokenClaims; ip: IpBinding | undefined } | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    return undefined;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const p = obj as Record<string, unknown>;
  const pfx = p[SCOPE_CLAIM];
  if (!isFiniteNumber(p.exp) || typeof pfx !== 'string' || !pfx.startsWith('/')) return undefined;
  if (p.nbf !== undefined && !isFiniteNumber(p.nbf)) return undefined;
  if (p.iat !== undefined && !isFiniteNumber(p.iat)) return undefined;
  for (const k of ['sub', 'sid'] as const) if (p[k] !== undefined && typeof p[k] !== 'string') return undefined;
  let ip: IpBinding | undefined;
  if (p.ip !== undefined) {
    ip = parseIpBinding(p.ip);
    if (!ip) return undefined;
  }
  const claims: TokenClaims = { exp: p.exp, pfx };
  if (p.nbf !== undefined) claims.nbf = p.nbf;
  if (p.iat !== undefined) claims.iat = p.iat;
  if (p.sub !== undefined) claims.sub = p.sub as string;
  if (p.sid !== undefined) claims.sid = p.sid as string;
  if (p.ip !== undefined) claims.ip = p.ip as string;
  return { claims, ip };
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether each dot-separated base64url segment is the one canonical text of its bytes (RFC 4648
 * 3.5: the unused bits of the last character are zero). Decoders ignore those bits, so without
 * this check one signature has up to four token strings.
 */
function canonicalSegments(token: string): boolean {
  let end = token.length;
  while (end > 0) {
    const start = token.lastIndexOf('.', end - 1) + 1;
    const rem = (end - start) % 4;
    if (rem === 1) return false;
    if (rem !== 0 && (B64URL.indexOf(token[end - 1]) & (rem === 2 ? 0x0f : 0x03)) !== 0) return false;
    end = start - 1;
  }
  return true;
}

export function createVerifier(options: VerifierOptions): Verifier {
  const source: KeySource = Array.isArray(options.keys)
    ? new StaticKeySet(options.keys as readonly VerificationKey[])
    : (options.keys as KeySource);
  const tolerance = Math.max(0, options.clockToleranceSec ?? 30);
  const requireIp = options.requireIpBinding ?? false;
  const maxLen = options.maxTokenLength ?? 4096;
  const cacheSize = Math.max(0, Math.floor(options.cacheSize ?? 10_000));
  const fixedAllow = options.algorithms ? new Set(options.algorithms.filter((a) => TOKEN_ALGS.includes(a))) : undefined;
  const cache = new Map<string, CachedClaims>();

  async function checkSignature(token: string): Promise<CachedClaims | RejectReason> {
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return 'malformed';
    }
    if (header === null || typeof header !== 'object') return 'malformed';
    const alg = header.alg;
    if (typeof alg !== 'string') return 'malformed';
    const allowed = fixedAllow ?? source.algorithms();
    if (!(allowed as ReadonlySet<string>).has(alg)) return 'alg_not_allowed';
    // Critical/unencoded-payload extensions are not ours: refuse rather than half-understand.
    if (header.crit !== undefined || header.b64 !== undefined) return 'malformed';
    const kid = header.kid;
    if (kid !== undefined && typeof kid !== 'string') return 'malformed';
    const generation = source.generation;
    const found = await source.lookup(alg as TokenAlg, kid);
    if (!found.ok) return found.reason;
    for (const key of found.keys) {
      let payload: Uint8Array;
      try {
        ({ payload } = await compactVerify(token, key.material(), { algorithms: [alg] }));
      } catch (e) {
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        return 'malformed';
      }
      const parsed = parseClaims(payload);
      if (!parsed) return 'malformed';
      return { ...parsed, generation };
    }
    return 'bad_signature';
  }

  async function verifyInner(token: string | undefined, ctx: VerifyContext): Promise<VerifyResult> {
    if (token === undefined || token === null || token === '') return { ok: false, reason: 'missing' };
    if (typeof token !== 'string') return { ok: false, reason: 'malformed' };
    if (token.length > maxLen || !COMPACT_JWS.test(token)) return { ok: false, reason: 'malformed' };
    if (!canonicalSegments(token)) return { ok: false, reason: 'malformed' };

    let entry = cacheSize > 0 ? cache.get(token) : undefined;
    if (entry && entry.generation !== source.generation) {
      cache.delete(token);
      entry = undefined;
    }
    if (!entry) {
      const checked = await checkSignature(token);
      if (typeof checked === 'string') return { ok: false, reason: checked };
      entry = checked;
      if (cacheSize > 0 && token.length <= MAX_CACHEABLE) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
        cache.set(token, entry);
      }
    }

    const { claims } = entry;
    const nowMs = ctx.now === undefined ? Date.now() : typeof ctx.now === 'number' ? ctx.now : ctx.now.getTime();
    if (!Number.isFinite(nowMs)) return { ok: false, reason: 'expired' };
    const now = Math.floor(nowMs / 1000);
    if (claims.exp <= now - tolerance) {
      cache.delete(token);
      return { ok: false, reason: 'expired' };
    }
    if (claims.nbf !== undefined && claims.nbf > now + tolerance) return { ok: false, reason: 'not_yet_valid' };
    if (typeof ctx.path !== 'string' || !pathInScope(splitUrl(ctx.path).path, claims.pfx)) {
      return { ok: false, reason: 'wrong_scope' };
    }
    if (entry.ip) {
      if (!ipMatches(entry.ip, ctx.clientIp)) return { ok: false, reason: 'wrong_ip' };
    } else if (requireIp) {
      return { ok: false, reason: 'wrong_ip' };
    }
    return { ok: true, claims };
  }

  return {
    async verify(token, ctx) {
      try {
        return await verifyInner(token, ctx);
      } catch {
        return { ok: false, reason: 'malformed' };
      }
    },
  };
}

export type AuthorizeResult =
  | { ok: true; strippedUrl: string; token: string; placement: TokenPlacement; claims: TokenClaims }
  | { ok: false; status: 403; reason: RejectReason };

/**
 * The one call origin and edge make first thing: find the token (path or query), verify it
 * against the token-free path, and hand back the token-free URL for the cache key and upstream.
 */
export async function authorizeRequest(
  verifier: Verifier,
  rawUrl: string,
  clientIp: string | undefined,
  now?: Date | number,
): Promise<AuthorizeResult> {
  try {
    const ex = extractToken(rawUrl);
    if (ex.token === undefined || ex.token.length === 0) return { ok: false, status: 403, reason: 'missing' };
    const ctx: VerifyContext = { path: splitUrl(ex.strippedUrl).path, clientIp };
    if (now !== undefined) ctx.now = now;
    const r = await verifier.verify(ex.token, ctx);
    if (!r.ok) return { ok: false, status: 403, reason: r.reason };
    return { ok: true, strippedUrl: ex.strippedUrl, token: ex.token, placement: ex.placement!, claims: r.claims };
  } catch {
    return { ok: false, status: 403, reason: 'malformed' };
  }
}

/** A ready 403 answer (short JSON body with the reason code; never cached). */
export function forbiddenResponse(reason: RejectReason): {
  status: 403;
  headers: Record<string, string>;
  body: string;
} {
  return {
    status: 403,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: 'forbidden', reason }),
  };
}
