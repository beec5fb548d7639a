/**
 * The edge's freshness policy: turns an upstream response into store metadata (expiry, stale
 * windows, surrogate keys, the corrected initial age), refreshes it on a 304, and reads an
 * entry back (age, ttl, staleness) when serving it.
 *
 * Extra per-entry facts ride in the stored headers under pseudo-header names that start with
 * ':' (no HTTP/1.1 field name can), and are stripped before headers are replayed.
 */
import type { ObjectMeta } from './store/index.js';
import type { CacheKeyPolicy } from '../src/http/cache-key.js';
import {
  type HeaderBag,
  type Staleness,
  type StorageDecision,
  correctedInitialAge,
  currentAge,
  staleness,
  storageDecision,
  targetedDirectives,
} from '../src/http/freshness.js';
import { NOT_MODIFIED_HEADERS } from '../src/http/conditional.js';
import { HOP_BY_HOP_FIELDS } from '../src/http/hop-by-hop.js';
import { CMSD_DYNAMIC } from '../src/http/cmsd.js';

const P_AGE = ':initial-age';
const P_SWR = ':swr';
const P_SIE = ':sie';
const P_IMMUTABLE = ':immutable';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1), fields a proxy recomputes, and `CMSD-Dynamic` (CTA-5006:
 * each hop's own, true of the moment it was sent): never stored or replayed.
 */
const HOP_BY_HOP = new Set([
  ...HOP_BY_HOP_FIELDS,
  'age',
  'content-length',
  'cache-status',
  'x-request-id',
  CMSD_DYNAMIC,
]);

export interface EdgeCachePolicy {
  keyPolicy: CacheKeyPolicy;
  /** Seconds to keep a 404/410 that says nothing about freshness. */
  negativeTtl: number;
  /** Seconds to keep an expired entry that has validators, so it can be revalidated with a 304. */
  keepForRevalidation: number;
}

/** Headers worth storing and replaying from an upstream response (lowercase, joined). */
export function storableHeaders(h: HeaderBag, connectionTokens: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  const conn = new Set(connectionTokens.map((t) => t.trim().toLowerCase()));
  for (const [name, value] of Object.entries(h)) {
    const n = name.toLowerCase();
    if (value === undefined || HOP_BY_HOP.has(n) || conn.has(n) || n.startsWith(':')) continue;
    out[n] = Array.isArray(value) ? (n === 'set-cookie' ? value.join('\n') : value.join(', ')) : value;
  }
  return out;
}

/**
 * May a response be given to requests collapsed onto another request's fill (or joined to its
 * upstream fetch in the store process)? Not one meant for the one requester: `private` (RFC 9111
 * §5.2.2.7, unless CDN-Cache-Control speaks for this cache instead), `no-store` (§5.2.2.5), or one
 * that sets a cookie. Such a response is fetched again for each waiter, as Varnish's hit-for-miss
 * and nginx's proxy_cache_lock send theirs upstream. Anything else (errors included) is shared:
 * collapsing is what protects the origin.
 */
export function sharedWithWaiters(h: HeaderBag): boolean {
  if (h['set-cookie'] !== undefined) return false;
  const { source, directives } = targetedDirectives(h);
  if (directives.has('no-store')) return false;
  return !(source === 'cache-control' && directives.has('private'));
}

/** Connection-header tokens name more hop-by-hop fields. */
export function connectionTokens(h: HeaderBag): string[] {
  const c = h['connection'];
  const text = Array.isArray(c) ? c.join(',') : (c ?? '');
  return text.split(',').filter((t) => t.trim() !== '');
}

export interface MetaBuild {
  decision: StorageDecision;
  meta?: ObjectMeta;
  /** Corrected initial age (seconds) of the response as received. */
  initialAge: number;
}

function tagsOf(h: HeaderBag): string[] {
  const raw = h['surrogate-key'] ?? h['cache-tag'];
  const text = Array.isArray(raw) ? raw.join(' ') : (raw ?? '');
  return [...new Set(text.split(/[\s,]+/).filter((t) => t !== '' && Buffer.byteLength(t) <= 512))];
}

/** Decide whether and how an upstream response to a GET is stored. */
export function buildMeta(
  reqHeaders: HeaderBag,
  res: { status: number; headers: HeaderBag },
  requestTime: number,
  responseTime: number,
  policy: EdgeCachePolicy,
): MetaBuild {
  const initialAge = correctedInitialAge(res.headers, requestTime, responseTime);
  const decision = storageDecision({ headers: reqHeaders }, res, {
    keyPolicy: policy.keyPolicy,
    negativeTtl: policy.negativeTtl,
  });
  if (!decision.store) return { decision, initialAge };
  const headers = storableHeaders(res.headers, connectionTokens(res.headers));
  return { decision, initialAge, meta: metaFor(headers, res.status, decision, initialAge, responseTime, policy) };
}

function metaFor(
  headers: Record<string, string>,
  status: number,
  d: Extract<StorageDecision, { store: true }>,
  initialAge: number,
  responseTime: number,
  policy: EdgeCachePolicy,
): ObjectMeta {
  const freshFor = Math.max(0, d.lifetime - initialAge);
  const expiresAt = responseTime + freshFor * 1000;
  const hasValidator = headers['etag'] !== undefined || headers['last-modified'] !== undefined;
  const keep = Math.max(d.staleWhileRevalidate, d.staleIfError, hasValidator ? policy.keepForRevalidation : 0);
  const stored: Record<string, string> = { ...headers, [P_AGE]: String(initialAge) };
  if (d.staleWhileRevalidate > 0) stored[P_SWR] = String(d.staleWhileRevalidate);
  if (d.staleIfError > 0) stored[P_SIE] = String(d.staleIfError);
  if (d.immutable) stored[P_IMMUTABLE] = '1';
  return {
    status,
    headers: stored,
    storedAt: responseTime,
    expiresAt,
    staleUntil: expiresAt + keep * 1000,
    tags: tagsOf(headers),
  };
}

/**
 * After a 304 (RFC 9111 §4.3.4): the stored headers are updated with the 304's, and freshness
 * recomputed from the merged set. Returns the patch for updateMeta, or undefined when the merged
 * response is no longer storable (the caller then drops the entry).
 */
export function refreshedMeta(
  stored: ObjectMeta,
  notModifiedHeaders: HeaderBag,
  reqHeaders: HeaderBag,
  requestTime: number,
  responseTime: number,
  policy: EdgeCachePolicy,
): ObjectMeta | undefined {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(stored.headers)) if (!k.startsWith(':')) merged[k] = v;
  const fresh = storableHeaders(notModifiedHeaders, connectionTokens(notModifiedHeaders));
  for (const [k, v] of Object.entries(fresh)) {
    if (k === 'content-length' || k === 'content-encoding' || k === 'content-type' || k === 'content-range') continue;
    merged[k] = v;
  }
  const initialAge = correctedInitialAge(notModifiedHeaders, requestTime, responseTime);
  const decision = storageDecision(
    { headers: reqHeaders },
    { status: stored.status, headers: merged },
    {
      keyPolicy: policy.keyPolicy,
      negativeTtl: policy.negativeTtl,
    },
  );
  if (!decision.store) return undefined;
  return metaFor(merged, stored.status, decision, initialAge, responseTime, policy);
}

export interface EntryView {
  /** Current age in seconds (RFC 9111 §4.2.3). */
  age: number;
  /** Remaining freshness in seconds (negative when stale). */
  ttl: number;
  state: Staleness;
  immutable: boolean;
  etag?: string;
  lastModified?: string;
}

/** Read an entry's freshness at `now`. */
export function viewEntry(meta: ObjectMeta, now: number): EntryView {
  const h = meta.headers;
  const initialAge = Number(h[P_AGE] ?? '0') || 0;
  const swr = Number(h[P_SWR] ?? '0') || 0;
  const sie = Number(h[P_SIE] ?? '0') || 0;
  const view: EntryView = {
    age: currentAge(initialAge, meta.storedAt, now),
    ttl: (meta.expiresAt - now) / 1000,
    state: staleness(
      { expiresAt: meta.expiresAt, swrUntil: meta.expiresAt + swr * 1000, sieUntil: meta.expiresAt + sie * 1000 },
      now,
    ),
    immutable: h[P_IMMUTABLE] === '1',
  };
  if (h['etag'] !== undefined) view.etag = h['etag'];
  if (h['last-modified'] !== undefined) view.lastModified = h['last-modified'];
  return view;
}

/** May the entry be served because the upstream failed (stale-if-error, or stale-while-revalidate)? */
export function staleUsableOnError(meta: ObjectMeta, now: number): boolean {
  const st = viewEntry(meta, now).state;
  return st === 'fresh' || st === 'stale-while-revalidate' || st === 'stale-if-error-only';
}

/**
 * Headers as storableHeaders gives them (Set-Cookie's cookies joined by newlines, the storage's
 * form) as they go on the wire: one string per cookie.
 */
export function wireHeaders(h: Record<string, string>): Record<string, string | string[]> {
  const cookies = h['set-cookie'];
  return cookies === undefined ? h : { ...h, 'set-cookie': cookies.split('\n') };
}

/** Stored headers to send to a client (pseudo-headers stripped). */
export function replayHeaders(meta: ObjectMeta): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(meta.headers)) {
    if (k.startsWith(':')) continue;
    out[k] = k === 'set-cookie' ? v.split('\n') : v;
  }
  return out;
}

/** The subset of stored headers a 304 to a client carries. */
export function notModifiedHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k of NOT_MODIFIED_HEADERS) if (headers[k] !== undefined) out[k] = headers[k]!;
  return out;
}
