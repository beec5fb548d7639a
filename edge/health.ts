/**
 * /_edge/health: a JSON report of this edge. "degraded" (HTTP 503) when the store stopped
 * admitting objects (ENOSPC or an I/O error) — the edge still serves, a balancer may prefer others.
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
