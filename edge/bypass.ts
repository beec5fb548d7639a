/**
 * The bypass proxy: requests the cache does not answer (unsafe methods, requests with
 * credentials) go upstream as they came (edge/forwarding.ts), and the answer streams back
 * uncached. A non-error answer to an unsafe method invalidates (edge/invalidate.ts).
 *
 * An OPTIONS or TRACE whose Max-Forwards is 0 is not forwarded (RFC 9110 §7.6.2): the edge is its
 * final recipient. OPTIONS gets 200 with Allow (the methods the edge answers itself); TRACE gets
 * 405 with Allow, never an echo of the request (which would reflect its cookies and credentials).
 */
import { pipeline } from 'node:stream';
import { appendCacheStatus } from '../src/http/cache-status.js';
import type { EdgeContext } from './context.js';
import { type Exchange, breakOff, sendText, writeHead } from './exchange.js';
import { earlyHintsRelay, forwardHeaders, maxForwards } from './forwarding.js';
import { invalidateTarget, sameOriginTarget } from './invalidate.js';
import { type UpstreamResponse, upstreamError } from './upstream.js';
import { CONNECTION_SPECIFIC_FIELDS as CONNECTION_SPECIFIC } from '../src/http/hop-by-hop.js';

/** RFC 9110 §9.2.1 safe methods: they never invalidate. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** The methods the edge answers itself (Allow, when it is the final recipient). */
export const EDGE_ALLOW = 'GET, HEAD, OPTIONS';

/**
 * The edge answers as the final recipient, forwarding nothing: an OPTIONS (Max-Forwards 0, or
 * `OPTIONS *` about the server itself, RFC 9110 §9.3.7) gets 200 with Allow and no content; any
 * other method (TRACE) 405 with Allow.
 */
export function answerAsFinalRecipient(ctx: EdgeContext, ex: Exchange, detail: string): void {
  ex.result = 'final-recipient';
  if (ex.method === 'OPTIONS') {
    const head = { allow: EDGE_ALLOW, 'cache-control': 'no-store' };
    writeHead(ex, 200, head, ctx.cs({ detail }), { length: 0 }).end();
    return;
  }
  sendText(ex, 405, `edge: ${ex.method} is not answered here`, ctx.cs({ detail }), { allow: EDGE_ALLOW });
}

export async function bypass(
  ctx: EdgeContext,
  ex: Exchange,
  target: string,
  reason: 'method' | 'request',
  detail?: string,
): Promise<void> {
  if (maxForwards(ex) === 0) return answerAsFinalRecipient(ctx, ex, 'max-forwards');
  ex.result = 'pass';
  const headers = forwardHeaders(ctx, ex, false);
  const hasBody = ex.req.headers['content-length'] !== undefined || ex.req.headers['transfer-encoding'] !== undefined;
  let res: UpstreamResponse;
  try {
    res = await ctx.upstreams.request(target, {
      method: ex.method,
      headers,
      onInfo: earlyHintsRelay(ex),
      ...(hasBody ? { body: ex.req } : {}),
    });
    ctx.metrics.upstreamRequests.inc({ target: 'upstream', status: String(res.status) });
  } catch (e) {
    const err = upstreamError(e, ctx.upstreams.current);
    ex.result = 'error';
    return sendText(
      ex,
      err.code === 'UPSTREAM_TIMEOUT' ? 504 : 502,
      `edge: ${err.message}`,
      ctx.cs({ fwd: reason, detail: err.code }),
    );
  }
  if (!SAFE_METHODS.has(ex.method) && res.status < 400) {
    const host = ex.req.headers.host;
    await invalidateTarget(ctx, target);
    for (const h of ['location', 'content-location']) {
      const v = res.headers[h];
      const other = sameOriginTarget(Array.isArray(v) ? v[0] : v, host);
      if (other !== undefined) await invalidateTarget(ctx, other);
    }
  }
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || CONNECTION_SPECIFIC.has(k) || k.startsWith(':')) continue;
    out[k] = v;
  }
  // several Cache-Status lines are one list (RFC 9110 §5.3)
  const cs = out['cache-status'];
  const upstreamCs = Array.isArray(cs) ? cs.join(', ') : cs;
  out['cache-status'] = appendCacheStatus(upstreamCs, ctx.cs({ fwd: reason, ...(detail ? { detail } : {}) }));
  out['x-request-id'] = ex.id;
  ex.cacheStatus = out['cache-status'];
  ex.res.writeHead(res.status, out);
  res.body.on('data', (c: Buffer) => {
    ex.bytes += c.length;
  });
  pipeline(res.body, ex.res, (err) => {
    if (err) breakOff(ex.res);
  });
}
