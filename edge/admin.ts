/**
 * The admin endpoints under /_edge/: health (upstream and peer URLs only with the admin token),
 * Prometheus metrics (summed over all workers), the CMCD sessions (edge/admin-cmcd.ts),
 * the CMSD cap (edge/admin-cmsd.ts), POST /_edge/purge and POST /_edge/restart.
 */
import type { EdgeContext } from './context.js';
import { type Exchange, sendJson, sendText } from './exchange.js';
import { healthReport, publicHealth } from './health.js';
import { adminTokenMatches, presentedToken } from './purge.js';
import { purgeEndpoint } from './admin-purge.js';
import { cmcdSessionsEndpoint } from './admin-cmcd.js';
import { cmsdCapEndpoint } from './admin-cmsd.js';
import { adminAuthorized } from './admin-auth.js';

export async function handleAdmin(ctx: EdgeContext, ex: Exchange, url: string): Promise<void> {
  ex.result = 'admin';
  const path = url.split('?')[0];
  if (path === '/_edge/health' && (ex.method === 'GET' || ex.method === 'HEAD')) {
    const report = healthReport({
      name: ctx.o.name,
      upstream: ctx.o.upstream.href,
      upstreams: ctx.upstreams.state(),
      store: ctx.openStore.stats(),
      peers: ctx.o.peers,
      deadPeers: ctx.router.deadPeers(),
      fillsInFlight: ctx.coalescer.size,
      held: ctx.coalescer.held,
      upstreamActive: ctx.upstream.active,
      upstreamQueued: ctx.upstream.queued,
    });
    // the upstream, peer and member URLs describe the network behind the edge: admin token only
    const admin = adminTokenMatches(presentedToken(ex.req.headers), ctx.o.adminToken);
    if (ctx.fleet) {
      const f = ctx.fleet.health();
      const reasons = [...report.reasons, ...f.reasons];
      const status: 'ok' | 'degraded' = reasons.length === 0 ? 'ok' : 'degraded';
      const full = { ...report, status, reasons, peers: [...ctx.router.peers] };
      const body = admin ? { ...full, fleet: f.report } : { ...publicHealth(full), fleet: publicFleetReport(f.report) };
      return sendJson(ex, reasons.length === 0 ? 200 : 503, body);
    }
    return sendJson(ex, report.status === 'ok' ? 200 : 503, admin ? report : publicHealth(report));
  }
  if (path === '/_edge/metrics' && (ex.method === 'GET' || ex.method === 'HEAD')) {
    // several workers: the store process collects every worker's registry and sums them with its own
    const text = ctx.cluster?.connected
      ? await ctx.cluster.metrics().catch(() => ctx.metrics.registry.metrics())
      : await ctx.metrics.registry.metrics();
    const body = Buffer.from(text);
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
  if (path === '/_edge/cmcd/sessions') return cmcdSessionsEndpoint(ctx, ex, url);
  if (path === '/_edge/restart') return restartEndpoint(ctx, ex);
  if (path === '/_edge/cmsd') return cmsdCapEndpoint(ctx, ex);
  return sendText(
    ex,
    404,
    'unknown admin endpoint (try /_edge/health, /_edge/metrics, /_edge/cmcd/sessions, /_edge/cmsd, POST /_edge/purge, POST /_edge/restart)',
    undefined,
  );
}

/** The fleet part of health without the URLs of the members and of NATS (admin token only). */
function publicFleetReport(report: unknown): unknown {
  if (typeof report !== 'object' || report === null) return report;
  const { self: _self, members, nats, ...rest } = report as Record<string, unknown>;
  const out: Record<string, unknown> = { ...rest };
  if (Array.isArray(members)) out.members = members.length;
  if (typeof nats === 'object' && nats !== null) {
    const { url: _url, ...natsRest } = nats as Record<string, unknown>;
    out.nats = natsRest;
  }
  return out;
}

/** POST /_edge/restart (admin token): a rolling restart of the workers, one by one (202). */
function restartEndpoint(ctx: EdgeContext, ex: Exchange): void {
  if (ex.method !== 'POST') return sendText(ex, 405, 'use POST /_edge/restart', undefined, { allow: 'POST' });
  if (!adminAuthorized(ctx, ex, 'restart')) return;
  if (!ctx.requestRollingRestart) {
    return sendText(ex, 409, 'this edge runs one process (--workers 1): nothing to restart in turn', undefined);
  }
  ctx.requestRollingRestart();
  sendJson(ex, 202, { restarting: 'workers, one by one' });
}
