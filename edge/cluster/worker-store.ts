import type { EdgeStore, ObjectMeta, ReadOnlyStore, StoreStats } from '../store/index.js';
import { MAX_TAG_BYTES } from '../store/record-format.js';
import { assertStoreKey } from '../store/store-key.js';
import { zeroCounters } from '../store/store-state.js';
import type { StoreClient } from './store-client.js';
import type { PurgeTarget } from '../purge.js';

type PutBody = Parameters<EdgeStore['put']>[2];
type MetaPatch = Parameters<EdgeStore['updateMeta']>[1];

/**
 * The store as an edge worker sees it: reads (get, head) never leave the process — lmdb read-only,
 * region files O_RDONLY, its own RAM tier — and every write goes to the store process, the one
 * writer. A fill's bytes are not sent back: the store process already holds them (fill.ts commits
 * through the fetch). While the store process is away, writes store nothing (false / 0) and the
 * health report says why; hits go on.
 */
export class WorkerStore implements EdgeStore {
  constructor(
    private readonly local: ReadOnlyStore,
    private readonly client: StoreClient,
  ) {}

  /** A hit is counted for the store process's sketch (reported every second). */
  async get(key: string, range?: { start: number; end: number }): ReturnType<EdgeStore['get']> {
    const hit = await this.local.get(key, range);
    if (hit) this.client.countHit(key);
    return hit;
  }

  /**
   * The worker's own RAM tier (the one-write hit path, edge/hit-path.ts); `touch` is the hit being
   * served, counted for the store process's sketch.
   */
  ramEntry(key: string, touch: boolean): ReturnType<EdgeStore['ramEntry']> {
    const e = this.local.ramEntry(key, touch);
    if (touch && e) this.client.countHit(key);
    return e;
  }

  head(key: string): ReturnType<EdgeStore['head']> {
    return this.local.head(key);
  }

  /**
   * Small whole bodies only (vary records): a fill's bytes are stored through its fetch's commit. A
   * streamed body is a fill that fetched upstream itself while the store process was away: it is
   * not stored (false, the body left unconsumed, as LogStore.put may).
   */
  async put(key: string, meta: ObjectMeta, body: PutBody, expectedLength?: number): Promise<boolean> {
    assertStoreKey(key);
    if (!Buffer.isBuffer(body) || !this.client.connected) return false;
    if (expectedLength !== undefined && body.length !== expectedLength) return false;
    return this.client.call<boolean>({ op: 'put', key, meta, body: body.toString('base64') }).catch(() => false);
  }

  async updateMeta(key: string, patch: MetaPatch): Promise<boolean> {
    assertStoreKey(key);
    if (!this.client.connected) return false;
    return this.client.call<boolean>({ op: 'updateMeta', key, patch }).catch(() => false);
  }

  async delete(key: string): Promise<boolean> {
    assertStoreKey(key);
    if (!this.client.connected) return false;
    return this.client.call<boolean>({ op: 'delete', key }).catch(() => false);
  }

  async purgePrefix(prefix: string, mode: 'hard' | 'soft'): Promise<number> {
    assertStoreKey(prefix, 'prefix');
    return this.client.call<number>({ op: 'purgePrefix', prefix, mode });
  }

  async purgeTag(tag: string, mode: 'hard' | 'soft'): Promise<number> {
    assertStoreKey(tag, 'tag', MAX_TAG_BYTES);
    return this.client.call<number>({ op: 'purgeTag', tag, mode });
  }

  /** The store process's figures with this worker's own RAM tier and read counters. */
  stats(): StoreStats {
    const mine = this.local.stats();
    const remote = this.client.stats;
    const base: StoreStats = remote ?? {
      objects: 0,
      bytes: 0,
      capacity: 0,
      regions: 0,
      regionBytes: 0,
      ramBytes: 0,
      ramObjects: 0,
      ...zeroCounters(),
      admitting: false,
      lastError: 'store process unavailable (hits are served; misses are fetched but not stored)',
    };
    return {
      ...base,
      ramBytes: mine.ramBytes,
      ramObjects: mine.ramObjects,
      ramHits: mine.ramHits,
      diskHits: mine.diskHits,
      misses: mine.misses,
      crcErrors: mine.crcErrors,
    };
  }
}

/**
 * A purge's effect on one worker's RAM tier (the store process already changed the index): what
 * would be deleted or marked stale is dropped from RAM, so the next read goes to the index.
 */
export function ramDropTarget(local: ReadOnlyStore): PurgeTarget {
  return {
    purgeTag: (tag) => {
      local.forgetTag(tag);
      return Promise.resolve(0);
    },
    purgePrefix: (prefix) => {
      local.forgetPrefix(prefix);
      return Promise.resolve(0);
    },
    delete: (key) => {
      local.forget([key]);
      return Promise.resolve(false);
    },
    updateMeta: (key) => {
      local.forget([key]);
      return Promise.resolve(false);
    },
  };
}
