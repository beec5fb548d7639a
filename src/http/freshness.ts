/**
 * Shared-cache freshness and storability (RFC 9111 §3, §4.2; RFC 9213; RFC 5861; RFC 8246),
 * from the point of view of a CDN: the field targeted at it (CDN-Cache-Control, a structured-field
 * Dictionary ignored when invalid; else Surrogate-Control) takes precedence over Cache-Control
 * and Expires. A response without an explicit lifetime gets a heuristic one (RFC 9111 §4.2.2)
 * when its status is heuristically cacheable and it has a Last-Modified: 10% of the time since
 * then, at most a day; otherwise it is not stored (except negative caching of 404/410).
 */
import {
  type Directives,
  deltaSeconds,
  parseCacheControl,
  parseSurrogateControl,
  parseTargetedCacheControl,
} from './cache-control.js';
import { type CacheKeyPolicy, DEFAULT_CACHE_KEY_POLICY, parseVary } from './cache-key.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

function header(h: HeaderBag, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export type DirectiveSource = 'cdn-cache-control' | 'surrogate-control' | 'cache-control';

/**
 * The directives that govern a CDN: CDN-Cache-Control, else Surrogate-Control, else
 * Cache-Control. A CDN-Cache-Control that is empty or not a valid structured-field Dictionary is
 * ignored as if absent (RFC 9213 §2.1).
 */
export function targetedDirectives(h: HeaderBag): { source: DirectiveSource; directives: Directives } {
  const cdn = parseTargetedCacheControl(h['cdn-cache-control']);
  if (cdn !== undefined) return { source: 'cdn-cache-control', directives: cdn };
  const sur = header(h, 'surrogate-control');
  if (sur !== undefined && sur.trim() !== '')
    return { source: 'surrogate-control', directives: parseSurrogateControl(sur) };
  return { source: 'cache-control', directives: parseCacheControl(header(h, 'cache-control')) };
}

/** An HTTP-date (IMF-fixdate and the obsolete forms Date.parse understands) → epoch ms. */
const HTTP_DATE = [
  /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/, // IMF-fixdate
  /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/, // obsolete RFC 850
  /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/, // obsolete asctime
];

export function parseHttpDate(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const text = v.trim();
  if (!HTTP_DATE.some((re) => re.test(text))) return undefined;
  const t = Date.parse(/GMT$/.test(text) ? text : `${text} GMT`);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Freshness lifetime in seconds (RFC 9111 §4.2.1 for a shared cache), or undefined when the
 * response carries none. An invalid Expires (`0`, garbage) means "already expired" (0, §5.3);
 * without Date, Expires counts from when the response arrived (`responseTime`).
 */
export function freshnessLifetime(h: HeaderBag, responseTime = Date.now()): number | undefined {
  const { source, directives } = targetedDirectives(h);
  if (source !== 'cache-control') return deltaSeconds(directives, 'max-age');
  const sMax = deltaSeconds(directives, 's-maxage');
  if (sMax !== undefined) return sMax;
  const max = deltaSeconds(directives, 'max-age');
  if (max !== undefined) return max;
  const expiresRaw = header(h, 'expires');
  if (expiresRaw !== undefined) {
    const expires = parseHttpDate(expiresRaw);
    if (expires === undefined) return 0;
    const date = parseHttpDate(header(h, 'date')) ?? responseTime;
    return Math.max(0, Math.floor((expires - date) / 1000));
  }
  return undefined;
}

/** Statuses cacheable by default, so heuristic freshness may apply (RFC 9110 §15.1). */
const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 410]);
/** Longest heuristic lifetime: one day (the common practice; RFC 9111 §4.2.2 leaves it open). */
const MAX_HEURISTIC_SECONDS = 86_400;

/**
 * Heuristic freshness (RFC 9111 §4.2.2) for a response with no explicit lifetime: 10% of the
 * time since Last-Modified, at most a day; undefined without a usable Last-Modified.
 */
function heuristicLifetime(status: number, h: HeaderBag, responseTime = Date.now()): number | undefined {
  if (!HEURISTIC_STATUSES.has(status)) return undefined;
  const lm = parseHttpDate(header(h, 'last-modified'));
  if (lm === undefined) return undefined;
  const date = parseHttpDate(header(h, 'date')) ?? responseTime;
  if (lm > date) return undefined;
  return Math.min(MAX_HEURISTIC_SECONDS, Math.floor((date - lm) / 10_000));
}

/** Status codes this cache understands well enough to store (with explicit freshness). */
export const STORABLE_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 302, 307, 308, 404, 410]);

export interface StoragePolicy {
  keyPolicy: CacheKeyPolicy;
  /** Seconds a 404/410 without explicit freshness is kept (0 = not stored). */
  negativeTtl: number;
}

export const DEFAULT_STORAGE_POLICY: StoragePolicy = { keyPolicy: DEFAULT_CACHE_KEY_POLICY, negativeTtl: 5 };

export type StorageDecision =
  | { store: false; reason: string }
  | {
      store: true;
      /** Seconds the response is fresh for, counted from its generation (subtract the age). */
      lifetime: number;
      /** Seconds after staleness during which it may be served while revalidating. */
      staleWhileRevalidate: number;
      /** Seconds after staleness during which it may be served if the upstream fails. */
      staleIfError: number;
      immutable: boolean;
    };

/**
 * May a shared cache store this response to a GET (RFC 9111 §3, §3.5), and for how long?
 */
export function storageDecision(
  req: { headers: HeaderBag },
  res: { status: number; headers: HeaderBag },
  policy: StoragePolicy = DEFAULT_STORAGE_POLICY,
): StorageDecision {
  if (res.status >= 500) return { store: false, reason: 'status-5xx' };
  if (!STORABLE_STATUSES.has(res.status)) return { store: false, reason: `status-${res.status}` };
  const { source, directives } = targetedDirectives(res.headers);
  const cc = parseCacheControl(header(res.headers, 'cache-control'));
  if (directives.has('no-store')) return { store: false, reason: 'no-store' };
  if (source === 'cache-control' && directives.has('private')) return { store: false, reason: 'private' };
  if (header(req.headers, 'authorization') !== undefined) {
    // §3.5: only with an explicit permission for shared caches
    if (!cc.has('public') && !cc.has('s-maxage') && !cc.has('must-revalidate') && source === 'cache-control') {
      return { store: false, reason: 'authorization' };
    }
  }
  // variants are keyed by the response's Vary (cache-key.ts variantKey); `Vary: *` matches nothing
  if (parseVary(header(res.headers, 'vary')) === '*') return { store: false, reason: 'vary' };
  if (header(res.headers, 'set-cookie') !== undefined) return { store: false, reason: 'set-cookie' };

  let lifetime = freshnessLifetime(res.headers) ?? heuristicLifetime(res.status, res.headers);
  if (directives.has('no-cache')) {
    // stored, but must be revalidated before every use: only worth it with a validator
    if (header(res.headers, 'etag') === undefined && header(res.headers, 'last-modified') === undefined) {
      return { store: false, reason: 'no-cache-without-validator' };
    }
    lifetime = 0;
  }
  if (lifetime === undefined) {
    if ((res.status === 404 || res.status === 410) && policy.negativeTtl > 0) lifetime = policy.negativeTtl;
    else return { store: false, reason: 'no-explicit-freshness' };
  }
  // never served stale (RFC 9111 §4.2.4): must-revalidate, proxy-revalidate, and an applicable
  // s-maxage, which incorporates proxy-revalidate for a shared cache (§5.2.2.10); s-maxage in
  // Cache-Control does not apply when a targeted field governs instead (RFC 9213 §2.2)
  const mustRevalidate =
    directives.has('must-revalidate') ||
    directives.has('proxy-revalidate') ||
    (source === 'cache-control' && directives.has('s-maxage'));
  return {
    store: true,
    lifetime,
    staleWhileRevalidate: mustRevalidate ? 0 : (deltaSeconds(directives, 'stale-while-revalidate') ?? 0),
    staleIfError: mustRevalidate ? 0 : (deltaSeconds(directives, 'stale-if-error') ?? 0),
    immutable: directives.has('immutable'),
  };
}

/**
 * RFC 9111 §4.2.3 corrected initial age, in seconds, of a response received at `responseTime`
 * for a request sent at `requestTime` (both epoch ms).
 */
export function correctedInitialAge(h: HeaderBag, requestTime: number, responseTime: number): number {
  // §5.1: a list-valued Age uses its first member; an invalid one is ignored; overflow is 2^31
  const ageRaw = header(h, 'age')?.split(',')[0];
  const ageValue = ageRaw !== undefined && /^\s*\d+\s*$/.test(ageRaw) ? Math.min(Number(ageRaw.trim()), 2147483648) : 0;
  const date = parseHttpDate(header(h, 'date'));
  // Date has one-second resolution: take the latest instant it can denote, so a response
  // generated just now is not up to a second old on arrival (that would expire max-age=1 at once)
  const apparentAge = date === undefined ? 0 : Math.max(0, (responseTime - (date + 999)) / 1000);
  const responseDelay = Math.max(0, (responseTime - requestTime) / 1000);
  const correctedAgeValue = ageValue + responseDelay;
  return Math.max(apparentAge, correctedAgeValue);
}

/** RFC 9111 §4.2.3 current_age = corrected_initial_age + resident_time (seconds). */
export function currentAge(initialAge: number, responseTime: number, now: number): number {
  return initialAge + Math.max(0, (now - responseTime) / 1000);
}

/** The Age header value: whole seconds, never negative (RFC 9111 §5.1). */
export function ageHeaderValue(ageSeconds: number): string {
  return String(Math.max(0, Math.floor(ageSeconds)));
}

export type Staleness = 'fresh' | 'stale-while-revalidate' | 'stale-if-error-only' | 'stale';

/** Where an entry stands at `now`, given its absolute deadlines (epoch ms). */
export function staleness(entry: { expiresAt: number; swrUntil: number; sieUntil: number }, now: number): Staleness {
  if (now < entry.expiresAt) return 'fresh';
  if (now < entry.swrUntil) return 'stale-while-revalidate';
  if (now < entry.sieUntil) return 'stale-if-error-only';
  return 'stale';
}

/**
 * Does a client request force revalidation (request `Cache-Control: no-cache` or `max-age=0`)?
 * An immutable response still fresh is never revalidated (RFC 8246).
 */
export function requestForcesRevalidation(
  reqHeaders: HeaderBag,
  stored: { immutable: boolean; fresh: boolean },
): boolean {
  if (stored.immutable && stored.fresh) return false;
  const d = parseCacheControl(header(reqHeaders, 'cache-control'));
  if (d.has('no-cache')) return true;
  if (deltaSeconds(d, 'max-age') === 0) return true;
  return /\bno-cache\b/i.test(header(reqHeaders, 'pragma') ?? '') && header(reqHeaders, 'cache-control') === undefined;
}
