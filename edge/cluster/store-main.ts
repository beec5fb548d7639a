/**
 * The store process of a multi-worker edge (started by edge/cluster/supervisor.ts): the one LogStore
 * writer, the fill table and the upstream pool, serving the workers over a Unix socket
 * (store-service.ts). SIGTERM (or the supervisor gone): fetches in flight finish and are stored,
 * then the store closes.
 */
import pino from 'pino';
import { stdoutLog } from '../../src/logging/log-destination.js';
import { AggregatorRegistry } from 'prom-client';
import { parseBytes } from '../../src/cli/options.js';
import { edgeOptionsFromCli } from '../edge-cli.js';
import { resolveOptions } from '../config.js';
import { fetchForFill, type FillSourceContext } from '../fill-source.js';
import { EdgeMetrics } from '../metrics.js';
import { newUpstream, newUpstreamSet } from '../server.js';
import { LogStore } from '../store/index.js';
import { PeerRouter } from '../tiering/peers.js';
import { failStart, readRole } from './process-role.js';
import { StoreService } from './store-service.js';

const role = readRole();
// an option or a store that fails here is told to the supervisor (failStart), which fails with it
const { input, o, logger, store } = await (async () => {
  const input = edgeOptionsFromCli(role.options);
  const o = resolveOptions(input);
  const logger = pino(
    {
      level: role.options.logLevel,
      base: { service: 'streamedge-edge', edge: o.name, role: 'store', pid: process.pid },
    },
    stdoutLog(),
  );
  const dir = role.options.store;
  if (dir === undefined) throw new Error('the store process needs a store directory');
  // the workers keep the RAM tiers; the store process only writes (and reads for copy-forward)
  const store = await LogStore.open({
    dir,
    capacityBytes: parseBytes(role.options.storeSize),
    ramBytes: 0,
    durability: 'flush',
    logger,
  });
  return { input, o, logger, store };
})().catch(failStart);
const upstream = newUpstream(o, input);
// fills in flight are reported by the workers (each its own); the store process adds upstream figures
const metrics = new EdgeMetrics(
  () => store.stats(),
  () => 0,
);
metrics.markProcess('store');
const ctx: FillSourceContext = {
  o,
  logger,
  metrics,
  upstream,
  upstreams: newUpstreamSet(o, upstream, metrics, logger),
  router: new PeerRouter(o.peers, o.self, o.peerRetryMs, o.now),
};
const svc = await StoreService.listen(
  role.socketPath,
  store,
  async (req, signal, onInfo) => {
    const r = await fetchForFill(ctx, req.key, req.target, req.headers, signal, req.fromPeer, onInfo);
    return { status: r.status, headers: r.headers, body: r.body, ...(r.viaPeer ? { viaPeer: r.viaPeer } : {}) };
  },
  {
    own: () => metrics.registry.getMetricsAsJSON(),
    merge: (all) => AggregatorRegistry.aggregate(all).metrics(),
    // the edge's one CMCD session table lives here: the workers report into it
    cmcdSessions: (report) => metrics.cmcd.merge(report),
    cmcdView: (query) => metrics.cmcd.view(query),
  },
  logger,
);
// a fleet member: the supervisor tells the live members of the PoP (fills go to the owning peer)
process.on('message', (m: { type?: string; urls?: string[]; self?: string }) => {
  if (m.type === 'fleet-peers' && Array.isArray(m.urls) && typeof m.self === 'string')
    ctx.router.setPeers(m.urls, m.self);
});
logger.info({ socket: role.socketPath }, 'edge store process ready');
process.send?.({ type: 'ready' });

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await svc.close();
  await upstream.close();
  await store.close();
  process.exit(0);
}
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
process.once('disconnect', () => void stop());
