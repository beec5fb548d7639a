import { unlinkSync } from 'node:fs';
import { join, sep } from 'node:path';
import { StreamedgeError } from '../../src/errors.js';
import { CountMinSketch } from './count-min-sketch.js';
import { RamTier } from './ram-tier.js';
import type { Region } from './region-file.js';
import type { StoreIndex } from './store-index.js';
import type { ObjectMeta, StoreCounters, StoreLogger, StoreOptions } from './types.js';

const MiB = 1024 * 1024;
export const REGION_FILE = /^r-(\d{10})\.seg$/;

/** What the RAM tier holds for a key: the body and where its record lives (to tell copies apart). */
export interface RamValue {
  meta: ObjectMeta;
  body: Buffer;
  r: number;
  o: number;
}

/** A put between reservation and commit: purges/deletes that match it cancel it or mark it stale. */
export interface PendingPut {
  key: string;
  meta: ObjectMeta;
  cancelled: boolean;
}

/** Every counter at zero: a new store's, and a worker's stand-in while the store process is away. */
export function zeroCounters(): StoreCounters {
  return {
    ramHits: 0,
    diskHits: 0,
    misses: 0,
    crcErrors: 0,
    evictedRegions: 0,
    copiedForward: 0,
    admissionRejects: 0,
    writeErrors: 0,
    hitsReported: 0,
  };
}

/**
 * The one state object every phase of the store (write, group commit, read, eviction, directory,
 * recovery) works on. It holds data and the few rules that are about the state itself (region file
 * names, the admission switch after a write error); each phase's logic lives in its own file.
 */
export class StoreState {
  readonly regions = new Map<number, Region>();
  active: Region | undefined;
  /** Allocated bytes of all region files. */
  diskBytes = 0;
  objects = 0;
  liveBytes = 0;
  readonly sketch: CountMinSketch;
  readonly ram: RamTier<RamValue>;
  readonly pendingPuts = new Set<PendingPut>();
  /** Regions whose row (counters, end, sealed) changed and must be written in the next transaction. */
  readonly dirtyRegions = new Set<Region>();
  closed = false;
  admitting = true;
  lastError: string | undefined;
  readonly counters: StoreCounters = zeroCounters();
  /** Work in flight that close() waits for. */
  rolling: Promise<void> | undefined;
  evicting: Promise<void> | undefined;
  committing: Promise<void> | undefined;

  readonly regionsDir: string;
  readonly log: StoreLogger;
  readonly ramMax: number;
  readonly verifyMax: number;
  readonly fsync: boolean;
  readonly hotThreshold: number;
  readonly copyFraction: number;
  private readonly retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    readonly capacity: number,
    readonly regionBytes: number,
    readonly index: StoreIndex,
    opts: StoreOptions,
  ) {
    this.regionsDir = join(dir, 'regions');
    this.log = opts.logger ?? { warn() {}, info() {} };
    const ramBytes = opts.ramBytes ?? 64 * MiB;
    this.ramMax = Math.min(opts.ramMaxObjectBytes ?? 4 * MiB, ramBytes);
    this.verifyMax = opts.verifyBeforeSendBytes ?? 16 * MiB;
    this.fsync = (opts.durability ?? 'fsync') === 'fsync';
    this.hotThreshold = opts.hotThreshold ?? 2;
    this.copyFraction = opts.copyForwardFraction ?? 0.25;
    this.retryMs = opts.admissionRetryMs ?? 30_000;
    const expectedKeys = Math.max(
      4096,
      Math.min(1 << 22, Math.floor(capacity / (64 * 1024)) + Math.floor(ramBytes / 4096)),
    );
    this.sketch = new CountMinSketch(expectedKeys);
    this.ram = new RamTier<RamValue>(this.sketch, { capacityBytes: ramBytes });
  }

  regionPath(id: number): string {
    return join(this.regionsDir, `r-${String(id).padStart(10, '0')}.seg`);
  }

  /** The only place files are deleted: a region file name, inside this store's regions dir. */
  unlinkRegionFile(id: number): void {
    const p = this.regionPath(id);
    if (!p.startsWith(this.regionsDir + sep) || !REGION_FILE.test(p.slice(this.regionsDir.length + 1))) {
      throw new StreamedgeError('STORE_INTERNAL', `refusing to delete ${p}: outside the store's region directory`);
    }
    try {
      unlinkSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log.warn({ err: String(e), path: p }, 'store: cannot delete region file');
    }
  }

  /** A write, fsync or index error: admission stops (reads continue) and is retried after admissionRetryMs. */
  onWriteError(e: unknown, op: string): void {
    this.counters.writeErrors++;
    const msg = `${op}: ${e instanceof Error ? e.message : String(e)}`;
    this.lastError = msg;
    if (this.admitting)
      this.log.warn({ err: msg, dir: this.dir }, 'store: write failed; admission stopped, reads continue');
    this.admitting = false;
    if (this.retryMs > 0 && !this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (!this.closed) this.admitting = true;
      }, this.retryMs);
      this.retryTimer.unref();
    }
  }

  setAdmitting(on: boolean): void {
    this.admitting = on;
    if (on) this.clearRetry();
  }

  clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}

export function cloneMeta(m: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = {
    status: m.status,
    headers: { ...m.headers },
    storedAt: m.storedAt,
    expiresAt: m.expiresAt,
    tags: [...(m.tags ?? [])],
  };
  if (m.staleUntil !== undefined) out.staleUntil = m.staleUntil;
  return out;
}
