/**
 * One edge's place in the fleet: the NATS connection, its membership heartbeat, the purge stream
 * consumer, and (when asked) the fleet's verification keys and upstream credential. Started after
 * the edge listens (its URL is its identity), stopped before the edge closes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Gauge, Registry } from 'prom-client';
import { fleetMetrics } from './fleet-metrics.js';
import type { Logger } from 'pino';
import { writeFileAtomicAsync } from '../../src/atomic-file.js';
import { StreamedgeError } from '../../src/errors.js';
import type { KvKeySource } from '../../src/signing/kv-key-source.js';
import type { PurgeSpec } from '../purge.js';
import { openKeysBucket } from '../../src/fleet/keys-bucket.js';
import { watchFleetCredential } from './fleet-keys.js';
import type { FleetEdgeHooks, FleetLink, FleetPurgeAnswer } from './fleet-link.js';
import { Membership, checkPopName } from './membership.js';
import type { FleetConnection } from '../../src/fleet/nats-connection.js';
import { PurgeStream, consumerNameFor, type PurgePosition } from './purge-stream.js';

export interface EdgeFleetOptions {
  /** An open connection (the fleet closes it). */
  connection: FleetConnection;
  pop: string;
  /** This edge's name; its durable purge consumer is named from PoP, name and URL (keep them stable across restarts). */
  name: string;
  /** This edge's URL as the other members reach it. */
  url: string;
  version: string;
  /** File beside the cache holding the purge position it is vouched for (none: a temporary cache). */
  positionFile?: string;
  heartbeatMs?: number;
  memberTtlMs?: number;
  /** How long POST /_edge/purge waits for every live member (default 5 s). */
  purgeWaitMs?: number;
  /** Longest replay before serving with the whole cache marked stale (default 30 s). */
  replayTimeoutMs?: number;
  /** How long a request carrying a purge floor waits for this edge to reach it (default 2 s). */
  floorWaitMs?: number;
  /** The fleet's verification keys, when the edge uses them (health shows their kids; closed with the fleet). */
  keys?: KvKeySource;
  /** Follow the upstream credential in the fleet's KV bucket. */
  credential?: boolean;
  registry?: Registry;
  /** Each purge applied here, with its lag (publish → applied) in seconds. */
  onPurgeApplied?: (lagSeconds: number) => void;
  logger: Logger;
}

export class EdgeFleet implements FleetLink {
  #ready = false;
  #keys: KvKeySource | undefined;
  #stopCredential: (() => Promise<void>) | undefined;
  #memberGauge: Gauge | undefined;

  private constructor(
    private readonly o: EdgeFleetOptions,
    private readonly conn: FleetConnection,
    private readonly membership: Membership,
    private readonly purges: PurgeStream,
  ) {
    void purges.ready.then(() => {
      this.#ready = true;
    });
  }

  static async start(o: EdgeFleetOptions, hooks: FleetEdgeHooks): Promise<EdgeFleet> {
    checkPopName(o.pop);
    const log = o.logger.child({ fleet: o.pop });
    const conn = o.connection;
    const cleanup: Array<() => Promise<void>> = [() => conn.close()];
    if (o.keys) cleanup.push(() => o.keys!.close());
    try {
      const metrics = o.registry ? fleetMetrics(o.registry) : undefined;
      let memory: PurgePosition | undefined; // a temporary cache keeps its position in memory
      let stopCredential: (() => Promise<void>) | undefined;
      if (o.credential === true) {
        stopCredential = await watchFleetCredential(
          await openKeysBucket(conn),
          (c) => hooks.setUpstreamCredential?.(c),
          log,
        );
        cleanup.push(stopCredential);
      }
      const purges = await PurgeStream.open(
        conn,
        {
          member: o.url,
          consumer: consumerNameFor(
            o.pop,
            `${o.name}_${createHash('sha256').update(o.url).digest('hex').slice(0, 12)}`,
          ),
          ...(o.replayTimeoutMs !== undefined ? { replayTimeoutMs: o.replayTimeoutMs } : {}),
        },
        {
          apply: (specs) => hooks.applyPurge(specs),
          cacheIsEmpty: () => hooks.cacheIsEmpty(),
          markAllStale: async (reason) => {
            log.warn({ reason }, 'whole cache marked stale: every object revalidates before it is served');
            await hooks.applyPurge([{ kind: 'prefix', value: '/', mode: 'soft' }]);
          },
          loadPosition: async () => (o.positionFile === undefined ? memory : loadPosition(o.positionFile)),
          savePosition: async (p) => {
            if (o.positionFile === undefined) memory = p;
            else await savePosition(o.positionFile, p);
          },
          onApplied: (s) => {
            metrics?.lag.observe(s);
            o.onPurgeApplied?.(s);
          },
          onDeadLetter: () => metrics?.deadLetters.inc(),
          log,
        },
      );
      cleanup.push(() => purges.close());
      const membership = await Membership.join(conn, {
        self: { url: o.url, pop: o.pop, name: o.name, startedAt: new Date().toISOString(), version: o.version },
        ...(o.heartbeatMs !== undefined ? { heartbeatMs: o.heartbeatMs } : {}),
        ...(o.memberTtlMs !== undefined ? { ttlMs: o.memberTtlMs } : {}),
      });
      const f = new EdgeFleet(o, conn, membership, purges);
      f.#keys = o.keys;
      f.#stopCredential = stopCredential;
      f.#memberGauge = metrics?.members;
      membership.onChange((members) => {
        f.#memberGauge?.set(members.length);
        log.info({ members: members.map((m) => m.url) }, 'PoP members');
        hooks.setPeers(members.map((m) => m.url));
      });
      return f;
    } catch (e) {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      throw e;
    }
  }

  /** The fleet's verification keys (with `keys: true`). */
  get keySource(): KvKeySource | undefined {
    return this.#keys;
  }
  get ready(): boolean {
    return this.#ready;
  }
  whenReady(): Promise<void> {
    return this.purges.ready;
  }
  purgeFloor(): number {
    return this.purges.appliedSeq;
  }
  reachPurgeFloor(seq: number): Promise<boolean> {
    return this.purges.waitForSeq(seq, this.o.floorWaitMs ?? 2000);
  }

  health(): { reasons: string[]; report: unknown } {
    const reasons: string[] = [];
    if (!this.#ready) reasons.push('replaying missed purges');
    return {
      reasons,
      report: {
        pop: this.o.pop,
        self: this.o.url,
        nats: {
          url: this.conn.url,
          connected: this.conn.connected,
          ...(this.conn.connected ? {} : { reason: this.conn.reason }),
          reconnects: this.conn.reconnects,
        },
        members: this.membership.live(this.o.pop),
        otherPops: [...new Set(this.membership.live().map((m) => m.pop))].filter((p) => p !== this.o.pop).sort(),
        purge: {
          state: this.purges.state,
          appliedSeq: this.purges.appliedSeq,
          deadLetters: this.purges.deadLetters,
        },
        ...(this.#keys ? { keys: { revision: this.#keys.revision, kids: this.#keys.kids() } } : {}),
      },
    };
  }

  async purge(specs: PurgeSpec[], requestId: string): Promise<FleetPurgeAnswer> {
    const waitMs = this.o.purgeWaitMs ?? 5000;
    try {
      const out = await this.purges.publish(specs, () => this.membership.live().map((m) => m.url), waitMs);
      this.o.logger.info({ reqId: requestId, specs, seq: out.seq, missing: out.missing }, 'fleet purge');
      const body = { id: out.id, seq: out.seq, items: specs, applied: out.applied, missing: out.missing };
      if (out.missing.length === 0) return { status: 200, body };
      return {
        status: 202,
        body: {
          ...body,
          detail: `not applied within ${waitMs} ms by ${out.missing.join(', ')}; the purge is kept in the stream and they apply it when they catch up`,
        },
      };
    } catch (e) {
      if (e instanceof StreamedgeError && e.code === 'FLEET_UNAVAILABLE') {
        this.o.logger.warn({ reqId: requestId, msg: e.message }, 'fleet purge refused');
        return { status: 503, body: { error: e.message }, headers: { 'retry-after': '5' } };
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.membership.leave();
    await this.purges.close();
    await this.#stopCredential?.();
    await this.#keys?.close();
    await this.conn.close();
  }
}

async function loadPosition(file: string): Promise<PurgePosition | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const p = JSON.parse(text) as Partial<PurgePosition>;
  return typeof p.stream === 'string' && typeof p.seq === 'number' ? { stream: p.stream, seq: p.seq } : undefined;
}

async function savePosition(file: string, p: PurgePosition): Promise<void> {
  await writeFileAtomicAsync(file, JSON.stringify(p));
}
