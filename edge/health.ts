/**
 * /_edge/health: a JSON report of this edge. "degraded" (HTTP 503) when the store stopped
 * admitting objects (ENOSPC or an I/O error) — the edge still serves, a balancer may prefer others.
 * The full report (upstream and peer URLs) needs the admin token; anyone else gets `publicHealth`.
 */
import type { StoreStats } from './store/index.js';
import type { UpstreamMemberState } from './upstream-set.js';

export interface HealthInput {
  name: string;
  upstream: string;
  /** The primary/backup set: which is current, which are down (edge/upstream-set.ts). */
  upstreams: UpstreamMemberState[];
  store: StoreStats | undefined;
  peers: string[];
  deadPeers: string[];
  fillsInFlight: number;
  held: number;
  upstreamActive: number;
  upstreamQueued: number;
}

export interface HealthReport extends Omit<HealthInput, 'store'> {
  status: 'ok' | 'degraded';
  reasons: string[];
  store: StoreStats | undefined;
}

export function healthReport(h: HealthInput): HealthReport {
  const reasons: string[] = [];
  if (!h.store) reasons.push('store not open');
  else if (!h.store.admitting) reasons.push(`store not admitting${h.store.lastError ? `: ${h.store.lastError}` : ''}`);
  return { status: reasons.length === 0 ? 'ok' : 'degraded', reasons, ...h };
}

/**
 * What anyone may read: the status and the counts. The upstream URL and the peers' URLs describe
 * the network behind the edge and are shown only to a request carrying the admin token.
 */
export interface PublicHealthReport extends Omit<HealthReport, 'upstream' | 'upstreams' | 'peers' | 'deadPeers'> {
  /**
   * The upstream set without URLs or errors: roles and states, and the live channels (paths, as
   * viewers request them) an upstream is under duress for, or answered 5xx for.
   */
  upstreams: (Pick<UpstreamMemberState, 'role' | 'healthy' | 'current'> & {
    duress?: string[];
    channelsDown?: string[];
  })[];
  peers: number;
  deadPeers: number;
}

export function publicHealth(report: HealthReport): PublicHealthReport {
  const { upstream: _upstream, upstreams, peers, deadPeers, ...rest } = report;
  return {
    ...rest,
    upstreams: upstreams.map(({ role, healthy, current, duress, channelsDown }) => ({
      role,
      healthy,
      current,
      ...(duress ? { duress: duress.map((d) => d.scope) } : {}),
      ...(channelsDown ? { channelsDown: channelsDown.map((d) => d.scope) } : {}),
    })),
    peers: peers.length,
    deadPeers: deadPeers.length,
  };
}
