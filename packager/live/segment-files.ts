/**
 * Disk side of a live rendition: `<channelDir>/<rendition>/init.mp4` and `seg-<n>.m4s`, each
 * written atomically (temporary name, then rename) so a reader never sees half a file, and
 * deleted once out of the DVR window plus the retention the spec asks for.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicAsync } from '../../src/atomic-file.js';
import { paths } from '../../src/media/presentation.js';

export class SegmentFiles {
  constructor(readonly channelDir: string) {}

  renditionDir(renditionId: string): string {
    return join(this.channelDir, renditionId);
  }

  initPath(renditionId: string): string {
    return join(this.channelDir, paths.init(renditionId));
  }

  segmentPath(renditionId: string, n: number): string {
    return join(this.channelDir, paths.segment(renditionId, n));
  }

  async writeInit(renditionId: string, bytes: Buffer): Promise<void> {
    await mkdir(this.renditionDir(renditionId), { recursive: true });
    await writeFileAtomicAsync(this.initPath(renditionId), bytes);
  }

  async writeSegment(renditionId: string, n: number, bytes: Buffer): Promise<void> {
    await mkdir(this.renditionDir(renditionId), { recursive: true });
    await writeFileAtomicAsync(this.segmentPath(renditionId, n), bytes);
  }

  async deleteSegment(renditionId: string, n: number): Promise<void> {
    await rm(this.segmentPath(renditionId, n), { force: true });
  }

  /**
   * Startup sweep: delete segment files (and stray temporaries) that the restored window does not
   * keep, so a restart never leaks disk.
   */
  async sweep(renditionId: string, keep: (n: number) => boolean): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.renditionDir(renditionId));
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const m = /^seg-(\d+)\.m4s$/.exec(name);
      const stray = name.includes('.tmp-');
      if (stray || (m && !keep(Number(m[1])))) {
        await rm(join(this.renditionDir(renditionId), name), { force: true });
        removed++;
      }
    }
    return removed;
  }
}
