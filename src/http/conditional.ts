/**
 * Client conditional requests answered by a cache (RFC 9110 §13): If-None-Match with weak
 * comparison, and If-Modified-Since when If-None-Match is absent. Only for GET and HEAD.
 */
import { parseHttpDate } from './freshness.js';

/** Split an entity-tag list (`W/"a", "b"`), keeping quotes; `*` comes back as ['*']. */
export function parseEtagList(value: string): string[] {
  const out: string[] = [];
  const re = /\s*(\*|(?:W\/)?"[^"]*")\s*(?:,|$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    if (m[0] === '') break;
    out.push(m[1]);
  }
  return out;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** Weak comparison (RFC 9110 §8.8.3.2): opaque-tags equal, ignoring the W/ prefix. */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a.trim()) === opaque(b.trim());
}

/**
 * Should a GET/HEAD for a stored 200 be answered with 304 Not Modified?
 * `etag` and `lastModified` are the stored response's validators.
 */
export function notModified(
  reqHeaders: { 'if-none-match'?: string; 'if-modified-since'?: string },
  stored: { etag?: string; lastModified?: string },
): boolean {
  const inm = reqHeaders['if-none-match'];
  if (inm !== undefined) {
    const tags = parseEtagList(inm);
    if (tags.includes('*')) return true;
    return stored.etag !== undefined && tags.some((t) => weakMatch(t, stored.etag!));
  }
  const ims = parseHttpDate(reqHeaders['if-modified-since']);
  if (ims === undefined) return false;
  const lm = parseHttpDate(stored.lastModified);
  if (lm === undefined) return false;
  return lm <= ims;
}

/** Headers a 304 carries over from the stored 200 (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_HEADERS: readonly string[] = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'vary',
  'last-modified',
  'cdn-cache-control',
  'surrogate-control',
  'surrogate-key',
];
