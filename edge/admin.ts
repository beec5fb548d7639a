/**
 * The admin endpoints under /_edge/: health, Prometheus metrics and POST /_edge/purge.
 */
import type { EdgeContext } from './context.js';
import { type Exchange, sendJson, sendText } from './exchange.js';
import { healthReport } from './health.js';
import { purgeEndpoint } from './admin-purge.js';

export async function handleAdmin(ctx: EdgeContext, ex: Exchange, url: string): Promise<void> {
  ex.result = 'admin';
  const path = url.split('?')[0];
  if (path === '/_edge/health' && (ex.method === 'GET' || ex.method === 'HEAD')) {
    const report = healthReport({
      name: ctx.o.name,
      upstream: ctx.o.upstream.href,
      store: ctx.openStore.stats(),
      peers: ctx.o.peers,
      deadPeers: ctx.router.deadPeers(),
      fillsInFlight: ctx.coalescer.size,
      held: ctx.coalescer.held,
      upstreamActive: ctx.upstream.active,
      upstreamQueued: ctx.upstream.queued,
    });
    return sendJson(ex, report.status === 'ok' ? 200 : 503, report);
  }
  if (path === '/_edge/metrics' && (ex.method === 'GET' || ex.method === 'HEAD')) {
    const body = Buffer.from(await ctx.metrics.registry.metrics());
    ex.res.writeHead(200, {
      'content-type': ctx.metrics.registry.contentType,
      'cache-control': 'no-store',
      'content-length': String(body.length),
      'x-request-id': ex.id,
    });
    ex.bytes += body.length;
    ex.res.end(ex.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/_edge/purge') return purgeEndpoint(ctx, ex);
  return sendText(ex, 404, 'unknown admin endpoint (try /_edge/health, /_edge/metrics, POST /_edge/purge)', undefined);
}
