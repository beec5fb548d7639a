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
    victim.evicting = true;
    const plan = this.planCopies(victim);
    s.evicting = this.evict(victim, plan)
      .catch((e: unknown) => s.log.warn({ err: String(e), region: victim.id }, 'store: eviction failed'))
      .finally(() => {
        s.evicting = undefined;
        this.maybeEvict();
      });
    return true;
  }

  /**
   * The hot records the victim holds now, within the copy budget, and one block of the active
   * region reserved for all of them in this same turn, so the puts that woke with the roll (or
   * arrive while the copies read the victim) cannot take that room first.
   */
  private planCopies(victim: Region): CopyPlan {
    const s = this.s;
    const budget = Math.floor(s.regionBytes * s.copyFraction);
    const records: PlannedCopy[] = [];
    let bytes = 0;
    if (s.active) {
      for (const { key, offset } of s.index.recordsOfRegion(victim.id)) {
        const e = this.hotRecord(victim, key, offset);
        if (!e || bytes + e.l > budget) continue;
        records.push({ key, e });
        bytes += e.l;
      }
    }
    const target = s.active;
    const at = bytes > 0 ? target?.reserve(bytes) : undefined;
    if (!target || at === undefined) return { records: [], budget, bytes: 0 };
    return { records, budget, bytes, block: { target, at } };
  }

  /**
   * Frees a whole region: live records the sketch considers hot are copied forward into the
   * active region, within copyForwardFraction of a region (into the block planned when the
   * eviction started; records indexed after that only into room still free there, never opening
   * another region); the rest are dropped; the listener (onEvicted) is awaited; then the file is
   * unlinked. Readers that already hold the region keep reading from the open descriptor.
   */
  private async evict(victim: Region, plan: CopyPlan): Promise<void> {
    const s = this.s;
    const copies: Promise<boolean>[] = [];
    const enqueue = (item: CommitItem | undefined, settled?: () => void) => {
      if (!item) return settled?.();
      copies.push(
        this.commit
          .enqueue(item)
          .then((ok) => {
            if (ok) s.counters.copiedForward++;
            return ok;
          })
          .finally(settled),
      );
    };
    try {
      // Its last puts (a writer holds its reservation until the group commit has indexed the
      // record). No await when there is nothing to wait for.
      if (victim.inflight > 0) await victim.idle();
      const planned = new Set<string>();
      if (plan.block) {
        let at = plan.block.at;
        for (const { key, e } of plan.records) {
          planned.add(key);
          const off = at;
          at += e.l;
          // purged or replaced since the plan: its slot in the block stays a hole
          const now = this.hotRecord(victim, key, e.o);
          if (now) enqueue(await this.copyForward(victim, key, now, plan.block.target, off));
        }
      }
      let copied = plan.bytes;
      for (const { key, offset } of s.index.recordsOfRegion(victim.id)) {
        if (planned.has(key)) continue;
        const e = this.hotRecord(victim, key, offset);
        if (!e || copied + e.l > plan.budget) continue;
        const target = s.active;
        const off = target?.reserve(e.l);
        if (!target || off === undefined) continue;
        copied += e.l;
        // its slot is held until the commit has indexed or refused it, as a put's is
        enqueue(await this.copyForward(victim, key, e, target, off), () => target.release());
      }
      await Promise.all(copies);
    } finally {
      // the planned block is held, like a put's slot, until its records are indexed or refused
      plan.block?.target.release();
    }
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

  /** The record's index entry if it is still the victim's at `offset`, hot, and the store admits copies. */
  private hotRecord(victim: Region, key: string, offset: number): IndexEntry | undefined {
    const s = this.s;
    if (s.closed || !s.admitting) return undefined;
    const e = s.index.get(key);
    if (!e || e.r !== victim.id || e.o !== offset) return undefined;
    return s.sketch.frequency(key) >= s.hotThreshold ? e : undefined;
  }

  /** Copies one verified record into its reserved slot of `target`; the commit item for it, or undefined. */
  private async copyForward(
    victim: Region,
    key: string,
    e: IndexEntry,
    target: Region,
    off: number,
  ): Promise<CommitItem | undefined> {
    const s = this.s;
    const buf = Buffer.allocUnsafe(e.l);
    try {
      await victim.read(buf, e.o);
      const h = checkRecordHeader(buf, key, e);
      if (!h || crc32c(buf.subarray(HEADER_BYTES)) !== h.crc) {
        s.counters.crcErrors++;
        return undefined;
      }
      await target.write(off, [buf]);
    } catch (err) {
      s.log.warn({ err: String(err), key }, 'store: copy-forward failed');
      return undefined;
    }
    const entry: IndexEntry = { ...e, r: target.id, o: off };
    return { key, region: target, entry, body: buf.subarray(e.b), expect: { r: e.r, o: e.o } };
  }
}

interface PlannedCopy {
  key: string;
  e: IndexEntry;
}

/** The copies an eviction planned as it started, and the block of the active region kept for them. */
interface CopyPlan {
  records: PlannedCopy[];
  /** copyForwardFraction of a region, in bytes */
  budget: number;
  /** the planned records' bytes (the block's length) */
  bytes: number;
  block?: { target: Region; at: number };
}
