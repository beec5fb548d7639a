/**
 * Validators and conditional requests (RFC 9110 §8.8, §13): ETag from size + mtime (published
 * files never change in place; a republish is a new file), If-None-Match (weak comparison),
 * If-Modified-Since, If-Range.
 */
import type { Stats } from 'node:fs';

export function etagFor(stat: Pick<Stats, 'size' | 'mtimeMs'>, weak: boolean): string {
  const tag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  return weak ? `W/${tag}` : tag;
}

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

export function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => opaque(t.trim()) === opaque(etag));
}

/** True when the client's cached copy is still current: answer 304. */
export function notModified(
  headers: Record<string, string | string[] | undefined>,
  etag: string,
  mtimeMs: number,
): boolean {
  const inm = headers['if-none-match'];
  if (typeof inm === 'string') return noneMatch(inm, etag);
  const ims = headers['if-modified-since'];
  if (typeof ims === 'string') {
    const t = Date.parse(ims);
    if (!Number.isNaN(t)) return Math.floor(mtimeMs / 1000) * 1000 <= t;
  }
  return false;
}

/** If-Range: the range applies only when the validator still matches (strong comparison for ETags). */
export function ifRangeHolds(header: string | undefined, etag: string, mtimeMs: number): boolean {
  if (!header) return true;
  const v = header.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !v.startsWith('W/') && !etag.startsWith('W/') && v === etag;
  const t = Date.parse(v);
  return !Number.isNaN(t) && Math.floor(mtimeMs / 1000) * 1000 <= t;
}
