/**
 * Single byte-range requests (RFC 9110 §14). Several ranges in one request are answered with
 * the whole representation (a server may ignore Range), so callers never build multipart bodies.
 */

export type RangeResult =
  | { kind: 'none' } // no Range, an unsupported unit, several ranges, or unparsable: send 200
  | { kind: 'satisfiable'; start: number; end: number } // inclusive end
  | { kind: 'unsatisfiable' }; // send 416 with Content-Range: bytes */size

/** Interpret a Range header value against a representation of `size` bytes. */
export function parseRange(value: string | undefined, size: number): RangeResult {
  if (value === undefined) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(value);
  if (!m) return { kind: 'none' };
  const specs = m[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length !== 1) return { kind: 'none' };
  const spec = specs[0];
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (!r || (r[1] === '' && r[2] === '')) return { kind: 'none' };
  if (r[1] === '') {
    const suffix = Number(r[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'satisfiable', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(r[1]);
  const end = r[2] === '' ? size - 1 : Number(r[2]);
  if (r[2] !== '' && end < start) return { kind: 'none' }; // invalid range-spec: ignore the header
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'satisfiable', start, end: Math.min(end, size - 1) };
}

/** The Range header value that asks for `length` bytes from `offset` (a client's side). */
export function rangeRequest(offset: number, length: number): string {
  return `bytes=${offset}-${offset + length - 1}`;
}

/** Content-Range for a 206. */
export function contentRange(start: number, end: number, size: number): string {
  return `bytes ${start}-${end}/${size}`;
}

/** Content-Range for a 416. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/**
 * If-Range (RFC 9110 §13.1.5): the range applies only when the validator matches strongly
 * (an entity-tag) or exactly (a Last-Modified date). Without If-Range, it applies.
 */
export function ifRangeAllows(
  ifRange: string | undefined,
  etag: string | undefined,
  lastModified: string | undefined,
): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) {
    return etag !== undefined && !v.startsWith('W/') && !etag.startsWith('W/') && v === etag.trim();
  }
  return lastModified !== undefined && v === lastModified.trim();
}
