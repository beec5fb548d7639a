/**
 * One upstream fill of one cache key. Every request for the key while the fill runs attaches to
 * it: all get the same response head, then the body bytes as they arrive (read-while-writer).
 *
 * Bytes are kept once, in the fill, as a list of chunks with absolute offsets; every reader has
 * its own cursor and writes to its socket only when the socket drains, so a slow reader costs no
 * extra memory and never slows the fill or the other readers. If the object grows beyond
 * `retainBytes`, the oldest chunks are dropped: a reader still behind them is "lagging" and is
 * finished from the store once the object is stored (or aborted if it is not).
 *
 * A fill that fails midway fails every reader (their sockets are destroyed: never a truncated
 * body presented as complete) and its store put rejects, so nothing is indexed.
 */
import type { ForwardReason } from '../src/http/cache-status.js';
import type { HeaderBag } from '../src/http/freshness.js';
import { StreamedgeError } from '../src/errors.js';
import type { EdgeStore, ObjectMeta } from './store/index.js';
import { ByteQueue } from './byte-queue.js';
import {
  type EdgeCachePolicy,
  buildMeta,
  connectionTokens,
  refreshedMeta,
  staleUsableOnError,
  sharedWithWaiters,
  storableHeaders,
  wireHeaders,
} from './cache-policy.js';
import type { UpstreamResponse } from './upstream.js';
import { parseVary } from '../src/http/cache-key.js';
import { varyRecord } from './variants.js';
import { checkKey } from './request-limits.js';
import { FILL_STORED } from './cluster/frames.js';

export type FillHead =
  | {
      kind: 'response';
      status: number;
      /**
       * Headers to send (hop-by-hop removed; Content-Length, Age and Cache-Status are the sender's),
       * each field one string except Set-Cookie, one string per cookie (RFC 9110 §5.3).
       */
      headers: Record<string, string | string[]>;
      /** Body length when the upstream declared it. */
      length?: number;
      /** The fill means to store the response (whether it landed: `Fill.landedInStore`). */
      stored: boolean;
      /** Requests collapsed onto this fill may be given it (cache-policy.ts sharedWithWaiters). */
      shared: boolean;
      /** Corrected initial age in seconds. */
      initialAge: number;
      /** Seconds of freshness left, when stored. */
      ttl?: number;
      /** The upstream's Cache-Status, to append to. */
      upstreamCacheStatus?: string;
    }
  /** 304 from upstream: the stored entry was refreshed; serve it from the store. */
  | { kind: 'revalidated' }
  /**
   * The store process of a multi-worker edge answered that the key was stored after this fill's
   * request looked it up (edge/cluster: FILL_STORED): look it up again, a hit. Nothing was fetched.
   */
  | { kind: 'stored-meanwhile' }
  /** The upstream failed and the stale entry may be served (stale-if-error). */
  | { kind: 'stale-on-error'; fwdStatus?: number; reason: string }
  /** The upstream failed and nothing can be served. */
  | { kind: 'error'; status: number; error: StreamedgeError };

/**
 * An upstream response for a fill. `viaPeer` set: it came from the owning peer, which stores it (we
 * do not). `commit` set: the store process of a multi-worker edge fetched it and holds its bytes
 * (edge/cluster): the fill asks it to store them instead of writing them itself.
 */
export type FillResponse = UpstreamResponse & {
  viaPeer?: string;
  commit?: (key: string, meta: ObjectMeta) => Promise<boolean>;
};

export interface FillFetch {
  (conditional: Record<string, string>, signal: AbortSignal): Promise<FillResponse>;
}

export interface FillOptions {
  /** The fill's key in the coalescing table: a primary key, or a variant key when the Vary is known. */
  key: string;
  /** The primary key (normalised URL): where the object goes without Vary, and the vary record with one. */
  primaryKey: string;
  /** The variant key the fill's own request selects under a response's Vary field names. */
  variantKeyFor(varyNames: readonly string[]): string;
  store: EdgeStore;
  policy: EdgeCachePolicy;
  /** Request headers that decide storability (Authorization...). */
  reqHeaders: HeaderBag;
  /** The stale entry being revalidated, if any. */
  stale?: { meta: ObjectMeta; size: number };
  /** Store the response if storable (false on a peer that does not own the key). */
  storeIt: boolean;
  /** Oldest bytes are dropped beyond this many retained. */
  retainBytes: number;
  /** The store may queue this many bytes before the fill waits for it. */
  storeQueueBytes: number;
  fetch: FillFetch;
  now?: () => number;
  onStoreError?: (e: unknown) => void;
}

export type ReadResult =
  | { kind: 'data'; chunk: Buffer }
  | { kind: 'wait' }
  | { kind: 'end' }
  | { kind: 'failed'; error: Error }
  | { kind: 'lagging' };

/**
 * How many turns in a row a fill's bulk (more bytes to readers already streaming) may be put off
 * while new readers keep joining (Fill.bulkTurn).
 */
const MAX_BULK_DEFERRALS = 8;

/**
 * A bulk turn runs readers for at most this long, then lets the event loop read and answer what
 * arrived meanwhile before it runs the rest (Fill.bulkTurn). Without a bound, one turn writing a
 * stampede's later chunks and catch-ups to every reader held the loop for 100-490 ms (measured
 * under load on 2 cores, 500 readers per worker), and requests that arrived meanwhile, the
 * stampede's last joiners, were not even read until it ended.
 */
const BULK_SLICE_MS = 4;

export class Fill {
  readonly key: string;
  /** Where the response is stored (set before the head resolves): the variant its Vary selects. */
  storeKey: string;
  /** The response's Vary field names (set before the head resolves). */
  varyNames: readonly string[] = [];
  /** The response said `Vary: *`: it is for its own requester only (never stored). */
  varyAny = false;
  readonly forward: ForwardReason;
  readonly head: Promise<FillHead>;
  /** Settles when the body is complete (true) or failed (false). */
  readonly finished: Promise<boolean>;
  /** Settles when the store put is over: true if the object is now stored. */
  readonly stored: Promise<boolean>;
  /** Surrogate keys of the response, once known (for purge of in-flight fills). */
  tags: string[] = [];
  /** Readers attached (including the leader). */
  readers = 0;

  private readonly chunks: Buffer[] = [];
  private readonly starts: number[] = [];
  private retained = 0;
  private received = 0;
  private complete = false;
  private failure: Error | undefined;
  private readonly wakers = new Set<() => void>();
  private readonly firstWakers = new Set<() => void>();
  /** Readers to run on the next bulk turn whether or not bytes arrived (a catch-up, a drained socket). */
  private readonly turnWaiters = new Set<() => void>();
  /** A bulk turn is queued (setImmediate). */
  private bulkQueued = false;
  /** Bytes arrived (or the fill ended) since the last bulk turn ran the streaming readers. */
  private bytesPending = false;
  /** A reader was sent its first bytes since the last bulk turn. */
  private joined = false;
  /** Bulk turns put off in a row because readers were still joining. */
  private deferred = 0;
  /** The bulk round in progress: readers still to run, in order (a round runs in slices). */
  private readonly round = new Set<() => void>();
  private purged: 'hard' | 'soft' | undefined;
  private readonly abort = new AbortController();
  private resolveHead!: (h: FillHead) => void;
  private resolveFinished!: (ok: boolean) => void;
  private resolveStored!: (ok: boolean) => void;
  private landed = false;

  constructor(private readonly o: FillOptions) {
    this.key = o.key;
    this.storeKey = o.key;
    this.forward = o.stale ? 'stale' : 'uri-miss';
    this.head = new Promise((r) => (this.resolveHead = r));
    this.finished = new Promise((r) => (this.resolveFinished = r));
    this.stored = new Promise((r) => {
      this.resolveStored = (ok) => {
        this.landed = ok;
        r(ok);
      };
    });
  }

  /** True once the store put (or the 304 refresh) has landed: only then may an answer say `stored`. */
  get landedInStore(): boolean {
    return this.landed;
  }

  /** Bytes received so far. */
  get size(): number {
    return this.received;
  }
  get isComplete(): boolean {
    return this.complete;
  }
  get error(): Error | undefined {
    return this.failure;
  }

  /** Start the upstream request (call once). */
  start(): this {
    void this.run().catch((e: unknown) => {
      // run() handles its own errors; this is a last-resort guard so a bug never hangs waiters
      this.fail(e instanceof Error ? e : new Error(String(e)));
    });
    return this;
  }

  /** Abandon the fill (server shutting down): readers are failed. */
  cancel(reason: string): void {
    this.abort.abort(new StreamedgeError('FILL_CANCELLED', reason));
    this.fail(new StreamedgeError('FILL_CANCELLED', reason));
  }

  /** A purge matched this in-flight fill: its result must not be served from the store as fresh. */
  purge(mode: 'hard' | 'soft'): void {
    if (this.purged !== 'hard') this.purged = mode;
  }

  /** The whole body, when complete and still entirely retained (small objects such as playlists). */
  retainedBody(): Buffer | undefined {
    if (!this.complete || this.failure) return undefined;
    if (this.received > 0 && this.starts[0] !== 0) return undefined;
    return Buffer.concat(this.chunks);
  }

  /** Chunk at absolute byte offset `pos` (a view starting exactly there). */
  read(pos: number): ReadResult {
    if (this.failure) return { kind: 'failed', error: this.failure };
    const base = this.starts.length > 0 ? this.starts[0] : this.received;
    if (pos < base) return { kind: 'lagging' };
    if (pos >= this.received) return this.complete ? { kind: 'end' } : { kind: 'wait' };
    // binary search the chunk containing pos
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    const chunk = this.chunks[lo];
    return { kind: 'data', chunk: chunk.subarray(pos - this.starts[lo]) };
  }

  /**
   * Call `cb` once when more bytes arrive, or the fill ends or fails. A reader that has sent its
   * client nothing yet (`firstBytes`) is called as they arrive; one already streaming, on a bulk
   * turn (see bulkTurn), once for everything that arrived since its last pass.
   */
  onProgress(cb: () => void, firstBytes = false): () => void {
    const set = firstBytes ? this.firstWakers : this.wakers;
    set.add(cb);
    return () => {
      set.delete(cb);
      this.round.delete(cb);
    };
  }

  /**
   * Call `cb` once on the next bulk turn, bytes or not: a reader with more to send than its first
   * pass took (a late joiner's catch-up) or whose socket drained.
   */
  nextBulkTurn(cb: () => void): () => void {
    this.turnWaiters.add(cb);
    this.queueBulk();
    return () => {
      this.turnWaiters.delete(cb);
      this.round.delete(cb);
    };
  }

  /**
   * A reader is sending its client its first bytes now: the bulk (more bytes to readers already
   * served) waits for a turn in which no reader joins (bulkTurn).
   */
  noteFirstBytes(): void {
    this.joined = true;
    this.queueBulk();
  }

  /**
   * First bytes first. Readers still waiting for their first bytes are woken at once (the chunk's
   * own callback). Readers already streaming are woken on a bulk turn, after the turn's I/O: the
   * chunks that arrived go to each in one pass (one write), and the requests read in the same turn
   * join and get their first bytes before the readers already served get more.
   */
  private wake(): void {
    if (this.firstWakers.size > 0) {
      const first = [...this.firstWakers];
      this.firstWakers.clear();
      for (const cb of first) cb();
    }
    if (this.wakers.size === 0) return;
    this.bytesPending = true;
    this.queueBulk();
  }

  private queueBulk(): void {
    if (this.bulkQueued) return;
    this.bulkQueued = true;
    setImmediate(this.bulkTurn);
  }

  /**
   * The check phase (setImmediate) of a turn: if readers got their first bytes in the turn (a
   * burst of requests is being read), the bulk is put off to the next turn, so the requests still
   * arriving are read and sent their first bytes before the readers already served are sent more
   * (a stampede's last joiners do not wait behind the fan-out of later chunks and catch-ups). At
   * most MAX_BULK_DEFERRALS turns in a row: a steady stream of joiners does not starve the readers
   * already streaming. The bytes wait in the fill meanwhile (retainBytes bounds it as for any
   * slow reader).
   *
   * A round (every reader due) runs in slices of BULK_SLICE_MS, each in its own turn, so the
   * loop reads and answers new requests between them; a round once begun is not put off again
   * (the starvation bound above holds per round). Readers that more bytes reach meanwhile are in
   * the next round, with all that arrived by then.
   */
  private readonly bulkTurn = (): void => {
    this.bulkQueued = false;
    if (this.round.size === 0) {
      const work = this.turnWaiters.size > 0 || (this.bytesPending && this.wakers.size > 0);
      if (this.joined && this.deferred < MAX_BULK_DEFERRALS) {
        this.joined = false;
        if (work) {
          this.deferred++;
          this.queueBulk();
        } else this.deferred = 0;
        return;
      }
      this.joined = false;
      this.deferred = 0;
      if (!work) return;
      for (const cb of this.turnWaiters) this.round.add(cb);
      this.turnWaiters.clear();
      if (this.bytesPending) {
        this.bytesPending = false;
        for (const cb of this.wakers) this.round.add(cb);
        this.wakers.clear();
      }
    }
    const until = performance.now() + BULK_SLICE_MS;
    for (const cb of this.round) {
      this.round.delete(cb);
      cb();
      if (this.round.size > 0 && performance.now() >= until) {
        this.queueBulk();
        return;
      }
    }
    // what became due while the round ran in slices (bytes, drained sockets) found this turn queued
    if (this.turnWaiters.size > 0 || (this.bytesPending && this.wakers.size > 0)) this.queueBulk();
  };

  private append(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.starts.push(this.received);
    this.received += chunk.length;
    this.retained += chunk.length;
    while (this.retained > this.o.retainBytes && this.chunks.length > 1) {
      const dropped = this.chunks.shift()!;
      this.starts.shift();
      this.retained -= dropped.length;
    }
    this.wake();
  }

  private fail(e: Error): void {
    if (this.complete || this.failure) return;
    this.failure = e;
    this.chunks.length = 0;
    this.starts.length = 0;
    this.retained = 0;
    this.resolveHead({
      kind: 'error',
      status: 502,
      error: e instanceof StreamedgeError ? e : new StreamedgeError('FILL_FAILED', e.message, { cause: e }),
    });
    this.resolveFinished(false);
    this.resolveStored(false);
    this.wake();
  }

  private async run(): Promise<void> {
    const now = this.o.now ?? Date.now;
    const stale = this.o.stale;
    const conditional: Record<string, string> = {};
    if (stale && stale.meta.status === 200) {
      const etag = stale.meta.headers['etag'];
      const lm = stale.meta.headers['last-modified'];
      if (etag) conditional['if-none-match'] = etag;
      if (lm) conditional['if-modified-since'] = lm;
    }
    const requestTime = now();
    let res: FillResponse;
    try {
      res = await this.o.fetch(conditional, this.abort.signal);
    } catch (e) {
      const err =
        e instanceof StreamedgeError ? e : new StreamedgeError('UPSTREAM_UNREACHABLE', String(e), { cause: e });
      if (err.code === FILL_STORED) {
        this.resolveHead({ kind: 'stored-meanwhile' });
      } else if (stale && staleUsableOnError(stale.meta, now())) {
        this.resolveHead({ kind: 'stale-on-error', reason: err.code });
      } else {
        this.resolveHead({
          kind: 'error',
          status: err.code === 'UPSTREAM_TIMEOUT' ? 504 : err.code === 'UPSTREAM_BUSY' ? 503 : 502,
          error: err,
        });
      }
      this.complete = true;
      this.resolveFinished(true);
      this.resolveStored(false);
      this.wake();
      return;
    }
    const responseTime = now();

    if (res.status === 304 && stale && Object.keys(conditional).length > 0) {
      res.body.resume();
      const meta = refreshedMeta(stale.meta, res.headers, this.o.reqHeaders, requestTime, responseTime, this.o.policy);
      let ok = false;
      if (meta && this.o.storeIt && this.purged !== 'hard') {
        ok = await this.o.store
          .updateMeta(this.key, {
            headers: meta.headers,
            storedAt: meta.storedAt,
            expiresAt: this.purged === 'soft' ? 0 : meta.expiresAt,
            staleUntil: meta.staleUntil,
          })
          .catch(() => false);
      }
      if (ok) {
        this.resolveHead({ kind: 'revalidated' });
        this.complete = true;
        this.resolveFinished(true);
        this.resolveStored(true);
        this.wake();
        return;
      }
      // not refreshable (no longer storable, purged, or evicted meanwhile): refetch in full
      if (!meta || this.purged === 'hard') await this.o.store.delete(this.key).catch(() => false);
      try {
        res = await this.o.fetch({}, this.abort.signal);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
    }

    if (res.status >= 500 && stale && staleUsableOnError(stale.meta, now())) {
      res.body.resume();
      this.resolveHead({ kind: 'stale-on-error', fwdStatus: res.status, reason: `upstream ${res.status}` });
      this.complete = true;
      this.resolveFinished(true);
      this.resolveStored(false);
      this.wake();
      return;
    }

    const vary = parseVary(
      typeof res.headers['vary'] === 'string' ? res.headers['vary'] : res.headers['vary']?.join(','),
    );
    if (vary === '*') this.varyAny = true;
    else {
      this.varyNames = vary;
      this.storeKey = this.o.variantKeyFor(vary);
    }
    const lengthHeader = res.headers['content-length'];
    const declared = typeof lengthHeader === 'string' && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    const built = buildMeta(this.o.reqHeaders, res, requestTime, responseTime, this.o.policy);
    const headers = wireHeaders(storableHeaders(res.headers, connectionTokens(res.headers)));
    // several Cache-Status lines are one list (RFC 9110 §5.3)
    const cs = res.headers['cache-status'];
    const upstreamCacheStatus = Array.isArray(cs) ? cs.join(', ') : cs;
    const willStore =
      this.o.storeIt &&
      res.viaPeer === undefined &&
      built.meta !== undefined &&
      this.purged !== 'hard' &&
      checkKey(this.storeKey).ok; // a variant key the store cannot index is never offered to it
    const meta = built.meta;
    if (meta && upstreamCacheStatus) meta.headers[':upstream-cache-status'] = upstreamCacheStatus;
    this.tags = meta?.tags ?? [];
    this.resolveHead({
      kind: 'response',
      status: res.status,
      headers,
      ...(declared !== undefined ? { length: declared } : {}),
      stored: willStore,
      shared: sharedWithWaiters(res.headers),
      initialAge: built.initialAge,
      // RFC 9211 §2.4: negative when the response arrived already stale (its Age past its lifetime)
      ...(meta && built.decision.store
        ? { ttl: built.decision.lifetime - built.initialAge - (now() - responseTime) / 1000 }
        : {}),
      ...(upstreamCacheStatus !== undefined ? { upstreamCacheStatus } : {}),
    });

    let queue: ByteQueue | undefined;
    let putDone: Promise<boolean> = Promise.resolve(false);
    if (willStore && meta && res.commit) {
      putDone = res.commit(this.storeKey, meta).then(async (ok) => {
        if (ok && this.storeKey !== this.o.primaryKey) await this.putVaryRecord(meta);
        return ok;
      });
    } else if (willStore && meta) {
      const q = new ByteQueue(this.o.storeQueueBytes);
      queue = q;
      putDone = this.o.store.put(this.storeKey, meta, q, declared).then(
        async (ok) => {
          q.abandon();
          if (ok && this.storeKey !== this.o.primaryKey) await this.putVaryRecord(meta);
          return ok;
        },
        (e: unknown) => {
          q.abandon();
          const code = (e as { code?: string }).code;
          // a failed body is expected to reject the put; anything else is worth a log line
          if (!this.failure && code !== 'STORE_BODY_LENGTH') this.o.onStoreError?.(e);
          return false;
        },
      );
    }

    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (this.failure) break;
        this.append(chunk);
        if (queue) {
          queue.push(chunk);
          if (queue.bytes >= this.o.storeQueueBytes) await queue.drained();
        }
      }
      if (this.failure) throw this.failure;
      if (declared !== undefined && this.received !== declared) {
        throw new StreamedgeError('UPSTREAM_TRUNCATED', `upstream sent ${this.received} of ${declared} bytes`);
      }
    } catch (e) {
      res.body.destroy();
      const err = e instanceof Error ? e : new Error(String(e));
      queue?.fail(err);
      this.fail(err);
      await putDone;
      return;
    }
    this.complete = true;
    queue?.end();
    this.resolveFinished(true);
    this.wake();
    let ok = await putDone;
    if (ok && this.purged === 'hard') {
      await this.o.store.delete(this.storeKey).catch(() => false);
      ok = false;
    } else if (ok && this.purged === 'soft') {
      await this.o.store.updateMeta(this.storeKey, { expiresAt: 0 }).catch(() => false);
    }
    this.resolveStored(ok);
  }

  /**
   * The vary record under the primary key: which request fields select this URL's variants.
   * It lives as long as the longest-lived variant stored under it so far.
   */
  private async putVaryRecord(variant: ObjectMeta): Promise<void> {
    const current = await this.o.store.head(this.o.primaryKey).catch(() => undefined);
    const until = Math.max(variant.staleUntil ?? variant.expiresAt, current?.meta.staleUntil ?? 0);
    await this.o.store
      .put(this.o.primaryKey, varyRecord(this.varyNames, variant.storedAt, until), Buffer.alloc(0), 0)
      .catch((e: unknown) => this.o.onStoreError?.(e));
  }
}
