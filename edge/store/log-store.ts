import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { StreamedgeError } from '../../src/errors.js';
import { bufferStream, generatorStream } from './body-stream.js';
import { CountMinSketch } from './count-min-sketch.js';
import { crc32c } from './crc32c.js';
import {
  HEADER_BYTES,
  MAX_KEY_BYTES,
  MAX_TAG_BYTES,
  decodeHeader,
  encodeHeader,
  encodeMeta,
  recordLength,
  type RecordHeader,
} from './record-format.js';
import { RamTier } from './ram-tier.js';
import { Region, type RegionState } from './region-file.js';
import { StoreIndex, type IndexEntry } from './store-index.js';
import { StoreLock } from './store-lock.js';
import type { ByteRange, ObjectMeta, StoreLogger, StoreOptions, StoreStats, StoredObject } from './types.js';

const MiB = 1024 * 1024;
const MIN_REGION_BYTES = 64 * 1024;
const STAGE_BYTES = 256 * 1024;
const STREAM_CHUNK = MiB;
const REGION_FILE = /^r-(\d{10})\.seg$/;

interface RamValue {
  meta: ObjectMeta;
  body: Buffer;
  r: number;
  o: number;
}

/** A put between reservation and commit: purges/deletes that match it cancel it or mark it stale. */
interface PendingPut {
  key: string;
  meta: ObjectMeta;
  cancelled: boolean;
}

interface CommitItem {
  key: string;
  region: Region;
  entry: IndexEntry;
  /** Body bytes when known (Buffer puts, copy-forward), for the RAM tier. */
  body?: Buffer;
  pending?: PendingPut;
  /** Copy-forward: only apply if the key still points at this record. */
  expect?: { r: number; o: number };
  resolve: (ok: boolean) => void;
}

type PutBody = AsyncIterable<Buffer | Uint8Array> | Buffer;

/**
 * The edge's log-structured object store. See edge/store/README.md for the design.
 */
export class LogStore {
  private readonly regions = new Map<number, Region>();
  private active: Region | undefined;
  private diskBytes = 0;
  private objects = 0;
  private liveBytes = 0;
  private readonly sketch: CountMinSketch;
  private readonly ram: RamTier<RamValue>;
  private readonly pendingPuts = new Set<PendingPut>();
  private commitQueue: CommitItem[] = [];
  private committing: Promise<void> | undefined;
  private commitRunning = false;
  private rolling: Promise<void> | undefined;
  private evicting: Promise<void> | undefined;
  private readonly dirtyRegions = new Set<Region>();
  private closed = false;
  private admitting = true;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private readonly counters = {
    ramHits: 0,
    diskHits: 0,
    misses: 0,
    crcErrors: 0,
    evictedRegions: 0,
    copiedForward: 0,
    admissionRejects: 0,
    writeErrors: 0,
  };
  private readonly regionsDir: string;
  private readonly log: StoreLogger;
  private readonly ramMax: number;
  private readonly verifyMax: number;
  private readonly fsync: boolean;
  private readonly hotThreshold: number;
  private readonly copyFraction: number;
  private readonly retryMs: number;

  private constructor(
    private readonly dir: string,
    private readonly capacity: number,
    readonly regionBytes: number,
    private readonly index: StoreIndex,
    private readonly lock: StoreLock,
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

  /** Opens (creating if needed) the store in `opts.dir`, taking an exclusive lock on it. */
  static async open(opts: StoreOptions): Promise<LogStore> {
    if (!opts.dir) throw new StreamedgeError('STORE_CONFIG', 'store dir is required');
    if (!(opts.capacityBytes > 0))
      throw new StreamedgeError(
        'STORE_CONFIG',
        `store capacity must be a positive number of bytes (got ${opts.capacityBytes})`,
      );
    const dir = resolve(opts.dir);
    let regionBytes = Math.min(opts.regionBytes ?? 64 * MiB, Math.floor(opts.capacityBytes / 4));
    regionBytes -= regionBytes % 4096;
    if (regionBytes < MIN_REGION_BYTES) {
      throw new StreamedgeError(
        'STORE_CONFIG',
        `store capacity ${opts.capacityBytes} bytes is too small: it must hold at least 4 regions of ${MIN_REGION_BYTES} bytes (use ${4 * MIN_REGION_BYTES} or more)`,
      );
    }
    try {
      mkdirSync(join(dir, 'regions'), { recursive: true });
    } catch (e) {
      throw new StreamedgeError('STORE_OPEN', `cannot create store directory ${dir}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const lock = StoreLock.acquire(dir);
    let index: StoreIndex | undefined;
    try {
      index = StoreIndex.open(join(dir, 'index.lmdb'), (opts.durability ?? 'fsync') === 'fsync');
      const store = new LogStore(dir, opts.capacityBytes, regionBytes, index, lock, opts);
      await store.recover();
      return store;
    } catch (e) {
      await index?.close().catch(() => undefined);
      lock.release();
      if (e instanceof StreamedgeError) throw e;
      throw new StreamedgeError('STORE_OPEN', `cannot open store in ${dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  // ---------------------------------------------------------------- recovery

  /**
   * O(regions), not O(entries): region rows from lmdb are matched with the files on disk. A lost
   * region (file gone) or a region file shorter than its committed end loses exactly the entries
   * it held (found through the byRegion rows). Files without a row are leftovers of a crash
   * between creating and recording a region and are deleted. The newest region is resumed at its
   * committed end, after truncating the torn tail a crash may have left beyond it.
   */
  private async recover(): Promise<void> {
    const t0 = performance.now();
    const files = new Map<number, number>();
    for (const name of readdirSync(this.regionsDir)) {
      const m = REGION_FILE.exec(name);
      if (!m) continue;
      try {
        files.set(Number(m[1]), statSync(join(this.regionsDir, name)).size);
      } catch {
        // vanished meanwhile
      }
    }
    const rows = this.index.allRegions().sort((a, b) => a.id - b.id);
    let lostEntries = 0;
    let lostRegions = 0;
    const newest = rows.at(-1);
    for (const row of rows) {
      const fileSize = files.get(row.id);
      files.delete(row.id);
      if (fileSize === undefined) {
        lostEntries += this.dropRegionEntries(row, 0);
        this.index.txn(() => this.index.removeRegion(row.id));
        lostRegions++;
        continue;
      }
      const region = new Region(row, this.regionPath(row.id), Math.min(fileSize, row.size));
      let changed = false;
      if (fileSize < row.end) {
        lostEntries += this.dropRegionEntries(row, fileSize);
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
        this.active = region;
        region.validEnd = row.size; // it grows again from here
      }
      if (changed) this.dirtyRegions.add(region);
      this.regions.set(row.id, region);
      this.diskBytes += row.size;
      this.objects += row.liveCount;
      this.liveBytes += row.liveBytes;
    }
    if (this.dirtyRegions.size > 0) this.index.txn(() => this.flushDirtyRegions());
    for (const id of files.keys()) this.unlinkRegionFile(id); // orphans
    if (lostEntries > 0 || lostRegions > 0) {
      this.log.warn(
        { dir: this.dir, lostRegions, lostEntries },
        'store: dropped index entries whose region bytes are gone',
      );
    }
    this.log.info(
      { dir: this.dir, regions: this.regions.size, objects: this.objects, ms: Math.round(performance.now() - t0) },
      'store: opened',
    );
    this.maybeEvict();
  }

  /** Drops the entries of a region whose records end beyond `validEnd` (adjusting the row). Returns how many. */
  private dropRegionEntries(row: RegionState, validEnd: number): number {
    let n = 0;
    this.index.txn(() => {
      for (const { key } of this.index.recordsOfRegion(row.id)) {
        const e = this.index.get(key);
        if (e && e.r === row.id && e.o + e.l > validEnd) {
          this.index.removeEntry(key, e);
          row.liveCount--;
          row.liveBytes -= e.l;
          n++;
        }
      }
      if (validEnd === 0) this.index.clearRegionRows(row.id);
    });
    return n;
  }

  // ---------------------------------------------------------------- put

  /**
   * Streams `body` into the active region. Resolves true once the record is durable and indexed;
   * false if it was not admitted (admission stopped after an I/O error, store closed, key or tags
   * not storable, record larger than a region) — in that case the body may be left unconsumed.
   * If `body` errors, or its length differs from `expectedLength`, nothing is indexed and the
   * promise rejects (StreamedgeError 'STORE_BODY_LENGTH' for a length mismatch, else the body's error).
   * Without `expectedLength` a streamed body is collected in memory first (at most one region).
   */
  async put(key: string, meta: ObjectMeta, body: PutBody, expectedLength?: number): Promise<boolean> {
    if (this.closed || !this.admitting) {
      this.counters.admissionRejects++;
      return false;
    }
    if (!this.storable(key, meta)) {
      this.counters.admissionRejects++;
      return false;
    }
    if (expectedLength !== undefined && !(Number.isSafeInteger(expectedLength) && expectedLength >= 0)) {
      throw new StreamedgeError(
        'STORE_BODY_LENGTH',
        `expectedLength must be a non-negative integer (got ${expectedLength})`,
      );
    }
    const keyBuf = Buffer.from(key, 'utf8');
    const ownMeta = cloneMeta(meta);
    const metaBuf = encodeMeta(ownMeta);
    const fixed = HEADER_BYTES + keyBuf.length + metaBuf.length;
    let bodyBuf: Buffer | undefined;
    let stream: AsyncIterable<Buffer | Uint8Array> | undefined;
    if (Buffer.isBuffer(body)) {
      if (expectedLength !== undefined && expectedLength !== body.length) {
        throw new StreamedgeError(
          'STORE_BODY_LENGTH',
          `body is ${body.length} bytes but expectedLength is ${expectedLength}`,
        );
      }
      bodyBuf = body;
    } else if (expectedLength === undefined) {
      bodyBuf = await collect(body, this.regionBytes - fixed);
      if (!bodyBuf) {
        this.counters.admissionRejects++;
        return false;
      }
    } else {
      stream = body;
    }
    const size = bodyBuf ? bodyBuf.length : expectedLength!;
    const total = recordLength(keyBuf.length, metaBuf.length, size);
    if (total > this.regionBytes) {
      this.counters.admissionRejects++;
      return false;
    }
    const pending: PendingPut = { key, meta: ownMeta, cancelled: false };
    this.pendingPuts.add(pending);
    try {
      const slot = await this.reserve(total);
      if (!slot) {
        this.counters.admissionRejects++;
        return false;
      }
      const { region, offset } = slot;
      const storedAt = ownMeta.storedAt;
      try {
        if (bodyBuf) {
          const crc = crc32c(bodyBuf, crc32c(metaBuf, crc32c(keyBuf)));
          const header = encodeHeader({
            keyHash: crc32c(keyBuf),
            keyLength: keyBuf.length,
            metaLength: metaBuf.length,
            bodyLength: size,
            storedAt,
            crc,
          });
          await region.write(offset, [header, keyBuf, metaBuf, bodyBuf]);
        } else {
          await this.writeStreamed(region, offset, keyBuf, metaBuf, stream!, size, storedAt);
        }
      } catch (e) {
        region.release();
        if (e instanceof BodyError) throw e.cause;
        this.onWriteError(e, 'write');
        return false;
      }
      region.release();
      const entry: IndexEntry = { r: region.id, o: offset, l: total, b: fixed, s: size, m: ownMeta };
      return await this.enqueueCommit({ key, region, entry, body: bodyBuf, pending });
    } finally {
      this.pendingPuts.delete(pending);
    }
  }

  private async writeStreamed(
    region: Region,
    offset: number,
    keyBuf: Buffer,
    metaBuf: Buffer,
    body: AsyncIterable<Buffer | Uint8Array>,
    size: number,
    storedAt: number,
  ): Promise<void> {
    let crc = crc32c(metaBuf, crc32c(keyBuf));
    let pos = offset + HEADER_BYTES;
    let outstanding: Promise<void> = region.write(pos, [keyBuf, metaBuf]);
    pos += keyBuf.length + metaBuf.length;
    let staged: Buffer[] = [];
    let stagedBytes = 0;
    let got = 0;
    const issue = async (): Promise<void> => {
      const bufs = staged;
      const n = stagedBytes;
      staged = [];
      stagedBytes = 0;
      await outstanding; // at most one write in flight per put: backpressure to the source
      outstanding = region.write(pos, bufs);
      pos += n;
    };
    try {
      try {
        for await (const chunk of body) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          got += buf.length;
          if (got > size) throw new StreamedgeError('STORE_BODY_LENGTH', `body is longer than expectedLength ${size}`);
          crc = crc32c(buf, crc);
          staged.push(buf);
          stagedBytes += buf.length;
          if (stagedBytes >= STAGE_BYTES) await issue();
        }
      } catch (e) {
        throw new BodyError(e);
      }
      if (got !== size)
        throw new BodyError(
          new StreamedgeError('STORE_BODY_LENGTH', `body ended after ${got} of ${size} expected bytes`),
        );
      if (stagedBytes > 0) await issue();
      await outstanding;
      const header = encodeHeader({
        keyHash: crc32c(keyBuf),
        keyLength: keyBuf.length,
        metaLength: metaBuf.length,
        bodyLength: size,
        storedAt,
        crc,
      });
      await region.write(offset, [header]);
    } catch (e) {
      await outstanding.catch(() => undefined);
      throw e;
    }
  }

  /** A slot in the active region, rolling to a new region (and evicting) as needed. */
  private async reserve(length: number): Promise<{ region: Region; offset: number } | undefined> {
    for (;;) {
      if (this.closed || !this.admitting) return undefined;
      const a = this.active;
      const off = a?.reserve(length);
      if (a && off !== undefined) return { region: a, offset: off };
      await this.roll(a);
    }
  }

  private roll(prev: Region | undefined): Promise<void> {
    if (this.active !== prev) return Promise.resolve();
    if (!this.rolling) {
      this.rolling = this.doRoll(prev).finally(() => {
        this.rolling = undefined;
      });
    }
    return this.rolling;
  }

  private async doRoll(prev: Region | undefined): Promise<void> {
    if (prev) {
      prev.state.sealed = true; // no new reservations; in-flight writes finish on their own
      this.dirtyRegions.add(prev);
      this.active = undefined;
    }
    // Capacity: make room for one more region (normally a background eviction already did).
    while (this.diskBytes + this.regionBytes > this.capacity) {
      if (!this.evicting && !this.startEviction()) break;
      await this.evicting;
    }
    const id = this.index.nextRegionId();
    const state: RegionState = {
      id,
      size: this.regionBytes,
      end: 0,
      sealed: false,
      liveBytes: 0,
      liveCount: 0,
      createdAt: Date.now(),
    };
    const region = new Region(state, this.regionPath(id), this.regionBytes);
    try {
      this.index.txn(() => {
        this.index.setNextRegionId(id + 1);
        this.index.putRegion(state);
      });
      await region.handle(true);
    } catch (e) {
      this.index.txn(() => this.index.removeRegion(id));
      this.onWriteError(e, 'create region');
      return;
    }
    this.regions.set(id, region);
    this.diskBytes += this.regionBytes;
    this.active = region;
    this.maybeEvict();
  }

  // ---------------------------------------------------------------- commit (group commit)

  private enqueueCommit(item: Omit<CommitItem, 'resolve'>): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      this.commitQueue.push({ ...item, resolve });
      if (!this.commitRunning) {
        this.commitRunning = true;
        this.committing = this.runCommits();
      }
    });
  }

  /**
   * Makes queued records durable (fdatasync of the regions they are in, once per batch) and then
   * indexes them all in one lmdb transaction: an index entry never points at bytes that are not on disk.
   */
  private async runCommits(): Promise<void> {
    try {
      await this.commitBatches();
    } finally {
      this.commitRunning = false;
      this.committing = undefined;
    }
  }

  private async commitBatches(): Promise<void> {
    // Without fsync nothing below awaits: give writes finishing in this loop turn a chance to join the batch.
    if (!this.fsync) await new Promise<void>((r) => setImmediate(r));
    while (this.commitQueue.length > 0) {
      const batch = this.commitQueue.splice(0);
      if (this.closed) {
        for (const i of batch) i.resolve(false);
        continue;
      }
      if (this.fsync) {
        try {
          await Promise.all([...new Set(batch.map((i) => i.region))].map((r) => r.sync()));
        } catch (e) {
          this.onWriteError(e, 'fdatasync');
          for (const i of batch) i.resolve(false);
          continue;
        }
      }
      const applied: { item: CommitItem; old?: IndexEntry }[] = [];
      try {
        this.index.txn(() => {
          for (const item of batch) {
            if (item.pending?.cancelled || this.closed) continue;
            if (item.region.deleted) continue;
            const old = this.index.get(item.key);
            if (item.expect && !(old && old.r === item.expect.r && old.o === item.expect.o)) continue;
            if (item.pending) item.entry.m = item.pending.meta; // soft purges during the write
            if (old) this.removeIndexed(item.key, old);
            this.index.putEntry(item.key, item.entry);
            this.countAdd(item.region, item.entry);
            applied.push({ item, old });
          }
          this.flushDirtyRegions();
        });
      } catch (e) {
        this.reloadCounters();
        this.onWriteError(e, 'index');
        for (const i of batch) i.resolve(false);
        continue;
      }
      for (const { item } of applied) {
        const e = item.entry;
        if (item.body && e.s <= this.ramMax) {
          const v: RamValue = { meta: e.m, body: item.body, r: e.r, o: e.o };
          if (!this.ram.replace(item.key, v, e.l)) this.ram.set(item.key, v, e.l);
        } else {
          this.ram.delete(item.key);
        }
      }
      const ok = new Set(applied.map((a) => a.item));
      for (const i of batch) i.resolve(ok.has(i));
    }
  }

  // ---------------------------------------------------------------- reads

  /**
   * Looks a key up: RAM tier first, then the region file. Every disk read is CRC-checked: records
   * up to `verifyBeforeSendBytes` are read whole and verified before anything is returned (a bad
   * record is a miss); larger ones are verified while streaming and the stream is destroyed with
   * StreamedgeError('STORE_CRC') if the checksum fails at the end. The entry is dropped either way.
   * A range that starts beyond the body throws StreamedgeError('STORE_RANGE'); its end is clamped.
   */
  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    if (this.closed) return undefined;
    this.sketch.increment(key);
    const hit = this.ram.get(key);
    if (hit) {
      this.counters.ramHits++;
      const r = clampRange(range, hit.body.length);
      const body = r ? hit.body.subarray(r.start, r.end + 1) : hit.body;
      return { meta: cloneMeta(hit.meta), size: hit.body.length, body: bufferStream(body), fromRam: true, range: r };
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = this.index.get(key);
      if (!e) break;
      const region = this.regions.get(e.r);
      if (!region) {
        this.dropIfSame(key, e);
        break;
      }
      const r = clampRange(range, e.s);
      if (e.o + e.l > region.validEnd) {
        this.dropIfSame(key, e);
        break;
      }
      if (e.l <= this.verifyMax) {
        const res = await this.readWhole(key, e, region);
        if (res === 'retry') continue;
        if (res === 'miss') break;
        this.counters.diskHits++;
        const body = res.subarray(e.b);
        const cur = this.index.get(key);
        const meta = cur && cur.r === e.r && cur.o === e.o ? cur.m : e.m;
        if (cur && cur.r === e.r && cur.o === e.o && e.s <= this.ramMax) {
          this.ram.set(key, { meta: cur.m, body, r: e.r, o: e.o }, e.l);
        }
        const out = r ? body.subarray(r.start, r.end + 1) : body;
        return { meta: cloneMeta(meta), size: e.s, body: bufferStream(out), fromRam: false, range: r };
      }
      const res = await this.openStreamed(key, e, region, r);
      if (res === 'retry') continue;
      if (res === 'miss') break;
      this.counters.diskHits++;
      return { meta: cloneMeta(e.m), size: e.s, body: res, fromRam: false, range: r };
    }
    this.counters.misses++;
    return undefined;
  }

  /** Reads and verifies a whole record. */
  private async readWhole(key: string, e: IndexEntry, region: Region): Promise<Buffer | 'retry' | 'miss'> {
    const buf = Buffer.allocUnsafe(e.l);
    region.ref();
    try {
      await region.read(buf, e.o);
    } catch (err) {
      if (region.deleted) return 'retry'; // evicted under us: the key may have been copied forward
      this.onReadError(key, e, err);
      return 'miss';
    } finally {
      region.unref();
    }
    const h = this.checkHeader(buf, key, e);
    if (!h || crc32c(buf.subarray(HEADER_BYTES)) !== h.crc) {
      this.onCorrupt(key, e, region);
      return 'miss';
    }
    return buf;
  }

  /** Verifies the header and key of a record against its index entry. */
  private checkHeader(buf: Buffer, key: string, e: IndexEntry): RecordHeader | undefined {
    const h = decodeHeader(buf);
    if (!h) return undefined;
    if (HEADER_BYTES + h.keyLength + h.metaLength !== e.b || h.bodyLength !== e.s) return undefined;
    if (buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + h.keyLength) !== key) return undefined;
    return h;
  }

  /** Large records: header checked now, body CRC checked as it streams. */
  private async openStreamed(
    key: string,
    e: IndexEntry,
    region: Region,
    range: ByteRange | undefined,
  ): Promise<Readable | 'retry' | 'miss'> {
    const head = Buffer.allocUnsafe(e.b);
    region.ref();
    let handedOver = false;
    try {
      try {
        await region.read(head, e.o);
      } catch (err) {
        if (region.deleted) return 'retry';
        this.onReadError(key, e, err);
        return 'miss';
      }
      const h = this.checkHeader(head, key, e);
      if (!h) {
        this.onCorrupt(key, e, region);
        return 'miss';
      }
      handedOver = true;
      const expectedCrc = h.crc;
      const onCorrupt = (): void => this.onCorrupt(key, e, region);
      async function* body(): AsyncGenerator<Buffer> {
        try {
          let crc = crc32c(head.subarray(HEADER_BYTES));
          const first = range?.start ?? 0;
          const last = range?.end ?? e.s - 1;
          for (let pos = 0; pos < e.s; pos += STREAM_CHUNK) {
            const n = Math.min(STREAM_CHUNK, e.s - pos);
            const chunk = Buffer.allocUnsafe(n);
            await region.read(chunk, e.o + e.b + pos);
            crc = crc32c(chunk, crc);
            const a = Math.max(first, pos);
            const b = Math.min(last, pos + n - 1);
            if (a <= b) yield chunk.subarray(a - pos, b - pos + 1);
          }
          if (crc !== expectedCrc) {
            onCorrupt();
            throw new StreamedgeError(
              'STORE_CRC',
              `stored object ${key} failed its CRC check; it was dropped from the store`,
            );
          }
        } finally {
          region.unref();
        }
      }
      return generatorStream(body());
    } finally {
      if (!handedOver) region.unref();
    }
  }

  /** Index and meta only: no disk read, no CRC check. */
  async head(key: string): Promise<{ meta: ObjectMeta; size: number } | undefined> {
    if (this.closed) return undefined;
    const v = this.ram.peek(key);
    if (v) return { meta: cloneMeta(v.meta), size: v.body.length };
    const e = this.index.get(key);
    if (!e || !this.regions.has(e.r)) return undefined;
    return { meta: cloneMeta(e.m), size: e.s };
  }

  // ---------------------------------------------------------------- mutations

  /** Changes freshness fields or headers of a stored object (304 refresh). False if absent. */
  async updateMeta(
    key: string,
    patch: Partial<Pick<ObjectMeta, 'expiresAt' | 'staleUntil' | 'storedAt' | 'headers'>>,
  ): Promise<boolean> {
    if (this.closed) return false;
    const clean: Partial<ObjectMeta> = {};
    if (patch.expiresAt !== undefined) clean.expiresAt = patch.expiresAt;
    if (patch.staleUntil !== undefined) clean.staleUntil = patch.staleUntil;
    if (patch.storedAt !== undefined) clean.storedAt = patch.storedAt;
    if (patch.headers !== undefined) clean.headers = { ...patch.headers };
    let next: IndexEntry | undefined;
    this.index.txn(() => {
      const e = this.index.get(key);
      if (e) next = this.index.putMeta(key, e, { ...e.m, ...clean });
    });
    if (!next) return false;
    const v = this.ram.peek(key);
    if (v) v.meta = next.m;
    return true;
  }

  async delete(key: string): Promise<boolean> {
    if (this.closed) return false;
    for (const p of this.pendingPuts) if (p.key === key) p.cancelled = true;
    return this.removeKeys([key]) > 0;
  }

  /** Hard: drop every object carrying `tag`. Soft: mark them stale (expiresAt = 0). Returns how many. */
  async purgeTag(tag: string, mode: 'hard' | 'soft'): Promise<number> {
    if (this.closed) return 0;
    for (const p of this.pendingPuts) if (p.meta.tags.includes(tag)) this.purgePending(p, mode);
    return this.purgeKeys(this.index.keysForTag(tag), mode);
  }

  /** Like purgeTag, for every key starting with `prefix`. */
  async purgePrefix(prefix: string, mode: 'hard' | 'soft'): Promise<number> {
    if (this.closed) return 0;
    for (const p of this.pendingPuts) if (p.key.startsWith(prefix)) this.purgePending(p, mode);
    return this.purgeKeys(this.index.keysWithPrefix(prefix), mode);
  }

  private purgePending(p: PendingPut, mode: 'hard' | 'soft'): void {
    if (mode === 'hard') p.cancelled = true;
    else p.meta = { ...p.meta, expiresAt: 0 };
  }

  private purgeKeys(keys: string[], mode: 'hard' | 'soft'): number {
    if (mode === 'hard') return this.removeKeys(keys);
    let n = 0;
    const changed: [string, ObjectMeta][] = [];
    this.index.txn(() => {
      for (const key of keys) {
        const e = this.index.get(key);
        if (!e) continue;
        changed.push([key, this.index.putMeta(key, e, { ...e.m, expiresAt: 0 }).m]);
        n++;
      }
    });
    for (const [key, meta] of changed) {
      const v = this.ram.peek(key);
      if (v) v.meta = meta;
    }
    return n;
  }

  private removeKeys(keys: string[]): number {
    let n = 0;
    this.index.txn(() => {
      for (const key of keys) {
        const e = this.index.get(key);
        if (!e) continue;
        this.removeIndexed(key, e);
        n++;
      }
      this.flushDirtyRegions();
    });
    for (const key of keys) this.ram.delete(key);
    return n;
  }

  /** Indexed keys starting with `prefix`, in key order (a walk of the index: O(matching keys)). */
  keys(prefix = ''): string[] {
    if (this.closed) return [];
    return this.index.keysWithPrefix(prefix);
  }

  /** Stops or resumes admission of new objects (reads keep working). */
  setAdmitting(on: boolean): void {
    if (this.closed) return;
    this.admitting = on;
    if (on && this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  stats(): StoreStats {
    const s: StoreStats = {
      objects: this.objects,
      bytes: this.liveBytes,
      capacity: this.capacity,
      regions: this.regions.size,
      regionBytes: this.regionBytes,
      ramBytes: this.ram.bytes,
      ramObjects: this.ram.size,
      ...this.counters,
      admitting: this.admitting && !this.closed,
    };
    if (this.lastError !== undefined) s.lastError = this.lastError;
    return s;
  }

  /** Waits for in-flight commits and eviction, then closes files, the index and the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (;;) {
      const busy = [this.rolling, this.evicting, this.committing].filter((p): p is Promise<void> => p !== undefined);
      if (busy.length === 0) break;
      await Promise.allSettled(busy);
    }
    try {
      this.index.txn(() => this.flushDirtyRegions());
    } catch {
      // best effort: counters are rebuilt from rows on open
    }
    await Promise.all([...this.regions.values()].map((r) => r.close()));
    this.ram.clear();
    await this.index.close();
    this.lock.release();
  }

  // ---------------------------------------------------------------- eviction

  private maybeEvict(): void {
    if (!this.evicting && !this.closed && this.diskBytes + this.regionBytes > this.capacity) this.startEviction();
  }

  /** Starts evicting the oldest sealed region; false if there is none. */
  private startEviction(): boolean {
    const victim = [...this.regions.values()]
      .filter((r) => r.state.sealed && r !== this.active && !r.evicting)
      .sort((a, b) => a.id - b.id)[0];
    if (!victim) return false;
    this.evicting = this.evict(victim)
      .catch((e: unknown) => this.log.warn({ err: String(e), region: victim.id }, 'store: eviction failed'))
      .finally(() => {
        this.evicting = undefined;
        this.maybeEvict();
      });
    return true;
  }

  /**
   * Frees a whole region: live records the sketch considers hot are copied forward into the
   * active region (bounded by copyForwardFraction of a region, and only if they fit without
   * opening another region), the rest are dropped; then the file is unlinked. Readers that
   * already hold the region keep reading from the open descriptor.
   */
  private async evict(victim: Region): Promise<void> {
    victim.evicting = true;
    await victim.idle();
    const budget = Math.floor(this.regionBytes * this.copyFraction);
    let copied = 0;
    const copies: Promise<boolean>[] = [];
    for (const { key, offset } of this.index.recordsOfRegion(victim.id)) {
      const e = this.index.get(key);
      if (!e || e.r !== victim.id || e.o !== offset) continue;
      if (this.closed || !this.admitting || copied + e.l > budget) continue;
      if (this.sketch.frequency(key) < this.hotThreshold) continue;
      const target = this.active;
      const off = target?.reserve(e.l);
      if (!target || off === undefined) continue;
      let buf: Buffer | undefined;
      try {
        buf = Buffer.allocUnsafe(e.l);
        await victim.read(buf, e.o);
        const h = this.checkHeader(buf, key, e);
        if (!h || crc32c(buf.subarray(HEADER_BYTES)) !== h.crc) {
          this.counters.crcErrors++;
          buf = undefined;
        } else {
          await target.write(off, [buf]);
        }
      } catch (err) {
        this.log.warn({ err: String(err), key }, 'store: copy-forward failed');
        buf = undefined;
      } finally {
        target.release();
      }
      if (!buf) continue;
      copied += e.l;
      const entry: IndexEntry = { ...e, r: target.id, o: off };
      copies.push(
        this.enqueueCommit({ key, region: target, entry, body: buf.subarray(e.b), expect: { r: e.r, o: e.o } }).then(
          (ok) => {
            if (ok) this.counters.copiedForward++;
            return ok;
          },
        ),
      );
    }
    await Promise.all(copies);
    const dropped: string[] = [];
    this.index.txn(() => {
      for (const { key } of this.index.recordsOfRegion(victim.id)) {
        const e = this.index.get(key);
        if (e && e.r === victim.id) {
          this.removeIndexed(key, e);
          dropped.push(key);
        }
      }
      this.index.clearRegionRows(victim.id);
      this.index.removeRegion(victim.id);
      this.dirtyRegions.delete(victim);
      this.flushDirtyRegions();
    });
    for (const key of dropped) this.ram.delete(key);
    this.regions.delete(victim.id);
    this.diskBytes -= victim.state.size;
    victim.deleted = true;
    this.unlinkRegionFile(victim.id);
    if (victim.refs === 0) await victim.close();
    this.counters.evictedRegions++;
  }

  // ---------------------------------------------------------------- helpers

  /** Inside a txn: removes an indexed entry and adjusts counters. */
  private removeIndexed(key: string, e: IndexEntry): void {
    this.index.removeEntry(key, e);
    const r = this.regions.get(e.r);
    if (r) this.countRemove(r, e);
    else {
      this.objects--;
      this.liveBytes -= e.l;
    }
  }

  private countAdd(r: Region, e: IndexEntry): void {
    r.state.liveCount++;
    r.state.liveBytes += e.l;
    r.state.end = Math.max(r.state.end, e.o + e.l);
    this.objects++;
    this.liveBytes += e.l;
    this.dirtyRegions.add(r);
  }

  private countRemove(r: Region, e: IndexEntry): void {
    r.state.liveCount--;
    r.state.liveBytes -= e.l;
    this.objects--;
    this.liveBytes -= e.l;
    this.dirtyRegions.add(r);
  }

  /** Inside a txn: persists changed region rows. */
  private flushDirtyRegions(): void {
    for (const r of this.dirtyRegions) if (!r.deleted) this.index.putRegion(r.state);
    this.dirtyRegions.clear();
  }

  /** After a failed transaction the in-memory counters may be ahead: rebuild them from the rows. */
  private reloadCounters(): void {
    this.objects = 0;
    this.liveBytes = 0;
    const rows = new Map(this.index.allRegions().map((r) => [r.id, r]));
    for (const region of this.regions.values()) {
      const row = rows.get(region.id);
      if (row) {
        region.state.liveCount = row.liveCount;
        region.state.liveBytes = row.liveBytes;
        region.state.end = Math.max(region.state.end, row.end);
      }
      this.objects += region.state.liveCount;
      this.liveBytes += region.state.liveBytes;
    }
  }

  private dropIfSame(key: string, e: IndexEntry): void {
    if (this.closed) return;
    this.index.txn(() => {
      const cur = this.index.get(key);
      if (cur && cur.r === e.r && cur.o === e.o) this.removeIndexed(key, cur);
      this.flushDirtyRegions();
    });
    const v = this.ram.peek(key);
    if (v && v.r === e.r && v.o === e.o) this.ram.delete(key);
  }

  private onCorrupt(key: string, e: IndexEntry, region: Region): void {
    this.counters.crcErrors++;
    this.log.warn({ key, region: region.id, offset: e.o }, 'store: record failed its CRC check; dropped');
    this.dropIfSame(key, e);
  }

  private onReadError(key: string, e: IndexEntry, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.log.warn({ key, region: e.r, offset: e.o, err: String(err) }, 'store: read failed');
    if (code === 'ESHORT' || code === 'ENOENT') this.dropIfSame(key, e);
  }

  private onWriteError(e: unknown, op: string): void {
    this.counters.writeErrors++;
    const msg = `${op}: ${(e as Error)?.message ?? String(e)}`;
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

  private storable(key: string, meta: ObjectMeta): boolean {
    if (
      typeof key !== 'string' ||
      key.length === 0 ||
      key.includes('\u0000') ||
      Buffer.byteLength(key) > MAX_KEY_BYTES
    ) {
      this.log.warn(
        { key: String(key).slice(0, 200) },
        'store: key not storable (empty, NUL, or longer than 1024 bytes)',
      );
      return false;
    }
    for (const t of meta.tags ?? []) {
      if (typeof t !== 'string' || t.length === 0 || t.includes('\u0000') || Buffer.byteLength(t) > MAX_TAG_BYTES) {
        this.log.warn(
          { key, tag: String(t).slice(0, 200) },
          'store: surrogate key not storable (empty, NUL, or longer than 512 bytes)',
        );
        return false;
      }
    }
    return true;
  }

  private regionPath(id: number): string {
    return join(this.regionsDir, `r-${String(id).padStart(10, '0')}.seg`);
  }

  /** The only place files are deleted: a region file name, inside this store's regions dir. */
  private unlinkRegionFile(id: number): void {
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
}

/** Wraps an error thrown by the caller's body so put() can tell it from our own I/O errors. */
class BodyError extends Error {
  constructor(override readonly cause: unknown) {
    super('body failed');
  }
}

async function collect(body: AsyncIterable<Buffer | Uint8Array>, max: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    n += b.length;
    if (n > max) return undefined;
    parts.push(b);
  }
  return Buffer.concat(parts, n);
}

function clampRange(range: ByteRange | undefined, size: number): ByteRange | undefined {
  if (!range) return undefined;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || start >= size) {
    throw new StreamedgeError('STORE_RANGE', `range ${start}-${end} is not satisfiable for an object of ${size} bytes`);
  }
  return { start, end: Math.min(end, size - 1) };
}

function cloneMeta(m: ObjectMeta): ObjectMeta {
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
