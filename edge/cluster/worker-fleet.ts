/**
 * A worker's view of the fleet when a multi-worker edge is a fleet member: the supervisor holds
 * the one NATS connection (edge/cluster/supervisor-fleet.ts) and this FleetLink relays to it over
 * the worker's IPC channel.
 *
 * - Content waits until the supervisor says the purge replay is done (`fleet-state`).
 * - POST /_edge/purge on this worker is published by the supervisor, which answers once every live
 *   member (this edge applied it through one of its workers: store process + every worker) applied it.
 * - The supervisor asks a worker to apply a fleet purge: the multi-worker edge's own acked purge
 *   (the store process changes the index, every worker drops its copies, then it answers).
 * - Health is the supervisor's fleet report as last pushed; peers and the upstream credential follow
 *   the fleet; the fleet keys come through a RelayedBucket.
 */
import type { PurgeSpec } from '../purge.js';
import type { FleetLink, FleetPurgeAnswer } from '../fleet/fleet-link.js';
import type { Edge } from '../server.js';
import { StreamedgeError } from '../../src/errors.js';
import {
  type FleetMessage,
  type FleetState,
  type IpcEnd,
  type RelayedJwksEntry,
  type SupervisorAsk,
  IpcAsks,
  answer,
  isFleetMessage,
} from './fleet-ipc.js';
import { RelayedBucket } from './keys-relay.js';
import { type FleetMetrics, fleetMetrics } from '../fleet/fleet-metrics.js';

/** What the worker does when the fleet asks (set once its edge exists). */
export interface WorkerFleetEdge {
  edge: Edge;
  /** The fleet's upstream credential changed (signed access trusts it too). */
  onCredential?: (credential: string | undefined) => void;
}

/** Longest wait for the supervisor: a fleet purge waits for every member (5 s) after NATS confirms it (3 s). */
const PURGE_ASK_MS = 30_000;
const REACH_ASK_MS = 5_000;

export class WorkerFleetLink implements FleetLink {
  #state: FleetState = {
    ready: false,
    floor: 0,
    health: { reasons: ['joining the fleet'], report: { state: 'joining' } },
    members: 0,
    deadLetters: 0,
  };
  #metrics: FleetMetrics | undefined;
  #readyWaiters: Array<() => void> = [];
  #bound: WorkerFleetEdge | undefined;
  readonly #asks: IpcAsks;
  readonly #off: () => void;
  /** The fleet keys as the supervisor relays them (read by a KvKeySource). */
  readonly keys: RelayedBucket;

  constructor(
    private readonly end: IpcEnd,
    subscribe: (fn: (m: unknown) => void) => () => void,
  ) {
    this.#asks = new IpcAsks(end);
    this.keys = new RelayedBucket(() => this.#asks.ask<RelayedJwksEntry | null>({ op: 'keys' }, REACH_ASK_MS));
    this.#off = subscribe((m) => {
      if (isFleetMessage(m)) this.onMessage(m);
    });
  }

  /** This worker's link over its process IPC channel (node:cluster worker). */
  static overProcess(): WorkerFleetLink {
    return new WorkerFleetLink(
      {
        send: (m) => {
          if (!process.send)
            throw new StreamedgeError('EDGE_STATE', 'no IPC channel: start this through the supervisor');
          process.send(m, undefined, undefined, () => undefined);
        },
      },
      (fn) => {
        process.on('message', fn);
        return () => process.off('message', fn);
      },
    );
  }

  /** The edge exists: the supervisor may now ask it to apply purges, and sends the fleet's state. */
  bind(b: WorkerFleetEdge): Promise<void> {
    this.#bound = b;
    this.#metrics = fleetMetrics(b.edge.metrics.registry, {
      members: () => this.#state.members,
      deadLetters: () => this.#state.deadLetters,
    });
    return this.#asks.ask({ op: 'hello' }, REACH_ASK_MS);
  }

  private onMessage(m: FleetMessage): void {
    switch (m.type) {
      case 'fleet-reply':
        this.#asks.settle(m.id, m.value, m.error);
        break;
      case 'fleet-ask':
        answer(this.end, m.id, () => this.onAsk(m.ask as SupervisorAsk));
        break;
      case 'fleet-state':
        this.#state = m.state;
        if (m.state.ready) for (const w of this.#readyWaiters.splice(0)) w();
        break;
      case 'fleet-peers':
        this.#bound?.edge.setPeers(m.urls, m.self);
        break;
      case 'fleet-credential': {
        const c = m.credential ?? undefined;
        this.#bound?.edge.setUpstreamCredential(c);
        this.#bound?.onCredential?.(c);
        break;
      }
      case 'fleet-keys':
        this.keys.push(m.entry);
        break;
      case 'fleet-lag':
        this.#metrics?.lag.observe(m.seconds);
        break;
    }
  }

  private async onAsk(ask: SupervisorAsk): Promise<unknown> {
    const edge = this.#bound?.edge;
    if (!edge) throw new StreamedgeError('EDGE_STATE', 'this worker is not serving yet');
    switch (ask.op) {
      case 'apply':
        // a purge acknowledged to the fleet must have changed the index: not while the store process is away
        if (edge.storeObjects() === undefined) {
          throw new StreamedgeError('STORE_PROCESS', 'the store process is not connected: the purge is retried');
        }
        return edge.applyPurge(ask.specs);
      case 'objects':
        return edge.storeObjects() ?? -1;
    }
  }

  get ready(): boolean {
    return this.#state.ready;
  }

  whenReady(): Promise<void> {
    if (this.#state.ready) return Promise.resolve();
    return new Promise((r) => this.#readyWaiters.push(r));
  }

  health(): { reasons: string[]; report: unknown } {
    return this.#state.health;
  }

  async purge(specs: PurgeSpec[], requestId: string): Promise<FleetPurgeAnswer> {
    try {
      return await this.#asks.ask<FleetPurgeAnswer>({ op: 'purge', specs, requestId }, PURGE_ASK_MS);
    } catch (e) {
      return {
        status: 503,
        body: { error: `purge not confirmed by this edge's supervisor (${(e as Error).message}); retry` },
        headers: { 'retry-after': '5' },
      };
    }
  }

  purgeFloor(): number {
    return this.#state.floor;
  }

  async reachPurgeFloor(seq: number): Promise<boolean> {
    if (seq <= this.#state.floor) return true;
    return this.#asks.ask<boolean>({ op: 'reach', seq }, REACH_ASK_MS).catch(() => false);
  }

  close(): void {
    this.#off();
    this.#asks.failAll('the worker is closing');
  }
}
