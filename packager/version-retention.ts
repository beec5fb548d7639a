/**
 * Retention of old VOD versions. A version stops being current when the next one is published
 * (its "retired" time); players that loaded the old entry point keep fetching its immutable URLs,
 * so it stays servable for a grace period. A version is removed when it is neither among the
 * `keepVersions` newest nor retired for less than `keepForMs`. Removal renames the folder out of
 * the served tree first (one atomic step: a URL either resolves fully or 404s) and then deletes it;
 * files already open by a reader stay readable until closed.
 */
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assetPath, readHistory, STAGING_PREFIX, versionName, writeHistory } from './publish.js';

export interface RetentionPolicy {
  /** The newest N versions (the current one included) are always kept. At least 1. */
  keepVersions: number;
  /** Older versions are kept until they have been retired this long. */
  keepForMs: number;
}

/** Removes the versions the policy no longer keeps; returns their names (e.g. ["v1"]). */
export function pruneVersions(outDir: string, assetId: string, policy: RetentionPolicy, now = Date.now()): string[] {
  const dir = assetPath(outDir, assetId);
  const history = readHistory(dir);
  const keepNewest = Math.max(1, policy.keepVersions);
  const removed: string[] = [];
  const kept = history.filter((entry, i) => {
    if (i >= history.length - keepNewest) return true;
    const retiredAt = history[i + 1].publishedAt;
    if (now - retiredAt < policy.keepForMs) return true;
    const trash = join(
      outDir,
      `${STAGING_PREFIX}retired-${assetId}-${versionName(entry.version)}-${randomBytes(4).toString('hex')}`,
    );
    try {
      renameSync(join(dir, versionName(entry.version)), trash);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    rmSync(trash, { recursive: true, force: true });
    removed.push(versionName(entry.version));
    return false;
  });
  if (removed.length > 0) writeHistory(dir, kept);
  return removed;
}
