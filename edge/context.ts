/**
 * What the parts of the edge share: resolved options, logger, metrics, the store, the upstream
 * pool, the fill table and the peer router. The server owns their lifecycle; the request
 * handlers (lookup, bypass, admin, purge) receive this view of them.
 */
import type { Logger } from 'pino';
import type { PreparedAnswers } from './prepared-answers.js';
import type { CacheKeyPolicy } from '../src/http/cache-key.js';
import type { CacheStatusEntry } from '../src/http/cache-status.js';
import type { EdgeStore } from './store/index.js';
import type { ResolvedEdgeOptions } from './config.js';
import type { EdgeCachePolicy } from './cache-policy.js';
import type { Coalescer } from './coalesce.js';
import type { EdgeMetrics } from './metrics.js';
import type { PeerRouter } from './tiering/peers.js';
import type { Upstream } from './upstream.js';
import type { UpstreamSet } from './upstream-set.js';
import type { FleetLink } from './fleet/fleet-link.js';
import type { EdgeRules } from './request-rules.js';
import type { StoreClient } from './cluster/store-client.js';

export interface EdgeContext {
  readonly o: ResolvedEdgeOptions;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  /** The open store (the server opens it before it accepts a request). */
  readonly openStore: EdgeStore;
  readonly upstream: Upstream;
  /** The primary/backup upstreams (edge/upstream-set.ts): fills and bypasses go through it. */
  readonly upstreams: UpstreamSet;
  readonly coalescer: Coalescer;
  readonly router: PeerRouter;
  readonly keyPolicy: CacheKeyPolicy;
  /** Query, CMCD and forwarding rules (edge/request-rules.ts). */
  readonly rules: EdgeRules;
  readonly policy: EdgeCachePolicy;
  /** Headers every upstream and peer request carries (tier trust credential), possibly none. */
  readonly upstreamAuth: Readonly<Record<string, string>>;
  readonly closing: boolean;
  /** The fleet this edge belongs to (edge/fleet), if any: purge goes through it, health shows it. */
  readonly fleet: FleetLink | undefined;
  /** A worker's link to the store process when the edge runs several workers (edge/cluster). */
  readonly cluster: StoreClient | undefined;
  /** A worker of a supervised edge: asks the supervisor to replace the workers one by one. */
  readonly requestRollingRestart: (() => void) | undefined;
  /** The CMSD cap (kbit/s) every answer suggests (`CMSD-Dynamic` `mb`); undefined: none. */
  readonly cmsdMaxBitrateKbps: number | undefined;
  /** Changes it from the next answer on (edge/admin-cmsd.ts); in a worker, for every worker. */
  setCmsdMaxBitrate(kbps: number | undefined, from: 'admin' | 'supervisor'): void;
  /** Keep a background task (revalidation, prefetch) so close() waits for it. */
  track(p: Promise<unknown>): void;
  /** Header blocks prepared per RAM-tier entry (edge/prepared-answers.ts). */
  readonly answers: PreparedAnswers;
  /** A Cache-Status member of this cache. */
  cs(extra: Omit<CacheStatusEntry, 'cache'>): CacheStatusEntry;
}
