import { StreamedgeError } from '../../src/errors.js';
import { crc32c } from './crc32c.js';
import type { GroupCommit } from './group-commit.js';
import { HEADER_BYTES, MAX_TAG_BYTES, encodeHeader, encodeMeta, recordLength } from './record-format.js';
import { Region, type RegionState } from './region-file.js';
import type { StoreEviction } from './store-eviction.js';
import type { IndexEntry } from './store-index.js';
import { storeKeyProblem } from './store-key.js';
import { cloneMeta, type PendingPut, type StoreState } from './store-state.js';
import type { ObjectMeta } from './types.js';

const STAGE_BYTES = 256 * 1024;

export type PutBody = AsyncIterable<Buffer | Uint8Array> | Buffer;

/**
 * The write phase: reserve a slot in the active region (rolling to a new region when it is full),
 * write key + meta + body (streamed in >= 256 KiB writes, one in flight per put) and the header
 * with the CRC last, then hand the record to the group commit.
 */
export class StoreWriter {
  constructor(
    private readonly s: StoreState,
    private readonly commit: GroupCommit,
    private readonly eviction: StoreEviction,
  ) {}

  async put(key: string, meta: ObjectMeta, body: PutBody, expectedLength?: number): Promise<boolean> {
    const s = this.s;
    if (s.closed || !s.admitting || !this.storable(key, meta)) {
      s.counters.admissionRejects++;
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
      bodyBuf = await collect(body, s.regionBytes - fixed);
      if (!bodyBuf) {
        s.counters.admissionRejects++;
        return false;
      }
    } else {
      stream = body;
    }
    const size = bodyBuf ? bodyBuf.length : expectedLength!;
    const total = recordLength(keyBuf.length, metaBuf.length, size);
    if (total > s.regionBytes) {
      s.counters.admissionRejects++;
      return false;
    }
    const pending: PendingPut = { key, meta: ownMeta, cancelled: false };
    s.pendingPuts.add(pending);
    try {
      const slot = await this.reserve(total);
      if (!slot) {
        s.counters.admissionRejects++;
        return false;
      }
      const { region, offset } = slot;
      const storedAt = ownMeta.storedAt;
      try {
        if (bodyBuf) {
          const keyCrc = crc32c(keyBuf);
          const crc = crc32c(bodyBuf, crc32c(metaBuf, keyCrc));
          const header = encodeHeader({
            keyHash: keyCrc,
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
        s.onWriteError(e, 'write');
        return false;
      }
      // The reservation is held until the group commit has indexed (or refused) the record: an
      // eviction waits for the region's reservations and then reads its keys from the index.
      const entry: IndexEntry = { r: region.id, o: offset, l: total, b: fixed, s: size, m: ownMeta };
      try {
        return await this.commit.enqueue({ key, region, entry, body: bodyBuf, pending });
      } finally {
        region.release();
      }
    } finally {
      s.pendingPuts.delete(pending);
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
    const keyCrc = crc32c(keyBuf);
    let crc = crc32c(metaBuf, keyCrc);
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
        keyHash: keyCrc,
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
      if (this.s.closed || !this.s.admitting) return undefined;
      const a = this.s.active;
      const off = a?.reserve(length);
      if (a && off !== undefined) return { region: a, offset: off };
      await this.roll(a);
    }
  }

  private roll(prev: Region | undefined): Promise<void> {
    const s = this.s;
    if (s.active !== prev) return Promise.resolve();
    if (!s.rolling) {
      s.rolling = this.doRoll(prev).finally(() => {
        s.rolling = undefined;
      });
    }
    return s.rolling;
  }

  private async doRoll(prev: Region | undefined): Promise<void> {
    const s = this.s;
    if (prev) {
      prev.state.sealed = true; // no new reservations; in-flight writes finish on their own
      s.dirtyRegions.add(prev);
      s.active = undefined;
    }
    // Capacity: make room for one more region (normally a background eviction already did).
    while (s.diskBytes + s.regionBytes > s.capacity) {
      if (!s.evicting && !this.eviction.start()) break;
      await s.evicting;
    }
    const id = s.index.nextRegionId();
    const state: RegionState = {
      id,
      size: s.regionBytes,
      end: 0,
      sealed: false,
      liveBytes: 0,
      liveCount: 0,
      createdAt: Date.now(),
    };
    const region = new Region(state, s.regionPath(id), s.regionBytes);
    try {
      s.index.txn(() => {
        s.index.setNextRegionId(id + 1);
        s.index.putRegion(state);
      });
      await region.handle(true);
    } catch (e) {
      s.index.txn(() => s.index.removeRegion(id));
      s.onWriteError(e, 'create region');
      return;
    }
    s.regions.set(id, region);
    s.diskBytes += s.regionBytes;
    s.active = region;
    this.eviction.maybeEvict();
  }

  private storable(key: string, meta: ObjectMeta): boolean {
    const problem = storeKeyProblem(key);
    if (problem) {
      this.s.log.warn({ key: String(key).slice(0, 200) }, `store: key not storable (${problem})`);
      return false;
    }
    for (const t of meta.tags ?? []) {
      if (typeof t !== 'string' || t.length === 0 || t.includes('\u0000') || Buffer.byteLength(t) > MAX_TAG_BYTES) {
        this.s.log.warn(
          { key, tag: String(t).slice(0, 200) },
          'store: surrogate key not storable (empty, NUL, or longer than 512 bytes)',
        );
        return false;
      }
    }
    return true;
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
