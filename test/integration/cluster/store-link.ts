/** A raw worker link to the store process's Unix socket, speaking edge/cluster/frames.ts, for tests. */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Frame, readFrames, writeFrame } from '../../../edge/cluster/frames.js';
import { type FetchUpstream, StoreService, type StoreMetricsHooks } from '../../../edge/cluster/store-service.js';
import { LogStore } from '../../../edge/store/index.js';
import { tempDir } from '../store/store-helpers.js';

export interface Got {
  type: Frame;
  id: number;
  payload: Buffer;
}

/** One worker's end of the socket: every frame received, in order, and a way to wait for one. */
export class Link {
  readonly frames: Got[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(readonly sock: Socket) {
    readFrames(sock, (type, id, payload) => {
      this.frames.push({ type, id, payload: Buffer.from(payload) });
      for (const w of [...this.waiters]) w();
    });
  }

  /** Connects, hands the socket's destruction to `defer`, and waits until the store process accepted it. */
  static async open(path: string, defer: (fn: () => void) => void): Promise<Link> {
    const sock = connect(path);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const link = new Link(sock);
    defer(() => void sock.destroy());
    await link.next((f) => f.type === Frame.Stats); // accepted
    return link;
  }

  send(type: Frame, id: number, payload: object): void {
    writeFrame(this.sock, type, id, payload);
  }

  /** The first frame (already received or to come) that matches. */
  next(match: (f: Got) => boolean): Promise<Got> {
    return new Promise((resolve) => {
      const check = (): void => {
        const f = this.frames.find(match);
        if (!f) return;
        this.waiters.delete(check);
        resolve(f);
      };
      this.waiters.add(check);
      check();
    });
  }

  index(f: Got): number {
    return this.frames.indexOf(f);
  }
}

/**
 * A store process's service for tests: a real LogStore (RAM tier off) and StoreService on its
 * Unix socket, and two raw links speaking frames.ts as two workers would. Cleanups go to `defer`.
 */
export async function serviceWithTwoLinks(o: {
  prefix: string;
  defer: (fn: () => Promise<void> | void) => void;
  capacityBytes?: number;
  fetchUpstream?: FetchUpstream;
  hooks?: StoreMetricsHooks;
}): Promise<{ store: LogStore; svc: StoreService; a: Link; b: Link; dir: string }> {
  const tmp = tempDir(o.prefix);
  const dir = join(tmp.dir, 'store');
  const store = await LogStore.open({
    dir,
    capacityBytes: o.capacityBytes ?? 16 * 1024 * 1024,
    ramBytes: 0,
    durability: 'flush',
  });
  const path = join(tmp.dir, 'store.sock');
  const svc = await StoreService.listen(
    path,
    store,
    o.fetchUpstream ?? (() => Promise.reject(new Error('no upstream here'))),
    o.hooks ?? { own: () => Promise.resolve([]), merge: () => Promise.resolve('') },
  );
  o.defer(async () => {
    await svc.close();
    await store.close();
    tmp.cleanup();
  });
  const a = await Link.open(path, o.defer);
  const b = await Link.open(path, o.defer);
  return { store, svc, a, b, dir };
}
