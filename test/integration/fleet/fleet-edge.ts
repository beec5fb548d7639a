/** An in-process fleet edge for the tests: createEdge + the fleet, optionally with its purge applications held. */
import { join } from 'node:path';
import { createEdge, type Edge } from '../../../edge/server.js';
import { joinFleet, openFleetPrelude } from '../../../edge/fleet/fleet-cli.js';
import type { EdgeFleet } from '../../../edge/fleet/edge-fleet.js';

export interface FleetEdgeOptions {
  nats: string;
  upstream: string;
  pop: string;
  name: string;
  /** Parent folder of the store (the store and its purge position survive a restart). */
  dir: string;
  adminToken: string;
  port?: number;
  /** Holds each purge application until it resolves. */
  gate?: { wait: () => Promise<void> };
}

export interface FleetEdge {
  edge: Edge;
  url: string;
  fleet: EdgeFleet;
  close(): Promise<void>;
}

const silent = { info: () => undefined, warn: () => undefined };

export async function startFleetEdge(o: FleetEdgeOptions): Promise<FleetEdge> {
  const prelude = await openFleetPrelude({ nats: o.nats, pop: o.pop }, o.name, silent);
  const store = join(o.dir, o.name);
  const edge = createEdge({
    upstream: o.upstream,
    name: o.name,
    adminToken: o.adminToken,
    logLevel: 'silent',
    store: { dir: store, capacityBytes: 64 * 1024 * 1024 },
  });
  edge.attachFleet(prelude.link);
  const url = await edge.listen(o.port ?? 0, '127.0.0.1');
  const gate = o.gate;
  const gated: Edge = gate
    ? new Proxy(edge, {
        get(target, prop, receiver) {
          if (prop === 'applyPurge')
            return async (specs: Parameters<Edge['applyPurge']>[0]) => {
              await gate.wait();
              return target.applyPurge(specs);
            };
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      })
    : edge;
  const fleet = await joinFleet(gated, prelude, { pop: o.pop, name: o.name, store }, url);
  return {
    edge,
    url,
    fleet,
    close: async () => {
      await fleet.close();
      await edge.close();
    },
  };
}
