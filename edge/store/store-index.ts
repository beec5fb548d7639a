import { open, type Database, type RootDatabase } from 'lmdb';
import type { RegionState } from './region-file.js';
import type { ObjectMeta } from './types.js';

/**
 * The lmdb index of the store. Databases inside one environment (`<dir>/index.lmdb`):
 *  - entries:  key -> IndexEntry (where the record is, its sizes and the authoritative meta)
 *  - tags:     [tag, key] -> 1                 (surrogate-key purge: a range scan per tag)
 *  - byRegion: [regionId, offset] -> key       (what an evicted or lost region held: no full scan)
 *  - regions:  regionId -> RegionState          (committed end, live counters, sealed)
 *  - state:    "nextRegionId" -> number
 * All mutations happen inside `txn` (lmdb transactionSync), so an entry, its tag rows, its
 * byRegion row and the region counters always change together.
 */
export interface IndexEntry {
  /** Region id. */
  r: number;
  /** Record offset in the region. */
  o: number;
  /** Record length (header + key + meta + body). */
  l: number;
  /** Body offset inside the record. */
  b: number;
  /** Body size. */
  s: number;
  /** Current meta (updateMeta and soft purges change it here; the record keeps the original). */
  m: ObjectMeta;
}

/**
 * Tag rows are composite keys [tag, key]. Older stores wrote the string "<tag>\0<key>"; lmdb's key
 * encoding reads long ones of those back as [tag, key] and its string range over them missed
 * every key longer than ~50 bytes, so a tag purge left those objects behind. Both forms are still
 * read and removed.
 */
const LEGACY_TAG_SEP = '\u0000';
type TagRow = [string, string];

export class StoreIndex {
  private constructor(
    private readonly env: RootDatabase,
    readonly entries: Database<IndexEntry, string>,
    private readonly tags: Database<number, TagRow | string>,
    private readonly byRegion: Database<string, [number, number]>,
    readonly regions: Database<RegionState, number>,
    private readonly state: Database<number, string>,
  ) {}

  /**
   * @param durable true: every commit is synced to disk (lmdb default); false: lmdb `noSync`
   * (commits reach the OS page cache — safe against a process crash, not against a power cut).
   */
  static open(path: string, durable: boolean, readOnly = false): StoreIndex {
    const env = open({ path, compression: false, noSync: !durable, readOnly });
    return new StoreIndex(
      env,
      env.openDB<IndexEntry, string>({ name: 'entries' }),
      env.openDB<number, TagRow | string>({ name: 'tags' }),
      env.openDB<string, [number, number]>({ name: 'byRegion' }),
      env.openDB<RegionState, number>({ name: 'regions' }),
      env.openDB<number, string>({ name: 'state' }),
    );
  }

  txn<T>(fn: () => T): T {
    return this.env.transactionSync(fn);
  }

  /**
   * Like txn, but the commit (and its sync, when durable) runs on lmdb's write thread: the event
   * loop keeps serving while the index is flushed. `fn` still runs synchronously inside the write
   * transaction; the promise resolves once the transaction is committed.
   */
  txnAsync<T>(fn: () => T): Promise<T> {
    return this.env.transaction(fn);
  }

  get(key: string): IndexEntry | undefined {
    return this.entries.get(key);
  }

  /** Inside txn: writes an entry with its tag and byRegion rows (does not touch a previous entry). */
  putEntry(key: string, e: IndexEntry): void {
    this.entries.putSync(key, e);
    this.byRegion.putSync([e.r, e.o], key);
    for (const t of e.m.tags) this.tags.putSync([t, key], 1);
  }

  /** Inside txn: replaces only the meta of an entry (tags may change). */
  putMeta(key: string, e: IndexEntry, meta: ObjectMeta): IndexEntry {
    const next = { ...e, m: meta };
    this.entries.putSync(key, next);
    return next;
  }

  /** Inside txn: removes an entry with its tag and byRegion rows. */
  removeEntry(key: string, e: IndexEntry): void {
    this.entries.removeSync(key);
    this.byRegion.removeSync([e.r, e.o]);
    for (const t of e.m.tags) {
      this.tags.removeSync([t, key]);
      this.tags.removeSync(t + LEGACY_TAG_SEP + key);
    }
  }

  keysForTag(tag: string): string[] {
    const out = new Set<string>();
    const add = (k: TagRow | string): void => {
      if (Array.isArray(k)) {
        if (k[0] === tag && typeof k[1] === 'string') out.add(k[1]);
      } else if (k.startsWith(tag + LEGACY_TAG_SEP)) out.add(k.slice(tag.length + 1));
    };
    scan(this.tags.getKeys({ start: [tag], end: [tag + '\u0000'] }), add);
    scan(this.tags.getKeys({ start: tag + LEGACY_TAG_SEP, end: tag + '\u0001' }), add);
    return [...out];
  }

  keysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    scan(this.entries.getKeys({ start: prefix }), (k) => {
      if (!k.startsWith(prefix)) return false;
      out.push(k);
    });
    return out;
  }

  /** [offset, key] of every record indexed in a region, in offset order. */
  recordsOfRegion(regionId: number): { offset: number; key: string }[] {
    const out: { offset: number; key: string }[] = [];
    scan(this.byRegion.getRange({ start: [regionId, 0], end: [regionId + 1, 0] }), ({ key, value }) => {
      out.push({ offset: key[1], key: value });
    });
    return out;
  }

  /** Inside txn: drops leftover byRegion rows of a region (rows whose entry moved on). */
  clearRegionRows(regionId: number): void {
    const keys: [number, number][] = [];
    scan(this.byRegion.getKeys({ start: [regionId, 0], end: [regionId + 1, 0] }), (k) => {
      keys.push(k);
    });
    for (const k of keys) this.byRegion.removeSync(k);
  }

  allRegions(): RegionState[] {
    const out: RegionState[] = [];
    scan(this.regions.getRange({}), ({ value }) => {
      out.push(value);
    });
    return out;
  }

  putRegion(r: RegionState): void {
    this.regions.putSync(r.id, { ...r });
  }

  removeRegion(id: number): void {
    this.regions.removeSync(id);
  }

  nextRegionId(): number {
    return this.state.get('nextRegionId') ?? 1;
  }

  setNextRegionId(n: number): void {
    this.state.putSync('nextRegionId', n);
  }

  /** Read-only openers: drop the cached read transaction so the next read sees the newest commit. */
  refresh(): void {
    this.env.resetReadTxn();
  }

  /** Clears reader slots left by dead processes; returns how many. */
  readerCheck(): number {
    return this.env.readerCheck();
  }

  region(id: number): RegionState | undefined {
    return this.regions.get(id);
  }

  async close(): Promise<void> {
    await this.env.close();
  }
}

/**
 * Walks an lmdb range and always closes it: `return()` runs in `finally`, also when the range
 * throws (a key lmdb cannot encode) or `visit` does. A cursor left open keeps its read transaction
 * alive, and lmdb cannot reuse any page freed after that snapshot: the file then grows without bound.
 * `visit` returns false to stop early.
 */
function scan<T>(range: Iterable<T>, visit: (item: T) => boolean | void): void {
  let it: Iterator<T> | undefined;
  try {
    it = range[Symbol.iterator]();
    for (let r = it.next(); !r.done; r = it.next()) if (visit(r.value) === false) break;
  } finally {
    it?.return?.();
  }
}
