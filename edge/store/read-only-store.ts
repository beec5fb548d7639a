import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StreamedgeError } from '../../src/errors.js';
import { Region } from './region-file.js';
import { StoreIndex } from './store-index.js';
import { assertStoreKey } from './store-key.js';
import { StoreReader } from './store-reader.js';
import { StoreState } from './store-state.js';
import type { ByteRange, ObjectMeta, RamEntry, StoreLogger, StoredObject } from './types.js';

export interface ReadOnlyStoreOptions {
  /** The directory a LogStore (the one writer) owns. */
  dir: string;
  /** RAM tier of this process (default 64 MiB; 0 disables it). */
  ramBytes?: number;
  ramMaxObjectBytes?: number;
  verifyBeforeSendBytes?: number;
  logger?: StoreLogger;
}

/**
 * A second process's view of a store another process writes (an edge worker next to the store
 * process). It never takes store.lock (that lock keeps out a second *writer*), opens lmdb
 * read-only and the region files O_RDONLY, and never changes anything on disk.
 *
 * Reads see one lmdb snapshot until `refresh()` (lmdb-js `resetReadTxn()`), which the owner calls
 * when the writer announces commits; a miss (get or head) refreshes once by itself before it answers
 * (unless a refresh already ran in this event-loop turn), so a key committed a moment ago is found.
 * Every disk read is CRC-checked like the writer's; a bad or vanished record is a miss here (the
 * writer drops it). `forget(keys)` drops RAM-tier copies after a
 * purge or eviction; `forgetRegion(id)` closes the handle of an evicted region.
 */
export class ReadOnlyStore {
  private readonly reader: StoreReader;
  private readonly handles = new Map<number, Region>();
  /** Evicted regions whose handle is closing (readers still on it), until it is closed. */
  private readonly closing = new Map<number, Promise<void>>();
  private closed = false;
  /** A refresh ran in this event-loop turn (cleared on its check phase). */
  private refreshedThisTurn = false;

  private constructor(private readonly s: StoreState) {
    this.reader = new StoreReader(
      s,
      (id) => this.regionOf(id),
      () => undefined,
    );
  }

  static open(opts: ReadOnlyStoreOptions): ReadOnlyStore {
    const dir = resolve(opts.dir);
    const path = join(dir, 'index.lmdb');
    if (!existsSync(path)) {
      throw new StreamedgeError('STORE_OPEN', `no store in ${dir}: the writer must open it first`);
    }
    let index: StoreIndex;
    try {
      index = StoreIndex.open(path, false, true);
    } catch (e) {
      throw new StreamedgeError('STORE_OPEN', `cannot open store ${dir} read-only: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const ramBytes = opts.ramBytes ?? 64 * 1024 * 1024;
    const state = new StoreState(dir, Math.max(ramBytes, 1), 0, index, {
      dir,
      capacityBytes: 1,
      ramBytes,
      ramMaxObjectBytes: opts.ramMaxObjectBytes,
      verifyBeforeSendBytes: opts.verifyBeforeSendBytes,
      logger: opts.logger,
    });
    return new ReadOnlyStore(state);
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    if (this.closed) return undefined;
    assertStoreKey(key);
    const hit = await this.reader.get(key, range);
    if (hit || !this.refreshForMiss()) return hit;
    return this.reader.get(key, range);
  }

  /** The RAM tier's copy of `key`, shared and synchronous (see StoreReader.ramEntry). */
  ramEntry(key: string, touch: boolean): RamEntry | undefined {
    return this.closed ? undefined : this.reader.ramEntry(key, touch);
  }

  async head(key: string): Promise<{ meta: ObjectMeta; size: number } | undefined> {
    if (this.closed) return undefined;
    assertStoreKey(key);
    const found = this.reader.head(key);
    if (found || !this.refreshForMiss()) return Promise.resolve(found);
    return Promise.resolve(this.reader.head(key));
  }

  /**
   * A miss refreshes the snapshot unless one was taken in this event-loop turn already (a stampede's
   * misses read in one turn cost one refresh, not one each); true if it did. A commit landing later
   * in the turn is still safe: the announcement refreshes explicitly, and the store process answers
   * a fetch for a key committed since the `seen` it carries with FILL_STORED (edge/store/README.md).
   */
  private refreshForMiss(): boolean {
    if (this.refreshedThisTurn) return false;
    this.refresh();
    return true;
  }

  /** Sees the newest commit from the next read on; closes handles of regions that are gone. */
  refresh(): void {
    if (this.closed) return;
    if (!this.refreshedThisTurn) {
      this.refreshedThisTurn = true;
      setImmediate(() => (this.refreshedThisTurn = false));
    }
    this.s.index.refresh();
    for (const id of [...this.handles.keys()]) if (!this.s.index.region(id)) void this.forgetRegion(id);
  }

  /** Drops RAM-tier copies (after a purge, overwrite or eviction announced by the writer). */
  forget(keys: Iterable<string>): void {
    for (const k of keys) this.s.ram.delete(k);
  }

  /** Drops RAM-tier copies of every key under `prefix` (a purge announced by the writer). */
  forgetPrefix(prefix: string): void {
    for (const k of [...this.s.ram.keys()]) if (k.startsWith(prefix)) this.s.ram.delete(k);
  }

  /** Drops RAM-tier copies of every object carrying surrogate key `tag` (a tag purge). */
  forgetTag(tag: string): void {
    for (const k of [...this.s.ram.keys()]) if (this.s.ram.peek(k)?.meta.tags.includes(tag)) this.s.ram.delete(k);
  }

  /**
   * Closes the handle of a region the writer evicted; resolves once it is closed (readers still
   * using it finish first: the last one closes it), also when a refresh() already started closing it.
   */
  forgetRegion(id: number): Promise<void> {
    const r = this.handles.get(id);
    if (!r) return this.closing.get(id) ?? Promise.resolve();
    this.handles.delete(id);
    r.deleted = true;
    const p = (r.refs === 0 ? r.close() : r.whenClosed()).finally(() => this.closing.delete(id));
    this.closing.set(id, p);
    return p;
  }

  stats(): {
    ramHits: number;
    diskHits: number;
    misses: number;
    crcErrors: number;
    openRegions: number;
    ramBytes: number;
    ramObjects: number;
  } {
    const c = this.s.counters;
    return {
      ramBytes: this.s.ram.bytes,
      ramObjects: this.s.ram.size,
      ramHits: c.ramHits,
      diskHits: c.diskHits,
      misses: c.misses,
      crcErrors: c.crcErrors,
      openRegions: this.handles.size,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.handles.values()].map((r) => r.close()));
    this.handles.clear();
    this.s.ram.clear();
    await this.s.index.close();
  }

  private regionOf(id: number): Region | undefined {
    let r = this.handles.get(id);
    if (r) return r;
    const row = this.s.index.region(id);
    if (!row) return undefined;
    r = new Region(row, this.s.regionPath(id), row.size, true);
    this.handles.set(id, r);
    return r;
  }
}
