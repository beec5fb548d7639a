import type { Readable } from 'node:stream';

/** What the store keeps about a cached response besides its body. */
export interface ObjectMeta {
  /** HTTP status of the stored response (200, 404 for negative caching, ...). */
  status: number;
  /** Response headers to replay (lowercase names); validators and other extras go here. */
  headers: Record<string, string>;
  /** Epoch ms when the response was received (for Age). */
  storedAt: number;
  /** Epoch ms when it stops being fresh (0 = stale, e.g. after a soft purge). */
  expiresAt: number;
  /** Epoch ms: serve-stale limit (stale-while-revalidate / stale-if-error). */
  staleUntil?: number;
  /** Surrogate keys. */
  tags: string[];
}

export interface StoreLogger {
  warn(o: object, msg?: string): void;
  info(o: object, msg?: string): void;
}

export interface StoreOptions {
  /** Directory the store owns (created if missing). Nothing outside it is ever deleted. */
  dir: string;
  /** Upper bound for the region files on disk, in bytes. */
  capacityBytes: number;
  /** Size of one region file (default 64 MiB; lowered automatically so at least 4 fit in capacityBytes). */
  regionBytes?: number;
  /** RAM tier budget in bytes (default 64 MiB; 0 disables the RAM tier). */
  ramBytes?: number;
  /** Largest object the RAM tier holds (default 4 MiB). */
  ramMaxObjectBytes?: number;
  /**
   * Objects up to this size are read whole and CRC-checked before the first byte is returned
   * (a mismatch is a clean miss). Larger ones are CRC-checked while streaming: a mismatch at the
   * end destroys the stream with StreamedgeError('STORE_CRC'). Default 16 MiB.
   */
  verifyBeforeSendBytes?: number;
  /**
   * 'fsync' (default): region bytes are fdatasync'ed before their index entries are written, so
   * nothing indexed is lost even on power failure. 'flush': written to the OS only (survives a
   * process crash, not a power cut); faster.
   */
  durability?: 'fsync' | 'flush';
  /** Estimated frequency >= this at eviction time means "hot": the record is copied forward (default 2). */
  hotThreshold?: number;
  /** At most this fraction of a region is copied forward per evicted region (default 0.25). */
  copyForwardFraction?: number;
  /** After a write error, admission is retried after this many ms (default 30000; 0 = never automatically). */
  admissionRetryMs?: number;
  logger?: StoreLogger;
}

/** Counters reported by stats(). */
export interface StoreCounters {
  ramHits: number;
  diskHits: number;
  misses: number;
  crcErrors: number;
  evictedRegions: number;
  copiedForward: number;
  admissionRejects: number;
  writeErrors: number;
  /** Hits served elsewhere (edge workers' own reads) added to this store's sketch by recordHits(). */
  hitsReported: number;
}

export interface StoreStats extends StoreCounters {
  /** Indexed objects. */
  objects: number;
  /** Bytes of indexed records (header + key + meta + body). */
  bytes: number;
  /** Configured capacity in bytes. */
  capacity: number;
  /** Region files currently on disk. */
  regions: number;
  /** Size of one region file in bytes (after any automatic adjustment). */
  regionBytes: number;
  /** Bytes held by the RAM tier. */
  ramBytes: number;
  /** Objects held by the RAM tier. */
  ramObjects: number;
  /** False after ENOSPC / an I/O error until admission is resumed. */
  admitting: boolean;
  lastError?: string;
}

export interface StoredObject {
  meta: ObjectMeta;
  /** Full body size in bytes (not the range length). */
  size: number;
  /** The body (or the requested range), streamed from RAM or from the region file at its offset. */
  body: Readable;
  fromRam: boolean;
  /**
   * The body (or range) when it is already in memory (a RAM-tier hit, or a record small enough to be
   * read and CRC-checked whole): one write sends it, and `body` is then only made if asked for.
   */
  buffer?: Buffer;
  /** The inclusive byte range actually returned, when a range was asked for. */
  range?: { start: number; end: number };
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** A RAM-tier entry as the store holds it (shared: never to be changed by a reader). */
export interface RamEntry {
  readonly meta: ObjectMeta;
  readonly body: Buffer;
}
