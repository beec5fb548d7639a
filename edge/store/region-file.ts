import { open, type FileHandle } from 'node:fs/promises';

/**
 * One region file: a fixed-size arena that records are appended to. Region ids are never reused,
 * so (region, offset) names one record forever. Writes go through a small combiner that merges
 * writes to contiguous offsets issued in the same tick into one pwritev. Readers hold a reference
 * (`ref`/`unref`) so that evicting the region (unlinking its file) never closes a file descriptor
 * under a read in progress.
 */
export interface RegionState {
  id: number;
  /** Allocated size (the most it will ever hold). */
  size: number;
  /** Committed end: every indexed record of this region lies below it. */
  end: number;
  sealed: boolean;
  liveBytes: number;
  liveCount: number;
  createdAt: number;
}

interface PendingWrite {
  offset: number;
  bufs: Buffer[];
  length: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const MAX_IOV = 512;

export class Region {
  /** Next free offset for reservations (active region only). */
  next: number;
  /** Bytes actually present in the file (reads past it are invalid). */
  validEnd: number;
  /** Reservations not finished yet: written and indexed (or refused), or abandoned. */
  inflight = 0;
  refs = 0;
  deleted = false;
  evicting = false;
  private fh: FileHandle | undefined;
  private shut = false;
  private opening: Promise<FileHandle> | undefined;
  private queue: PendingWrite[] = [];
  private flushing = false;
  private idleWaiters: (() => void)[] = [];
  private closeWaiters: (() => void)[] = [];
  private isClosed = false;

  constructor(
    readonly state: RegionState,
    readonly path: string,
    validEnd: number,
    /** Read-only openers (worker processes) open the file with O_RDONLY and never write. */
    private readonly readOnly = false,
  ) {
    this.next = state.end;
    this.validEnd = validEnd;
  }

  get id(): number {
    return this.state.id;
  }

  /** Opens (or creates, when `create`) the file. */
  async handle(create = false): Promise<FileHandle> {
    if (this.fh) return this.fh;
    if (this.shut) throw Object.assign(new Error(`region ${this.id} is closed`), { code: 'ECLOSED' });
    if (!this.opening) {
      this.opening = open(this.path, create ? 'wx+' : this.readOnly ? 'r' : 'r+').then(
        (fh) => {
          if (this.shut) void fh.close().catch(() => undefined);
          else this.fh = fh;
          return fh;
        },
        (e: unknown) => {
          this.opening = undefined;
          throw e;
        },
      );
    }
    return this.opening;
  }

  /** Reserves `length` bytes at the end; undefined if they do not fit. */
  reserve(length: number): number | undefined {
    if (this.state.sealed || this.next + length > this.state.size) return undefined;
    const off = this.next;
    this.next += length;
    this.inflight++;
    return off;
  }

  /** Marks a reservation finished (its record indexed or refused, or the write abandoned). */
  release(): void {
    this.inflight--;
    if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when no reservation is being written. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Writes buffers at `offset`, combined with other writes queued in the same tick. */
  write(offset: number, bufs: Buffer[]): Promise<void> {
    const length = bufs.reduce((a, b) => a + b.length, 0);
    return new Promise((resolve, reject) => {
      this.queue.push({ offset, bufs, length, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        process.nextTick(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0).sort((a, b) => a.offset - b.offset);
      const runs: PendingWrite[][] = [];
      let cur: PendingWrite[] = [];
      let curEnd = -1;
      let curIov = 0;
      for (const w of batch) {
        if (cur.length > 0 && (w.offset !== curEnd || curIov + w.bufs.length > MAX_IOV)) {
          runs.push(cur);
          cur = [];
          curIov = 0;
        }
        cur.push(w);
        curEnd = w.offset + w.length;
        curIov += w.bufs.length;
      }
      if (cur.length > 0) runs.push(cur);
      for (const run of runs) {
        try {
          const fh = await this.handle();
          const bufs = run.flatMap((w) => w.bufs);
          const total = run.reduce((a, w) => a + w.length, 0);
          await writevAll(fh, bufs, run[0].offset, total);
          for (const w of run) w.resolve();
        } catch (e) {
          for (const w of run) w.reject(e);
        }
      }
    }
    this.flushing = false;
  }

  /** Reads exactly `length` bytes at `position`; throws on a short read. */
  async read(buf: Buffer, position: number, length = buf.length, bufOffset = 0): Promise<void> {
    const fh = await this.handle();
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, bufOffset + done, length - done, position + done);
      if (bytesRead === 0)
        throw Object.assign(new Error(`short read in region ${this.id} at ${position + done}`), { code: 'ESHORT' });
      done += bytesRead;
    }
  }

  async sync(): Promise<void> {
    const fh = await this.handle();
    await fh.datasync();
  }

  async truncate(length: number): Promise<void> {
    const fh = await this.handle();
    await fh.truncate(length);
    this.validEnd = length;
  }

  ref(): void {
    this.refs++;
  }

  unref(): void {
    this.refs--;
    if (this.refs === 0 && this.deleted) void this.close();
  }

  async close(): Promise<void> {
    this.shut = true;
    const fh = this.fh;
    this.fh = undefined;
    this.opening = undefined;
    if (fh) await fh.close().catch(() => undefined);
    this.isClosed = true;
    for (const w of this.closeWaiters.splice(0)) w();
  }

  /** Resolves once close() has finished (a deleted region closes when its last reader is done). */
  whenClosed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((r) => this.closeWaiters.push(r));
  }
}

async function writevAll(fh: FileHandle, bufs: Buffer[], position: number, total: number): Promise<void> {
  let written = 0;
  let rest = bufs;
  while (written < total) {
    const { bytesWritten } = await fh.writev(rest, position + written);
    if (bytesWritten <= 0) throw new Error('write returned 0 bytes');
    written += bytesWritten;
    if (written >= total) break;
    // Drop fully written buffers, slice a partially written one.
    let skip = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}
