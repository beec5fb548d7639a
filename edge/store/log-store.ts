import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StreamedgeError } from '../../src/errors.js';
import { MAX_COUNT } from './count-min-sketch.js';
import { MAX_TAG_BYTES } from './record-format.js';
import { GroupCommit } from './group-commit.js';
import { StoreDirectory } from './store-directory.js';
import { StoreEviction } from './store-eviction.js';
import { StoreIndex } from './store-index.js';
import { assertStoreKey } from './store-key.js';
import { DirLock } from '../../src/dir-lock.js';
import { StoreReader } from './store-reader.js';
import { recoverStore } from './store-recovery.js';
import { StoreState } from './store-state.js';
import { StoreWriter, type PutBody } from './store-writer.js';
import type { ByteRange, ObjectMeta, RamEntry, StoreOptions, StoreStats, StoredObject } from './types.js';

const MiB = 1024 * 1024;
const MIN_REGION_BYTES = 64 * 1024;

/**
 * The edge's log-structured object store: a facade over its phases, which share one StoreState
 * (store-state.ts): write (store-writer.ts), group commit (group-commit.ts), read (store-reader.ts),
 * eviction (store-eviction.ts), directory (store-directory.ts) and recovery (store-recovery.ts).
 * See edge/store/README.md for the design.
 */
export class LogStore {
  private readonly dir: StoreDirectory;
  private readonly commit: GroupCommit;
  private readonly eviction: StoreEviction;
  private readonly writer: StoreWriter;
  private readonly reader: StoreReader;

  private constructor(
    private readonly s: StoreState,
    private readonly lock: DirLock,
  ) {
    this.dir = new StoreDirectory(s);
    this.commit = new GroupCommit(s, this.dir);
    this.eviction = new StoreEviction(s, this.dir, this.commit);
    this.writer = new StoreWriter(s, this.commit, this.eviction);
    this.reader = new StoreReader(
      s,
      (id) => s.regions.get(id),
      (key, e) => this.dir.dropIfSame(key, e),
    );
  }

  get regionBytes(): number {
    return this.s.regionBytes;
  }

  /** Opens (creating if needed) the store in `opts.dir`, taking an exclusive lock on it. */
  static async open(opts: StoreOptions): Promise<LogStore> {
    if (!opts.dir) throw new StreamedgeError('STORE_CONFIG', 'store dir is required');
    if (!(opts.capacityBytes > 0))
      throw new StreamedgeError(
        'STORE_CONFIG',
        `store capacity must be a positive number of bytes (got ${opts.capacityBytes})`,
      );
    const dir = resolve(opts.dir);
    let regionBytes = Math.min(opts.regionBytes ?? 64 * MiB, Math.floor(opts.capacityBytes / 4));
    regionBytes -= regionBytes % 4096;
    if (regionBytes < MIN_REGION_BYTES) {
      throw new StreamedgeError(
        'STORE_CONFIG',
        `store capacity ${opts.capacityBytes} bytes is too small: it must hold at least 4 regions of ${MIN_REGION_BYTES} bytes (use ${4 * MIN_REGION_BYTES} or more)`,
      );
    }
    try {
      mkdirSync(join(dir, 'regions'), { recursive: true });
    } catch (e) {
      throw new StreamedgeError('STORE_OPEN', `cannot create store directory ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const lock = DirLock.acquire(dir);
    let index: StoreIndex | undefined;
    try {
      index = StoreIndex.open(join(dir, 'index.lmdb'), (opts.durability ?? 'fsync') === 'fsync');
      const store = new LogStore(new StoreState(dir, opts.capacityBytes, regionBytes, index, opts), lock);
      await recoverStore(store.s, store.dir);
      // A store that was full when it stopped makes room for one more region before it is handed out.
      store.eviction.maybeEvict();
      while (store.s.evicting) await store.s.evicting;
      return store;
    } catch (e) {
      await index?.close().catch(() => undefined);
      lock.release();
      if (e instanceof StreamedgeError) throw e;
      throw new StreamedgeError('STORE_OPEN', `cannot open store in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Streams `body` into the active region. Resolves true once the record is durable and indexed;
   * false if it was not admitted (admission stopped after an I/O error, store closed, key or tags
   * not storable, record larger than a region) — in that case the body may be left unconsumed.
   * If `body` errors, or its length differs from `expectedLength`, nothing is indexed and the
   * promise rejects (StreamedgeError 'STORE_BODY_LENGTH' for a length mismatch, else the body's error).
   * Without `expectedLength` a streamed body is collected in memory first (at most one region).
   */
  put(key: string, meta: ObjectMeta, body: PutBody, expectedLength?: number): Promise<boolean> {
    return this.writer.put(key, meta, body, expectedLength);
  }

  /**
   * Looks a key up: RAM tier first, then the region file, every disk read CRC-checked (see
   * store-reader.ts). A range that starts beyond the body throws StreamedgeError('STORE_RANGE'); its
   * end is clamped. A key over the index limit throws StoreKeyError ('STORE_KEY_TOO_LONG').
   */
  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    if (this.s.closed) return undefined;
    assertStoreKey(key);
    return this.reader.get(key, range);
  }

  /**
   * The RAM tier's copy of `key`, shared and synchronous (see StoreReader.ramEntry): the edge's
   * one-write hit path reads it; `touch` records the hit.
   */
  ramEntry(key: string, touch: boolean): RamEntry | undefined {
    return this.s.closed ? undefined : this.reader.ramEntry(key, touch);
  }

  /** Index and meta only: no disk read, no CRC check. */
  async head(key: string): Promise<{ meta: ObjectMeta; size: number } | undefined> {
    if (this.s.closed) return undefined;
    assertStoreKey(key);
    return Promise.resolve(this.reader.head(key));
  }

  /** Changes freshness fields or headers of a stored object (304 refresh). False if absent. */
  async updateMeta(
    key: string,
    patch: Partial<Pick<ObjectMeta, 'expiresAt' | 'staleUntil' | 'storedAt' | 'headers'>>,
  ): Promise<boolean> {
    if (this.s.closed) return false;
    assertStoreKey(key);
    const clean: Partial<ObjectMeta> = {};
    if (patch.expiresAt !== undefined) clean.expiresAt = patch.expiresAt;
    if (patch.staleUntil !== undefined) clean.staleUntil = patch.staleUntil;
    if (patch.storedAt !== undefined) clean.storedAt = patch.storedAt;
    if (patch.headers !== undefined) clean.headers = { ...patch.headers };
    return Promise.resolve(this.dir.updateMeta(key, clean));
  }

  async delete(key: string): Promise<boolean> {
    if (this.s.closed) return false;
    assertStoreKey(key);
    return Promise.resolve(this.dir.delete(key));
  }

  /** Hard: drop every object carrying `tag`. Soft: mark them stale (expiresAt = 0). Returns how many. */
  async purgeTag(tag: string, mode: 'hard' | 'soft'): Promise<number> {
    if (this.s.closed) return 0;
    assertStoreKey(tag, 'tag', MAX_TAG_BYTES);
    return Promise.resolve(this.dir.purgeTag(tag, mode));
  }

  /** Like purgeTag, for every key starting with `prefix`. */
  async purgePrefix(prefix: string, mode: 'hard' | 'soft'): Promise<number> {
    if (this.s.closed) return 0;
    assertStoreKey(prefix, 'prefix');
    return Promise.resolve(this.dir.purgePrefix(prefix, mode));
  }

  /** Indexed keys starting with `prefix`, in key order (a walk of the index: O(matching keys)). */
  keys(prefix = ''): string[] {
    if (this.s.closed) return [];
    assertStoreKey(prefix, 'prefix');
    return this.s.index.keysWithPrefix(prefix);
  }

  /**
   * Frees the lmdb reader slots of processes that died holding a read transaction (a SIGKILLed
   * worker): until then their snapshot pins pages the writer cannot reuse. Returns how many were
   * cleared. The supervisor calls it whenever a child exits.
   */
  readerCheck(): number {
    if (this.s.closed) return 0;
    return this.s.index.readerCheck();
  }

  /**
   * Calls `listener` for each evicted region, with the keys it dropped and the region id, once they
   * are out of the index and before the region file is unlinked; eviction awaits what it returns (the
   * store process broadcasts them and waits until its workers dropped RAM copies and closed the handle).
   */
  onEvicted(listener: (keys: string[], regionId: number) => Promise<void> | void): void {
    this.eviction.onEvicted = listener;
  }

  /**
   * Adds hits served elsewhere (an edge worker's own reads) to the sketch that decides RAM admission
   * and copy-forward at eviction: `count` increments of `key` (at most the counter maximum).
   */
  recordHits(key: string, count: number): void {
    if (this.s.closed) return;
    const n = Math.min(Math.max(0, Math.floor(count)), MAX_COUNT);
    for (let i = 0; i < n; i++) this.s.sketch.increment(key);
    this.s.counters.hitsReported += n;
  }

  /** Stops or resumes admission of new objects (reads keep working). */
  setAdmitting(on: boolean): void {
    if (this.s.closed) return;
    this.s.setAdmitting(on);
  }

  stats(): StoreStats {
    const s = this.s;
    const out: StoreStats = {
      objects: s.objects,
      bytes: s.liveBytes,
      capacity: s.capacity,
      regions: s.regions.size,
      regionBytes: s.regionBytes,
      ramBytes: s.ram.bytes,
      ramObjects: s.ram.size,
      ...s.counters,
      admitting: s.admitting && !s.closed,
    };
    if (s.lastError !== undefined) out.lastError = s.lastError;
    return out;
  }

  /** Waits for in-flight commits and eviction, then closes files, the index and the lock. */
  async close(): Promise<void> {
    const s = this.s;
    if (s.closed) return;
    s.closed = true;
    s.clearRetry();
    for (;;) {
      const busy = [s.rolling, s.evicting, s.committing].filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) break;
      await Promise.allSettled(busy);
    }
    try {
      s.index.txn(() => this.dir.flushDirtyRegions());
    } catch {
      // best effort: counters are rebuilt from rows on open
    }
    await Promise.all([...s.regions.values()].map((r) => r.close()));
    s.ram.clear();
    await s.index.close();
    this.lock.release();
  }
}

/**
 * What the edge uses of a store: a LogStore in a single-process edge, or a worker's view of the
 * store process (edge/cluster/worker-store.ts: reads local, writes forwarded).
 */
export type EdgeStore = Pick<
  LogStore,
  'get' | 'head' | 'ramEntry' | 'put' | 'updateMeta' | 'delete' | 'purgeTag' | 'purgePrefix' | 'stats'
>;
