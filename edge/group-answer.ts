/**
 * Requests held on one fill, answered as a group. When the fill's response is small and of known
 * length (a blocking playlist reload, a playlist or a hinted part that many viewers wait for on one
 * upstream request), every waiter is sent the same prepared response: the header block is built
 * once per fill and Cache-Status member (leader, collapsed waiter, stored or not), the body is one
 * buffer, and each waiter costs one head + end on its socket (HTTP/1.1) or stream (HTTP/2),
 * instead of a stream pump with its own listeners per waiter. Blocks are plain objects, so the
 * signed-URL manifest rewrite (signed-access.ts) sees them as it sees any other answer.
 *
 * A larger or unknown-length body (a hinted part still being produced, a segment) streams to each
 * waiter as it arrives (serve-fill.ts), after the same prepared head. A Range, a HEAD, a
 * conditional, a response with Set-Cookie, a fill that fails: the per-waiter way.
 */
import { type CacheStatusEntry, appendCacheStatus } from '../src/http/cache-status.js';
import { ageHeaderValue } from '../src/http/freshness.js';
import type { Writable } from 'node:stream';
import { type Exchange, sendHead } from './exchange.js';
import type { Fill } from './fill.js';

/**
 * Bodies of known length up to this size are answered whole, once complete (playlists, blocking
 * reloads, small parts: the origin knows their length only once they exist, so the wait is the
 * transfer, not the production). Larger ones stream to waiters as they arrive.
 */
export const GROUP_ANSWER_MAX_BYTES = 64 * 1024;

interface GroupState {
  /** The whole body, once a waiter has taken it complete. */
  body?: Buffer;
  /** Header blocks by variant (status, length, Cache-Status member, Set-Cookie kept or not). */
  blocks: Map<string, Record<string, string | string[]>>;
}

const groups = new WeakMap<Fill, GroupState>();

function stateOf(fill: Fill): GroupState {
  let g = groups.get(fill);
  if (!g) {
    g = { blocks: new Map() };
    groups.set(fill, g);
  }
  return g;
}

/** The fill's whole body once complete, or undefined (failed, not retained, or not that long). */
export async function groupBody(fill: Fill, length: number): Promise<Buffer | undefined> {
  const g = stateOf(fill);
  if (g.body) return g.body;
  if (!fill.isComplete && !(await fill.finished)) return undefined;
  if (g.body) return g.body; // another waiter got there first
  const body = fill.retainedBody();
  if (!body || body.length !== length) return undefined;
  g.body = body;
  return body;
}

/**
 * Sends the group's prepared header block for this waiter's variant (built once per fill and
 * variant, as exchange.ts writeHead would build it; only X-Request-ID is filled in per waiter) and
 * returns where the body goes. Used for whole answers here and for the head of streamed ones
 * (serve-fill.ts).
 */
export function writeGroupHead(
  ex: Exchange,
  fill: Fill,
  status: number,
  headers: Record<string, string | string[]>,
  entry: CacheStatusEntry,
  common: { age?: number; upstreamCacheStatus?: string | undefined; length?: number | undefined },
): Writable {
  const g = stateOf(fill);
  const cs = appendCacheStatus(common.upstreamCacheStatus, entry);
  const variant = `${status}\n${common.length ?? ''}\n${headers['set-cookie'] === undefined ? 0 : 1}\n${cs}`;
  let block = g.blocks.get(variant);
  if (!block) {
    block = {};
    for (const [name, value] of Object.entries(headers)) {
      if (name === 'cache-status' || name === 'age' || name === 'content-length' || name === 'transfer-encoding') {
        continue;
      }
      block[name] = value;
    }
    if (common.age !== undefined) block['age'] = ageHeaderValue(common.age);
    block['cache-status'] = cs;
    if (common.length !== undefined) block['content-length'] = String(common.length);
    g.blocks.set(variant, block);
  }
  // sendHead reads the block before it returns (a manifest rewrite copies it): reused per waiter
  block['x-request-id'] = ex.id;
  ex.cacheStatus = cs;
  return sendHead(ex, status, block);
}

/** Sends `body` (from groupBody) whole, after the group's prepared head. */
export function answerFromGroup(
  ex: Exchange,
  fill: Fill,
  status: number,
  headers: Record<string, string | string[]>,
  entry: CacheStatusEntry,
  common: { age?: number; upstreamCacheStatus?: string | undefined },
  body: Buffer,
): void {
  const sink = writeGroupHead(ex, fill, status, headers, entry, { ...common, length: body.length });
  ex.bytes += body.length;
  sink.end(body);
}
