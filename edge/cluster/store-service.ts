import { createServer, type Server, type Socket } from 'node:net';
import { StreamedgeError } from '../../src/errors.js';
import type { LogStore, ObjectMeta } from '../store/index.js';
import { type SessionActivity, sessionReport } from '../cmcd-sessions.js';
import { FillBuffer, type FillHead } from './fill-buffer.js';
import { sharedWithWaiters } from '../cache-policy.js';
import { FILL_STORED, Frame, json, readFrames, writeFrame } from './frames.js';
import type { StoreCall } from './store-calls.js';

/** What a worker asks the store process to fetch (the arguments of edge/fill-source.ts). */
export interface FetchRequest {
  /** The fill's cache key (what peers route by). */
  key: string;
  /**
   * Fetches with the same key and dedupe share one upstream request: the key plus the conditional
   * headers, so a revalidation never joins a plain fetch (and a client's own conditional fill stays its own).
   */
  dedupe: string;
  target: string;
  headers: Record<string, string>;
  fromPeer: boolean;
  /**
   * The `seq` of the last Committed this worker had applied when it asked (0 before any on this
   * link). A fetch whose key was committed after that was looked up before the commit was visible:
   * it is answered `FILL_STORED` (look again: a hit), never fetched a second time.
   */
  seen?: number;
}

/** What the store process fetches from upstream (edge/fill-source.ts's fetchForFill plugs in here). */
export interface UpstreamFetched extends FillHead {
  body: AsyncIterable<Buffer | Uint8Array>;
}
/** A 1xx interim response the upstream sent before the head (103 Early Hints). */
export type OnInfo = (status: number, headers: Record<string, string | string[]>) => void;
export type FetchUpstream = (req: FetchRequest, signal: AbortSignal, onInfo: OnInfo) => Promise<UpstreamFetched>;

/** How long /_edge/metrics and /_edge/cmcd/sessions wait for every worker's answer. */
export const GATHER_MS = 3000;

/** Answers the store process adds to the workers' metrics (its own registry's JSON). */
export type OwnMetrics = () => Promise<object[]>;
/** Turns every process's prom-client JSON into one Prometheus text (sums by name and labels). */
export type MergeMetrics = (all: object[][]) => Promise<string>;

/** What the store process does with the workers' metrics and CMCD sessions. */
export interface StoreMetricsHooks {
  own: OwnMetrics;
  merge: MergeMetrics;
  /** One worker's CMCD session report (the store process keeps the edge's one session table; absent: dropped). */
  cmcdSessions?(report: SessionActivity[]): void;
  /** The body of /_edge/cmcd/sessions from that table (absent: null). */
  cmcdView?(query: CmcdViewQuery): unknown;
}

/** What /_edge/cmcd/sessions asks for (edge/admin.ts). */
export interface CmcdViewQuery {
  limit: number;
  starvedOnly?: boolean;
  sid?: string;
}

/** Where the service reports (a pino logger fits). */
export interface StoreServiceLog {
  debug(o: object, msg: string): void;
  warn(o: object, msg: string): void;
}

interface UpstreamFill {
  map: string;
  /** The key the fetch was asked for (a commit under it is what a late asker of the key wants). */
  key: string;
  buf: FillBuffer;
  subs: Set<Sub>;
  abort: AbortController;
  /** Commits asked for this fetch, one per key (a Vary'd response may be stored under a variant key). */
  commits: Map<string, Promise<boolean>>;
  /** Resolves when the first commit is asked for. */
  firstCommit: Promise<void>;
  onCommit: () => void;
}

interface Sub {
  sock: Socket;
  id: number;
  fill: UpstreamFill;
  relaying: boolean;
  /** What the worker asked (a sub that joined another's fetch may have to fetch its own). */
  req: FetchRequest;
  /** It joined a fetch another ask started. */
  joined: boolean;
  /**
   * Set when the sub joined a fetch whose body was already complete and whose commit under the
   * asked key was under way: once that commit lands the asker is told `FILL_STORED` (a hit in its
   * worker) instead of being streamed the bytes as a miss; if it fails, the bytes are streamed.
   */
  afterCommit?: Promise<boolean>;
}

/**
 * How long an eviction waits for the workers' EvictedAck before the region file is unlinked anyway
 * (a hung worker must not stop eviction; an unlinked file stays readable through open descriptors).
 */
const EVICT_ACK_MS = 5_000;

/** How many recent commits (fetch → Committed seq) the store process remembers for late askers. */
const RECENT_COMMITS = 10_000;

/** How long a finished fetch stays addressable by a worker's Commit for it. */
const COMMIT_LINGER_MS = 30_000;
/**
 * How long a finished fetch stays in the fill table waiting for its first Commit (a small body can
 * end here before the worker's Commit arrives): a worker that looked the key up just before the
 * commit then joins it instead of fetching again.
 */
const END_LINGER_MS = 1_000;

/**
 * The store process's side of the cluster (edge/store/README.md draws it): the only LogStore writer,
 * owner of the fill table and of upstream fetching.
 *
 * - Fetch: a (key, dedupe) has at most one upstream request in flight however many workers ask;
 *   its head and chunks go to each asking worker as they arrive (a late asker gets the chunks
 *   already received first). A worker gone or cancelled only loses its own subscription.
 * - Commit: a worker whose fill decided to store the response names the key and meta; the store
 *   process puts the bytes it already holds, once per (fetch, key), and every worker hears
 *   Committed so it drops RAM copies and refreshes its lmdb snapshot.
 * - Call: the other store operations (304 refresh, delete, purges, vary records, stats).
 * - DropAll: a purge's local part (RAM copies, fills in flight) broadcast to every worker; the
 *   asker hears back once every live worker acknowledged.
 * - Metrics: every worker's registry collected and summed with the store process's own.
 * - CmcdSessions: a worker's CMCD session activity, merged into the edge's one session table
 *   (edge/cmcd-sessions.ts); CmcdView answers /_edge/cmcd/sessions after a FlushCmcd round.
 * - HitCounts: the hits a worker served, added to the store's sketch (admission, copy-forward).
 * - Eviction: Evicted to every worker, the region file unlinked once each acknowledged (bounded wait).
 * - A worker socket that closes (exit or SIGKILL) gets `readerCheck()`: its lmdb reader slot is freed.
 */
export class StoreService {
  private readonly fills = new Map<string, UpstreamFill>();
  /** Fetches started for one asker alone (their fill-table names). */
  private ownFetches = 0;
  /**
   * Fetches committed under their own key, by fill-table entry, with the `seq` of the Committed that
   * announced it (oldest first, at most RECENT_COMMITS). A Fetch for one of them from a worker that
   * had not applied that Committed when it asked is answered FILL_STORED: its lookup ran before the
   * commit was visible, and looking again is a hit. Without this the fetch has left the table and
   * the late asker would make a second upstream request.
   */
  private readonly recentCommits = new Map<string, number>();
  /** Numbers every Committed broadcast; workers send back the last one they applied (`seen`). */
  private commitSeq = 0;
  private readonly socks = new Map<Socket, Map<number, Sub>>();
  private seq = 0;
  private readonly acks = new Map<number, { waiting: Set<Socket>; done: () => void }>();
  private readonly collects = new Map<number, { waiting: Set<Socket>; got: object[][]; done: () => void }>();
  private readonly statsTimer: NodeJS.Timeout;
  readonly counters = {
    fetches: 0,
    joined: 0,
    /** Fetches answered FILL_STORED: the key had been committed since the asker looked. */
    answeredStored: 0,
    stored: 0,
    failed: 0,
    readerChecks: 0,
    readerSlotsFreed: 0,
    /** Evictions that went ahead without every worker's EvictedAck (EVICT_ACK_MS passed). */
    evictAckTimeouts: 0,
  };

  private constructor(
    private readonly server: Server,
    private readonly store: LogStore,
    private readonly fetchUpstream: FetchUpstream,
    private readonly hooks: StoreMetricsHooks,
    private readonly log: StoreServiceLog | undefined,
  ) {
    this.statsTimer = setInterval(() => this.broadcast(Frame.Stats, this.statsPayload()), 1000);
    this.statsTimer.unref();
  }

  static async listen(
    path: string,
    store: LogStore,
    fetchUpstream: FetchUpstream,
    hooks: StoreMetricsHooks,
    log?: StoreServiceLog,
  ): Promise<StoreService> {
    const server = createServer();
    const svc = new StoreService(server, store, fetchUpstream, hooks, log);
    server.on('connection', (sock) => svc.accept(sock));
    store.onEvicted((keys, region) => svc.evicted(keys, region));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // exclusive: in a node:cluster child the socket is this process's own, not the primary's
      server.listen({ path, exclusive: true }, () => resolve());
    });
    return svc;
  }

  /** Workers connected now. */
  get workers(): number {
    return this.socks.size;
  }

  /** Upstream fetches in flight. */
  get inFlight(): number {
    return this.fills.size;
  }

  private accept(sock: Socket): void {
    this.socks.set(sock, new Map());
    sock.on('error', () => undefined);
    sock.on('close', () => this.gone(sock));
    writeFrame(sock, Frame.Stats, 0, this.statsPayload());
    readFrames(sock, (type, id, payload) => this.onFrame(sock, type, id, payload));
  }

  private gone(sock: Socket): void {
    const subs = this.socks.get(sock);
    this.socks.delete(sock);
    // A worker gone (exit or SIGKILL) may have died inside a read transaction: free its lmdb slot.
    this.counters.readerChecks++;
    this.counters.readerSlotsFreed += this.store.readerCheck();
    for (const s of subs?.values() ?? []) s.fill.subs.delete(s);
    for (const [id, a] of this.acks) if (a.waiting.delete(sock) && a.waiting.size === 0) this.settle(id);
    for (const [id, c] of this.collects) if (c.waiting.delete(sock) && c.waiting.size === 0) this.settleCollect(id);
  }

  private onFrame(sock: Socket, type: Frame, id: number, payload: Buffer): void {
    switch (type) {
      case Frame.Fetch:
        this.fetch(sock, id, json<FetchRequest>(payload));
        break;
      case Frame.Cancel: {
        const sub = this.socks.get(sock)?.get(id);
        if (sub) sub.fill.subs.delete(sub);
        this.socks.get(sock)?.delete(id);
        break;
      }
      case Frame.Commit: {
        const c = json<{ fetch: number; key: string; meta: ObjectMeta }>(payload);
        void this.commit(sock, c.fetch, c.key, c.meta).then((value) => this.reply(sock, id, value));
        break;
      }
      case Frame.Call:
        void this.call(json<StoreCall>(payload)).then(
          (value) => this.reply(sock, id, value),
          (e: unknown) => this.failTo(sock, id, e),
        );
        break;
      case Frame.DropAll:
        void this.dropAll(json<{ specs: unknown[] }>(payload).specs).then(() => this.reply(sock, id, true));
        break;
      case Frame.HitCounts: {
        const h = json<{ keys: unknown; counts: unknown }>(payload);
        if (!Array.isArray(h.keys) || !Array.isArray(h.counts) || h.keys.length !== h.counts.length) {
          throw new Error('HitCounts: keys and counts must be arrays of the same length');
        }
        for (let i = 0; i < h.keys.length; i++) {
          const k: unknown = h.keys[i];
          const n: unknown = h.counts[i];
          if (typeof k === 'string' && typeof n === 'number') this.store.recordHits(k, n);
        }
        break;
      }
      case Frame.EvictedAck:
      case Frame.DropAck: {
        const a = this.acks.get(id);
        if (a && a.waiting.delete(sock) && a.waiting.size === 0) this.settle(id);
        break;
      }
      case Frame.Metrics:
        void this.metrics().then(
          (text) => this.reply(sock, id, text),
          (e: unknown) => this.failTo(sock, id, e),
        );
        break;
      case Frame.MetricsJson: {
        const c = this.collects.get(id);
        if (c && c.waiting.delete(sock)) {
          c.got.push(json<{ metrics: object[] }>(payload).metrics);
          if (c.waiting.size === 0) this.settleCollect(id);
        }
        break;
      }
      case Frame.CmcdSessions: {
        this.hooks.cmcdSessions?.(sessionReport(json<{ sessions?: unknown }>(payload).sessions));
        const c = id === 0 ? undefined : this.collects.get(id);
        if (c && c.waiting.delete(sock) && c.waiting.size === 0) this.settleCollect(id);
        break;
      }
      case Frame.CmcdView: {
        const q = json<{ limit?: unknown; starvedOnly?: unknown; sid?: unknown }>(payload);
        const query: CmcdViewQuery = {
          limit: typeof q.limit === 'number' && q.limit >= 0 ? Math.min(q.limit, 1000) : 100,
          ...(q.starvedOnly === true ? { starvedOnly: true } : {}),
          ...(typeof q.sid === 'string' ? { sid: q.sid } : {}),
        };
        // every worker's activity so far first: the view is exact, not up to a second behind
        void this.gather(Frame.FlushCmcd).then(
          () => this.reply(sock, id, this.hooks.cmcdView?.(query) ?? null),
          (e: unknown) => this.failTo(sock, id, e),
        );
        break;
      }
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ fills

  private fetch(sock: Socket, id: number, req: FetchRequest): void {
    const map = `${req.key}\u0000${req.dedupe}`;
    let f = this.fills.get(map);
    if (!f) {
      const seq = this.recentCommits.get(map);
      if (seq !== undefined && (req.seen ?? 0) < seq) {
        // the Committed (seq) went out on this socket before this answer: the worker applies it first
        this.counters.answeredStored++;
        this.failTo(sock, id, storedMeanwhile(req.key));
        return;
      }
    }
    let afterCommit: Promise<boolean> | undefined;
    const joined = f !== undefined;
    if (f) {
      this.counters.joined++;
      if (f.buf.complete) afterCommit = f.commits.get(req.key);
    } else f = this.startFetch(map, req);
    const sub: Sub = { sock, id, fill: f, relaying: true, req, joined, ...(afterCommit ? { afterCommit } : {}) };
    f.subs.add(sub);
    this.socks.get(sock)?.set(id, sub);
    void this.relay(sub);
  }

  /** A new upstream fetch under `map` in the fill table. */
  private startFetch(map: string, req: FetchRequest): UpstreamFill {
    let onCommit!: () => void;
    const firstCommit = new Promise<void>((r) => (onCommit = r));
    const f: UpstreamFill = {
      map,
      key: req.key,
      buf: new FillBuffer(),
      subs: new Set(),
      abort: new AbortController(),
      commits: new Map(),
      firstCommit,
      onCommit,
    };
    this.fills.set(map, f);
    this.counters.fetches++;
    this.log?.debug({ key: req.key }, 'store process: upstream fetch');
    void this.run(req, f);
    return f;
  }

  /** Sends one subscriber the head, every chunk (from the first) and the end. */
  private async relay(sub: Sub): Promise<void> {
    const f = sub.fill;
    const live = (): boolean => f.subs.has(sub) && !sub.sock.destroyed;
    try {
      if (sub.afterCommit && (await sub.afterCommit)) {
        if (live()) {
          this.counters.answeredStored++;
          this.failTo(sub.sock, sub.id, storedMeanwhile(f.key));
        }
        return;
      }
      const head = await f.buf.headReady();
      if (!live()) return;
      if (sub.joined && !sharedWithWaiters(head.headers)) {
        // meant for the asker that started the fetch alone (private, no-store, Set-Cookie): this
        // one is fetched for its asker, in a fetch nobody joins
        const own = this.startFetch(`${f.map}\u0000own${++this.ownFetches}`, sub.req);
        const mine: Sub = { ...sub, fill: own, joined: false };
        own.subs.add(mine);
        this.socks.get(sub.sock)?.set(sub.id, mine);
        void this.relay(mine);
        return;
      }
      writeFrame(sub.sock, Frame.Head, sub.id, head);
      for await (const chunk of f.buf.read()) {
        if (!live()) return;
        if (!writeFrame(sub.sock, Frame.Chunk, sub.id, chunk)) {
          await new Promise<void>((r) => {
            // both listeners go when either fires: fills share a worker's socket, and a listener
            // left per backpressure wait would pile up on it for the socket's life
            const done = (): void => {
              sub.sock.off('drain', done);
              sub.sock.off('close', done);
              r();
            };
            sub.sock.on('drain', done);
            sub.sock.on('close', done);
          });
        }
      }
      if (live()) writeFrame(sub.sock, Frame.End, sub.id, {});
    } catch (e) {
      if (live()) this.failTo(sub.sock, sub.id, e);
    } finally {
      sub.relaying = false;
      f.subs.delete(sub);
      // the worker may still ask to store this fetch's bytes (Commit) for a while
      setTimeout(() => {
        const m = this.socks.get(sub.sock);
        if (m?.get(sub.id) === sub) m.delete(sub.id);
      }, COMMIT_LINGER_MS).unref();
    }
  }

  private async run(req: FetchRequest, f: UpstreamFill): Promise<void> {
    try {
      // 103 Early Hints go to every worker asking now (a later asker joins after the head: too late for hints)
      const onInfo: OnInfo = (status, headers) => {
        for (const s of f.subs) if (!s.sock.destroyed) writeFrame(s.sock, Frame.Info, s.id, { status, headers });
      };
      const up = await this.fetchUpstream(req, f.abort.signal, onInfo);
      f.buf.setHead({ status: up.status, headers: up.headers, ...(up.viaPeer ? { viaPeer: up.viaPeer } : {}) });
      const declared = up.headers['content-length'];
      let n = 0;
      for await (const c of up.body) {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        n += b.length;
        f.buf.push(b);
      }
      if (typeof declared === 'string' && /^\d+$/.test(declared) && Number(declared) !== n) {
        throw new StreamedgeError('UPSTREAM_TRUNCATED', `upstream sent ${n} of ${declared} bytes`);
      }
      f.buf.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([f.firstCommit, new Promise<void>((r) => (timer = setTimeout(r, END_LINGER_MS)))]);
      clearTimeout(timer);
      await Promise.allSettled(f.commits.values());
    } catch (e) {
      this.counters.failed++;
      f.buf.fail(e instanceof Error ? e : new Error(String(e)));
    } finally {
      if (this.fills.get(f.map) === f) this.fills.delete(f.map);
    }
  }

  /** Stores fetch `fetchId`'s bytes (once per key) when its body is complete; false if it failed. */
  private commit(sock: Socket, fetchId: number, key: string, meta: ObjectMeta): Promise<boolean> {
    const sub = this.socks.get(sock)?.get(fetchId);
    if (!sub) return Promise.resolve(false);
    const f = sub.fill;
    let p = f.commits.get(key);
    if (!p) {
      p = (async () => {
        try {
          for await (const c of f.buf.read()) void c; // until the end (throws if the fetch failed)
        } catch {
          return false;
        }
        const ok = await this.store.put(key, meta, Buffer.concat(f.buf.chunks)).catch((e: unknown) => {
          this.log?.warn({ err: e, key }, 'store process: put failed');
          return false;
        });
        this.log?.debug({ key, ok }, 'store process: commit');
        if (ok) {
          this.counters.stored++;
          const seq = this.announce({ keys: [key] });
          if (key === f.key) this.rememberCommit(f.map, seq);
        }
        return ok;
      })();
      f.commits.set(key, p);
      f.onCommit();
    }
    return p;
  }

  // ------------------------------------------------------------------ store calls, purge, metrics

  /**
   * Finished fetches leave the table at once, and recent commits are forgotten (a purge: their
   * bytes may be what was purged; a late asker then fetches anew).
   */
  private forgetFinished(): void {
    for (const [k, f] of this.fills) if (f.buf.done) this.fills.delete(k);
    this.recentCommits.clear();
  }

  /** Broadcasts Committed with the next `seq`; returns it. */
  private announce(payload: { keys: string[]; prefixes?: string[]; tags?: string[] }): number {
    const seq = ++this.commitSeq;
    this.broadcast(Frame.Committed, { ...payload, seq });
    return seq;
  }

  private rememberCommit(map: string, seq: number): void {
    this.recentCommits.delete(map);
    this.recentCommits.set(map, seq);
    if (this.recentCommits.size > RECENT_COMMITS) {
      for (const k of this.recentCommits.keys()) {
        this.recentCommits.delete(k);
        break;
      }
    }
  }

  /** The Stats frame: the store's figures and the last Committed `seq` sent (a new link starts there). */
  private statsPayload(): object {
    return { stats: this.store.stats(), seq: this.commitSeq };
  }

  private async call(c: StoreCall): Promise<unknown> {
    const s = this.store;
    if (c.op !== 'put') this.forgetFinished();
    switch (c.op) {
      case 'put': {
        const ok = await s.put(c.key, c.meta, Buffer.from(c.body, 'base64'));
        if (ok) this.announce({ keys: [c.key] });
        return ok;
      }
      case 'updateMeta': {
        const ok = await s.updateMeta(c.key, c.patch);
        if (ok) this.announce({ keys: [c.key] });
        return ok;
      }
      case 'delete': {
        const ok = await s.delete(c.key);
        if (ok) this.announce({ keys: [c.key] });
        return ok;
      }
      case 'purgePrefix': {
        const n = await s.purgePrefix(c.prefix, c.mode);
        this.announce({ keys: [], prefixes: [c.prefix] });
        return n;
      }
      case 'purgeTag': {
        const n = await s.purgeTag(c.tag, c.mode);
        this.announce({ keys: [], tags: [c.tag] });
        return n;
      }
    }
  }

  /** Every live worker applies `specs` locally; resolves once all acknowledged (or left). */
  private dropAll(specs: unknown[]): Promise<void> {
    this.forgetFinished();
    const id = ++this.seq;
    const waiting = new Set([...this.socks.keys()].filter((s) => !s.destroyed));
    return new Promise<void>((done) => {
      this.acks.set(id, { waiting, done });
      if (waiting.size === 0) this.settle(id);
      for (const s of waiting) writeFrame(s, Frame.Drop, id, { specs });
    });
  }

  /**
   * An evicted region (its records already out of the index): every live worker drops its RAM
   * copies and closes its handle, and acknowledges; resolves once all did, left, or EVICT_ACK_MS
   * passed. The store then unlinks the region file.
   */
  private evicted(keys: string[], region: number): Promise<void> {
    const id = ++this.seq;
    const waiting = new Set([...this.socks.keys()].filter((s) => !s.destroyed));
    return new Promise<void>((done) => {
      const timer = setTimeout(() => {
        if (!this.acks.has(id)) return;
        this.counters.evictAckTimeouts++;
        this.log?.warn({ region, waiting: waiting.size }, 'store process: eviction not acknowledged by every worker');
        this.settle(id);
      }, EVICT_ACK_MS);
      timer.unref();
      this.acks.set(id, {
        waiting,
        done: () => {
          clearTimeout(timer);
          done();
        },
      });
      if (waiting.size === 0) this.settle(id);
      for (const s of waiting) writeFrame(s, Frame.Evicted, id, { keys, region });
    });
  }

  private settle(id: number): void {
    const a = this.acks.get(id);
    if (!a) return;
    this.acks.delete(id);
    a.done();
  }

  private async metrics(): Promise<string> {
    const got = await this.gather(Frame.Collect);
    // own last: each worker sent its CMCD sessions before its metrics, so the session gauges count them
    return this.hooks.merge([await this.hooks.own(), ...got]);
  }

  /**
   * Sends `type` to every live worker; resolves with their answers (MetricsJson) once each answered
   * or left, or after GATHER_MS without the rest (a stopped or wedged worker must not hang
   * /_edge/metrics and /_edge/cmcd/sessions: they answer with the workers that did).
   */
  private async gather(type: Frame.Collect | Frame.FlushCmcd): Promise<object[][]> {
    const id = ++this.seq;
    const waiting = new Set([...this.socks.keys()].filter((s) => !s.destroyed));
    const got: object[][] = [];
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((done) => {
      this.collects.set(id, { waiting, got, done });
      if (waiting.size === 0) this.settleCollect(id);
      for (const s of waiting) writeFrame(s, type, id, {});
      timer = setTimeout(() => {
        this.log?.warn(
          { missing: waiting.size, frame: type === Frame.Collect ? 'Collect' : 'FlushCmcd' },
          'workers did not answer in time',
        );
        this.settleCollect(id);
      }, GATHER_MS);
    });
    clearTimeout(timer);
    return got;
  }

  private settleCollect(id: number): void {
    const c = this.collects.get(id);
    if (!c) return;
    this.collects.delete(id);
    c.done();
  }

  private reply(sock: Socket, id: number, value: unknown): void {
    if (!sock.destroyed) writeFrame(sock, Frame.Reply, id, { value });
  }

  private failTo(sock: Socket, id: number, e: unknown): void {
    const err = e as { message?: string; code?: string };
    if (!sock.destroyed) writeFrame(sock, Frame.Fail, id, { message: err.message ?? String(e), code: err.code });
  }

  private broadcast(type: Frame, payload: object): void {
    for (const s of this.socks.keys()) if (!s.destroyed) writeFrame(s, type, 0, payload);
  }

  /** Stops taking workers; waits for the fetches in flight and their commits. */
  async close(): Promise<void> {
    clearInterval(this.statsTimer);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (let i = 0; i < 100 && this.fills.size > 0; i++) {
      await Promise.allSettled(
        [...this.fills.values()].map(async (f) => {
          for await (const c of f.buf.read()) void c;
          await Promise.allSettled(f.commits.values());
        }),
      );
      await new Promise<void>((r) => setImmediate(r));
    }
    for (const s of this.socks.keys()) s.destroy();
    await closed;
  }
}

function storedMeanwhile(key: string): StreamedgeError {
  return new StreamedgeError(FILL_STORED, `${key} was stored since it was looked up: look again`);
}
