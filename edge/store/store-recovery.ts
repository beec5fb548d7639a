import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Region, type RegionState } from './region-file.js';
import type { StoreDirectory } from './store-directory.js';
import { REGION_FILE, type StoreState } from './store-state.js';

const MiB = 1024 * 1024;

/**
 * The recovery phase, run once by open. O(regions), not O(entries): region rows from lmdb are
 * matched with the files on disk. A lost region (file gone) or a region file shorter than its
 * committed end loses exactly the entries it held (found through the byRegion rows). Files without
 * a row are leftovers of a crash between creating and recording a region and are deleted. The
 * newest region is resumed at its committed end, after truncating the torn tail a crash may have
 * left beyond it.
 */
export async function recoverStore(s: StoreState, dir: StoreDirectory): Promise<void> {
  const t0 = performance.now();
  const files = new Map<number, number>();
  for (const name of readdirSync(s.regionsDir)) {
    const m = REGION_FILE.exec(name);
    if (!m) continue;
    try {
      files.set(Number(m[1]), statSync(join(s.regionsDir, name)).size);
    } catch {
      // vanished meanwhile
    }
  }
  const rows = s.index.allRegions().sort((a, b) => a.id - b.id);
  let lostEntries = 0;
  let lostRegions = 0;
  const newest = rows.at(-1);
  for (const row of rows) {
    const fileSize = files.get(row.id);
    files.delete(row.id);
    if (fileSize === undefined) {
      lostEntries += dropRegionEntries(s, row, 0);
      s.index.txn(() => s.index.removeRegion(row.id));
      lostRegions++;
      continue;
    }
    const region = new Region(row, s.regionPath(row.id), Math.min(fileSize, row.size));
    let changed = false;
    if (fileSize < row.end) {
      lostEntries += dropRegionEntries(s, row, fileSize);
      row.end = fileSize;
      region.next = fileSize;
      changed = true;
    }
    if (!row.sealed && (row !== newest || row.size - row.end < Math.min(row.size / 8, 4 * MiB))) {
      row.sealed = true;
      changed = true;
    }
    if (fileSize > row.end && row === newest) {
      await region.truncate(row.end); // torn tail of the active region
    }
    if (!row.sealed) {
      s.active = region;
      region.validEnd = row.size; // it grows again from here
    }
    if (changed) s.dirtyRegions.add(region);
    s.regions.set(row.id, region);
    s.diskBytes += row.size;
    s.objects += row.liveCount;
    s.liveBytes += row.liveBytes;
  }
  if (s.dirtyRegions.size > 0) s.index.txn(() => dir.flushDirtyRegions());
  for (const id of files.keys()) s.unlinkRegionFile(id); // orphans
  if (lostEntries > 0 || lostRegions > 0) {
    s.log.warn({ dir: s.dir, lostRegions, lostEntries }, 'store: dropped index entries whose region bytes are gone');
  }
  s.log.info(
    { dir: s.dir, regions: s.regions.size, objects: s.objects, ms: Math.round(performance.now() - t0) },
    'store: opened',
  );
}

/** Drops the entries of a region whose records end beyond `validEnd` (adjusting the row). Returns how many. */
function dropRegionEntries(s: StoreState, row: RegionState, validEnd: number): number {
  let n = 0;
  s.index.txn(() => {
    for (const { key } of s.index.recordsOfRegion(row.id)) {
      const e = s.index.get(key);
      if (e && e.r === row.id && e.o + e.l > validEnd) {
        s.index.removeEntry(key, e);
        row.liveCount--;
        row.liveBytes -= e.l;
        n++;
      }
    }
    if (validEnd === 0) s.index.clearRegionRows(row.id);
  });
  return n;
}
