/**
 * The bypass proxy: requests the cache does not answer (unsafe methods, requests with
 * credentials) go upstream as they came, and the answer streams back uncached. A non-error
 * answer to an unsafe method invalidates the stored response for the URL (RFC 9111 §4.4).
 */
import { pipeline } from 'node:stream';
import { cacheKey } from '../src/http/cache-key.js';
import { appendCacheStatus } from '../src/http/cache-status.js';
import type { EdgeContext } from './context.js';
import { type Exchange, sendText } from './exchange.js';
import { PURGE_HOP_HEADER } from './purge.js';
import { UPSTREAM_CREDENTIAL_HEADER } from './signed-access.js';
import { HOP_HEADER } from './tiering/peers.js';
import { type UpstreamResponse, upstreamError } from './upstream.js';

/** Request headers a bypassed (uncached) request never forwards: hop-by-hop and proxy-identity ones. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  HOP_HEADER,
  PURGE_HOP_HEADER,
]);

/** Response fields that belong to one connection (never relayed; forbidden in HTTP/2, RFC 9113 8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export async function bypass(
  ctx: EdgeContext,
  ex: Exchange,
  target: string,
  reason: 'method' | 'request',
  detail?: string,
): Promise<void> {
  ex.result = 'pass';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ex.req.headers)) {
    // HTTP/2 pseudo-headers (:path, :authority, ...) describe this hop only
    if (v === undefined || NOT_FORWARDED.has(k) || k.startsWith(':')) continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  headers['x-request-id'] = ex.id;
  delete headers[UPSTREAM_CREDENTIAL_HEADER];
  Object.assign(headers, ctx.upstreamAuth);
  const hasBody = ex.req.headers['content-length'] !== undefined || ex.req.headers['transfer-encoding'] !== undefined;
  let res: UpstreamResponse;
  try {
    res = await ctx.upstream.request(ctx.o.upstreamOrigin, `${ctx.o.upstreamPathPrefix}${target}`, {
      method: ex.method,
      headers,
      ...(hasBody ? { body: ex.req } : {}),
    });
    ctx.metrics.upstreamRequests.inc({ target: 'upstream', status: String(res.status) });
  } catch (e) {
    const err = upstreamError(e, ctx.o.upstreamOrigin);
    ex.result = 'error';
    return sendText(
      ex,
      err.code === 'UPSTREAM_TIMEOUT' ? 504 : 502,
      `edge: ${err.message}`,
      ctx.cs({ fwd: reason, detail: err.code }),
    );
  }
  if (ex.method !== 'GET' && ex.method !== 'HEAD' && ex.method !== 'OPTIONS' && res.status < 400) {
    await ctx.openStore.delete(cacheKey(target, {}, ctx.keyPolicy)).catch(() => false);
  }
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined || CONNECTION_SPECIFIC.has(k) || k.startsWith(':')) continue;
    out[k] = v;
  }
  const upstreamCs = typeof out['cache-status'] === 'string' ? out['cache-status'] : undefined;
  out['cache-status'] = appendCacheStatus(upstreamCs, ctx.cs({ fwd: reason, ...(detail ? { detail } : {}) }));
  out['x-request-id'] = ex.id;
  ex.cacheStatus = out['cache-status'];
  ex.res.writeHead(res.status, out);
  res.body.on('data', (c: Buffer) => {
    ex.bytes += c.length;
  });
  pipeline(res.body, ex.res, (err) => {
    if (err) ex.res.destroy();
  });
}
