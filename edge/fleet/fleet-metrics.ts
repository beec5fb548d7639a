/**
 * The fleet's Prometheus metrics, defined once: registered by a single-process member's fleet
 * (edge/fleet/edge-fleet.ts), or mirrored in each worker of a multi-worker member, whose supervisor
 * holds the fleet (edge/cluster/worker-fleet.ts).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface FleetMetrics {
  lag: Histogram;
  deadLetters: Counter;
  members: Gauge;
}

/**
 * `mirrored`: every worker reports the supervisor's member count and dead letters, so the summed
 * /_edge/metrics takes one copy (max), not N; each purge's lag is observed in one worker (summed).
 */
export function fleetMetrics(
  registry: Registry,
  mirrored?: { members(): number; deadLetters(): number },
): FleetMetrics {
  const lag = new Histogram({
    name: 'edge_fleet_purge_lag_seconds',
    help: 'Purge published (JetStream timestamp) → applied on this edge',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 60],
    registers: [registry],
  });
  const deadLetters = new Counter({
    name: 'edge_fleet_purge_dead_letters_total',
    help: 'Purge messages skipped as invalid or failing',
    registers: [registry],
    ...(mirrored
      ? {
          aggregator: 'max' as const,
          collect() {
            this.reset();
            this.inc(mirrored.deadLetters());
          },
        }
      : {}),
  });
  const members = new Gauge({
    name: 'edge_fleet_members',
    help: 'Live members of this PoP as this edge sees them',
    registers: [registry],
    ...(mirrored
      ? {
          aggregator: 'max' as const,
          collect() {
            this.set(mirrored.members());
          },
        }
      : {}),
  });
  return { lag, deadLetters, members };
}
