/**
 * Purge by URL, prefix or surrogate key, soft (mark stale: the next request revalidates) or hard
 * (drop). Applied to the store and to fills in flight, then fanned out to every other peer.
 *
 *   POST /_edge/purge   {"url": "/vod/a/seg-1.m4s"} | {"prefix": "/vod/a/"} | {"tag": "asset-a"}, "soft": true
 *   PURGE /vod/a/seg-1.m4s    (header x-streamedge-soft-purge: 1 for soft)
 *
 * A prefix matches whole path segments (`/vod/a` never touches `/vod/ab`). URLs, prefixes and
 * tags over the edge's limits are refused (414/400) before the store sees them.
 *
 * Both need the admin token: `Authorization: Bearer <token>` or `x-streamedge-admin-token`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import { StreamedgeError } from '../src/errors.js';
import { KEY_HEADER_SEPARATOR, normalizePath } from '../src/http/cache-key.js';
import type { EdgeStore } from './store/index.js';
import { type LimitVerdict, checkKey, checkTag, checkTarget } from './request-limits.js';
import type { Fill } from './fill.js';

export type PurgeKind = 'url' | 'prefix' | 'tag';
export type PurgeMode = 'hard' | 'soft';

export interface PurgeSpec {
  kind: PurgeKind;
  value: string;
  mode: PurgeMode;
}

/** Header marking a purge forwarded by a peer (it is not forwarded again). */
export const PURGE_HOP_HEADER = 'x-streamedge-purge-hop';
export const SOFT_PURGE_HEADER = 'x-streamedge-soft-purge';

/** Constant-time comparison of a presented token with the configured one. */
export function adminTokenMatches(presented: string | undefined, expected: string | undefined): boolean {
  if (expected === undefined || presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents, if any. */
export function presentedToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers['authorization'];
  const a = Array.isArray(auth) ? auth[0] : auth;
  const m = a !== undefined ? /^\s*Bearer\s+(\S+)\s*$/i.exec(a) : null;
  if (m) return m[1];
  const t = headers['x-streamedge-admin-token'];
  return Array.isArray(t) ? t[0] : t;
}

/** The request target of a URL or path given to purge (scheme and host are ignored: one upstream). */
export function purgeTarget(text: string): string {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(text);
  const t = m ? m[1] : text;
  return t === '' ? '/' : t.startsWith('/') ? t : `/${t}`;
}

function strings(v: unknown, what: string): string[] {
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  for (const s of list) {
    if (typeof s !== 'string' || s === '')
      throw new StreamedgeError('BAD_PURGE', `${what} must be a non-empty string or a list of them`);
  }
  return list as string[];
}

/** Parse a purge request body: {url|urls, prefix|prefixes, tag|tags, soft?}. */
export function parsePurgeBody(body: unknown): PurgeSpec[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new StreamedgeError(
      'BAD_PURGE',
      'purge body must be a JSON object like {"url": "/path"}, {"prefix": "/vod/a/"} or {"tag": "k"}',
    );
  }
  const b = body as Record<string, unknown>;
  if (b['soft'] !== undefined && typeof b['soft'] !== 'boolean')
    throw new StreamedgeError('BAD_PURGE', '"soft" must be true or false');
  const mode: PurgeMode = b['soft'] === true ? 'soft' : 'hard';
  const specs: PurgeSpec[] = [
    ...[...strings(b['url'], 'url'), ...strings(b['urls'], 'urls')].map((value) => ({
      kind: 'url' as const,
      value,
      mode,
    })),
    ...[...strings(b['prefix'], 'prefix'), ...strings(b['prefixes'], 'prefixes')].map((value) => ({
      kind: 'prefix' as const,
      value,
      mode,
    })),
    ...[...strings(b['tag'], 'tag'), ...strings(b['tags'], 'tags')].map((value) => ({
      kind: 'tag' as const,
      value,
      mode,
    })),
  ];
  if (specs.length === 0) throw new StreamedgeError('BAD_PURGE', 'nothing to purge: give "url", "prefix" or "tag"');
  if (specs.length > 1000) throw new StreamedgeError('BAD_PURGE', 'at most 1000 purge items per request');
  return specs;
}

/**
 * A purge prefix. A path prefix matches whole path segments: `/vod/a` touches `/vod/a`,
 * `/vod/a/…`, `/vod/a?…` and the header variants of `/vod/a`, never `/vod/ab/…`; `/vod/a/`
 * touches what lies under `/vod/a/`. A prefix that reaches into the query (`/live/x.m3u8?_HLS_`)
 * is compared character by character, as written.
 */
interface PurgePrefix {
  text: string;
  wholeSegments: boolean;
}

function parsePurgePrefix(value: string): PurgePrefix {
  const target = purgeTarget(value);
  return target.includes('?')
    ? { text: target, wholeSegments: false }
    : { text: normalizePath(target), wholeSegments: true };
}

/** The key prefixes that begin right after the last segment of `path` (one store scan each). */
function segmentBoundaries(path: string): string[] {
  return path.endsWith('/') ? [path] : [`${path}/`, `${path}?`, `${path}${KEY_HEADER_SEPARATOR}`];
}

function prefixMatches(key: string, prefix: PurgePrefix): boolean {
  if (!prefix.wholeSegments) return key.startsWith(prefix.text);
  return key === prefix.text || segmentBoundaries(prefix.text).some((b) => key.startsWith(b));
}

/**
 * Checks every URL, prefix and surrogate key of a purge against the edge's limits before any of
 * them reaches the store: the first one over a limit decides the answer (414 or 400).
 */
export function checkPurgeSpecs(specs: readonly PurgeSpec[], urlKey: UrlKey): LimitVerdict {
  for (const s of specs) {
    if (s.kind === 'tag') {
      const v = checkTag(s.value);
      if (!v.ok) return v;
      continue;
    }
    const target = purgeTarget(s.value);
    const t = checkTarget(target);
    if (!t.ok) return t;
    const k = checkKey(s.kind === 'url' ? urlKey(target) : parsePurgePrefix(s.value).text);
    if (!k.ok) return k;
  }
  return { ok: true };
}

/**
 * The primary cache key of a purged URL, derived exactly as a lookup derives it (query rules
 * included), so `{"url": "/vod/a/seg-1.m4s?session=x"}` reaches the copy stored for the segment.
 */
export type UrlKey = (target: string) => string;

/** Apply one purge locally (store + fills in flight). Returns how many stored objects it touched. */
/** What a purge changes: the store, or (in the other workers of a multi-worker edge) their RAM copies. */
export type PurgeTarget = Pick<EdgeStore, 'purgeTag' | 'purgePrefix' | 'delete' | 'updateMeta'>;

export async function applyPurge(
  spec: PurgeSpec,
  store: PurgeTarget,
  fills: Iterable<Fill>,
  urlKey: UrlKey,
): Promise<number> {
  if (spec.kind === 'tag') {
    for (const f of fills) if (f.tags.includes(spec.value)) f.purge(spec.mode);
    return store.purgeTag(spec.value, spec.mode);
  }
  if (spec.kind === 'prefix') {
    const prefix = parsePurgePrefix(spec.value);
    for (const f of fills) if (prefixMatches(f.key, prefix)) f.purge(spec.mode);
    if (!prefix.wholeSegments) return store.purgePrefix(prefix.text, spec.mode);
    let n = 0;
    for (const start of segmentBoundaries(prefix.text)) n += await store.purgePrefix(start, spec.mode);
    if (!prefix.text.endsWith('/')) {
      if (spec.mode === 'hard') {
        if (await store.delete(prefix.text)) n++;
      } else if (await store.updateMeta(prefix.text, { expiresAt: 0 })) n++;
    }
    return n;
  }
  const key = urlKey(purgeTarget(spec.value));
  const base = key.split(KEY_HEADER_SEPARATOR)[0];
  for (const f of fills) if (f.key === base || f.key.startsWith(base + KEY_HEADER_SEPARATOR)) f.purge(spec.mode);
  let n = 0;
  if (spec.mode === 'hard') {
    if (await store.delete(base)) n++;
  } else if (await store.updateMeta(base, { expiresAt: 0 })) n++;
  // the variants of the same URL (Vary, edge/variants.ts)
  n += await store.purgePrefix(base + KEY_HEADER_SEPARATOR, spec.mode);
  return n;
}

export interface PeerPurgeResult {
  peer: string;
  ok: boolean;
  status?: number;
  error?: string;
}

/** Send the purge to every other peer (marked so they do not fan out again). */
export async function fanOutPurge(
  peers: string[],
  specs: PurgeSpec[],
  token: string | undefined,
  requestId: string,
  timeoutMs = 5000,
): Promise<PeerPurgeResult[]> {
  // one request per mode (a body carries one mode)
  const byMode = new Map<PurgeMode, PurgeSpec[]>();
  for (const s of specs) byMode.set(s.mode, [...(byMode.get(s.mode) ?? []), s]);
  return Promise.all(
    peers.map(async (peer): Promise<PeerPurgeResult> => {
      try {
        for (const [mode, list] of byMode) {
          const res = await request(`${peer}/_edge/purge`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              [PURGE_HOP_HEADER]: '1',
              'x-request-id': requestId,
              ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
            },
            body: JSON.stringify({
              urls: list.filter((s) => s.kind === 'url').map((s) => s.value),
              prefixes: list.filter((s) => s.kind === 'prefix').map((s) => s.value),
              tags: list.filter((s) => s.kind === 'tag').map((s) => s.value),
              soft: mode === 'soft',
            }),
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          });
          await res.body.text();
          if (res.statusCode !== 200) return { peer, ok: false, status: res.statusCode };
        }
        return { peer, ok: true, status: 200 };
      } catch (e) {
        return { peer, ok: false, error: (e as { code?: string }).code ?? String(e) };
      }
    }),
  );
}
