/**
 * GET /_edge/cmcd/sessions (admin token): the CMCD sessions the edge saw in the last minute, most
 * starvation signals first, so an operator sees which viewers are rebuffering now, on what
 * content, at what bitrate and buffer. Query: `limit` (1-1000, default 100), `starved=1` (only
 * the sessions that signalled starvation in the window), `sid=<id>` (one session). The session and
 * content ids are the viewers' own data: never without the token.
 */
import type { EdgeContext } from './context.js';
import { type Exchange, sendJson, sendText } from './exchange.js';
import { adminAuthorized } from './admin-auth.js';
import type { CmcdViewQuery } from './cluster/store-service.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

export async function cmcdSessionsEndpoint(ctx: EdgeContext, ex: Exchange, url: string): Promise<void> {
  if (ex.method !== 'GET' && ex.method !== 'HEAD') {
    return sendText(ex, 405, 'use GET /_edge/cmcd/sessions', undefined, { allow: 'GET, HEAD' });
  }
  if (!adminAuthorized(ctx, ex, 'the CMCD sessions view')) return; // the ids are viewers' data
  const q = viewQuery(url);
  if (typeof q === 'string') return sendText(ex, 400, q, undefined);
  if (ctx.cluster) {
    // several workers: the store process holds the sessions, merged from every worker
    if (!ctx.cluster.connected)
      return sendText(ex, 503, 'the store process (which holds the sessions) is away', undefined);
    return sendJson(ex, 200, await ctx.cluster.cmcdSessions(q));
  }
  sendJson(ex, 200, ctx.metrics.cmcd.view(q));
}

/** The query of /_edge/cmcd/sessions, or what is wrong with it. */
function viewQuery(url: string): CmcdViewQuery | string {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const q: CmcdViewQuery = { limit: DEFAULT_LIMIT };
  const limit = params.get('limit');
  if (limit !== null) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) {
      return `limit must be a whole number from 1 to ${MAX_LIMIT}`;
    }
    q.limit = Number(limit);
  }
  const starved = params.get('starved');
  if (starved !== null) {
    if (starved !== '0' && starved !== '1') return 'starved must be 1 (only starved sessions) or 0';
    if (starved === '1') q.starvedOnly = true;
  }
  const sid = params.get('sid');
  if (sid !== null) q.sid = sid;
  return q;
}
