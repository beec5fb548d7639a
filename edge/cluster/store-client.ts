import { connect, type Socket } from 'node:net';
import type { ReadOnlyStore } from '../store/index.js';
import { FillBuffer, type FillHead } from './fill-buffer.js';
import { Frame, json, readFrames, writeFrame } from './frames.js';

export interface WorkerFill {
  head: Promise<FillHead>;
  /** A fresh reader over the fill's bytes (from the first chunk on). */
  body(): AsyncGenerator<Buffer>;
  /** Resolves with whether the object was stored once the fill ends; rejects if it failed. */
  done: Promise<boolean>;
}

/**
 * An edge worker's side of the cluster. A miss coalesces here first (one request per key to the
 * store process, whatever the number of local waiters) and the store process streams the chunks
 * back. Commit announcements refresh the worker's read-only store so the next request is a local
 * hit; Drop broadcasts (purge) clear its RAM copies and are acknowledged after that.
 */
export class StoreClient {
  private seq = 0;
  private readonly byId = new Map<number, FillBuffer>();
  private readonly byKey = new Map<string, WorkerFill>();
  private readonly purges = new Map<number, { resolve: (n: number) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly sock: Socket,
    private readonly local: ReadOnlyStore,
  ) {
    readFrames(sock, (type, id, payload) => this.onFrame(type, id, payload));
    sock.on('close', () => {
      const e = new Error('store process connection closed');
      for (const b of this.byId.values()) b.fail(e);
      this.byId.clear();
      for (const p of this.purges.values()) p.reject(e);
      this.purges.clear();
    });
  }

  static connect(path: string, local: ReadOnlyStore): Promise<StoreClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(path);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        sock.on('error', () => undefined);
        resolve(new StoreClient(sock, local));
      });
    });
  }

  /** One fill per key from this worker, shared by every local waiter. */
  fill(key: string, url: string): WorkerFill {
    const existing = this.byKey.get(key);
    if (existing) return existing;
    const id = ++this.seq;
    const buf = new FillBuffer();
    this.byId.set(id, buf);
    const done = (async (): Promise<boolean> => {
      for await (const c of buf.read()) void c; // wait for the end without holding bytes twice
      return buf.stored;
    })();
    done.catch(() => undefined);
    const wf: WorkerFill = { head: buf.headReady(), body: () => buf.read(), done };
    wf.head.catch(() => undefined);
    this.byKey.set(key, wf);
    void done.finally(() => {
      if (this.byKey.get(key) === wf) this.byKey.delete(key);
      this.byId.delete(id);
    });
    writeFrame(this.sock, Frame.Fill, id, { key, url });
    return wf;
  }

  /** Purges a prefix through the store process; resolves once every worker dropped its copies. */
  purgePrefix(prefix: string, mode: 'hard' | 'soft'): Promise<number> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.purges.set(id, { resolve, reject });
      writeFrame(this.sock, Frame.Purge, id, { prefix, mode });
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onFrame(type: Frame, id: number, payload: Buffer): void {
    switch (type) {
      case Frame.Head:
        this.byId.get(id)?.setHead(json<FillHead>(payload));
        break;
      case Frame.Chunk:
        this.byId.get(id)?.push(Buffer.from(payload)); // own copy: the read buffer is reused
        break;
      case Frame.End:
        this.byId.get(id)?.end(json<{ stored: boolean }>(payload).stored);
        break;
      case Frame.Fail: {
        const e = new Error(json<{ message: string }>(payload).message);
        this.byId.get(id)?.fail(e);
        this.purges.get(id)?.reject(e);
        this.purges.delete(id);
        break;
      }
      case Frame.Committed: {
        const { keys } = json<{ keys: string[] }>(payload);
        this.local.forget(keys);
        this.local.refresh();
        break;
      }
      case Frame.Drop: {
        const { prefix } = json<{ prefix: string }>(payload);
        this.local.forgetPrefix(prefix);
        this.local.refresh();
        writeFrame(this.sock, Frame.DropAck, id, {});
        break;
      }
      case Frame.Evicted: {
        const { keys, region } = json<{ keys: string[]; region: number }>(payload);
        this.local.forget(keys);
        this.local.forgetRegion(region);
        this.local.refresh();
        break;
      }
      case Frame.Purged: {
        this.purges.get(id)?.resolve(json<{ count: number }>(payload).count);
        this.purges.delete(id);
        break;
      }
      default:
        break;
    }
  }
}
