/**
 * A multi-worker edge as one fleet member (`--nats` with `--workers N`): the supervisor holds the
 * one NATS connection, the membership heartbeat, the purge stream consumer and the key watch, and
 * relays to the workers over IPC (edge/cluster/worker-fleet.ts is the worker's end).
 *
 * The supervisor, not the store process, because it is the one process that lives as long as the
 * edge: a worker or the store process that dies is restarted without the member leaving the PoP or
 * its purge consumer stopping. It never touches the store itself: a fleet purge is applied by asking
 * one worker, which runs the multi-worker edge's own acked purge (the store process changes the
 * index, every worker drops its copies and fills in flight, then it answers), and only then is the
 * purge acknowledged to the stream and reported applied.
 */
import type { ChildProcess } from 'node:child_process';
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { StreamedgeError } from '../../src/errors.js';
import { parseDuration } from '../../src/cli/options.js';
import type { KeyLog } from '../../src/signing/reloading-key-source.js';
import type { EdgeCliOptions } from '../edge-cli.js';
import type { PurgeSpec } from '../purge.js';
import {
  type FleetHost,
  type FleetPrelude,
  joinFleetAs,
  joinFleetInBackground,
  openFleetPrelude,
} from '../fleet/fleet-cli.js';
import {
  type FleetMessage,
  type FleetState,
  type IpcEnd,
  type RelayedJwksEntry,
  type WorkerAsk,
  IpcAsks,
  answer,
  isFleetMessage,
  safeSend,
} from './fleet-ipc.js';
import { teeBucket, toRelayed } from './keys-relay.js';

/** A fleet purge applied by a worker: the store and every worker; a large prefix can take a while. */
const APPLY_ASK_MS = 60_000;
const OBJECTS_ASK_MS = 5_000;
/** How often the fleet's state (ready, purge floor, health) is compared with what the workers were told. */
const STATE_PUSH_MS = 250;

interface WorkerEnd {
  end: IpcEnd;
  asks: IpcAsks;
  /** Said hello: its edge exists and can apply purges. */
  bound: boolean;
}

export class SupervisorFleet {
  readonly #workers = new Map<Worker, WorkerEnd>();
  #keys: RelayedJwksEntry | null = null;
  #peers: { urls: string[]; self: string } | undefined;
  /** undefined: never set by the fleet; null: none in the fleet. */
  #credential: string | null | undefined;
  #sentState = '';
  #timer: NodeJS.Timeout | undefined;
  #joined: { close(): Promise<void> } | undefined;
  #store: ChildProcess | undefined;
  #prelude!: FleetPrelude;
  readonly #keyLog: KeyLog;

  private constructor(
    private readonly o: EdgeCliOptions,
    private readonly logger: Logger,
  ) {
    this.#keyLog = { info: (x, m) => logger.info(x, m), warn: (x, m) => logger.warn(x, m) };
  }

  /** Connects to NATS and loads the fleet keys (before any worker starts: they verify with them). */
  static async open(o: EdgeCliOptions, logger: Logger): Promise<SupervisorFleet> {
    const f = new SupervisorFleet(o, logger);
    f.#prelude = await openFleetPrelude(o, o.name, f.#keyLog, (b) =>
      teeBucket(b, (e) => {
        if (f.#keys !== null && e.revision <= f.#keys.revision) return;
        f.#keys = toRelayed(e);
        f.broadcast({ type: 'fleet-keys', entry: f.#keys });
      }),
    );
    return f;
  }

  /**
   * Joins the fleet as `self` (the edge's URL: one member whatever its worker count), once the
   * workers listen. Content waits in the workers until the purge replay is done.
   */
  async join(self: string): Promise<void> {
    const host: FleetHost = {
      logger: this.logger,
      onPurgeApplied: (seconds) => {
        const we = this.boundWorker();
        if (we) safeSend(we.end, { type: 'fleet-lag', seconds });
      },
      applyPurge: (specs) => this.apply(specs),
      cacheIsEmpty: async () => (await this.objects()) === 0,
      setPeers: (urls) => {
        this.#peers = { urls, self };
        this.broadcast({ type: 'fleet-peers', ...this.#peers });
        if (this.#store) sendTo(this.#store, { type: 'fleet-peers', ...this.#peers });
      },
      setUpstreamCredential: (c) => {
        this.#credential = c ?? null;
        this.broadcast({ type: 'fleet-credential', credential: this.#credential });
      },
    };
    const p = this.#prelude;
    this.#timer = setInterval(() => this.pushState(), STATE_PUSH_MS);
    this.#timer.unref();
    void p.link.whenReady().then(() => this.pushState());
    if (p.conn) this.#joined = await joinFleetAs(host, p, this.o, self);
    else {
      this.#joined = joinFleetInBackground(
        host,
        p,
        this.o,
        self,
        this.#keyLog,
        parseDuration(this.o.fleetJoinWait ?? '30s') * 1000,
      );
    }
  }

  /** The store process (re)started: it routes fills to the owning peers, so it needs the members. */
  storeStarted(child: ChildProcess): void {
    this.#store = child;
    if (this.#peers) sendTo(child, { type: 'fleet-peers', ...this.#peers });
  }

  /** A message from a worker; false when it is not the fleet's. */
  onWorkerMessage(w: Worker, m: unknown): boolean {
    if (!isFleetMessage(m)) return false;
    const we = this.endOf(w);
    if (m.type === 'fleet-reply') we.asks.settle(m.id, m.value, m.error);
    else if (m.type === 'fleet-ask') answer(we.end, m.id, () => this.onAsk(w, we, m.ask as WorkerAsk));
    return true;
  }

  /** A worker exited: what it was asked fails (a purge it was applying is retried by the stream). */
  workerGone(w: Worker): void {
    this.#workers.get(w)?.asks.failAll(`worker ${w.process.pid ?? '?'} exited`);
    this.#workers.delete(w);
  }

  private endOf(w: Worker): WorkerEnd {
    let we = this.#workers.get(w);
    if (!we) {
      const end: IpcEnd = { send: (m) => sendTo(w, m) };
      we = { end, asks: new IpcAsks(end), bound: false };
      this.#workers.set(w, we);
    }
    return we;
  }

  private async onAsk(w: Worker, we: WorkerEnd, ask: WorkerAsk): Promise<unknown> {
    const link = this.#prelude.link;
    switch (ask.op) {
      case 'hello':
        we.bound = true;
        safeSend(we.end, { type: 'fleet-state', state: this.state() });
        if (this.#peers) safeSend(we.end, { type: 'fleet-peers', ...this.#peers });
        if (this.#credential !== undefined)
          safeSend(we.end, { type: 'fleet-credential', credential: this.#credential });
        this.logger.debug({ workerPid: w.process.pid }, 'worker joined the fleet relay');
        return true;
      case 'purge':
        return link.purge(ask.specs, ask.requestId);
      case 'reach':
        return link.reachPurgeFloor(ask.seq);
      case 'keys':
        return this.#keys;
    }
  }

  /** A live worker that can apply purges (the first that said hello and is still running). */
  private boundWorker(): WorkerEnd | undefined {
    for (const [w, we] of this.#workers) if (we.bound && !w.isDead() && w.isConnected()) return we;
    return undefined;
  }

  private worker(): WorkerEnd {
    const we = this.boundWorker();
    if (!we) throw new StreamedgeError('EDGE_WORKER', 'no edge worker is running to apply the purge');
    return we;
  }

  private async apply(specs: PurgeSpec[]): Promise<number> {
    const n = await this.worker().asks.ask<number>({ op: 'apply', specs }, APPLY_ASK_MS);
    // the stream moves its applied position once this resolves: tell the workers the new floor
    setImmediate(() => this.pushState());
    return n;
  }

  /** Objects in the store (-1 when no worker or the store process cannot say: not known empty). */
  private async objects(): Promise<number> {
    try {
      return await this.worker().asks.ask<number>({ op: 'objects' }, OBJECTS_ASK_MS);
    } catch {
      return -1;
    }
  }

  private state(): FleetState {
    const link = this.#prelude.link;
    const health = link.health();
    const report = health.report as { members?: unknown[]; purge?: { deadLetters?: number } };
    return {
      ready: link.ready,
      floor: link.purgeFloor(),
      health,
      members: Array.isArray(report.members) ? report.members.length : 0,
      deadLetters: report.purge?.deadLetters ?? 0,
    };
  }

  private pushState(): void {
    const state = this.state();
    const text = JSON.stringify(state);
    if (text === this.#sentState) return;
    this.#sentState = text;
    this.broadcast({ type: 'fleet-state', state });
  }

  private broadcast(m: FleetMessage): void {
    for (const [w, we] of this.#workers) if (!w.isDead()) safeSend(we.end, m);
  }

  /** Leaves the fleet (membership, purge consumer, keys, connection). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#joined) await this.#joined.close();
    else {
      await this.#prelude.keys?.close();
      await this.#prelude.conn?.close();
    }
    for (const we of this.#workers.values()) we.asks.failAll('the edge is stopping');
  }
}

/**
 * Sends over a child's IPC channel; a channel that closed meanwhile (the child exiting) is not an
 * error here (without the callback it would be an 'error' event nobody listens to).
 */
function sendTo(
  child: { connected?: boolean; isConnected?: () => boolean; send: Worker['send'] },
  m: FleetMessage,
): void {
  const open = child.isConnected ? child.isConnected() : child.connected;
  if (open) child.send(m, undefined, () => undefined);
}
