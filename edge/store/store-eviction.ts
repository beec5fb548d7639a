import { crc32c } from './crc32c.js';
import type { CommitItem, GroupCommit } from './group-commit.js';
import { HEADER_BYTES } from './record-format.js';
import type { Region } from './region-file.js';
import type { StoreDirectory } from './store-directory.js';
import type { IndexEntry } from './store-index.js';
import { checkRecordHeader } from './store-reader.js';
import type { StoreState } from './store-state.js';

/**
 * The evacuation phase: capacity is counted in allocated region bytes; when the next region would
 * not fit, the oldest sealed region is evicted in the background (hot records copied forward).
 */
export class StoreEviction {
  /**
   * Called once a region's records are out of the index, with the keys it dropped, before its file
   * is unlinked: the store process tells its workers and waits (bounded) until each has dropped its
   * RAM copies and closed its handle of the region.
   */
  onEvicted: ((keys: string[], regionId: number) => Promise<void> | void) | undefined;

  constructor(
    private readonly s: StoreState,
    private readonly dir: StoreDirectory,
    private readonly commit: GroupCommit,
  ) {}

  maybeEvict(): void {
    const s = this.s;
    if (!s.evicting && !s.closed && s.diskBytes + s.regionBytes > s.capacity) this.start();
  }

  /** Starts evicting the oldest sealed region; false if there is none. */
  start(): boolean {
    const s = this.s;
    const victim = [...s.regions.values()]
      .filter((r) => r.state.sealed && r !== s.active && !r.evicting)
      .sort((a, b) => a.id - b.id)[0];
    if (!victim) return false;
    s.evicting = this.evict(victim)
      .catch((e: unknown) => s.log.warn({ err: String(e), region: victim.id }, 'store: eviction failed'))
      .finally(() => {
        s.evicting = undefined;
        this.maybeEvict();
      });
    return true;
  }

  /**
   * Frees a whole region: live records the sketch considers hot are copied forward into the
   * active region (bounded by copyForwardFraction of a region, and only if they fit without
   * opening another region), the rest are dropped; the listener (onEvicted) is awaited; then the
   * file is unlinked. Readers that
   * already hold the region keep reading from the open descriptor.
   */
  private async evict(victim: Region): Promise<void> {
    const s = this.s;
    victim.evicting = true;
    // Its last puts (a writer holds its reservation until the group commit has indexed the
    // record). No await when there is nothing to wait for: hot records go into the active region
    // before the puts that woke with this eviction fill it.
    if (victim.inflight > 0) await victim.idle();
    const budget = Math.floor(s.regionBytes * s.copyFraction);
    let copied = 0;
    const copies: Promise<boolean>[] = [];
    for (const { key, offset } of s.index.recordsOfRegion(victim.id)) {
      const e = s.index.get(key);
      if (!e || e.r !== victim.id || e.o !== offset) continue;
      if (s.closed || !s.admitting || copied + e.l > budget) continue;
      if (s.sketch.frequency(key) < s.hotThreshold) continue;
      const buf = await this.copyForward(victim, key, e);
      if (!buf) continue;
      copied += e.l;
      copies.push(
        this.commit.enqueue(buf).then((ok) => {
          if (ok) s.counters.copiedForward++;
          return ok;
        }),
      );
    }
    await Promise.all(copies);
    const dropped: string[] = [];
    s.index.txn(() => {
      for (const { key } of s.index.recordsOfRegion(victim.id)) {
        const e = s.index.get(key);
        if (e && e.r === victim.id) {
          this.dir.removeIndexed(key, e);
          dropped.push(key);
        }
      }
      s.index.clearRegionRows(victim.id);
      s.index.removeRegion(victim.id);
      s.dirtyRegions.delete(victim);
      this.dir.flushDirtyRegions();
    });
    for (const key of dropped) s.ram.delete(key);
    try {
      await this.onEvicted?.(dropped, victim.id);
    } catch (e) {
      s.log.warn({ err: String(e), region: victim.id }, 'store: eviction listener failed');
    }
    s.regions.delete(victim.id);
    s.diskBytes -= victim.state.size;
    victim.deleted = true;
    s.unlinkRegionFile(victim.id);
    if (victim.refs === 0) await victim.close();
    s.counters.evictedRegions++;
  }

  /** Copies one verified record into free space of the active region; the commit item for it, or undefined. */
  private async copyForward(victim: Region, key: string, e: IndexEntry): Promise<CommitItem | undefined> {
    const s = this.s;
    const target = s.active;
    const off = target?.reserve(e.l);
    if (!target || off === undefined) return undefined;
    let buf: Buffer | undefined;
    try {
      buf = Buffer.allocUnsafe(e.l);
      await victim.read(buf, e.o);
      const h = checkRecordHeader(buf, key, e);
      if (!h || crc32c(buf.subarray(HEADER_BYTES)) !== h.crc) {
        s.counters.crcErrors++;
        buf = undefined;
      } else {
        await target.write(off, [buf]);
      }
    } catch (err) {
      s.log.warn({ err: String(err), key }, 'store: copy-forward failed');
      buf = undefined;
    } finally {
      target.release();
    }
    if (!buf) return undefined;
    const entry: IndexEntry = { ...e, r: target.id, o: off };
    return { key, region: target, entry, body: buf.subarray(e.b), expect: { r: e.r, o: e.o } };
  }
}
