/**
 * Whole-file replacement: the bytes go to a temporary file beside the target, which is then
 * renamed over it. A reader (another process serving or copying the file) sees the old file or
 * the new one, never half of one; a failed write removes its temporary file and leaves the old
 * file as it was. Live segments are written this way, so the temporary name costs a counter,
 * not a random draw.
 */
import { copyFileSync, renameSync, rmSync, writeFileSync, type WriteFileOptions } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

let tmpCounter = 0;
const tmpName = (target: string): string => `${target}.tmp-${process.pid}-${++tmpCounter}`;

function replaceVia(target: string, fill: (tmp: string) => void): void {
  const tmp = tmpName(target);
  try {
    fill(tmp);
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes `data` to `target` whole (temporary file + rename). */
export function writeFileAtomic(target: string, data: string | Uint8Array, options?: WriteFileOptions): void {
  replaceVia(target, (tmp) => writeFileSync(tmp, data, options));
}

/** Copies `source` over `target` whole (temporary copy + rename). */
export function copyFileAtomic(source: string, target: string): void {
  replaceVia(target, (tmp) => copyFileSync(source, tmp));
}

/** writeFileAtomic without blocking the event loop (live segments, thumbnails, positions). */
export async function writeFileAtomicAsync(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = tmpName(target);
  try {
    await writeFile(tmp, data);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
