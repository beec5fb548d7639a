/**
 * Where a fill gets its bytes and what it sends: the owning peer when another peer of the PoP
 * owns the key, else the upstream set (edge/upstream-set.ts: primary/backup with failover;
 * edge/forwarding.ts builds the headers a fill carries). In a worker of a multi-worker edge, the
 * store process does this once for all workers (edge/cluster).
 */
import type { EdgeContext } from './context.js';
import { HOP_HEADER } from './tiering/peers.js';
import { upstreamError } from './upstream.js';
import type { FillResponse } from './fill.js';
import type { StoreClient } from './cluster/store-client.js';

/** LL-HLS blocking reloads are held by the origin: they get a longer header timeout. */
function isBlockingReload(target: string): boolean {
  return /[?&]_HLS_(msn|part)=/.test(target);
}

/** Fetch for a fill: from the owning peer if another peer owns the key, else from upstream. */
/** What a fill's fetch needs of the edge (the store process of a multi-worker edge has these too). */
export type FillSourceContext = Pick<EdgeContext, 'o' | 'router' | 'upstream' | 'upstreams' | 'metrics' | 'logger'> & {
  readonly cluster?: StoreClient | undefined;
};

export async function fetchForFill(
  ctx: FillSourceContext,
  key: string,
  target: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  fromPeer: boolean,
  onInfo?: (status: number, headers: Record<string, string | string[]>) => void,
): Promise<FillResponse> {
  // a worker of a multi-worker edge: the store process fetches once for every worker (edge/cluster)
  if (ctx.cluster?.connected) {
    const dedupe = `${headers['if-none-match'] ?? ''}\u0000${headers['if-modified-since'] ?? ''}`;
    return ctx.cluster.fetch({ key, dedupe, target, headers, fromPeer }, signal, onInfo);
  }
  const timeouts = {
    ...(isBlockingReload(target) ? { headersTimeoutMs: ctx.o.blockingHeadersTimeoutMs, pool: 'held' as const } : {}),
    ...(onInfo ? { onInfo } : {}),
  };
  if (!fromPeer) {
    for (const peer of ctx.router.candidates(key)) {
      const u = new URL(peer);
      const t0 = performance.now();
      try {
        const res = await ctx.upstream.request(
          `${u.protocol}//${u.host}`,
          `${u.pathname.replace(/\/$/, '')}${target}`,
          {
            headers: { ...headers, [HOP_HEADER]: ctx.o.self! },
            signal,
            ...timeouts,
          },
        );
        ctx.metrics.upstreamLatency.observe({ target: 'peer' }, (performance.now() - t0) / 1000);
        ctx.metrics.upstreamRequests.inc({ target: 'peer', status: String(res.status) });
        ctx.router.markAlive(peer);
        return { ...res, viaPeer: peer };
      } catch (e) {
        const err = upstreamError(e, peer);
        ctx.metrics.upstreamRequests.inc({ target: 'peer', status: err.code });
        if (err.code !== 'UPSTREAM_UNREACHABLE' && err.code !== 'UPSTREAM_TIMEOUT') throw err;
        ctx.logger.warn({ peer, code: err.code }, 'peer failed: skipping it for a while');
        ctx.router.markDead(peer);
      }
    }
  }
  const t0 = performance.now();
  try {
    const res = await ctx.upstreams.request(target, { headers, signal, ...timeouts });
    ctx.metrics.upstreamLatency.observe({ target: 'upstream' }, (performance.now() - t0) / 1000);
    ctx.metrics.upstreamRequests.inc({ target: 'upstream', status: String(res.status) });
    return res;
  } catch (e) {
    const err = upstreamError(e, ctx.upstreams.current);
    ctx.metrics.upstreamRequests.inc({ target: 'upstream', status: err.code });
    throw err;
  }
}
