/**
 * A lean HTTP/1.1 GET client for one virtual viewer's plain-http requests: keep-alive
 * connections over node:net (at most `maxConnections` per origin, one request at a time on each:
 * no pipelining, so a held blocking reload never holds up another request), the request head
 * written as one string, and a small response parser (status line, Content-Length,
 * Transfer-Encoding: chunked, Connection, a body read to the close) that hands body bytes to the
 * handler as slices of what the socket read, without copying and without building header objects.
 * A slice is only valid during the handler's onResponseData call: keep a copy to keep the bytes.
 *
 * Why not undici here: at thousands of viewers the load tester spent more CPU in undici's
 * per-request machinery (request objects, the llhttp parser in wasm and its callbacks, header
 * arrays, its queue) than in anything of its own. https targets (and HTTP/2) still go through
 * undici. The handler interface is undici's (Dispatcher.DispatchHandler), so the caller does not
 * care which one it gets.
 *
 * Failure handling: a reused keep-alive connection that the server closed before any response
 * byte arrived (the race with its idle timeout) is retried once on a new connection, as undici
 * does for idempotent requests; anything else (a reset, a malformed head, a timeout) fails the
 * request with an error carrying a code, and the connection is dropped.
 */
import { connect, type Socket } from 'node:net';
import type { Dispatcher } from 'undici';

export interface GetRequest {
  origin: string;
  path: string;
  /** POST only for an encrypted stream's Clear Key license request (once per viewer). */
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A POST's body: ASCII text (a license request's JSON). */
  body?: string;
  /** Longest wait for the response head (ms); default 60 s. */
  headersTimeout?: number;
  /** Longest silence within the body (ms); default 30 s. */
  bodyTimeout?: number;
}

/** What HttpGetter needs from a dispatcher: undici's Agent and H1Client both fit. */
export interface GetDispatcher {
  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean;
  destroy(): Promise<void>;
}

/** An error with a code, as errorClass() in http-get.ts groups errors by it. */
export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Every connection of this thread reads into this one buffer (net's `onread`): no Buffer and no
 * readable-stream push per read. What the handler gets is only valid during its callback; what
 * the parser keeps across reads (a partial head or chunk line, bytes held while paused) is copied.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
const CRLFCRLF = Buffer.from('\r\n\r\n');
const EMPTY_TRAILERS = {};
const NO_HEADERS: Record<string, string> = Object.freeze({});

/**
 * The response head is read in place, in the bytes (no string per response): the status and the
 * three fields that frame the body, names and tokens compared case-insensitively (ASCII).
 */
const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CONNECTION = Buffer.from('connection');
const CMSD_DYNAMIC = Buffer.from('cmsd-dynamic');
const CHUNKED = Buffer.from('chunked');
const CLOSE = Buffer.from('close');
const KEEP_ALIVE = Buffer.from('keep-alive');
const HTTP_1 = Buffer.from('http/1.');

/** ASCII lower case of a byte (letters only). */
const lower = (c: number) => (c >= 65 && c <= 90 ? c | 0x20 : c);

/** Whether b[at, at + word.length) is `word` (lower case), ignoring ASCII case. */
function matchesAt(b: Buffer, at: number, word: Buffer): boolean {
  if (at + word.length > b.length) return false;
  for (let i = 0; i < word.length; i++) if (lower(b[at + i]) !== word[i]) return false;
  return true;
}

/** Whether `word` (lower case) occurs in b[from, to), ignoring ASCII case. */
function containsWord(b: Buffer, from: number, to: number, word: Buffer): boolean {
  for (let i = from; i + word.length <= to; i++) if (matchesAt(b, i, word)) return true;
  return false;
}

const isSpace = (c: number) => c === 32 || c === 9;

interface HeadFields {
  status: number;
  /** Content-Length (-1 when absent, NaN when not a whole number). */
  length: number;
  chunked: boolean;
  /** Connection: close (true), keep-alive (false), or absent/other (undefined). */
  close: boolean | undefined;
  /** CMSD-Dynamic (CTA-5006: the edge's advice to the player's ABR), when the head has one. */
  cmsd: string | undefined;
}

/**
 * The status line and framing fields of the head in b[0, end) (end: where its CRLFCRLF starts);
 * undefined when it is not an HTTP/1.x status line. The first of each field counts.
 */
function readHead(b: Buffer, end: number, out: HeadFields): boolean {
  if (!matchesAt(b, 0, HTTP_1) || end < 12 || b[8] !== 32) return false;
  out.status = (b[9] - 48) * 100 + (b[10] - 48) * 10 + (b[11] - 48);
  if (!(b[9] >= 48 && b[9] <= 57 && b[10] >= 48 && b[10] <= 57 && b[11] >= 48 && b[11] <= 57)) out.status = NaN;
  out.length = -1;
  out.chunked = false;
  out.close = undefined;
  out.cmsd = undefined;
  let seenLength = false;
  let seenEncoding = false;
  let seenConnection = false;
  let line = b.indexOf(13, 12); // the CR that ends the status line
  while (line !== -1 && line < end) {
    const start = line + 2;
    let eol = b.indexOf(13, start);
    if (eol === -1 || eol > end) eol = end;
    const colon = b.indexOf(58, start);
    if (colon !== -1 && colon < eol) {
      let v = colon + 1;
      while (v < eol && isSpace(b[v])) v++;
      let ve = eol;
      while (ve > v && isSpace(b[ve - 1])) ve--;
      const nameLen = colon - start;
      if (!seenLength && nameLen === CONTENT_LENGTH.length && matchesAt(b, start, CONTENT_LENGTH)) {
        seenLength = true;
        let n = ve > v ? 0 : NaN;
        for (let i = v; i < ve; i++) {
          const d = b[i] - 48;
          if (d < 0 || d > 9) {
            n = NaN;
            break;
          }
          n = n * 10 + d;
        }
        out.length = n;
      } else if (!seenEncoding && nameLen === TRANSFER_ENCODING.length && matchesAt(b, start, TRANSFER_ENCODING)) {
        seenEncoding = true;
        out.chunked = ve - v >= CHUNKED.length && matchesAt(b, ve - CHUNKED.length, CHUNKED);
      } else if (!seenConnection && nameLen === CONNECTION.length && matchesAt(b, start, CONNECTION)) {
        seenConnection = true;
        out.close = containsWord(b, v, ve, CLOSE) ? true : containsWord(b, v, ve, KEEP_ALIVE) ? false : undefined;
      } else if (nameLen === CMSD_DYNAMIC.length && matchesAt(b, start, CMSD_DYNAMIC)) {
        // every hop adds its own field line: joined as one list
        const value = b.toString('latin1', v, ve);
        out.cmsd = out.cmsd === undefined ? value : `${out.cmsd}, ${value}`;
      }
    }
    line = eol === end ? -1 : eol;
  }
  return true;
}

/** One request in flight (the handler's controller too). */
class H1Request implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  /** Bytes of a response have arrived (a failure then is not retried). */
  answered = false;
  retried = false;
  sentAt = 0;
  conn: H1Connection | undefined;

  constructor(
    readonly head: string,
    readonly handler: Dispatcher.DispatchHandler,
    readonly headersTimeout: number,
    readonly bodyTimeout: number,
  ) {}

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    // the response is half read: the connection cannot carry another request
    this.conn?.destroy();
  }

  pause(): void {
    this.paused = true;
    this.conn?.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.conn?.resumeReading();
  }
}

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}
const enum Chunk {
  Size,
  Data,
  DataEnd,
  Trailers,
}

/** Every connection with a request in flight in this thread, for the timeout sweep. */
const busy = new Set<H1Connection>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  for (const c of busy) c.checkTimeout(now);
  if (busy.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

class H1Connection {
  readonly socket: Socket;
  req: H1Request | undefined;
  /** Requests served on this connection (a reused one may meet a server-side close). */
  served = 0;
  closed = false;
  private buf: Buffer | undefined;
  private inHead = true;
  private body = Body.None;
  private remaining = 0;
  private chunkState = Chunk.Size;
  private keepAlive = true;
  private lastByteAt = 0;
  /** The fields of the response head being read (one object per connection, refilled per response). */
  private readonly head: HeadFields = { status: 0, length: -1, chunked: false, close: undefined, cmsd: undefined };
  /** The headers handed to onResponseStart when the response has a length (refilled per response). */
  private readonly lengthHeader: Record<string, string> = { 'content-length': '0' };
  /** With the edge's CMSD-Dynamic (each object keeps one shape; refilled per response, as lengthHeader). */
  private readonly lengthAndCmsd: Record<string, string> = { 'content-length': '0', 'cmsd-dynamic': '' };
  private readonly cmsdHeader: Record<string, string> = { 'cmsd-dynamic': '' };

  constructor(
    private readonly pool: OriginPool,
    host: string,
    port: number,
  ) {
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number) => {
          this.onData(READ_BUFFER.subarray(0, n));
          return true;
        },
      },
    });
    this.socket.on('error', (e: Error & { code?: string }) => this.onClose(e.code ?? 'SOCKET', e.message));
    this.socket.on('close', () => this.onClose('SOCKET', 'connection closed'));
  }

  send(req: H1Request): void {
    this.req = req;
    req.conn = this;
    req.sentAt = performance.now();
    this.inHead = true;
    this.keepAlive = true;
    this.served++;
    busy.add(this);
    sweeper ??= setInterval(sweep, 1000).unref();
    this.socket.write(req.head, 'latin1');
  }

  destroy(): void {
    if (this.closed) return;
    this.socket.destroy();
    this.onClose(undefined, 'connection destroyed');
  }

  checkTimeout(now: number): void {
    const req = this.req;
    if (!req) return;
    if (this.inHead ? now - req.sentAt > req.headersTimeout : now - this.lastByteAt > req.bodyTimeout) {
      const what = this.inHead ? 'HeadersTimeout' : 'BodyTimeout';
      this.fail(new CodedError(what === 'HeadersTimeout' ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT', what));
    }
  }

  resumeReading(): void {
    this.socket.resume();
    if (this.buf && !this.inHead) {
      const b = this.buf;
      this.buf = undefined;
      this.parseBody(b, 0);
    }
  }

  private onData(d: Buffer): void {
    const req = this.req;
    if (!req) {
      // bytes nobody asked for: the connection is out of step
      this.destroy();
      return;
    }
    req.answered = true;
    this.lastByteAt = performance.now();
    if (this.inHead) {
      const b = this.buf ? Buffer.concat([this.buf, d]) : d;
      this.buf = undefined;
      this.parseHead(b);
    } else if (this.buf) {
      const b = Buffer.concat([this.buf, d]);
      this.buf = undefined;
      this.parseBody(b, 0);
    } else this.parseBody(d, 0);
  }

  private parseHead(b: Buffer): void {
    const end = b.indexOf(CRLFCRLF);
    if (end === -1) {
      if (b.length > MAX_HEAD_BYTES) return this.fail(new CodedError('HPE_HEADER_OVERFLOW', 'response head too large'));
      this.buf = Buffer.from(b);
      return;
    }
    const h = this.head;
    if (!readHead(b, end, h)) return this.fail(new CodedError('HPE_INVALID_CONSTANT', 'not an HTTP/1.x response'));
    const status = h.status;
    if (!(status >= 100 && status <= 999)) return this.fail(new CodedError('HPE_INVALID_STATUS', 'bad status code'));
    let length = h.length;
    const chunked = h.chunked;
    const close = h.close ?? b[7] === 48; /* HTTP/1.0 closes unless it says keep-alive */
    if (chunked) length = -1;
    if (status < 200) {
      // 1xx: an interim answer; the real one follows
      return b.length > end + 4 ? this.parseHead(b.subarray(end + 4)) : undefined;
    }
    if (length !== -1 && !(Number.isInteger(length) && length >= 0))
      return this.fail(new CodedError('HPE_INVALID_CONTENT_LENGTH', 'bad Content-Length'));
    this.inHead = false;
    this.keepAlive = !close;
    if (status === 204 || status === 304) this.body = Body.None;
    else if (chunked) {
      this.body = Body.Chunked;
      this.chunkState = Chunk.Size;
    } else if (length >= 0) {
      this.body = length === 0 ? Body.None : Body.Length;
      this.remaining = length;
    } else {
      this.body = Body.UntilClose;
      this.keepAlive = false;
    }
    const req = this.req!;
    // the one field a handler reads, in an object of the connection's refilled per response (a
    // handler reads it during the call and keeps nothing)
    let headers = NO_HEADERS;
    if (h.cmsd !== undefined) {
      headers = length >= 0 ? this.lengthAndCmsd : this.cmsdHeader;
      if (length >= 0) headers['content-length'] = String(length);
      headers['cmsd-dynamic'] = h.cmsd;
    } else if (length >= 0) {
      headers = this.lengthHeader;
      headers['content-length'] = String(length);
    }
    req.handler.onResponseStart?.(req, status, headers);
    if (req.aborted || this.req !== req) return;
    if (this.body === Body.None) return this.complete(b.length > end + 4);
    if (b.length > end + 4) this.parseBody(b, end + 4);
  }

  /** Feeds body bytes from `b` at `at`; stops (keeping the rest) when the handler pauses. */
  private parseBody(b: Buffer, at: number): void {
    const req = this.req!;
    while (at < b.length) {
      if (req.paused) {
        this.buf = Buffer.from(b.subarray(at));
        return;
      }
      if (this.body === Body.Length || this.body === Body.UntilClose) {
        const n = this.body === Body.UntilClose ? b.length - at : Math.min(this.remaining, b.length - at);
        const slice = at === 0 && n === b.length ? b : b.subarray(at, at + n);
        at += n;
        this.remaining -= n;
        req.handler.onResponseData?.(req, slice);
        if (req.aborted || this.req !== req) return;
        if (this.body === Body.Length && this.remaining === 0) return this.complete(at < b.length);
        continue;
      }
      // chunked
      if (this.chunkState === Chunk.Data) {
        const n = Math.min(this.remaining, b.length - at);
        const slice = b.subarray(at, at + n);
        at += n;
        this.remaining -= n;
        if (this.remaining === 0) this.chunkState = Chunk.DataEnd;
        req.handler.onResponseData?.(req, slice);
        if (req.aborted || this.req !== req) return;
        continue;
      }
      const eol = b.indexOf('\r\n', at, 'latin1');
      if (eol === -1) {
        if (b.length - at > 4096) return this.fail(new CodedError('HPE_INVALID_CHUNK_SIZE', 'chunk line too long'));
        this.buf = Buffer.from(b.subarray(at));
        return;
      }
      if (this.chunkState === Chunk.DataEnd) {
        if (eol !== at) return this.fail(new CodedError('HPE_INVALID_CHUNK_SIZE', 'no CRLF after chunk data'));
        this.chunkState = Chunk.Size;
      } else if (this.chunkState === Chunk.Size) {
        const sizeText = b.toString('latin1', at, eol);
        const semi = sizeText.indexOf(';');
        const size = parseInt(semi === -1 ? sizeText : sizeText.slice(0, semi), 16);
        if (!Number.isInteger(size) || size < 0 || !/^[0-9a-f]+/i.test(sizeText))
          return this.fail(new CodedError('HPE_INVALID_CHUNK_SIZE', `bad chunk size "${sizeText}"`));
        this.remaining = size;
        this.chunkState = size === 0 ? Chunk.Trailers : Chunk.Data;
      } else if (eol === at) {
        // the empty line after the trailers: the response is complete
        return this.complete(eol + 2 < b.length);
      }
      at = eol + 2;
    }
  }

  /** The response is whole: hand it over and make the connection idle (or close it). */
  private complete(extraBytes: boolean): void {
    const req = this.req!;
    this.req = undefined;
    req.conn = undefined;
    busy.delete(this);
    this.buf = undefined;
    // bytes after a complete response, with no request pipelined: the server is out of step
    if (!this.keepAlive || extraBytes) this.destroy();
    req.handler.onResponseEnd?.(req, EMPTY_TRAILERS);
    if (!this.closed) this.pool.release(this);
  }

  private fail(e: Error): void {
    const req = this.req;
    this.req = undefined;
    if (req) req.conn = undefined;
    this.destroy();
    if (req && !req.aborted) req.handler.onResponseError?.(req, e);
  }

  /** The connection is gone: `code` undefined when we closed it ourselves. */
  private onClose(code: string | undefined, message: string): void {
    if (this.closed) return;
    this.closed = true;
    busy.delete(this);
    this.pool.forget(this);
    const req = this.req;
    this.req = undefined;
    if (!req) return;
    req.conn = undefined;
    if (req.aborted) return;
    if (this.body === Body.UntilClose && !this.inHead && code === 'SOCKET') {
      // a body delimited by the close: this close is its end
      req.handler.onResponseEnd?.(req, EMPTY_TRAILERS);
      return;
    }
    if (!req.answered && !req.retried && this.served > 1 && code !== undefined) {
      // a keep-alive connection the server closed as we reused it: once more on a new one
      req.retried = true;
      this.pool.enqueue(req);
      return;
    }
    req.handler.onResponseError?.(req, new CodedError(code ?? 'SOCKET', `${this.pool.origin}: ${message}`));
  }
}

/** The connections of one viewer to one origin. */
class OriginPool {
  private readonly idle: H1Connection[] = [];
  private readonly all = new Set<H1Connection>();
  private readonly queue: H1Request[] = [];
  private readonly host: string;
  private readonly port: number;
  readonly hostHeader: string;

  constructor(
    readonly origin: string,
    private readonly maxConnections: number,
  ) {
    const u = new URL(origin);
    if (u.protocol !== 'http:')
      throw new CodedError('UNSUPPORTED', `H1Client speaks plain http only, not ${u.protocol}`);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || 80);
    this.hostHeader = u.host;
  }

  enqueue(req: H1Request): void {
    let c = this.idle.pop();
    while (c && c.closed) c = this.idle.pop();
    if (!c && this.all.size < this.maxConnections) {
      c = new H1Connection(this, this.host, this.port);
      this.all.add(c);
    }
    if (c) c.send(req);
    else this.queue.push(req);
  }

  release(c: H1Connection): void {
    const next = this.queue.shift();
    if (next) c.send(next);
    else this.idle.push(c);
  }

  forget(c: H1Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    // a queued request gets the place the closed connection left
    const next = this.queue.shift();
    if (next) this.enqueue(next);
  }

  destroy(): void {
    this.queue.length = 0;
    for (const c of [...this.all]) c.destroy();
  }
}

export class H1Client implements GetDispatcher {
  private readonly pools = new Map<string, OriginPool>();
  private destroyed = false;

  constructor(private readonly maxConnections = 4) {}

  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean {
    if (this.destroyed) throw new CodedError('UND_ERR_DESTROYED', 'client destroyed');
    let pool = this.pools.get(opts.origin);
    if (!pool) {
      pool = new OriginPool(opts.origin, this.maxConnections);
      this.pools.set(opts.origin, pool);
    }
    let head = `${opts.method} ${opts.path} HTTP/1.1\r\nhost: ${pool.hostHeader}\r\n`;
    if (opts.headers) for (const k in opts.headers) head += `${k}: ${opts.headers[k]}\r\n`;
    head += opts.body === undefined ? '\r\n' : `content-length: ${opts.body.length}\r\n\r\n${opts.body}`;
    const req = new H1Request(head, handler, opts.headersTimeout ?? 60_000, opts.bodyTimeout ?? 30_000);
    handler.onRequestStart?.(req, undefined);
    pool.enqueue(req);
    return true;
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    for (const p of this.pools.values()) p.destroy();
    this.pools.clear();
    return Promise.resolve();
  }
}
