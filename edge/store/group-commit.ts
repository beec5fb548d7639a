import type { Region } from './region-file.js';
import type { StoreDirectory } from './store-directory.js';
import type { IndexEntry } from './store-index.js';
import type { PendingPut, RamValue, StoreState } from './store-state.js';

export interface CommitItem {
  key: string;
  region: Region;
  entry: IndexEntry;
  /** Body bytes when known (Buffer puts, copy-forward), for the RAM tier. */
  body?: Buffer;
  pending?: PendingPut;
  /** Copy-forward: only apply if the key still points at this record. */
  expect?: { r: number; o: number };
}

/**
 * The aggregation phase: records whose bytes are written wait here; each batch is made durable
 * (one fdatasync per region touched, durability 'fsync') and then indexed in one lmdb transaction,
 * so an index entry never points at bytes that are not on disk.
 */
export class GroupCommit {
  private queue: (CommitItem & { resolve: (ok: boolean) => void })[] = [];
  private running = false;

  constructor(
    private readonly s: StoreState,
    private readonly dir: StoreDirectory,
  ) {}

  /** Resolves true once the item is durable and indexed, false if it was dropped (cancelled, closed, error). */
  enqueue(item: CommitItem): Promise<boolean> {
    if (this.s.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.queue.push({ ...item, resolve });
      if (!this.running) {
        this.running = true;
        this.s.committing = this.run();
      }
    });
  }

  private async run(): Promise<void> {
    try {
      await this.batches();
    } finally {
      this.running = false;
      this.s.committing = undefined;
    }
  }

  private async batches(): Promise<void> {
    const s = this.s;
    // Without fsync nothing below awaits: give writes finishing in this loop turn a chance to join the batch.
    if (!s.fsync) await new Promise<void>((r) => setImmediate(r));
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      if (s.closed) {
        for (const i of batch) i.resolve(false);
        continue;
      }
      if (s.fsync) {
        try {
          await Promise.all([...new Set(batch.map((i) => i.region))].map((r) => r.sync()));
        } catch (e) {
          s.onWriteError(e, 'fdatasync');
          for (const i of batch) i.resolve(false);
          continue;
        }
      }
      const applied: CommitItem[] = [];
      try {
        // With fsync the index commit syncs too: done on lmdb's write thread so puts keep flowing
        // meanwhile. Without it the commit is a memory copy, cheaper inline.
        const apply = (): void => {
          for (const item of batch) {
            if (item.pending?.cancelled || s.closed) continue;
            if (item.region.deleted) continue;
            const old = s.index.get(item.key);
            if (item.expect && !(old && old.r === item.expect.r && old.o === item.expect.o)) continue;
            if (item.pending) item.entry.m = item.pending.meta; // soft purges during the write
            if (old) this.dir.removeIndexed(item.key, old);
            s.index.putEntry(item.key, item.entry);
            this.dir.countAdd(item.region, item.entry);
            applied.push(item);
          }
          this.dir.flushDirtyRegions();
        };
        if (s.fsync) await s.index.txnAsync(apply);
        else s.index.txn(apply);
      } catch (e) {
        this.dir.reloadCounters();
        s.onWriteError(e, 'index');
        for (const i of batch) i.resolve(false);
        continue;
      }
      for (const item of applied) {
        const e = item.entry;
        if (item.body && e.s <= s.ramMax) {
          const v: RamValue = { meta: e.m, body: item.body, r: e.r, o: e.o };
          if (!s.ram.replace(item.key, v, e.l)) s.ram.set(item.key, v, e.l);
        } else {
          s.ram.delete(item.key);
        }
      }
      const ok = new Set<CommitItem>(applied);
      for (const i of batch) i.resolve(ok.has(i));
    }
  }
}
