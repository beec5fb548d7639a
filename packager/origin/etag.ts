/**
 * The origin's entity-tags for published files (RFC 9110 §8.8.3): size + mtime. Published files
 * never change in place (a republish is a new file), so this validator is strong for media; a
 * manifest's is weak because the body may be sent compressed. Conditional requests themselves are
 * judged by src/http/conditional.ts and src/http/range.ts, the same rules the edge uses.
 */
import type { Stats } from 'node:fs';

export function etagFor(stat: Pick<Stats, 'size' | 'mtimeMs'>, weak: boolean): string {
  const tag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`;
  return weak ? `W/${tag}` : tag;
}
