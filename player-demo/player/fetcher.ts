/**
 * One HTTP fetch with what ABR and the page need: time to first byte, progress, an optional
 * bandwidth limiter applied to body reads, and the Cache-Status of the response.
 */
import { BurstMeter } from '../../src/abr/burst-meter.js';
import { applyCmcd, type CmcdData, type CmcdSource } from '../../src/abr/cmcd.js';
import type { Throttle } from './throttle.js';
import { cmsdAdvice } from '../../src/http/cmsd.js';
import type { PathwaySteering } from './pathway-steering.js';
import type { ByteRange } from '../../src/hls/listed-byte-range.js';
import { rangeRequest } from '../../src/http/range.js';

export interface FetchProgress {
  bytesLoaded: number;
  bytesTotal?: number;
  elapsedMs: number;
  ttfbMs: number;
  /** Time since the last piece of the body arrived (since the request was sent, before any). */
  idleMs: number;
}

export interface FetchResult {
  bytes: Uint8Array;
  ttfbMs: number;
  durationMs: number;
  status: number;
  cacheStatus: string | null;
  /** Bytes that arrived back-to-back and the time they took (the link's speed, without the encoder's gaps). */
  burstBytes: number;
  burstMs: number;
}

export interface RequestLogEntry {
  url: string;
  status: number;
  bytes: number;
  ms: number;
  cacheStatus: string | null;
  at: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    /** The response's Retry-After, in seconds (RFC 9110 10.2.3, delay-seconds form), when it carried one. */
    readonly retryAfterSec?: number,
  ) {
    super(`HTTP ${status} for ${url}`);
  }
}

/**
 * The request got no answer (fetch rejected) or its body broke off (a read rejected): the
 * browser's TypeError, wrapped so that a bug elsewhere is not mistaken for a network failure.
 */
export class NetworkError extends Error {
  /** The try ran out of time (FetchOptions.timeout): the server had its chance, a retry need not wait. */
  readonly timedOut: boolean;
  constructor(
    readonly url: string,
    /** Body bytes that had arrived when it broke; undefined: no answer at all (no status, no headers). */
    readonly bytesLoaded: number | undefined,
    cause: unknown,
  ) {
    const what = bytesLoaded === undefined ? 'no answer' : `body broke off after ${bytesLoaded} bytes`;
    super(`${what} (${String((cause as Error)?.message ?? cause)})`);
    this.timedOut = cause instanceof DOMException && cause.name === 'TimeoutError';
  }
}

/** Retry-After as delay-seconds (the form our origin and edge send); undefined when absent or an HTTP-date. */
function retryAfterSeconds(value: string | null): number | undefined {
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

export interface FetchOptions {
  signal: AbortSignal;
  throttle?: Throttle;
  onProgress?: (p: FetchProgress) => void;
  /** Called with each complete body chunk as it arrives (streaming append). */
  onChunk?: (chunk: Uint8Array) => void;
  log?: (entry: RequestLogEntry) => void;
  /** CMCD (CTA-5004) to send with the request: the player's keys plus `cmcdObject`. */
  cmcd?: CmcdSource;
  /** CMCD keys about this object (ot, br, d). */
  cmcdObject?: CmcdData;
  /** Told every response's CMSD-Dynamic (CTA-5006: each hop's advice, e.g. the edge's highest bitrate). */
  serverAdvice?: ServerAdvice;
  /**
   * Content steering (pathway-steering.ts): the request goes to the current Pathway's host, and
   * one that fails there before any byte arrived is tried on the next Pathway.
   */
  steering?: Pick<PathwaySteering, 'route' | 'failed'>;
  /**
   * Only these bytes of the resource (a Range header). A 206 must carry exactly them; a server
   * that ignores Range (200) is read whole and the range cut out of it.
   */
  range?: ByteRange;
  /**
   * How long one try may take (each Pathway's try alike): the headers must arrive within
   * `firstByteMs` of the request, and the whole body within `totalMs`. A try that runs over is
   * aborted and fails as a NetworkError ("no answer" or "body broke off"), which a retry may cure:
   * a server that never answers, or stops sending, does not hold the player forever.
   */
  timeout?: RequestTimeout;
  /** A POST of this body (a license request) instead of a GET. */
  post?: { body: Uint8Array<ArrayBuffer>; contentType: string };
}

export interface RequestTimeout {
  firstByteMs: number;
  totalMs: number;
}

/** At most this many Pathways are tried for one request. */
const MAX_PATHWAY_TRIES = 4;

/**
 * A failure another CDN may not have: no answer at all, or a 5xx other than a 503 that says when
 * to come back (a live origin restarting its encoder says that to every CDN alike).
 */
function pathwayFailure(e: unknown): string | undefined {
  if (e instanceof HttpError) {
    return e.status >= 500 && !(e.status === 503 && e.retryAfterSec !== undefined) ? `HTTP ${e.status}` : undefined;
  }
  return e instanceof NetworkError ? e.message : undefined;
}

/** The CMSD-Dynamic of the latest response, shared by a player's loaders and its ABR. */
export class ServerAdvice {
  private latest: string | undefined;

  note(cmsdDynamic: string | null): void {
    this.latest = cmsdDynamic ?? undefined;
  }

  /** What the latest response advised: the lowest `mb` of its hops (kbit/s), duress. */
  current(): { maxBitrateKbps?: number; duress: boolean } {
    return cmsdAdvice(this.latest);
  }
}

export async function fetchBytes(url: string, opts: FetchOptions): Promise<FetchResult> {
  const steering = opts.steering;
  if (!steering) return fetchOnce(url, opts);
  let delivered = false;
  const onChunk = opts.onChunk;
  const tracked: FetchOptions = onChunk
    ? {
        ...opts,
        onChunk: (c) => {
          delivered = true;
          onChunk(c);
        },
      }
    : opts;
  for (let tries = 1; ; tries++) {
    const target = steering.route(url);
    try {
      return await fetchOnce(target, tracked);
    } catch (e) {
      const why = opts.signal.aborted || delivered ? undefined : pathwayFailure(e);
      if (why === undefined || tries >= MAX_PATHWAY_TRIES || !steering.failed(target, why)) throw e;
    }
  }
}

/** How often a download is reported while nothing arrives (ms): a body that stops is judged too. */
const PROGRESS_TICK_MS = 100;

/** Where one try has got to, for its progress reports. */
interface TryProgress {
  t0: number;
  loaded: number;
  /** When the last piece of the body arrived (t0 before any). */
  lastAt: number;
  bytesTotal?: number;
  /** Undefined until the response's headers are in. */
  ttfbMs?: number;
}

/**
 * One try. Its progress is reported as each piece of the body arrives, and every
 * PROGRESS_TICK_MS besides: a server that stops sending (or never answers) sends no events,
 * and the emergency rule must still see the download falling behind, as hls.js's timer does.
 */
async function fetchOnce(url: string, opts: FetchOptions): Promise<FetchResult> {
  const t0 = performance.now();
  const seen: TryProgress = { t0, loaded: 0, lastAt: t0 };
  const onProgress = opts.onProgress;
  const report = () => {
    const now = performance.now();
    const elapsedMs = now - seen.t0;
    onProgress?.({
      bytesLoaded: seen.loaded,
      bytesTotal: seen.bytesTotal,
      elapsedMs,
      ttfbMs: seen.ttfbMs ?? elapsedMs,
      idleMs: now - seen.lastAt,
    });
  };
  const tick = onProgress ? setInterval(report, PROGRESS_TICK_MS) : undefined;
  const limit = opts.timeout ? new TryDeadline(opts.timeout, opts.signal, seen) : undefined;
  try {
    return await readOnce(url, limit ? { ...opts, signal: limit.signal } : opts, seen, report);
  } catch (e) {
    throw limit?.overdue(url) ?? e;
  } finally {
    clearInterval(tick);
    limit?.clear();
  }
}

const timeoutError = (why: string) => new DOMException(why, 'TimeoutError');

/**
 * One try's time limits (FetchOptions.timeout): a signal that aborts with the caller's, or when
 * the headers or the whole body are overdue.
 */
class TryDeadline {
  private readonly controller = new AbortController();
  readonly signal: AbortSignal;
  private timer: ReturnType<typeof setTimeout>;
  /** Set when a limit ran out: which one, for the error. */
  private ranOut: string | undefined;

  constructor(
    private readonly limits: RequestTimeout,
    private readonly outer: AbortSignal,
    private readonly seen: TryProgress,
  ) {
    this.signal = AbortSignal.any([outer, this.controller.signal]);
    this.timer = setTimeout(() => this.check(), Math.min(limits.firstByteMs, limits.totalMs));
  }

  private check(): void {
    const elapsed = performance.now() - this.seen.t0;
    if (this.seen.ttfbMs === undefined && elapsed >= this.limits.firstByteMs - 1) {
      this.expire(`no headers within ${this.limits.firstByteMs} ms`);
    } else if (elapsed >= this.limits.totalMs - 1) {
      this.expire(`not complete within ${this.limits.totalMs} ms`);
    } else if (Number.isFinite(this.limits.totalMs)) {
      this.timer = setTimeout(() => this.check(), this.limits.totalMs - elapsed);
    }
  }

  private expire(why: string): void {
    this.ranOut = why;
    this.controller.abort(timeoutError(why));
  }

  /** The try's failure as a NetworkError when a limit ran out (and the caller did not abort), else undefined. */
  overdue(url: string): NetworkError | undefined {
    if (this.ranOut === undefined || this.outer.aborted) return undefined;
    const loaded = this.seen.ttfbMs === undefined ? undefined : this.seen.loaded;
    return new NetworkError(url, loaded, timeoutError(this.ranOut));
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

async function readOnce(url: string, opts: FetchOptions, seen: TryProgress, report: () => void): Promise<FetchResult> {
  const t0 = seen.t0;
  const sent = opts.cmcd
    ? applyCmcd(url, opts.cmcd.mode, { ...opts.cmcd.keys(), ot: 'o', ...opts.cmcdObject })
    : { url, headers: undefined };
  const range = opts.range;
  const post = opts.post;
  const headers = range
    ? { ...sent.headers, range: rangeRequest(range.offset, range.length) }
    : post
      ? { ...sent.headers, 'content-type': post.contentType }
      : sent.headers;
  let res: Response;
  try {
    res = await fetch(sent.url, {
      signal: opts.signal,
      cache: 'no-store',
      headers,
      ...(post ? { method: 'POST', body: post.body } : {}),
    });
  } catch (e) {
    throw opts.signal.aborted || !(e instanceof TypeError) ? e : new NetworkError(url, undefined, e);
  }
  const ttfbMs = performance.now() - t0;
  seen.ttfbMs = ttfbMs;
  const cacheStatus = res.headers.get('cache-status');
  opts.serverAdvice?.note(res.headers.get('cmsd-dynamic'));
  if (!res.ok || !res.body) {
    opts.log?.({ url, status: res.status, bytes: 0, ms: ttfbMs, cacheStatus, at: Date.now() });
    throw new HttpError(res.status, url, retryAfterSeconds(res.headers.get('retry-after')));
  }
  // a 200 to a range request is the whole resource: its bytes are not the chunk's until cut
  const whole = range !== undefined && res.status !== 206;
  const onChunk = whole ? undefined : opts.onChunk;
  const totalHeader = res.headers.get('content-length');
  const bytesTotal = totalHeader ? Number(totalHeader) : undefined;
  seen.bytesTotal = bytesTotal;
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  const bursts = new BurstMeter();
  let loaded = 0;
  for (;;) {
    // A body that keeps delivering after the abort (a read served from bytes already buffered
    // below, which the signal does not reach) is not read on: an abandoned download stops here.
    if (opts.signal.aborted) {
      await reader.cancel(opts.signal.reason).catch(() => {});
      throw opts.signal.reason instanceof Error ? opts.signal.reason : new DOMException('aborted', 'AbortError');
    }
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (e) {
      throw opts.signal.aborted || !(e instanceof TypeError) ? e : new NetworkError(url, loaded, e);
    }
    const { done, value } = next;
    if (done) break;
    if (opts.throttle) await opts.throttle.take(value.byteLength, opts.signal);
    const now = performance.now();
    bursts.onChunk(value.byteLength, now);
    chunks.push(value);
    loaded += value.byteLength;
    seen.loaded = loaded;
    seen.lastAt = now;
    onChunk?.(value);
    report();
  }
  let bytes = concat(chunks, loaded);
  if (range) {
    if (whole) bytes = bytes.subarray(range.offset, range.offset + range.length);
    // a short 206 (or a whole body too short for the range) is a body that broke off
    if (bytes.byteLength !== range.length)
      throw new NetworkError(url, loaded, new TypeError(`range of ${range.length} bytes, ${bytes.byteLength} came`));
    if (whole) opts.onChunk?.(bytes);
  }
  const durationMs = performance.now() - t0;
  opts.log?.({ url, status: res.status, bytes: loaded, ms: durationMs, cacheStatus, at: Date.now() });
  return {
    bytes,
    ttfbMs,
    durationMs,
    status: res.status,
    cacheStatus,
    burstBytes: bursts.burstBytes,
    burstMs: bursts.burstMs,
  };
}

export async function fetchText(url: string, opts: FetchOptions): Promise<{ text: string; url: string }> {
  const r = await fetchBytes(url, { ...opts, cmcdObject: { ot: 'm', ...opts.cmcdObject } });
  return { text: new TextDecoder().decode(r.bytes), url };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
