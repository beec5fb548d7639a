/**
 * Rendezvous (highest-random-weight) hashing: every node scores every key; the highest score
 * owns it. Removing a node moves only its keys; adding one of N+1 nodes takes ~1/(N+1) of keys.
 */
import { createHash } from 'node:crypto';

function score(node: string, key: string): bigint {
  return createHash('sha256').update(node).update('\u0000').update(key).digest().readBigUInt64BE(0);
}

/** Nodes ordered by preference for `key` (owner first). */
export function rankNodes(nodes: readonly string[], key: string): string[] {
  return nodes
    .map((n) => ({ n, s: score(n, key) }))
    .sort((a, b) => (a.s > b.s ? -1 : a.s < b.s ? 1 : a.n < b.n ? -1 : 1))
    .map((x) => x.n);
}

/** The owner of `key`, or undefined when there are no nodes. */
export function ownerOf(nodes: readonly string[], key: string): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const n of nodes) {
    const s = score(n, key);
    if (s > bestScore || (s === bestScore && best !== undefined && n < best)) {
      best = n;
      bestScore = s;
    }
  }
  return best;
}
