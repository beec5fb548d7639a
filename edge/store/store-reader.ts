import type { Readable } from 'node:stream';
import { StreamedgeError } from '../../src/errors.js';
import { generatorStream, inMemoryObject } from './body-stream.js';
import { crc32c } from './crc32c.js';
import { HEADER_BYTES, decodeHeader, type RecordHeader } from './record-format.js';
import type { Region } from './region-file.js';
import type { IndexEntry } from './store-index.js';
import { cloneMeta, type StoreState } from './store-state.js';
import type { ByteRange, ObjectMeta, RamEntry, StoredObject } from './types.js';

const STREAM_CHUNK = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * The read phase: RAM tier first, then the region file. Every disk read is CRC-checked: records
 * up to `verifyBeforeSendBytes` are read whole and verified before anything is returned (a bad
 * record is a miss); larger ones are verified while streaming and the stream is destroyed with
 * StreamedgeError('STORE_CRC') if the checksum fails at the end. The entry is dropped either way.
 */
export class StoreReader {
  /** Whole-record reads in flight, by key: a concurrent get() of the same key waits for it (one read). */
  private readonly reading = new Map<string, Promise<unknown>>();

  /**
   * @param regionOf the region a record lives in (the writer's open regions; a read-only opener
   * opens them lazily from the index rows).
   * @param drop called for a record that turned out bad or gone (the writer drops it from the
   * index; a read-only opener cannot, and leaves that to the writer).
   */
  constructor(
    private readonly s: StoreState,
    private readonly regionOf: (id: number) => Region | undefined,
    private readonly drop: (key: string, e: IndexEntry) => void,
  ) {}

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    const s = this.s;
    s.sketch.increment(key);
    const hit = this.fromRam(key, range);
    if (hit) return hit;
    const reading = this.reading.get(key);
    if (reading) {
      // the same record is being read (a new segment asked for by many viewers at once): its
      // read puts it in the RAM tier, so wait for that rather than read it again
      await reading.catch(() => undefined);
      const after = this.fromRam(key, range);
      if (after) return after;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = s.index.get(key);
      if (!e) break;
      const region = this.regionOf(e.r);
      if (!region) {
        this.drop(key, e);
        break;
      }
      const r = clampRange(range, e.s);
      if (e.o + e.l > region.validEnd) {
        this.drop(key, e);
        break;
      }
      if (e.l <= s.verifyMax) {
        const read = this.readToRam(key, e, region);
        this.reading.set(key, read);
        const res = await read.finally(() => {
          if (this.reading.get(key) === read) this.reading.delete(key);
        });
        if (res === 'retry') continue;
        if (res === 'miss') break;
        s.counters.diskHits++;
        const out = r ? res.body.subarray(r.start, r.end + 1) : res.body;
        return inMemoryObject(cloneMeta(res.meta), e.s, out, false, r);
      }
      const res = await this.openStreamed(key, e, region, r);
      if (res === 'retry') continue;
      if (res === 'miss') break;
      s.counters.diskHits++;
      return { meta: cloneMeta(e.m), size: e.s, body: res, fromRam: false, range: r };
    }
    s.counters.misses++;
    return undefined;
  }

  /** A RAM-tier hit (recency and counter updated), as a StoredObject of its own. */
  private fromRam(key: string, range: ByteRange | undefined): StoredObject | undefined {
    const hit = this.s.ram.get(key);
    if (!hit) return undefined;
    this.s.counters.ramHits++;
    const r = clampRange(range, hit.body.length);
    const body = r ? hit.body.subarray(r.start, r.end + 1) : hit.body;
    return inMemoryObject(cloneMeta(hit.meta), hit.body.length, body, true, r);
  }

  /**
   * The RAM tier's copy of `key` as it is held: no clone, no stream (the caller must not change it),
   * for the edge's one-write hit path. `touch` records the hit as get() does (recency, frequency
   * sketch, ramHits); without it nothing changes.
   */
  ramEntry(key: string, touch: boolean): RamEntry | undefined {
    const s = this.s;
    if (!touch) return s.ram.peek(key);
    s.sketch.increment(key);
    const v = s.ram.get(key);
    if (v) s.counters.ramHits++;
    return v;
  }

  /**
   * Index and meta only: no disk read, no CRC check. A record without a body (a vary record, an
   * empty response) is complete in its index entry: it goes into the RAM tier here, so the edge's
   * one-write hit path finds a varying URL's vary record in RAM, as it finds the variant once a
   * get() has read it (nothing else would put it there in a process that does not write).
   */
  head(key: string): { meta: ObjectMeta; size: number } | undefined {
    const s = this.s;
    const v = s.ram.peek(key);
    if (v) return { meta: cloneMeta(v.meta), size: v.body.length };
    const e = s.index.get(key);
    if (!e || !this.regionOf(e.r)) return undefined;
    if (e.s === 0 && e.l <= s.ramMax) s.ram.set(key, { meta: e.m, body: EMPTY, r: e.r, o: e.o }, e.l);
    return { meta: cloneMeta(e.m), size: e.s };
  }

  /**
   * Reads and verifies a whole record, and puts its body in the RAM tier (when it is still the
   * indexed copy and small enough) before it resolves: a get() that waited for it finds it there.
   */
  private async readToRam(
    key: string,
    e: IndexEntry,
    region: Region,
  ): Promise<{ meta: ObjectMeta; body: Buffer } | 'retry' | 'miss'> {
    const res = await this.readWhole(key, e, region);
    if (res === 'retry' || res === 'miss') return res;
    const s = this.s;
    const body = res.subarray(e.b);
    const cur = s.index.get(key);
    const current = cur !== undefined && cur.r === e.r && cur.o === e.o;
    if (current && e.s <= s.ramMax) s.ram.set(key, { meta: cur.m, body, r: e.r, o: e.o }, e.l);
    return { meta: current ? cur.m : e.m, body };
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
    const h = checkRecordHeader(buf, key, e);
    if (!h || crc32c(buf.subarray(HEADER_BYTES)) !== h.crc) {
      this.onCorrupt(key, e, region);
      return 'miss';
    }
    return buf;
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
      const h = checkRecordHeader(head, key, e);
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

  private onCorrupt(key: string, e: IndexEntry, region: Region): void {
    this.s.counters.crcErrors++;
    this.s.log.warn({ key, region: region.id, offset: e.o }, 'store: record failed its CRC check; dropped');
    this.drop(key, e);
  }

  private onReadError(key: string, e: IndexEntry, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.s.log.warn({ key, region: e.r, offset: e.o, err: String(err) }, 'store: read failed');
    if (code === 'ESHORT' || code === 'ENOENT') this.drop(key, e);
  }
}

/** Verifies the header and key of a record against its index entry. */
export function checkRecordHeader(buf: Buffer, key: string, e: IndexEntry): RecordHeader | undefined {
  const h = decodeHeader(buf);
  if (!h) return undefined;
  if (HEADER_BYTES + h.keyLength + h.metaLength !== e.b || h.bodyLength !== e.s) return undefined;
  if (buf.toString('utf8', HEADER_BYTES, HEADER_BYTES + h.keyLength) !== key) return undefined;
  return h;
}

function clampRange(range: ByteRange | undefined, size: number): ByteRange | undefined {
  if (!range) return undefined;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || start >= size) {
    throw new StreamedgeError('STORE_RANGE', `range ${start}-${end} is not satisfiable for an object of ${size} bytes`);
  }
  return { start, end: Math.min(end, size - 1) };
}
