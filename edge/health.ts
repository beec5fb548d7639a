/**
 * /_edge/health: a JSON report of this edge. "degraded" (HTTP 503) when the store stopped
 * admitting objects (ENOSPC or an I/O error) — the edge still serves, a balancer may prefer others.
 * The full report (upstream and peer URLs) needs the admin token; anyone else gets `publicHealth`.
 */
import type { StoreStats } from './store/index.js';

export interface HealthInput {
  name: string;
  upstream: string;
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
export interface PublicHealthReport extends Omit<HealthReport, 'upstream' | 'peers' | 'deadPeers'> {
  peers: number;
  deadPeers: number;
}

export function publicHealth(report: HealthReport): PublicHealthReport {
  const { upstream: _upstream, peers, deadPeers, ...rest } = report;
  return { ...rest, peers: peers.length, deadPeers: deadPeers.length };
}
