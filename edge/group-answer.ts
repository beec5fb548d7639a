/**
 * Requests held on one fill, answered as a group. When the fill's response is small and of known
 * length (a blocking playlist reload, a playlist or a hinted part that many viewers wait for on one
 * upstream request), every waiter is sent the same prepared response: the header block is built
 * once per fill and Cache-Status member (leader, collapsed waiter, stored or not), the body is one
 * buffer, and each waiter costs one writeHead + end on its socket (HTTP/1.1) or stream (HTTP/2),
 * instead of a stream pump with its own listeners per waiter. Blocks are plain objects, so the
 * signed-URL manifest rewrite (signed-access.ts) sees them as it sees any other answer.
 *
 * Anything else (a large or unknown-length body, streamed while it arrives; a Range; a HEAD; a
 * response with Set-Cookie; a fill that fails) goes the per-waiter way in serve-fill.ts.
 */
import { type CacheStatusEntry, appendCacheStatus } from '../src/http/cache-status.js';
import { ageHeaderValue } from '../src/http/freshness.js';
import type { Exchange } from './exchange.js';
import type { Fill } from './fill.js';

/**
 * Bodies of known length up to this size are answered whole, once complete (playlists, blocking
 * reloads, small parts: the origin knows their length only once they exist, so the wait is the
 * transfer, not the production). Larger ones stream to waiters as they arrive.
 */
export const GROUP_ANSWER_MAX_BYTES = 64 * 1024;

interface GroupState {
  body: Buffer;
  /** Header blocks by variant (status and Cache-Status member). */
  blocks: Map<string, Record<string, string>>;
}

const groups = new WeakMap<Fill, GroupState>();

/** The fill's whole body once complete, or undefined (failed, not retained, or not that long). */
export async function groupBody(fill: Fill, length: number): Promise<Buffer | undefined> {
  const known = groups.get(fill);
  if (known) return known.body;
  if (!fill.isComplete && !(await fill.finished)) return undefined;
  const body = fill.retainedBody();
  if (!body || body.length !== length) return undefined;
  const again = groups.get(fill); // another waiter got there first
  if (again) return again.body;
  groups.set(fill, { body, blocks: new Map() });
  return body;
}

/**
 * Sends `body` (from groupBody) with the group's prepared header block for this waiter's variant;
 * only X-Request-ID is filled in per waiter.
 */
export function answerFromGroup(
  ex: Exchange,
  fill: Fill,
  status: number,
  headers: Record<string, string>,
  entry: CacheStatusEntry,
  common: { age?: number; upstreamCacheStatus?: string | undefined },
  body: Buffer,
): void {
  const g = groups.get(fill)!;
  const cs = appendCacheStatus(common.upstreamCacheStatus, entry);
  const variant = `${status}\n${cs}`;
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
    block['content-length'] = String(body.length);
    g.blocks.set(variant, block);
  }
  // writeHead reads the block before it returns (a manifest rewrite copies it): reused per waiter
  block['x-request-id'] = ex.id;
  ex.cacheStatus = cs;
  ex.res.writeHead(status, block);
  ex.bytes += body.length;
  ex.res.end(body);
}
