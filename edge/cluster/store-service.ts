import { createServer, type Server, type Socket } from 'node:net';
import type { LogStore, ObjectMeta } from '../store/index.js';
import { FillBuffer, type FillHead } from './fill-buffer.js';
import { Frame, json, readFrames, writeFrame } from './frames.js';

/** What the store process fetches from upstream for a fill (the edge's fill source plugs in here). */
export interface UpstreamResponse extends FillHead {
  body: AsyncIterable<Buffer | Uint8Array>;
  /** The meta to store the object under, or undefined if it must not be stored. */
  meta: ObjectMeta | undefined;
}
export type FetchUpstream = (key: string, url: string) => Promise<UpstreamResponse>;

interface Fill {
  buf: FillBuffer;
  /** (socket, fill id on that socket) of every worker waiting for it. */
  subs: Set<{ sock: Socket; id: number }>;
}

/**
 * The store process's side of the cluster: the only LogStore writer, owner of the fill table and of
 * upstream fetching. Workers ask over a Unix socket; a key has at most one fill in flight however
 * many workers ask, and its chunks go to each of them as they arrive (a late asker gets the chunks
 * already received first). After the put commits, every worker is told (Committed) so it refreshes
 * its read-only snapshot. A prefix purge is applied here, then broadcast (Drop); the asker gets Purged
 * only once every live worker acknowledged. A worker that dies only loses its own subscriptions: the
 * fill goes on for the others and is stored, and `readerCheck()` frees any lmdb reader slot it held.
 */
export class StoreService {
  private readonly fills = new Map<string, Fill>();
  private readonly socks = new Set<Socket>();
  private dropSeq = 0;
  private readonly drops = new Map<number, { waiting: Set<Socket>; done: () => void }>();
  readonly counters = { fills: 0, joined: 0, stored: 0, failed: 0, readerChecks: 0, readerSlotsFreed: 0 };

  private constructor(
    private readonly server: Server,
    private readonly store: LogStore,
    private readonly fetchUpstream: FetchUpstream,
  ) {}

  static async listen(path: string, store: LogStore, fetchUpstream: FetchUpstream): Promise<StoreService> {
    const server = createServer();
    const svc = new StoreService(server, store, fetchUpstream);
    server.on('connection', (sock) => svc.accept(sock));
    store.onEvicted((keys, region) => svc.broadcast(Frame.Evicted, { keys, region }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return svc;
  }

  private accept(sock: Socket): void {
    this.socks.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.socks.delete(sock);
      // A worker gone (exit or SIGKILL) may have died inside a read transaction: free its lmdb slot.
      this.counters.readerChecks++;
      this.counters.readerSlotsFreed += this.store.readerCheck();
      for (const f of this.fills.values()) for (const s of f.subs) if (s.sock === sock) f.subs.delete(s);
      for (const [id, d] of this.drops) if (d.waiting.delete(sock) && d.waiting.size === 0) this.finishDrop(id);
    });
    readFrames(sock, (type, id, payload) => {
      if (type === Frame.Fill) {
        const { key, url } = json<{ key: string; url: string }>(payload);
        this.fill(sock, id, key, url);
      } else if (type === Frame.Purge) {
        const { prefix, mode } = json<{ prefix: string; mode: 'hard' | 'soft' }>(payload);
        void this.purge(sock, id, prefix, mode);
      } else if (type === Frame.DropAck) {
        const d = this.drops.get(id);
        if (d && d.waiting.delete(sock) && d.waiting.size === 0) this.finishDrop(id);
      }
    });
  }

  private fill(sock: Socket, id: number, key: string, url: string): void {
    let f = this.fills.get(key);
    const sub = { sock, id };
    if (f) {
      this.counters.joined++;
      f.subs.add(sub);
    } else {
      f = { buf: new FillBuffer(), subs: new Set([sub]) };
      this.fills.set(key, f);
      this.counters.fills++;
      void this.run(key, url, f);
    }
    void this.relay(f, sub);
  }

  /** Sends one subscriber the head, every chunk (from the first) and the end. */
  private async relay(f: Fill, sub: { sock: Socket; id: number }): Promise<void> {
    const live = (): boolean => f.subs.has(sub) && !sub.sock.destroyed;
    try {
      const head = await f.buf.headReady();
      if (!live()) return;
      writeFrame(sub.sock, Frame.Head, sub.id, head);
      for await (const chunk of f.buf.read()) {
        if (!live()) return;
        if (!writeFrame(sub.sock, Frame.Chunk, sub.id, chunk)) {
          await new Promise<void>((r) => {
            sub.sock.once('drain', r);
            sub.sock.once('close', r);
          });
        }
      }
      if (live()) writeFrame(sub.sock, Frame.End, sub.id, { stored: f.buf.stored });
    } catch (e) {
      if (live()) writeFrame(sub.sock, Frame.Fail, sub.id, { message: (e as Error).message });
    } finally {
      f.subs.delete(sub);
    }
  }

  private async run(key: string, url: string, f: Fill): Promise<void> {
    try {
      const up = await this.fetchUpstream(key, url);
      f.buf.setHead({ status: up.status, headers: up.headers, length: up.length });
      let n = 0;
      for await (const c of up.body) {
        const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
        n += b.length;
        f.buf.push(b);
      }
      if (up.length !== undefined && n !== up.length)
        throw new Error(`upstream body ended after ${n} of ${up.length} bytes`);
      let stored = false;
      if (up.meta) stored = await this.store.put(key, up.meta, Buffer.concat(f.buf.chunks, n));
      if (stored) {
        this.counters.stored++;
        this.broadcast(Frame.Committed, { keys: [key] });
      }
      f.buf.end(stored);
    } catch (e) {
      this.counters.failed++;
      f.buf.fail(e instanceof Error ? e : new Error(String(e)));
    } finally {
      this.fills.delete(key);
    }
  }

  private async purge(sock: Socket, id: number, prefix: string, mode: 'hard' | 'soft'): Promise<void> {
    let count: number;
    try {
      count = await this.store.purgePrefix(prefix, mode);
    } catch (e) {
      writeFrame(sock, Frame.Fail, id, { message: (e as Error).message });
      return;
    }
    const dropId = ++this.dropSeq;
    const waiting = new Set([...this.socks].filter((s) => !s.destroyed));
    await new Promise<void>((done) => {
      this.drops.set(dropId, { waiting, done });
      if (waiting.size === 0) this.finishDrop(dropId);
      for (const s of waiting) writeFrame(s, Frame.Drop, dropId, { prefix });
    });
    if (!sock.destroyed) writeFrame(sock, Frame.Purged, id, { count });
  }

  private finishDrop(id: number): void {
    const d = this.drops.get(id);
    if (!d) return;
    this.drops.delete(id);
    d.done();
  }

  private broadcast(type: Frame, payload: object): void {
    for (const s of this.socks) if (!s.destroyed) writeFrame(s, type, 0, payload);
  }

  async close(): Promise<void> {
    for (const s of this.socks) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
