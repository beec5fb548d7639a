/**
 * One GET through undici's dispatcher, with the viewer's shaping applied to body reads, timings
 * measured (TTFB, total, and the time bytes were actually flowing) and every outcome recorded in
 * LoadStats by object kind or error class.
 *
 * Cheap by construction, since thousands of viewers make thousands of requests a second: the
 * request goes straight to `dispatcher.dispatch()` with a handler object (no Readable stream, no
 * per-request AbortController or listener on the run's signal, no URL parsing: the origin and path
 * come precomputed), body chunks are counted and dropped without copying (kept only for playlists),
 * and waits use the pool's timer wheel. Stopping the run aborts the viewer's in-flight requests
 * through their handlers.
 */
import type { Dispatcher } from 'undici';
import { BurstMeter } from '../../src/abr/burst-meter.js';
import { applyCmcd, type CmcdData, type CmcdSource } from '../../src/abr/cmcd.js';
import { StreamedgeError } from '../../src/errors.js';
import type { GetDispatcher } from './h1-client.js';
import type { LoadStats, ObjectKind } from './load-stats.js';
import type { Shaper } from './shaping.js';
import { IntrusiveList } from './intrusive-list.js';
import type { TimerWheel, WheelEntry } from './timer-wheel.js';

export interface GetProgress {
  bytesLoaded: number;
  bytesTotal?: number;
  elapsedMs: number;
  ttfbMs: number;
}

export interface GetResult {
  status: number;
  bytes: number;
  ttfbMs: number;
  durationMs: number;
  /**
   * Bytes that arrived back-to-back after the first chunk of each burst, and the time they took:
   * the link's speed, without the idle gaps of a part streamed as it is produced.
   */
  burstBytes: number;
  burstMs: number;
  text?: string;
  /** The body's bytes (with `bytes`). */
  body?: Buffer;
  /** The response's CMSD-Dynamic (CTA-5006: the edge's advice to the ABR, e.g. its cap), when it had one. */
  cmsd?: string;
}

export interface GetOptions {
  kind: ObjectKind;
  signal?: AbortSignal;
  /** Keep the body as text (manifests). */
  text?: boolean;
  /** Keep the body as bytes (playlists: compared with the ones already parsed before any decoding). */
  bytes?: boolean;
  /**
   * A preload-hinted part: the server may answer 404 when the hinted part never came to be
   * (RFC 8216bis 6.2.5.3; e.g. the segment ended a part early). That throws HintMissingError and
   * is not counted as an error.
   */
  hinted?: boolean;
  /**
   * Called after each body chunk, and for a whole segment every PROGRESS_TICK_MS while it is in
   * flight (a body that stops sends no chunks); return true to abort the download (ABR abandon).
   */
  onProgress?: (p: GetProgress) => boolean;
  /** CMCD keys about this object (br, d, ot); the viewer's session and buffer keys are added. */
  cmcd?: CmcdData;
  /** Byte-range HLS: the Range header value (`bytes=a-b`); the answer is then a 206. */
  range?: string;
  /** Sent as a POST with this body (a DASH Clear Key license request), not a GET. */
  post?: string;
}

/** How a viewer sends CMCD (CTA-5004): as the CMCD query argument, as CMCD-* headers, or not at all. */
export type CmcdMode = 'query' | 'headers' | 'off';

const OBJECT_TYPE = {
  playlist: 'm',
  manifest: 'm',
  init: 'i',
  segment: 'av',
  part: 'av',
  steering: 'o',
  key: 'k',
} as const;

export class AbandonedError extends Error {
  constructor() {
    super('download abandoned by ABR');
  }
}

/** A response with an error status (counted as `http_<status>` where it happened). */
export class HttpStatusError extends StreamedgeError {
  constructor(
    url: string,
    readonly status: number,
  ) {
    super('LOADTEST_HTTP', `GET ${url} → ${status}`);
  }
}

/** A preload-hinted resource the server says does not exist (404): reload the playlist instead. */
export class HintMissingError extends Error {
  constructor(readonly url: string) {
    super(`preload-hinted ${url} is not available`);
  }
}

/**
 * How often a download the ABR watches (GetOptions.onProgress) is reported besides its body
 * chunks (ms): a body that stops sends none, and a real player's emergency rule (hls.js's timer,
 * ours) still sees it falling behind and gives it up.
 */
const PROGRESS_TICK_MS = 250;

class GetHandler implements Dispatcher.DispatchHandler {
  /** The getter's in-flight list (intrusive-list.ts). */
  prev: GetHandler | undefined = undefined;
  next: GetHandler | undefined = undefined;
  status = 0;
  bytes = 0;
  bytesTotal: number | undefined;
  ttfbMs = 0;
  cmsd: string | undefined;
  private readonly bursts = new BurstMeter();
  private chunks: Buffer[] | undefined;
  private controller: Dispatcher.DispatchController | undefined;
  private progress: GetProgress | undefined;
  private settled = false;
  private resumeTimer: object | undefined;
  resolve!: (r: GetResult) => void;
  reject!: (e: unknown) => void;

  constructor(
    private readonly getter: HttpGetter,
    readonly url: string,
    readonly o: GetOptions,
    readonly t0: number,
  ) {
    if (o.text || o.bytes) this.chunks = [];
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = statusCode;
    const now = performance.now();
    this.ttfbMs = now - this.t0;
    // the viewers' timers, when this thread's poll phase has kept them from running (timer-wheel.ts)
    this.getter.wheel.runDue(now);
    const len = headers['content-length'];
    if (typeof len === 'string') this.bytesTotal = Number(len);
    const cmsd = headers['cmsd-dynamic'];
    if (cmsd !== undefined) this.cmsd = Array.isArray(cmsd) ? cmsd.join(', ') : cmsd;
    if (statusCode >= 400) this.chunks = undefined;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const now = performance.now();
    const n = chunk.length;
    this.bursts.onChunk(n, now);
    this.bytes += n;
    if (this.status >= 400) return;
    // a lean client's chunk is a view of its read buffer, valid only now: playlists keep a copy
    if (this.chunks) this.chunks.push(Buffer.from(chunk));
    const shaper = this.getter.shaper;
    if (!shaper.unlimited) {
      const wait = shaper.delayAfter(n, now);
      if (wait > 0) {
        controller.pause();
        this.resumeTimer = this.getter.wheel.after(wait, () => {
          this.resumeTimer = undefined;
          if (!this.settled) controller.resume();
        });
      }
    }
    this.report(now);
  }

  /** Tells the ABR where the download stands; it may give it up (ABR abandon). */
  report(now: number): void {
    const onProgress = this.o.onProgress;
    if (!onProgress || this.settled) return;
    // one progress object per request, refreshed per report (the callback reads it, never keeps it)
    const p = (this.progress ??= { bytesLoaded: 0, bytesTotal: undefined, elapsedMs: 0, ttfbMs: 0 });
    p.bytesLoaded = this.bytes;
    p.bytesTotal = this.bytesTotal;
    p.elapsedMs = now - this.t0;
    // (no answer yet: the whole wait is time to first byte)
    p.ttfbMs = this.status === 0 ? p.elapsedMs : this.ttfbMs;
    if (onProgress(p)) this.abort(new AbandonedError());
  }

  onResponseEnd(): void {
    if (this.settled) return;
    this.settled = true;
    this.getter.inflight.remove(this);
    this.getter.unwatch(this);
    const getter = this.getter;
    if (this.status === 404 && this.o.hinted) {
      getter.stats.totals.hintMisses++;
      this.reject(new HintMissingError(this.url));
      return;
    }
    if (this.status >= 400) {
      getter.stats.error(`http_${this.status}`);
      this.reject(new HttpStatusError(this.url, this.status));
      return;
    }
    const durationMs = performance.now() - this.t0;
    getter.stats.request(this.o.kind, this.ttfbMs, durationMs, this.bytes);
    let body: Buffer | undefined;
    let text: string | undefined;
    if (this.chunks) {
      body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      if (!this.o.bytes) {
        text = body.toString('utf8');
        body = undefined;
      }
    }
    this.resolve({
      status: this.status,
      bytes: this.bytes,
      ttfbMs: this.ttfbMs,
      durationMs,
      burstBytes: this.bursts.burstBytes,
      burstMs: this.bursts.burstMs,
      text,
      body,
      ...(this.cmsd !== undefined ? { cmsd: this.cmsd } : {}),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, e: Error): void {
    if (this.settled) return;
    if (this.getter.stopped) return this.fail(e); // the run is over: not an error of the target
    this.getter.stats.error(errorClass(e));
    this.fail(new StreamedgeError('LOADTEST_NETWORK', `GET ${this.url} failed: ${e.message}`, { cause: e }));
  }

  /** Settles with an error (and forgets the request) once. */
  fail(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.getter.inflight.remove(this);
    this.getter.unwatch(this);
    if (this.resumeTimer) this.getter.wheel.cancel(this.resumeTimer);
    this.reject(e);
  }

  abort(reason: Error): void {
    this.fail(reason);
    this.controller?.abort(reason);
  }
}

const HEADERS_TIMEOUT_MS = 60_000;
const BODY_TIMEOUT_MS = 30_000;

/**
 * One wait of a viewer (HttpGetter.wait): its own timer-wheel entry (the wheel calls `fn()`) and a
 * member of the getter's list of waits, so a wait allocates its promise and this, nothing more.
 */
class Waiter implements WheelEntry {
  prev: Waiter | undefined = undefined;
  next: Waiter | undefined = undefined;
  settled = false;

  constructor(
    private readonly getter: HttpGetter,
    private readonly signal: AbortSignal,
    private readonly resolve: () => void,
    private readonly reject: (e: Error) => void,
  ) {}

  /** The wait is over (the wheel's call). */
  fn(): void {
    if (this.settled) return;
    this.settled = true;
    this.getter.waiting.remove(this);
    if (this.signal.aborted || this.getter.stopped) this.reject(new Error('load test over'));
    else this.resolve();
  }

  /** The run stopped first. */
  cancel(reason: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(reason);
  }
}

export class HttpGetter {
  readonly inflight = new IntrusiveList<GetHandler>();
  readonly waiting = new IntrusiveList<Waiter>();
  stopped = false;
  /** Content steering (steering.ts): every request's URL on the current Pathway's host. */
  route: ((url: string) => string) | undefined;

  constructor(
    private readonly dispatcher: GetDispatcher,
    readonly stats: LoadStats,
    readonly shaper: Shaper,
    readonly wheel: TimerWheel,
    private readonly cmcd?: CmcdSource,
  ) {}

  get(url: string, o: GetOptions): Promise<GetResult> {
    if (this.stopped) return Promise.reject(new Error('load test over'));
    const t0 = performance.now();
    let headers: Record<string, string> | undefined;
    let target = this.route === undefined ? url : this.route(url);
    const cmcd = this.cmcd;
    if (cmcd) {
      const out = applyCmcd(target, cmcd.mode, { ...cmcd.keys(), ot: OBJECT_TYPE[o.kind], ...o.cmcd });
      target = out.url;
      headers = out.headers;
    }
    if (o.range !== undefined) headers = { ...headers, range: o.range };
    if (o.post !== undefined) headers = { ...headers, 'content-type': 'application/json' };
    const handler = new GetHandler(this, url, o, t0);
    const p = new Promise<GetResult>((resolve, reject) => {
      handler.resolve = resolve;
      handler.reject = reject;
    });
    this.inflight.add(handler);
    // whole segments only: a part (LL-HLS) is held until it is produced and then arrives at the
    // media rate, so a silent wait says nothing about the link (the low-latency rule keeps it)
    if (o.onProgress && o.kind === 'segment') this.watch(handler);
    if (this.shaper.latencyMs > 0) this.wheel.after(this.shaper.latencyMs, () => this.send(handler, target, headers));
    else this.send(handler, target, headers);
    return p;
  }

  private send(handler: GetHandler, target: string, headers: Record<string, string> | undefined): void {
    if (this.stopped) return handler.fail(new Error('load test over'));
    const i = target.indexOf('/', target.indexOf('//') + 2);
    const origin = i === -1 ? target : target.slice(0, i);
    const path = i === -1 ? '/' : target.slice(i);
    try {
      const post = handler.o.post;
      this.dispatcher.dispatch(
        {
          origin,
          path,
          method: post === undefined ? 'GET' : 'POST',
          headers,
          ...(post === undefined ? {} : { body: post }),
          headersTimeout: HEADERS_TIMEOUT_MS,
          bodyTimeout: BODY_TIMEOUT_MS,
        },
        handler,
      );
    } catch (e) {
      handler.onResponseError(undefined as unknown as Dispatcher.DispatchController, e as Error);
    }
  }

  /**
   * The download the ABR watches (GetOptions.onProgress: a viewer's video, one at a time), told
   * every PROGRESS_TICK_MS by one wheel entry per getter: the requests themselves are not kept
   * on the wheel, where each stayed up to 250 ms after it ended.
   */
  private watched: GetHandler | undefined;
  private tickArmed = false;
  private readonly progressTick: WheelEntry = { fn: () => this.onProgressTick() };

  private watch(h: GetHandler): void {
    this.watched = h;
    if (this.tickArmed) return;
    this.tickArmed = true;
    this.wheel.schedule(PROGRESS_TICK_MS, this.progressTick);
  }

  /** `h` has ended: no longer reported. */
  unwatch(h: GetHandler): void {
    if (this.watched === h) this.watched = undefined;
  }

  private onProgressTick(): void {
    this.tickArmed = false;
    const h = this.watched;
    if (!h || this.stopped) return;
    h.report(performance.now());
    if (this.watched) {
      this.tickArmed = true;
      this.wheel.schedule(PROGRESS_TICK_MS, this.progressTick);
    }
  }

  /** Resolves after `ms`; rejects as soon as the run stops. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.stopped) return Promise.reject(new Error('load test over'));
    return new Promise((resolve, reject) => {
      const w = new Waiter(this, signal, resolve, reject);
      this.waiting.add(w);
      this.wheel.schedule(ms, w);
    });
  }

  /** The run is over: aborts what is in flight; later calls reject at once. */
  stop(): void {
    this.stopped = true;
    const reason = new Error('load test over');
    for (const h of this.inflight.drain()) h.abort(reason);
    for (const w of this.waiting.drain()) w.cancel(reason);
  }
}

export function errorClass(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (code.startsWith('UND_ERR_')) return code.slice('UND_ERR_'.length).toLowerCase();
    return code;
  }
  return (e as Error)?.name ?? 'unknown';
}
