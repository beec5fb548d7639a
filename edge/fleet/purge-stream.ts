/**
 * Purge through a JetStream stream. `publish` puts one message (a list of purge specs) on the
 * stream; every edge consumes the stream with its own durable consumer, applies each purge to its
 * cache and acks only after applying, then announces "applied" so the publisher can answer once
 * every live member has it. Durable consumers make a purge reach an edge that was down: on start
 * the edge replays what it missed before it serves (`ready`), with a bounded wait.
 *
 * Each member saves the position its cache is vouched for (stream identity + last applied sequence)
 * beside the cache. A non-empty cache whose position is older than the stream's first message (the
 * stream dropped purges it never saw), from another stream, or missing, cannot know what it missed:
 * the member marks its whole cache stale, so every object revalidates before it is served again.
 *
 * A message that is not a valid purge is logged, counted and terminated (JetStream's dead letter:
 * never redelivered, an advisory is published); a purge that fails to apply is redelivered a few
 * times, then dead-lettered the same way. Nothing here throws into the edge.
 */
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { StreamedgeError } from '../../src/errors.js';
import type { PurgeSpec } from '../purge.js';
import type { FleetConnection } from '../../src/fleet/nats-connection.js';

export const PURGE_STREAM = 'STREAMEDGE_PURGE';
export const PURGE_SUBJECT = 'streamedge.purge';
const APPLIED_SUBJECT = 'streamedge.purge-applied';
const MAX_DELIVER = 5;
const DEFAULT_MAX_AGE_MS = 24 * 3600 * 1000;

/** One purge message on the stream. */
export interface PurgeMessage {
  v: 1;
  id: string;
  specs: PurgeSpec[];
  /** The member that published it (URL). */
  from: string;
}

export interface PurgeOutcome {
  id: string;
  /** Stream sequence of the purge (tiers below wait for it: see purge floor). */
  seq: number;
  applied: string[];
  /** Live members that had not applied it when the wait ended. */
  missing: string[];
}

export interface PurgeStreamHooks {
  /** Applies purge specs to this edge's cache; returns how many objects they touched. */
  apply(specs: PurgeSpec[]): Promise<number>;
  /** Whether this edge's cache holds anything (a missing consumer on a non-empty cache means stale). */
  cacheIsEmpty(): Promise<boolean>;
  /**
   * The purge position this member's cache is vouched for: the stream it came from (its creation
   * time) and the last sequence applied. Kept beside the cache, so a cache and its position travel
   * together; undefined when none was saved.
   */
  loadPosition(): Promise<PurgePosition | undefined>;
  savePosition(p: PurgePosition): Promise<void>;
  /** Marks every cached object stale (revalidate before serving). */
  markAllStale(reason: string): Promise<void>;
  /** Publish → applied, seconds (the purge lag histogram). */
  onApplied?(lagSeconds: number): void;
  onDeadLetter?(reason: string): void;
  log?: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void };
}

export interface PurgeStreamOptions {
  /** This member's identity (its URL): the durable consumer is named from it, `applied` carries it. */
  member: string;
  /** Durable consumer name (letters, digits, - and _). */
  consumer: string;
  /** How long the stream keeps purges (default 24 h). */
  maxAgeMs?: number;
  /** Longest wait for the replay before the edge serves anyway with its whole cache marked stale. */
  replayTimeoutMs?: number;
}

export interface PurgePosition {
  stream: string;
  seq: number;
}

export type ReplayState = 'replaying' | 'caught-up' | 'gave-up';

const KINDS = new Set(['url', 'prefix', 'tag']);
const MODES = new Set(['hard', 'soft']);

/** Parses a purge message; throws a one-line reason when it is not one. */
export function parsePurgeMessage(data: Uint8Array): PurgeMessage {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(data));
  } catch {
    throw new Error('not JSON');
  }
  const m = doc as Partial<PurgeMessage> | null;
  if (m === null || typeof m !== 'object') throw new Error('not an object');
  if (m.v !== 1) throw new Error(`unknown version ${String(m.v)}`);
  if (typeof m.id !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(m.id)) throw new Error('bad id');
  if (typeof m.from !== 'string') throw new Error('bad from');
  if (!Array.isArray(m.specs) || m.specs.length === 0 || m.specs.length > 1000) throw new Error('bad specs');
  for (const s of m.specs as unknown[]) {
    const p = s as Partial<PurgeSpec> | null;
    if (
      p === null ||
      typeof p !== 'object' ||
      !KINDS.has(p.kind as string) ||
      !MODES.has(p.mode as string) ||
      typeof p.value !== 'string' ||
      p.value === ''
    )
      throw new Error('bad purge spec');
  }
  return m as PurgeMessage;
}

/** A durable consumer name for a member (JetStream names allow few characters). */
export function consumerNameFor(pop: string, name: string): string {
  return `edge_${pop}_${name}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200);
}

export class PurgeStream {
  #appliedSeq = 0;
  #state: ReplayState = 'replaying';
  #target = 0;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #waiters: Array<{ seq: number; resolve: () => void }> = [];
  #readyResolve!: () => void;
  /** Resolves when the replay is done (caught up, or gave up after the bounded wait). */
  readonly ready: Promise<void>;
  #deadLetters = 0;
  #replayTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #streamId = '';
  #saving: Promise<void> = Promise.resolve();

  private constructor(
    private readonly conn: FleetConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly o: PurgeStreamOptions,
    private readonly hooks: PurgeStreamHooks,
  ) {
    this.ready = new Promise((r) => (this.#readyResolve = r));
  }

  /** Makes sure the stream exists (same config for every member). */
  static async ensureStream(jsm: JetStreamManager, maxAgeMs: number): Promise<void> {
    const cfg = {
      subjects: [PURGE_SUBJECT],
      max_age: maxAgeMs * 1_000_000,
      duplicate_window: 120 * 1_000_000_000,
      max_msg_size: 1024 * 1024,
    };
    try {
      await jsm.streams.info(PURGE_STREAM);
    } catch {
      await jsm.streams.add({ name: PURGE_STREAM, ...cfg }).catch(async (e: unknown) => {
        // another member created it at the same time
        await jsm.streams.info(PURGE_STREAM).catch(() => {
          throw e;
        });
      });
    }
  }

  /** Opens this member's consumer and starts the replay (see `ready`). */
  static async open(conn: FleetConnection, o: PurgeStreamOptions, hooks: PurgeStreamHooks): Promise<PurgeStream> {
    const jsm = await jetstreamManager(conn.nc);
    await PurgeStream.ensureStream(jsm, o.maxAgeMs ?? DEFAULT_MAX_AGE_MS);
    const p = new PurgeStream(conn, jetstream(conn.nc), jsm, o, hooks);
    await p.start();
    return p;
  }

  get appliedSeq(): number {
    return this.#appliedSeq;
  }
  get state(): ReplayState {
    return this.#state;
  }
  get deadLetters(): number {
    return this.#deadLetters;
  }

  private async start(): Promise<void> {
    const si = await this.jsm.streams.info(PURGE_STREAM);
    this.#streamId = si.created;
    const first = si.state.first_seq;
    const last = si.state.last_seq;
    const saved = await this.hooks.loadPosition().catch(() => undefined);
    let ci = await this.jsm.consumers.info(PURGE_STREAM, this.o.consumer).catch(() => undefined);
    const empty = await this.hooks.cacheIsEmpty();
    let doubt: string | undefined;
    if (!empty) {
      if (saved === undefined) doubt = 'no saved purge position for this cache: it may hold purged objects';
      else if (saved.stream !== si.created) doubt = 'the purge stream was recreated since this cache was vouched for';
      else if (saved.seq < first - 1)
        doubt = `this member was away longer than the stream keeps purges (applied up to ${saved.seq}, stream starts at ${first})`;
    }
    if (ci !== undefined && (doubt !== undefined || saved === undefined || saved.stream !== si.created)) {
      // a position we cannot trust: start over after the last purge
      await this.jsm.consumers.delete(PURGE_STREAM, this.o.consumer).catch(() => undefined);
      ci = undefined;
    }
    if (ci === undefined) {
      // Resume after the saved position when it is trustworthy (the consumer itself may have been
      // removed for inactivity), else start after the last purge (nothing to doubt, or all doubted).
      const from = doubt === undefined && saved !== undefined && saved.stream === si.created ? saved.seq : last;
      await this.jsm.consumers.add(PURGE_STREAM, {
        durable_name: this.o.consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: from + 1,
        max_deliver: MAX_DELIVER,
        ack_wait: 10 * 1_000_000_000,
        // a member gone longer than the stream keeps purges has nothing left to resume
        inactive_threshold: (this.o.maxAgeMs ?? DEFAULT_MAX_AGE_MS) * 1_000_000,
      });
      ci = await this.jsm.consumers.info(PURGE_STREAM, this.o.consumer);
      this.#appliedSeq = from;
    } else this.#appliedSeq = Math.max(saved?.seq ?? 0, ci.ack_floor.stream_seq);
    if (doubt !== undefined) {
      this.hooks.log?.warn({ reason: doubt }, 'marking the whole cache stale');
      await this.hooks.markAllStale(doubt);
      this.#appliedSeq = last;
    }
    await this.savePosition();
    this.#target = last;
    if (ci.num_pending === 0 && ci.num_ack_pending === 0) this.caughtUp();
    else {
      this.hooks.log?.info({ pending: ci.num_pending, upTo: last }, 'replaying missed purges before serving');
      this.#replayTimer = setTimeout(() => void this.giveUp(), this.o.replayTimeoutMs ?? 30_000);
    }
    const consumer = await this.js.consumers.get(PURGE_STREAM, this.o.consumer);
    this.#messages = await consumer.consume({ max_messages: 256 });
    this.#loop = this.run(this.#messages);
  }

  private savePosition(): Promise<void> {
    const p = { stream: this.#streamId, seq: this.#appliedSeq };
    this.#saving = this.#saving.then(() =>
      this.hooks.savePosition(p).catch((e: unknown) => {
        this.hooks.log?.warn({ msg: (e as Error).message }, 'purge position not saved');
      }),
    );
    return this.#saving;
  }

  private caughtUp(): void {
    if (this.#state !== 'replaying') return;
    clearTimeout(this.#replayTimer);
    this.#state = 'caught-up';
    this.#readyResolve();
  }

  private async giveUp(): Promise<void> {
    if (this.#state !== 'replaying') return;
    this.#state = 'gave-up';
    await this.hooks
      .markAllStale('purge replay did not finish in time: serving, but every cached object revalidates first')
      .catch(() => undefined);
    this.#readyResolve();
  }

  private async run(messages: ConsumerMessages): Promise<void> {
    for await (const m of messages) {
      await this.handle(m);
    }
  }

  private deadLetter(m: JsMsg, reason: string): void {
    this.#deadLetters++;
    this.hooks.log?.error({ seq: m.seq, reason, bytes: m.data.length }, 'bad purge message: skipped (dead-lettered)');
    this.hooks.onDeadLetter?.(reason);
    m.term(); // no reason text: nats-server 2.9 only understands a bare +TERM
  }

  private async handle(m: JsMsg): Promise<void> {
    let msg: PurgeMessage | undefined;
    try {
      msg = parsePurgeMessage(m.data);
    } catch (e) {
      this.deadLetter(m, (e as Error).message);
    }
    if (msg !== undefined) {
      try {
        const purged = await this.hooks.apply(msg.specs);
        m.ack();
        this.hooks.onApplied?.(Math.max(0, Date.now() - m.info.timestampNanos / 1e6) / 1000);
        this.conn.nc.publish(
          `${APPLIED_SUBJECT}.${msg.id}`,
          JSON.stringify({ member: this.o.member, seq: m.seq, purged }),
        );
      } catch (e) {
        if (m.info.deliveryCount >= MAX_DELIVER) this.deadLetter(m, `apply failed: ${(e as Error).message}`);
        else {
          this.hooks.log?.warn({ seq: m.seq, msg: (e as Error).message }, 'purge failed to apply: will retry');
          m.nak(500);
          return;
        }
      }
    }
    this.#appliedSeq = Math.max(this.#appliedSeq, m.seq);
    void this.savePosition();
    this.#waiters = this.#waiters.filter((w) => {
      if (w.seq > this.#appliedSeq) return true;
      w.resolve();
      return false;
    });
    if (m.seq >= this.#target || m.info.pending === 0) this.caughtUp();
  }

  /** Resolves true once this member has applied every purge up to `seq`, false after `timeoutMs`. */
  async waitForSeq(seq: number, timeoutMs: number): Promise<boolean> {
    if (seq <= this.#appliedSeq) return true;
    return new Promise<boolean>((resolve) => {
      const w = {
        seq,
        resolve: () => {
          clearTimeout(t);
          resolve(true);
        },
      };
      const t = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(w);
    });
  }

  /**
   * Publishes a purge and waits until every live member (as `members()` says at each arrival) has
   * applied it, or `timeoutMs`. Refuses (FLEET_UNAVAILABLE) when NATS is unreachable: nothing is
   * queued, the caller retries.
   */
  async publish(specs: PurgeSpec[], members: () => string[], timeoutMs: number): Promise<PurgeOutcome> {
    if (!this.conn.connected) {
      throw new StreamedgeError(
        'FLEET_UNAVAILABLE',
        `purge not published: ${this.conn.reason}; nothing was purged, retry when NATS is back`,
      );
    }
    const id = randomUUID().replace(/-/g, '');
    const applied = new Set<string>();
    const sub = this.conn.nc.subscribe(`${APPLIED_SUBJECT}.${id}`);
    try {
      const msg: PurgeMessage = { v: 1, id, specs, from: this.o.member };
      let seq: number;
      try {
        seq = (await this.js.publish(PURGE_SUBJECT, JSON.stringify(msg), { msgID: id, timeout: 3000 })).seq;
      } catch (e) {
        throw new StreamedgeError(
          'FLEET_UNAVAILABLE',
          `purge not confirmed by NATS (${(e as Error).message}); retry (a repeat within 2 minutes is deduplicated)`,
        );
      }
      const done = (): boolean => members().every((m) => applied.has(m));
      const deadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
      try {
        if (!done()) {
          for await (const a of sub) {
            try {
              const body = a.json<{ member?: unknown }>();
              if (typeof body.member === 'string') applied.add(body.member);
            } catch {
              // not ours
            }
            if (done() || Date.now() >= deadline) break;
          }
        }
      } finally {
        clearTimeout(timer);
      }
      const live = members();
      return { id, seq, applied: [...applied].sort(), missing: live.filter((m) => !applied.has(m)).sort() };
    } finally {
      if (!sub.isClosed()) sub.unsubscribe();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#replayTimer);
    this.#readyResolve();
    await this.#messages?.close().catch(() => undefined);
    await this.#loop?.catch(() => undefined);
    for (const w of this.#waiters) w.resolve();
    this.#waiters = [];
    await this.#saving;
  }
}
