import type { Region } from './region-file.js';
import type { IndexEntry } from './store-index.js';
import type { PendingPut, StoreState } from './store-state.js';
import type { ObjectMeta } from './types.js';

/**
 * The directory phase: every change to what the index says is stored (entries, region counters,
 * purges, meta updates) and the in-memory counters that mirror it. Callers run these inside one
 * lmdb transaction where the method says "inside a txn".
 */
export class StoreDirectory {
  constructor(private readonly s: StoreState) {}

  /** Inside a txn: removes an indexed entry and adjusts counters. */
  removeIndexed(key: string, e: IndexEntry): void {
    this.s.index.removeEntry(key, e);
    const r = this.s.regions.get(e.r);
    if (r) this.countRemove(r, e);
    else {
      this.s.objects--;
      this.s.liveBytes -= e.l;
    }
  }

  countAdd(r: Region, e: IndexEntry): void {
    r.state.liveCount++;
    r.state.liveBytes += e.l;
    r.state.end = Math.max(r.state.end, e.o + e.l);
    this.s.objects++;
    this.s.liveBytes += e.l;
    this.s.dirtyRegions.add(r);
  }

  private countRemove(r: Region, e: IndexEntry): void {
    r.state.liveCount--;
    r.state.liveBytes -= e.l;
    this.s.objects--;
    this.s.liveBytes -= e.l;
    this.s.dirtyRegions.add(r);
  }

  /** Inside a txn: persists changed region rows. */
  flushDirtyRegions(): void {
    for (const r of this.s.dirtyRegions) if (!r.deleted) this.s.index.putRegion(r.state);
    this.s.dirtyRegions.clear();
  }

  /** After a failed transaction the in-memory counters may be ahead: rebuild them from the rows. */
  reloadCounters(): void {
    this.s.objects = 0;
    this.s.liveBytes = 0;
    const rows = new Map(this.s.index.allRegions().map((r) => [r.id, r]));
    for (const region of this.s.regions.values()) {
      const row = rows.get(region.id);
      if (row) {
        region.state.liveCount = row.liveCount;
        region.state.liveBytes = row.liveBytes;
        region.state.end = Math.max(region.state.end, row.end);
      }
      this.s.objects += region.state.liveCount;
      this.s.liveBytes += region.state.liveBytes;
    }
  }

  /** Drops `key` if it still points at the record `e` (a bad or vanished record). */
  dropIfSame(key: string, e: IndexEntry): void {
    if (this.s.closed) return;
    this.s.index.txn(() => {
      const cur = this.s.index.get(key);
      if (cur && cur.r === e.r && cur.o === e.o) this.removeIndexed(key, cur);
      this.flushDirtyRegions();
    });
    const v = this.s.ram.peek(key);
    if (v && v.r === e.r && v.o === e.o) this.s.ram.delete(key);
  }

  updateMeta(key: string, clean: Partial<ObjectMeta>): boolean {
    let next: IndexEntry | undefined;
    this.s.index.txn(() => {
      const e = this.s.index.get(key);
      if (e) next = this.s.index.putMeta(key, e, { ...e.m, ...clean });
    });
    if (!next) return false;
    const v = this.s.ram.peek(key);
    if (v) v.meta = next.m;
    return true;
  }

  delete(key: string): boolean {
    for (const p of this.s.pendingPuts) if (p.key === key) p.cancelled = true;
    return this.removeKeys([key]) > 0;
  }

  purgeTag(tag: string, mode: 'hard' | 'soft'): number {
    for (const p of this.s.pendingPuts) if (p.meta.tags.includes(tag)) purgePending(p, mode);
    return this.purgeKeys(this.s.index.keysForTag(tag), mode);
  }

  purgePrefix(prefix: string, mode: 'hard' | 'soft'): number {
    for (const p of this.s.pendingPuts) if (p.key.startsWith(prefix)) purgePending(p, mode);
    return this.purgeKeys(this.s.index.keysWithPrefix(prefix), mode);
  }

  private purgeKeys(keys: string[], mode: 'hard' | 'soft'): number {
    if (mode === 'hard') return this.removeKeys(keys);
    let n = 0;
    const changed: [string, ObjectMeta][] = [];
    this.s.index.txn(() => {
      for (const key of keys) {
        const e = this.s.index.get(key);
        if (!e) continue;
        changed.push([key, this.s.index.putMeta(key, e, { ...e.m, expiresAt: 0 }).m]);
        n++;
      }
    });
    for (const [key, meta] of changed) {
      const v = this.s.ram.peek(key);
      if (v) v.meta = meta;
    }
    return n;
  }

  private removeKeys(keys: string[]): number {
    let n = 0;
    this.s.index.txn(() => {
      for (const key of keys) {
        const e = this.s.index.get(key);
        if (!e) continue;
        this.removeIndexed(key, e);
        n++;
      }
      this.flushDirtyRegions();
    });
    for (const key of keys) this.s.ram.delete(key);
    return n;
  }
}

function purgePending(p: PendingPut, mode: 'hard' | 'soft'): void {
  if (mode === 'hard') p.cancelled = true;
  else p.meta = { ...p.meta, expiresAt: 0 };
}
