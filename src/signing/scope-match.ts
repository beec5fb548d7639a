/**
 * Scope check: is a request path inside a token's path-prefix scope?
 *
 * Compared on percent-decoded, dot-segment-resolved path segments, so `/vod/asset1/../asset2/`,
 * `/vod/asset1/%2e%2e/asset2/` and friends cannot escape `/vod/asset1/`. Servers disagree on how
 * `..` interacts with empty segments (`a//../b`: WHATWG URL keeps the empty segment, POSIX path
 * normalization collapses it first), so a path containing `..` must be in scope under both readings.
 * Encoded separators (`%2F`, `%5C`), backslashes and NUL in a segment are refused outright:
 * upstream servers differ on those too. Never throws.
 */

function decodeSegments(path: string): string[] | undefined {
  if (typeof path !== 'string' || !path.startsWith('/')) return undefined;
  const raw = path.split('/').slice(1);
  const out: string[] = [];
  for (const seg of raw) {
    let d: string;
    try {
      d = decodeURIComponent(seg);
    } catch {
      return undefined;
    }
    if (/[/\\\u0000]/.test(d)) return undefined;
    out.push(d);
  }
  return out;
}

/** Resolves '.' and '..'; `collapseEmpty` drops empty segments first (POSIX style). */
function resolveDots(segs: readonly string[], collapseEmpty: boolean): string[] {
  const out: string[] = [];
  for (const s of segs) {
    if (s === '.') continue;
    if (s === '..') {
      out.pop(); // above the root stays at the root, as both WHATWG URL and path.posix do
      continue;
    }
    if (s === '' && collapseEmpty) continue;
    out.push(s);
  }
  return out;
}

function withoutEmpty(segs: readonly string[]): string[] {
  return segs.filter((s) => s !== '');
}

function startsWithSegments(path: readonly string[], prefix: readonly string[]): boolean {
  if (path.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (path[i] !== prefix[i]) return false;
  return true;
}

/**
 * Segment-wise prefix match: scope `/vod/asset1/` (or `/vod/asset1`) admits `/vod/asset1`,
 * `/vod/asset1/…`, but not `/vod/asset10/…`. Scope `/` admits everything. Empty segments are
 * ignored for the comparison (`/vod//asset1/x` is in `/vod/asset1/`).
 */
export function pathInScope(path: string, scope: string): boolean {
  const scopeSegs = decodeSegments(scope);
  if (!scopeSegs || scopeSegs.some((s) => s === '.' || s === '..')) return false;
  const prefix = withoutEmpty(scopeSegs);
  const segs = decodeSegments(path);
  if (!segs) return false;
  if (!startsWithSegments(withoutEmpty(resolveDots(segs, false)), prefix)) return false;
  if (segs.includes('..') && !startsWithSegments(resolveDots(segs, true), prefix)) return false;
  return true;
}
