import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { StreamedgeError, asError } from '../../src/errors.js';
import type { ObjectMeta, ReadOnlyStore, StoreStats } from '../store/index.js';
import type { FillHead } from './fill-buffer.js';
import { Frame, json, readFrames, writeFrame } from './frames.js';
import { HitCounts } from './hit-counts.js';
import type { StoreCall } from './store-calls.js';
import type { CmcdViewQuery, FetchRequest, OnInfo } from './store-service.js';
import type { SessionActivity } from '../cmcd-sessions.js';

/** A fetch answered by the store process: the head, the bytes as they arrive, and how to store them. */
export interface ClusterFetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  viaPeer?: string;
  /** Asks the store process to store this fetch's bytes under `key` (once per fetch and key). */
  commit(key: string, meta: ObjectMeta): Promise<boolean>;
}

/** What the worker's edge does when the store process asks (purge broadcast, metrics collection). */
export interface StoreClientHooks {
  /** Apply purge specs locally (RAM copies, fills in flight); resolve when done. */
  onDrop(specs: unknown[]): Promise<void>;
  /** This worker's prom-client JSON. */
  onCollect(): Promise<object[]>;
  /** This worker's CMCD session activity since the last call (sent to the store process), undefined if none. */
  takeCmcdSessions?(): SessionActivity[] | undefined;
  /** These keys were evicted: drop what this worker still answers them from besides the store (fills just finished). */
  onEvicted(keys: string[]): void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Stream {
  head?: (h: FillHead) => void;
  info?: OnInfo;
  fail(e: Error): void;
  body?: Readable;
}

const RECONNECT_MS = 200;
/** How often a worker reports the hits it served to the store process's sketch. */
const HIT_REPORT_MS = 1000;

/**
 * An edge worker's link to the store process (edge/store/README.md draws the exchange). The
 * worker's Coalescer already makes one fill per key locally; each fill asks here once. The store
 * process streams head and chunks back and stores the bytes when the worker commits them.
 * Committed/Evicted announcements drop RAM copies and refresh the worker's read-only lmdb
 * snapshot, so its next request is a local hit; an Evicted is acknowledged once the region's handle
 * is closed. The hits the worker serves are counted and reported every second (HitCounts) to the
 * store process's W-TinyLFU sketch. If the store process goes away, `connected` turns
 * false (the edge then fetches upstream itself and stores nothing) and the link reconnects.
 */
export class StoreClient {
  private sock: Socket | undefined;
  private seq = 0;
  private readonly streams = new Map<number, Stream>();
  private readonly pending = new Map<number, Pending>();
  private remoteStats: StoreStats | undefined;
  /** The last Committed `seq` applied on this link (sent with each Fetch: see FetchRequest.seen). */
  private seen = 0;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Hits served here since the last report (flushed every HIT_REPORT_MS as one HitCounts frame). */
  private readonly hits = new HitCounts();
  private readonly hitTimer: NodeJS.Timeout;

  private constructor(
    private readonly path: string,
    private readonly local: ReadOnlyStore,
    private readonly hooks: StoreClientHooks,
  ) {
    this.hitTimer = setInterval(() => this.report(), HIT_REPORT_MS);
    this.hitTimer.unref();
  }

  /** Counts one hit served by this worker (O(1); reported to the store process's sketch every second). */
  countHit(key: string): void {
    this.hits.add(key);
  }

  /**
   * Sends the hits counted so far and the CMCD sessions' activity. While the store process is away
   * the hits are dropped (the sketch only estimates); the sessions wait in the worker's bounded table.
   */
  private report(): void {
    const hits = this.hits.take();
    if (hits && this.sock && !this.sock.destroyed) writeFrame(this.sock, Frame.HitCounts, 0, hits);
    this.reportCmcd(0);
  }

  /** This worker's CMCD session activity to the store process (id 0: periodic; else answering FlushCmcd). */
  private reportCmcd(id: number): void {
    if (!this.sock || this.sock.destroyed) return; // kept (bounded) until the link is back
    const sessions = this.hooks.takeCmcdSessions?.();
    if (sessions === undefined && id === 0) return;
    writeFrame(this.sock, Frame.CmcdSessions, id, { sessions: sessions ?? [] });
  }

  /** Connects (retrying until `waitMs`); rejects if the store process cannot be reached by then. */
  static async connect(
    path: string,
    local: ReadOnlyStore,
    hooks: StoreClientHooks,
    waitMs = 10_000,
  ): Promise<StoreClient> {
    const c = new StoreClient(path, local, hooks);
    const end = Date.now() + waitMs;
    for (;;) {
      try {
        await c.open();
        return c;
      } catch (e) {
        if (Date.now() > end) {
          throw new StreamedgeError('STORE_PROCESS', `cannot reach the store process at ${path}`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
      }
    }
  }

  get connected(): boolean {
    return this.sock !== undefined && !this.sock.destroyed;
  }

  /** The store process's last stats (objects, bytes, admitting...), undefined while disconnected. */
  get stats(): StoreStats | undefined {
    return this.connected ? this.remoteStats : undefined;
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.path);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        sock.on('error', () => undefined);
        this.sock = sock;
        this.seen = 0;
        readFrames(sock, (type, id, payload) => this.onFrame(sock, type, id, payload));
        sock.on('close', () => this.lost(sock));
        // what was committed while we were away
        this.local.refresh();
        resolve();
      });
    });
  }

  private lost(sock: Socket): void {
    if (this.sock !== sock) return;
    this.sock = undefined;
    const e = new StreamedgeError('STORE_PROCESS', 'store process connection closed');
    for (const s of this.streams.values()) s.fail(e);
    this.streams.clear();
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    if (!this.closed) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.open().catch(() => {
        if (!this.closed) this.scheduleReconnect();
      });
    }, RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private send(type: Frame, id: number, payload: object): void {
    if (!this.sock || this.sock.destroyed) {
      throw new StreamedgeError('STORE_PROCESS', 'store process not connected');
    }
    writeFrame(this.sock, type, id, payload);
  }

  private request<T>(type: Frame, payload: object): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      try {
        this.send(type, id, payload);
      } catch (e) {
        reject(asError(e));
        return;
      }
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
    });
  }

  /**
   * One upstream fetch through the store process (joined with every other worker's for the same key).
   * `onInfo` hears the 1xx interim responses (103 Early Hints) the upstream sends before the head.
   */
  fetch(req: FetchRequest, signal: AbortSignal, onInfo?: OnInfo): Promise<ClusterFetched> {
    const id = ++this.seq;
    return new Promise<ClusterFetched>((resolve, reject) => {
      const s: Stream = {
        fail: (e) => {
          reject(e);
          s.body?.destroy(e);
        },
        ...(onInfo ? { info: onInfo } : {}),
      };
      s.head = (h) => {
        const body = new Readable({ read: () => undefined });
        s.body = body;
        resolve({
          status: h.status,
          headers: h.headers,
          body,
          ...(h.viaPeer !== undefined ? { viaPeer: h.viaPeer } : {}),
          commit: (key, meta) => this.request<boolean>(Frame.Commit, { fetch: id, key, meta }).catch(() => false),
        });
      };
      try {
        this.send(Frame.Fetch, id, { ...req, seen: this.seen });
      } catch (e) {
        reject(asError(e));
        return;
      }
      this.streams.set(id, s);
      signal.addEventListener(
        'abort',
        () => {
          if (!this.streams.delete(id)) return;
          if (this.connected) this.send(Frame.Cancel, id, {});
          s.fail(signal.reason instanceof Error ? signal.reason : new Error('fetch aborted'));
        },
        { once: true },
      );
    });
  }

  /** A store operation on the store process (the one writer). */
  call<T>(c: StoreCall): Promise<T> {
    return this.request<T>(Frame.Call, c);
  }

  /** Every worker (this one included) applies `specs` locally; resolves once all acknowledged. */
  async dropAll(specs: unknown[]): Promise<void> {
    await this.request<boolean>(Frame.DropAll, { specs });
  }

  /** Prometheus text summed over every worker and the store process. */
  metrics(): Promise<string> {
    return this.request<string>(Frame.Metrics, {});
  }

  /** The body of /_edge/cmcd/sessions from the store process's table (every worker's activity in it). */
  cmcdSessions(query: CmcdViewQuery): Promise<unknown> {
    return this.request<unknown>(Frame.CmcdView, query);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.hitTimer);
    this.sock?.destroy();
  }

  private onFrame(sock: Socket, type: Frame, id: number, payload: Buffer): void {
    switch (type) {
      case Frame.Head: {
        const s = this.streams.get(id);
        if (s?.head) s.head(json<FillHead>(payload));
        break;
      }
      case Frame.Info: {
        const s = this.streams.get(id);
        if (s?.info && !s.body) {
          const i = json<{ status: number; headers: Record<string, string | string[]> }>(payload);
          s.info(i.status, i.headers);
        }
        break;
      }
      case Frame.Chunk:
        this.streams.get(id)?.body?.push(Buffer.from(payload)); // own copy: the read buffer is reused
        break;
      case Frame.End: {
        const s = this.streams.get(id);
        this.streams.delete(id);
        s?.body?.push(null);
        break;
      }
      case Frame.Fail: {
        const f = json<{ message: string; code?: string }>(payload);
        const e = new StreamedgeError(f.code ?? 'STORE_PROCESS', f.message);
        const s = this.streams.get(id);
        this.streams.delete(id);
        s?.fail(e);
        this.pending.get(id)?.reject(e);
        this.pending.delete(id);
        break;
      }
      case Frame.Reply:
        this.pending.get(id)?.resolve(json<{ value: unknown }>(payload).value);
        this.pending.delete(id);
        break;
      case Frame.Committed: {
        const c = json<{ keys: string[]; prefixes?: string[]; tags?: string[]; seq?: number }>(payload);
        this.local.forget(c.keys);
        for (const p of c.prefixes ?? []) this.local.forgetPrefix(p);
        for (const t of c.tags ?? []) this.local.forgetTag(t);
        this.local.refresh();
        this.seen = Math.max(this.seen, c.seq ?? 0);
        break;
      }
      case Frame.Drop: {
        const { specs } = json<{ specs: unknown[] }>(payload);
        this.local.refresh();
        void this.hooks
          .onDrop(specs)
          .catch(() => undefined)
          .then(() => {
            if (!sock.destroyed) writeFrame(sock, Frame.DropAck, id, {});
          });
        break;
      }
      case Frame.Evicted: {
        // RAM copies and just-finished fills of the keys go, the region's handle closes (after
        // readers using it finish); then ack
        const { keys, region } = json<{ keys: string[]; region: number }>(payload);
        this.local.forget(keys);
        this.hooks.onEvicted(keys);
        const closed = this.local.forgetRegion(region);
        this.local.refresh();
        void closed
          .catch(() => undefined)
          .then(() => {
            if (id !== 0 && !sock.destroyed) writeFrame(sock, Frame.EvictedAck, id, {});
          });
        break;
      }
      case Frame.FlushCmcd:
        this.reportCmcd(id);
        break;
      case Frame.Collect:
        // the sessions first: the store process merges them before it reads its session gauges
        this.reportCmcd(0);
        void this.hooks.onCollect().then(
          (metrics) => {
            if (!sock.destroyed) writeFrame(sock, Frame.MetricsJson, id, { metrics });
          },
          () => {
            if (!sock.destroyed) writeFrame(sock, Frame.MetricsJson, id, { metrics: [] });
          },
        );
        break;
      case Frame.Stats:
        {
          const st = json<{ stats: StoreStats; seq?: number }>(payload);
          this.remoteStats = st.stats;
          this.seen = Math.max(this.seen, st.seq ?? 0);
        }
        break;
      default:
        break;
    }
  }
}
