/**
 * A lean HTTP/2 GET client for one virtual viewer (`--http2`), on node:http2: one TLS session per
 * origin (ALPN h2), as a browser shares one h2 connection per origin across all its requests, and
 * one stream per request. Held LL-HLS requests (blocking reloads, hinted parts) are concurrent
 * streams, so none waits behind another. Body chunks go to the handler as they arrive and are
 * dropped there (counted, not copied); no header objects are built beyond the one node:http2
 * gives, and the stream listeners are shared functions (no closures per request).
 *
 * Why not undici's `allowH2`: at 1,000 LL-HLS viewers it saturated the tester (thousands of
 * stalls): its h2 path wraps every request in its full request machinery on top of node:http2.
 *
 * The handler interface is undici's (Dispatcher.DispatchHandler), as H1Client's, so HttpGetter
 * does not care which client it has. A session that fails (TLS, ALPN without h2, GOAWAY, reset)
 * fails the streams it carried with the session's error (its code is what the report groups
 * errors by); the next request opens a new session.
 */
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import type { SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { CodedError, type GetDispatcher, type GetRequest } from './h1-client.js';

/** Flow-control windows: a segment arrives without waiting for WINDOW_UPDATEs (browsers use MBs too). */
const STREAM_WINDOW = 1 << 20;
const SESSION_WINDOW = 8 << 20;
const EMPTY_TRAILERS = {};
const kReq = Symbol('h2 request');
type TaggedStream = ClientHttp2Stream & { [kReq]?: H2Request };

/** One request in flight (the handler's controller too). */
class H2Request implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  done = false;
  inHead = true;
  sentAt = performance.now();
  lastByteAt = 0;
  stream: ClientHttp2Stream | undefined;

  constructor(
    readonly session: OriginSession,
    readonly handler: Dispatcher.DispatchHandler,
    readonly headersTimeout: number,
    readonly bodyTimeout: number,
  ) {}

  abort(reason: Error): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    this.reason = reason;
    this.finish();
    this.stream?.close(constants.NGHTTP2_CANCEL);
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.stream?.resume();
  }

  /** The request is over (whatever the outcome): no more callbacks, no timeout. */
  finish(): void {
    this.done = true;
    busy.delete(this);
  }

  /** Fails the request once (not after an abort or the end). */
  fail(e: Error): void {
    if (this.done) return;
    this.finish();
    this.handler.onResponseError?.(this, e);
  }
}

/** Every request in flight in this thread, for the timeout sweep (one interval, not a timer each). */
const busy = new Set<H2Request>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const r of busy) {
    if (r.inHead ? now - r.sentAt > r.headersTimeout : now - r.lastByteAt > r.bodyTimeout) {
      const headers = r.inHead;
      r.fail(
        new CodedError(
          headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT',
          headers ? 'HeadersTimeout' : 'BodyTimeout',
        ),
      );
      r.stream?.close(constants.NGHTTP2_CANCEL);
    }
  }
  if (busy.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

// the stream listeners, shared by every stream (the request rides on the stream)
function onResponse(this: TaggedStream, headers: IncomingHttpHeaders): void {
  const r = this[kReq]!;
  if (r.done) return;
  const status = Number(headers[':status']);
  if (status < 200) return; // an interim answer (1xx): the real one follows
  r.inHead = false;
  r.lastByteAt = performance.now();
  const len = headers['content-length'];
  r.handler.onResponseStart?.(r, status, typeof len === 'string' ? { 'content-length': len } : {});
}

function onData(this: TaggedStream, chunk: Buffer): void {
  const r = this[kReq]!;
  if (r.done) return;
  r.lastByteAt = performance.now();
  r.handler.onResponseData?.(r, chunk);
}

function onEnd(this: TaggedStream): void {
  const r = this[kReq]!;
  if (r.done) return;
  if (r.inHead) return r.fail(new CodedError('ERR_HTTP2_STREAM_ERROR', 'stream ended without a response'));
  r.finish();
  r.handler.onResponseEnd?.(r, EMPTY_TRAILERS);
}

function onStreamError(this: TaggedStream, e: Error): void {
  const r = this[kReq]!;
  // a session that failed cancels its streams first (ERR_HTTP2_STREAM_CANCEL, the cause attached)
  const cause = (e as { cause?: unknown }).cause;
  r.fail(r.session.error ?? (cause instanceof Error ? cause : e));
}

function onStreamClose(this: TaggedStream): void {
  const r = this[kReq]!;
  if (r.done) return;
  r.fail(
    r.session.error ??
      new CodedError('ERR_HTTP2_STREAM_ERROR', `${r.session.origin}: stream closed (code ${this.rstCode ?? 'none'})`),
  );
}

/** One h2 session to one origin; replaced when it closes. */
class OriginSession {
  readonly session: ClientHttp2Session;
  /** What ended the session, reported for each stream it carried. */
  error: Error | undefined;
  closed = false;
  private readonly authority: string;

  constructor(
    private readonly client: H2Client,
    readonly origin: string,
    secureContext: SecureContext | undefined,
  ) {
    const u = new URL(origin);
    if (u.protocol !== 'https:')
      throw new CodedError('UNSUPPORTED', `H2Client speaks HTTP/2 over TLS (https) only, not ${u.protocol}`);
    this.authority = u.host;
    this.session = connect(origin, {
      ...(secureContext ? { secureContext } : {}),
      settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
    });
    this.session.once('connect', (s: ClientHttp2Session) => {
      if (s.alpnProtocol !== 'h2')
        this.onError(new CodedError('ALPN_NO_H2', `${origin} did not offer HTTP/2 (ALPN ${String(s.alpnProtocol)})`));
      else s.setLocalWindowSize(SESSION_WINDOW);
    });
    this.session.on('error', (e: Error) => this.onError(e));
    this.session.once('goaway', () => this.client.forget(this));
    this.session.once('close', () => {
      this.closed = true;
      this.client.forget(this);
    });
  }

  private onError(e: Error): void {
    this.error ??= e;
    this.client.forget(this);
    if (!this.session.destroyed) this.session.destroy();
  }

  request(opts: GetRequest, handler: Dispatcher.DispatchHandler): void {
    const r = new H2Request(this, handler, opts.headersTimeout ?? 60_000, opts.bodyTimeout ?? 30_000);
    handler.onRequestStart?.(r, undefined);
    if (r.aborted) return;
    let stream: TaggedStream;
    try {
      stream = this.session.request(
        { ':method': 'GET', ':path': opts.path, ':authority': this.authority, ':scheme': 'https', ...opts.headers },
        { endStream: true },
      );
    } catch (e) {
      // the session went away meanwhile (ERR_HTTP2_INVALID_SESSION, GOAWAY): the next request opens a new one
      this.client.forget(this);
      r.fail(this.error ?? (e as Error));
      return;
    }
    stream[kReq] = r;
    r.stream = stream;
    stream.on('response', onResponse);
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    busy.add(r);
    sweeper ??= setInterval(sweep, 1000).unref();
  }

  destroy(): void {
    if (!this.session.destroyed) this.session.destroy();
  }
}

export class H2Client implements GetDispatcher {
  private readonly sessions = new Map<string, OriginSession>();
  private destroyed = false;

  constructor(private readonly secureContext: SecureContext | undefined) {}

  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean {
    if (this.destroyed) throw new CodedError('UND_ERR_DESTROYED', 'client destroyed');
    let s = this.sessions.get(opts.origin);
    if (!s || s.closed || s.session.destroyed || s.session.closed) {
      s = new OriginSession(this, opts.origin, this.secureContext);
      this.sessions.set(opts.origin, s);
    }
    s.request(opts, handler);
    return true;
  }

  /** A session that closed or got GOAWAY takes no new streams: the next request opens another. */
  forget(s: OriginSession): void {
    if (this.sessions.get(s.origin) === s) this.sessions.delete(s.origin);
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
    return Promise.resolve();
  }
}
