/**
 * Cache keys: a normalized URL plus the values of an explicit allowlist of request headers.
 *
 * Normalization (RFC 3986 §6.2.2 syntax-based normalization, then CDN conventions):
 * - scheme and host lowercased, default ports (80/443) dropped;
 * - percent-encoding: escapes of unreserved characters decoded, remaining escapes uppercased;
 * - dot segments removed (RFC 3986 §5.2.4), after decoding so `%2E%2E` cannot escape;
 * - query: only allowlisted, content-bearing parameters kept (tracking parameters such as
 *   utm_*, fbclid, gclid and the signing `token` are never kept), sorted by name then value.
 */

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Parameters that never belong in a key, whatever the allowlist says. */
const ALWAYS_DROPPED = [/^utm_/i, /^fbclid$/i, /^gclid$/i, /^token$/i];

/** Query parameters that select content (LL-HLS delivery directives). */
export const DEFAULT_KEY_QUERY_PARAMS: readonly string[] = ['_HLS_msn', '_HLS_part', '_HLS_skip'];

export interface CacheKeyPolicy {
  /** Query parameters kept in the key (case-sensitive names); `'all'` keeps every non-tracking one. */
  queryParams: readonly string[] | 'all';
  /** Request headers (lowercase names) whose values are part of the key. Nothing else may vary it. */
  headers: readonly string[];
}

export const DEFAULT_CACHE_KEY_POLICY: CacheKeyPolicy = { queryParams: DEFAULT_KEY_QUERY_PARAMS, headers: [] };

/** Normalize percent-encoding in one component: decode unreserved, uppercase the rest. */
export function normalizePercentEncoding(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
}

/** RFC 3986 §5.2.4 remove_dot_segments. */
export function removeDotSegments(path: string): string {
  let input = path;
  const out: string[] = [];
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) {
      input = input.slice(3);
      out.pop();
    } else if (input === '/..') {
      input = '/';
      out.pop();
    } else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const seg = next === -1 ? input : input.slice(0, next);
      out.push(seg);
      input = next === -1 ? '' : input.slice(next);
    }
  }
  return out.join('');
}

/** Normalize a path: percent-encoding first (so encoded dots are seen), then dot segments. */
export function normalizePath(rawPath: string): string {
  let p = normalizePercentEncoding(rawPath === '' ? '/' : rawPath);
  if (!p.startsWith('/')) p = `/${p}`;
  p = removeDotSegments(p);
  return p === '' ? '/' : p;
}

function keepParam(name: string, policy: CacheKeyPolicy): boolean {
  if (ALWAYS_DROPPED.some((re) => re.test(name))) return false;
  return policy.queryParams === 'all' || policy.queryParams.includes(name);
}

/**
 * Normalize a raw query string (without `?`) under a policy; '' when nothing is kept. Only
 * RFC 3986 §6.2.2 equivalences are applied to each parameter (escapes of unreserved characters
 * decoded, the others uppercased): `+` stays `+` (not `%20`, not `%2B`: an origin may read it
 * either way), and `flag` stays apart from `flag=`. Then the key rules: parameters filtered by the
 * policy and sorted (by name, a bare name first, then value).
 */
export function normalizeQuery(rawQuery: string, policy: CacheKeyPolicy = DEFAULT_CACHE_KEY_POLICY): string {
  if (rawQuery === '') return '';
  const pairs: Array<[string, string | undefined]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = normalizePercentEncoding(eq === -1 ? part : part.slice(0, eq));
    let decodedName: string;
    try {
      decodedName = decodeURIComponent(name);
    } catch {
      decodedName = name;
    }
    if (!keepParam(decodedName, policy)) continue;
    pairs.push([name, eq === -1 ? undefined : normalizePercentEncoding(part.slice(eq + 1))]);
  }
  pairs.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return pairs.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&');
}

/** Code-unit order; `undefined` (a parameter without `=`) before any value. */
function compare(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

/** Split a request target (`/path?query`, fragment dropped) into normalized path and query. */
export function normalizeTarget(
  target: string,
  policy: CacheKeyPolicy = DEFAULT_CACHE_KEY_POLICY,
): { path: string; query: string; pathAndQuery: string } {
  const hashAt = target.indexOf('#');
  const noFrag = hashAt === -1 ? target : target.slice(0, hashAt);
  const q = noFrag.indexOf('?');
  const path = normalizePath(q === -1 ? noFrag : noFrag.slice(0, q));
  const query = q === -1 ? '' : normalizeQuery(noFrag.slice(q + 1), policy);
  return { path, query, pathAndQuery: query ? `${path}?${query}` : path };
}

const DEFAULT_PORTS: Record<string, string> = { 'http:': '80', 'https:': '443' };

/** Normalize an absolute URL (scheme/host lowercase, default port dropped, path and query normalized). */
export function normalizeUrl(url: string, policy: CacheKeyPolicy = DEFAULT_CACHE_KEY_POLICY): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (!m) throw new TypeError(`not an absolute URL: ${url}`);
  const scheme = m[1].toLowerCase();
  let authority = m[2];
  const at = authority.lastIndexOf('@');
  const userinfo = at === -1 ? '' : authority.slice(0, at + 1);
  authority = at === -1 ? authority : authority.slice(at + 1);
  let host = authority;
  let port = '';
  const pm = /^(.*?)(?::(\d*))?$/.exec(authority);
  if (pm && !authority.endsWith(']')) {
    host = pm[1]!;
    port = pm[2] ?? '';
  }
  host = normalizePercentEncoding(host).toLowerCase();
  if (port === DEFAULT_PORTS[`${scheme}:`] || port === '') port = '';
  const target = normalizeTarget(m[3] === '' ? '/' : m[3], policy);
  return `${scheme}://${userinfo}${host}${port ? `:${port}` : ''}${target.pathAndQuery}`;
}

/** Separator between the URL part of a key and its header part (never valid in a URL). */
export const KEY_HEADER_SEPARATOR = '\n';

/**
 * The cache key of a request: normalized `/path?query`, then, when the policy keys on headers,
 * a newline and `name=value` pairs. Keys start with the path so prefix purge works on them.
 */
export function cacheKey(
  target: string,
  headers: Record<string, string | string[] | undefined>,
  policy: CacheKeyPolicy = DEFAULT_CACHE_KEY_POLICY,
): string {
  const { pathAndQuery } = normalizeTarget(target, policy);
  if (policy.headers.length === 0) return pathAndQuery;
  const parts = [...policy.headers].sort().map((name) => `${name}=${keyHeaderValue(name, headers[name])}`);
  return `${pathAndQuery}${KEY_HEADER_SEPARATOR}${parts.join('&')}`;
}

/**
 * The value a keyed request header contributes to the key, and what a fill sends upstream for it.
 * Accept-Encoding is reduced to the one coding a cache would use (br, gzip or identity, honouring
 * q-values), so the key has at most three variants and every request sharing a key accepts the
 * stored coding. Other headers: trimmed, list separators normalised.
 */
export function keyHeaderValue(name: string, v: string | string[] | undefined): string {
  const value = Array.isArray(v) ? v.join(',') : (v ?? '');
  if (name === 'accept-encoding') return preferredEncoding(value);
  return value.trim().replace(/\s*,\s*/g, ',');
}

const KEY_ENCODINGS = ['br', 'gzip'] as const;

/** The best of br, gzip, identity that an Accept-Encoding value allows (RFC 9110 §12.5.3). */
export function preferredEncoding(acceptEncoding: string): 'br' | 'gzip' | 'identity' {
  const q = new Map<string, number>();
  for (const item of acceptEncoding.split(',')) {
    const [rawCoding, ...params] = item.toLowerCase().split(';');
    const coding = rawCoding?.trim();
    if (!coding) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  const weightOf = (c: string) => q.get(c) ?? (q.has('*') ? q.get('*')! : 0);
  let best: 'br' | 'gzip' | 'identity' = 'identity';
  let bestQ = 0;
  for (const c of KEY_ENCODINGS) {
    const w = weightOf(c);
    if (w > bestQ) {
      best = c;
      bestQ = w;
    }
  }
  return best;
}

/** The URL part of a key (what goes upstream). */
export function keyTarget(key: string): string {
  const i = key.indexOf(KEY_HEADER_SEPARATOR);
  return i === -1 ? key : key.slice(0, i);
}

/** The field names of a Vary value, lowercased, sorted and unique; `'*'` for `Vary: *` (RFC 9111 §4.1). */
export function parseVary(vary: string | undefined): string[] | '*' {
  if (vary === undefined) return [];
  const out = new Set<string>();
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name === '') continue;
    if (name === '*') return '*';
    out.add(name);
  }
  return [...out].sort();
}

/**
 * The key of one variant under a primary key (RFC 9111 §4.1, the Varnish hash-plus-Vary way):
 * the primary key, a newline, then `name=value` for each field the response's Vary names, with
 * the request's value normalised (Accept-Encoding reduced to br/gzip/identity, lists trimmed).
 * No Vary: the primary key itself, one copy for everyone.
 */
export function variantKey(
  primary: string,
  varyNames: readonly string[],
  headers: Record<string, string | string[] | undefined>,
): string {
  if (varyNames.length === 0) return primary;
  const parts = varyNames.map((n) => `${n}=${encodeURIComponent(keyHeaderValue(n, headers[n]))}`);
  return `${primary}${KEY_HEADER_SEPARATOR}${parts.join('&')}`;
}
