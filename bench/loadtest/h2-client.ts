/**
 * A lean HTTP/2 GET client for one virtual viewer (`--http2`): the HTTP/2 framing (RFC 9113) over
 * one TLS connection per origin (ALPN h2), as a browser shares one h2 connection per origin across
 * all its requests, one stream per request. Held LL-HLS requests (blocking reloads, hinted parts)
 * are concurrent streams, so none waits behind another.
 *
 * What a request costs here: one HEADERS frame (HPACK literals, bench/loadtest/hpack.ts) in one
 * write; a response is decoded from the connection's bytes in place, its DATA handed to the handler
 * as slices of what the socket read (valid during the call only, as H1Client's), with no stream
 * object, no header object and no event listener per request.
 *
 * Why not node:http2: its `request()` builds a Duplex, an AsyncResource (whose bind() wraps two
 * deprecation accessors per request), validates and copies the headers; at 300 LL-HLS viewers that
 * machinery was about half of the tester's thread (bench/results/loadtest-tester.json, h2Profile).
 * Why not undici's `allowH2`: it adds its full request machinery on top of node:http2.
 *
 * Protocol: SETTINGS (push off, 1 MiB stream windows) and an 8 MiB connection window at the start;
 * WINDOW_UPDATEs as DATA is consumed (a paused stream's only when it resumes: shaping holds the
 * server back as TCP would); PING answered; the server's SETTINGS acknowledged and its
 * MAX_CONCURRENT_STREAMS kept (requests beyond it queue); CONTINUATION, padding and priority
 * fields read; trailers end the stream; RST_STREAM fails its request (REFUSED_STREAM and the
 * streams a GOAWAY did not take go once more, on a new connection after a GOAWAY: the server did
 * not process them, RFC 9113 §8.7), new requests after a GOAWAY open a new connection; anything
 * malformed ends the connection
 * (GOAWAY with the error code) and fails what it carried with a coded error.
 *
 * The handler interface is undici's (Dispatcher.DispatchHandler), as H1Client's, so HttpGetter
 * does not care which client it has.
 */
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import { CodedError, type GetDispatcher, type GetRequest } from './h1-client.js';
import { encodeGetRequest, HpackDecoder, type ResponseFields } from './hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Flow-control windows: a segment arrives without waiting for WINDOW_UPDATEs (browsers use MBs too). */
const STREAM_WINDOW = 1 << 20;
const CONNECTION_WINDOW = 8 << 20;
const DEFAULT_WINDOW = 65_535;
/** SETTINGS_MAX_FRAME_SIZE: ours is the default, so nothing larger may come. */
const MAX_FRAME = 16_384;
const MAX_STREAM_ID = 0x7fff_ffff;
const EMPTY_TRAILERS = {};
const NO_HEADERS: Record<string, string> = Object.freeze({});

const enum Type {
  Data = 0,
  Headers = 1,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  GoAway = 7,
  Continuation = 9,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** RFC 9113 §7 error codes. */
const PROTOCOL_ERROR = 0x1;
const FLOW_CONTROL_ERROR = 0x3;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;

function frame(type: number, flags: number, id: number, payloadLength: number): Buffer {
  const b = Buffer.allocUnsafe(9 + payloadLength);
  b.writeUIntBE(payloadLength, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(id, 5);
  return b;
}

function windowUpdate(id: number, increment: number): Buffer {
  const b = frame(8, 0, id, 4);
  b.writeUInt32BE(increment, 9);
  return b;
}

/** The opening bytes: preface, SETTINGS (ENABLE_PUSH 0, INITIAL_WINDOW_SIZE), the connection window. */
const OPENING = (() => {
  const settings = frame(Type.Settings, 0, 0, 12);
  settings.writeUInt16BE(0x2, 9);
  settings.writeUInt32BE(0, 11);
  settings.writeUInt16BE(0x4, 15);
  settings.writeUInt32BE(STREAM_WINDOW, 17);
  return Buffer.concat([PREFACE, settings, windowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW)]);
})();
const SETTINGS_ACK = frame(Type.Settings, ACK, 0, 0);

/** One request (the handler's controller too). */
class H2Request implements Dispatcher.DispatchController {
  aborted = false;
  paused = false;
  reason: Error | null = null;
  done = false;
  inHead = true;
  /** Sent once more after a GOAWAY or REFUSED_STREAM left it unprocessed. */
  retried = false;
  id = 0;
  sentAt = 0;
  lastByteAt = 0;
  /** DATA octets (padding included) not yet given back with a WINDOW_UPDATE. */
  unacked = 0;
  /** Data that came while paused (copies), and whether the stream ended meanwhile. */
  held: Buffer[] | undefined;
  endHeld = false;
  conn: H2Connection | undefined;

  constructor(
    readonly block: Buffer,
    readonly handler: Dispatcher.DispatchHandler,
    readonly headersTimeout: number,
    readonly bodyTimeout: number,
    /** A POST's body (a license request: far below the initial flow-control window), sent as one DATA frame. */
    readonly body?: Buffer,
  ) {}

  abort(reason: Error): void {
    if (this.aborted || this.done) return;
    this.aborted = true;
    this.reason = reason;
    this.finish();
    this.conn?.cancel(this);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = undefined;
    if (held)
      for (let i = 0; i < held.length; i++) {
        if (this.done) return;
        if (this.paused) {
          // paused again: keep the rest for the next resume
          this.held = held.slice(i);
          return;
        }
        this.handler.onResponseData?.(this, held[i]);
      }
    if (this.done) return;
    if (this.endHeld) this.conn?.complete(this);
    else this.conn?.giveBack(this);
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
    if (r.sentAt === 0) continue; // still queued for a stream
    if (r.inHead ? now - r.sentAt > r.headersTimeout : now - r.lastByteAt > r.bodyTimeout) {
      const headers = r.inHead;
      r.fail(
        new CodedError(
          headers ? 'UND_ERR_HEADERS_TIMEOUT' : 'UND_ERR_BODY_TIMEOUT',
          headers ? 'HeadersTimeout' : 'BodyTimeout',
        ),
      );
      r.conn?.cancel(r);
    }
  }
  if (busy.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

const enum Read {
  Head,
  Payload,
  DataPadLength,
  Data,
  DataPadding,
}

/** One h2 connection to one origin; replaced when it closes or is told to go away. */
class H2Connection {
  readonly socket: TLSSocket;
  /** What ended the connection, reported for each request it carried. */
  error: Error | undefined;
  /** No new streams (closed, GOAWAY, or stream ids used up). */
  draining = false;
  closed = false;
  private readonly streams = new Map<number, H2Request>();
  private readonly queue: H2Request[] = [];
  private nextId = 1;
  private maxStreams = Infinity;
  private readonly decoder = new HpackDecoder();
  private readonly fields: ResponseFields = { status: NaN, contentLength: undefined, cmsd: undefined };
  private readonly lengthHeader: Record<string, string> = { 'content-length': '0' };
  /** With the edge's CMSD-Dynamic (each object keeps one shape; refilled per response, as lengthHeader). */
  private readonly lengthAndCmsd: Record<string, string> = { 'content-length': '0', 'cmsd-dynamic': '' };
  private readonly cmsdHeader: Record<string, string> = { 'cmsd-dynamic': '' };
  private connectionUnacked = 0;
  /** What to write once the TLS handshake is done: the opening bytes and the first requests. */
  private beforeConnect: Buffer[] | undefined = [OPENING];
  // the frame being read
  private state = Read.Head;
  private readonly head = Buffer.alloc(9);
  private headFill = 0;
  private type: Type = Type.Data;
  private flags = 0;
  private id = 0;
  private length = 0;
  private payload: Buffer | undefined;
  private payloadFill = 0;
  private dataLeft = 0;
  private padLeft = 0;
  private dataStream: H2Request | undefined;
  /** A header block waiting for its CONTINUATIONs. */
  private blockParts: Buffer[] | undefined;
  private blockStream = 0;
  private blockEndStream = false;

  constructor(
    private readonly client: H2Client,
    readonly origin: string,
    readonly authority: string,
    host: string,
    port: number,
    secureContext: SecureContext | undefined,
  ) {
    this.socket = tlsConnect({
      host,
      port,
      ALPNProtocols: ['h2'],
      ...(isIP(host) ? {} : { servername: host }),
      ...(secureContext ? { secureContext } : {}),
    });
    this.socket.setNoDelay(true);
    this.socket.once('secureConnect', () => {
      if (this.socket.alpnProtocol !== 'h2')
        return this.fatal(
          new CodedError('ALPN_NO_H2', `${origin} did not offer HTTP/2 (ALPN ${String(this.socket.alpnProtocol)})`),
        );
      // nothing is written before the handshake (a write then would turn its failure into EPROTO)
      const first = this.beforeConnect!;
      this.beforeConnect = undefined;
      this.socket.write(first.length === 1 ? first[0] : Buffer.concat(first));
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e: Error) => this.fatal(e));
    this.socket.on('close', () =>
      this.fatal(new CodedError('ERR_HTTP2_SESSION_ERROR', `${origin}: connection closed`)),
    );
  }

  private send(b: Buffer): void {
    if (this.beforeConnect) this.beforeConnect.push(b);
    else this.socket.write(b);
  }

  request(r: H2Request): void {
    r.conn = this;
    if (this.streams.size >= this.maxStreams) this.queue.push(r);
    else this.open(r);
  }

  private open(r: H2Request): void {
    const id = this.nextId;
    this.nextId += 2;
    if (this.nextId > MAX_STREAM_ID) this.drain();
    r.id = id;
    r.sentAt = performance.now();
    this.streams.set(id, r);
    const f = frame(Type.Headers, r.body ? END_HEADERS : END_STREAM | END_HEADERS, id, r.block.length);
    r.block.copy(f, 9);
    this.send(f);
    if (r.body) {
      const d = frame(Type.Data, END_STREAM, id, r.body.length);
      r.body.copy(d, 9);
      this.send(d);
    }
  }

  /** An aborted or timed-out request: reset its stream (or drop it from the queue). */
  cancel(r: H2Request): void {
    if (r.id === 0) {
      const i = this.queue.indexOf(r);
      if (i !== -1) this.queue.splice(i, 1);
      return;
    }
    if (this.streams.get(r.id) !== r) return;
    this.streams.delete(r.id);
    if (!this.closed) {
      const f = frame(Type.RstStream, 0, r.id, 4);
      f.writeUInt32BE(CANCEL, 9);
      this.send(f);
    }
    this.next();
  }

  /** The stream ended and its data was delivered: the request is complete. */
  complete(r: H2Request): void {
    this.streams.delete(r.id);
    r.finish();
    r.handler.onResponseEnd?.(r, EMPTY_TRAILERS);
    this.next();
  }

  /** Gives the stream's consumed window back (after a resume). */
  giveBack(r: H2Request): void {
    if (r.unacked > 0 && !this.closed && this.streams.get(r.id) === r) {
      this.send(windowUpdate(r.id, r.unacked));
      r.unacked = 0;
    }
  }

  /** A request the server did not process: once more, on the origin's current connection. */
  private retry(r: H2Request): void {
    r.retried = true;
    r.id = 0;
    r.sentAt = 0;
    this.client.requeue(r);
  }

  private next(): void {
    while (this.queue.length > 0 && this.streams.size < this.maxStreams && !this.draining)
      this.open(this.queue.shift()!);
    if (this.draining && this.streams.size === 0 && !this.closed) this.socket.end();
  }

  /** No new streams on this connection: the next request opens another. */
  private drain(): void {
    this.draining = true;
    this.client.forget(this);
  }

  // ------------------------------------------------------------------ reading

  private onData(d: Buffer): void {
    let at = 0;
    while (at < d.length && !this.closed) {
      switch (this.state) {
        case Read.Head: {
          const n = Math.min(9 - this.headFill, d.length - at);
          d.copy(this.head, this.headFill, at, at + n);
          this.headFill += n;
          at += n;
          if (this.headFill === 9) {
            this.headFill = 0;
            this.beginFrame();
          }
          break;
        }
        case Read.Payload: {
          const want = this.length - this.payloadFill;
          if (this.payloadFill === 0 && d.length - at >= want) {
            // the whole payload is here: read it in place
            const p = d.subarray(at, at + want);
            at += want;
            this.state = Read.Head;
            this.onFrame(p);
            break;
          }
          this.payload ??= Buffer.allocUnsafe(this.length);
          const n = Math.min(want, d.length - at);
          d.copy(this.payload, this.payloadFill, at, at + n);
          this.payloadFill += n;
          at += n;
          if (this.payloadFill === this.length) {
            const p = this.payload;
            this.payload = undefined;
            this.payloadFill = 0;
            this.state = Read.Head;
            this.onFrame(p);
          }
          break;
        }
        case Read.DataPadLength: {
          this.padLeft = d[at++];
          this.dataLeft = this.length - 1 - this.padLeft;
          if (this.dataLeft < 0) return this.protocolError(PROTOCOL_ERROR, 'DATA padding longer than the frame');
          this.afterDataStart();
          break;
        }
        case Read.Data: {
          const n = Math.min(this.dataLeft, d.length - at);
          const slice = d.subarray(at, at + n);
          at += n;
          this.dataLeft -= n;
          if (this.dataLeft === 0) this.state = this.padLeft > 0 ? Read.DataPadding : Read.Head;
          this.deliver(slice);
          if (this.state === Read.Head) this.endData();
          break;
        }
        case Read.DataPadding: {
          const n = Math.min(this.padLeft, d.length - at);
          at += n;
          this.padLeft -= n;
          if (this.padLeft === 0) {
            this.state = Read.Head;
            this.endData();
          }
          break;
        }
      }
    }
  }

  private beginFrame(): void {
    const h = this.head;
    this.length = (h[0] << 16) | (h[1] << 8) | h[2];
    this.type = h[3];
    this.flags = h[4];
    this.id = h.readUInt32BE(5) & MAX_STREAM_ID;
    if (this.length > MAX_FRAME) return this.protocolError(FRAME_SIZE_ERROR, `frame of ${this.length} octets`);
    if (this.blockParts && this.type !== Type.Continuation)
      return this.protocolError(PROTOCOL_ERROR, 'a header block interrupted');
    if (this.type !== Type.Data) {
      this.state = Read.Payload;
      this.payloadFill = 0;
      if (this.length === 0) {
        this.state = Read.Head;
        this.onFrame(Buffer.alloc(0));
      }
      return;
    }
    if (this.id === 0) return this.protocolError(PROTOCOL_ERROR, 'DATA on stream 0');
    // flow control counts the whole frame, padding included
    this.connectionUnacked += this.length;
    if (this.connectionUnacked > CONNECTION_WINDOW)
      return this.protocolError(FLOW_CONTROL_ERROR, 'DATA past the connection window');
    if (this.connectionUnacked >= CONNECTION_WINDOW / 2) {
      this.send(windowUpdate(0, this.connectionUnacked));
      this.connectionUnacked = 0;
    }
    const r = this.streams.get(this.id);
    this.dataStream = r && !r.inHead ? r : undefined;
    if (r && r.inHead) {
      this.streams.delete(this.id);
      r.fail(new CodedError('ERR_HTTP2_STREAM_ERROR', `${this.origin}: DATA before the response head`));
    }
    if (r) r.unacked += this.length;
    if (this.flags & PADDED) {
      if (this.length === 0) return this.protocolError(PROTOCOL_ERROR, 'padded DATA without its pad length');
      this.state = Read.DataPadLength;
      return;
    }
    this.padLeft = 0;
    this.dataLeft = this.length;
    this.afterDataStart();
  }

  private afterDataStart(): void {
    if (this.dataLeft > 0) this.state = Read.Data;
    else if (this.padLeft > 0) this.state = Read.DataPadding;
    else {
      this.state = Read.Head;
      this.endData();
    }
  }

  private deliver(slice: Buffer): void {
    const r = this.dataStream;
    if (!r || r.done || slice.length === 0) return;
    r.lastByteAt = performance.now();
    if (r.paused) (r.held ??= []).push(Buffer.from(slice));
    else r.handler.onResponseData?.(r, slice);
  }

  /** The DATA frame is read: end the stream if it says so, give its window back. */
  private endData(): void {
    const r = this.dataStream;
    this.dataStream = undefined;
    if (!r || r.done) return;
    if (this.flags & END_STREAM) {
      if (r.paused) r.endHeld = true;
      else this.complete(r);
      return;
    }
    if (!r.paused && r.unacked >= STREAM_WINDOW / 2) this.giveBack(r);
  }

  private onFrame(p: Buffer): void {
    switch (this.type) {
      case Type.Headers:
        return this.onHeaders(p);
      case Type.Continuation: {
        if (!this.blockParts || this.id !== this.blockStream)
          return this.protocolError(PROTOCOL_ERROR, 'CONTINUATION without a header block');
        this.blockParts.push(Buffer.from(p));
        if (this.flags & END_HEADERS) {
          const block = Buffer.concat(this.blockParts);
          this.blockParts = undefined;
          this.onHeaderBlock(this.blockStream, block, this.blockEndStream);
        }
        return;
      }
      case Type.RstStream: {
        if (p.length !== 4) return this.protocolError(FRAME_SIZE_ERROR, 'RST_STREAM of the wrong size');
        const r = this.streams.get(this.id);
        if (!r) return;
        this.streams.delete(this.id);
        const code = p.readUInt32BE(0);
        // REFUSED_STREAM: the server did nothing with it, so it may go again (once)
        if (code === REFUSED_STREAM && r.inHead && !r.retried) this.retry(r);
        else r.fail(new CodedError('ERR_HTTP2_STREAM_ERROR', `${this.origin}: stream reset (code ${code})`));
        this.next();
        return;
      }
      case Type.Settings: {
        if (this.id !== 0) return this.protocolError(PROTOCOL_ERROR, 'SETTINGS on a stream');
        if (this.flags & ACK) return;
        if (p.length % 6 !== 0) return this.protocolError(FRAME_SIZE_ERROR, 'SETTINGS of the wrong size');
        for (let i = 0; i < p.length; i += 6) if (p.readUInt16BE(i) === 0x3) this.maxStreams = p.readUInt32BE(i + 2);
        this.send(SETTINGS_ACK);
        this.next();
        return;
      }
      case Type.PushPromise:
        return this.protocolError(PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case Type.Ping: {
        if (p.length !== 8) return this.protocolError(FRAME_SIZE_ERROR, 'PING of the wrong size');
        if (this.flags & ACK) return;
        const f = frame(Type.Ping, ACK, 0, 8);
        p.copy(f, 9);
        this.send(f);
        return;
      }
      case Type.GoAway: {
        if (p.length < 8) return this.protocolError(FRAME_SIZE_ERROR, 'GOAWAY too short');
        const last = p.readUInt32BE(0) & MAX_STREAM_ID;
        const code = p.readUInt32BE(4);
        this.drain();
        const e = new CodedError('ERR_HTTP2_GOAWAY_SESSION', `${this.origin}: the server went away (code ${code})`);
        // streams past `last` were not processed (RFC 9113 §6.8): once more on a new connection,
        // as a browser does, unless this one already was a retry
        for (const [id, r] of this.streams)
          if (id > last) {
            this.streams.delete(id);
            if (r.retried) r.fail(e);
            else this.retry(r);
          }
        // queued requests go to the next connection
        for (const r of this.queue.splice(0)) this.client.requeue(r);
        this.next();
        return;
      }
      default:
      // PRIORITY, WINDOW_UPDATE (we send no DATA), unknown types: nothing to do
    }
  }

  private onHeaders(p: Buffer): void {
    if (this.id === 0) return this.protocolError(PROTOCOL_ERROR, 'HEADERS on stream 0');
    let from = 0;
    let to = p.length;
    if (this.flags & PADDED) {
      if (p.length < 1) return this.protocolError(PROTOCOL_ERROR, 'padded HEADERS without its pad length');
      to -= p[0];
      from = 1;
    }
    if (this.flags & PRIORITY) from += 5;
    if (to < from) return this.protocolError(PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
    const fragment = p.subarray(from, to);
    const endStream = (this.flags & END_STREAM) !== 0;
    if (this.flags & END_HEADERS) return this.onHeaderBlock(this.id, fragment, endStream);
    this.blockParts = [Buffer.from(fragment)];
    this.blockStream = this.id;
    this.blockEndStream = endStream;
  }

  private onHeaderBlock(id: number, block: Buffer, endStream: boolean): void {
    const f = this.fields;
    try {
      // decoded whatever the stream's fate: the dynamic table must follow the server's
      this.decoder.decode(block, f);
    } catch (e) {
      return this.protocolError(COMPRESSION_ERROR, (e as Error).message);
    }
    const r = this.streams.get(id);
    if (!r || r.done) return;
    if (!r.inHead) {
      // trailers: they end the stream
      if (!endStream) return this.protocolError(PROTOCOL_ERROR, 'trailers without END_STREAM');
      if (r.paused) r.endHeld = true;
      else this.complete(r);
      return;
    }
    const status = f.status;
    if (!(status >= 100 && status <= 999)) {
      this.cancel(r);
      r.fail(new CodedError('ERR_HTTP2_INVALID_HEADER_VALUE', `${this.origin}: response without a valid :status`));
      return;
    }
    if (status < 200) {
      // an interim answer (1xx): the real one follows
      if (endStream) {
        this.streams.delete(id);
        r.fail(new CodedError('ERR_HTTP2_STREAM_ERROR', `${this.origin}: stream ended after an interim response`));
      }
      return;
    }
    r.inHead = false;
    r.lastByteAt = performance.now();
    let headers = NO_HEADERS;
    if (f.cmsd !== undefined) {
      headers = f.contentLength !== undefined ? this.lengthAndCmsd : this.cmsdHeader;
      if (f.contentLength !== undefined) headers['content-length'] = f.contentLength;
      headers['cmsd-dynamic'] = f.cmsd;
    } else if (f.contentLength !== undefined) {
      headers = this.lengthHeader;
      headers['content-length'] = f.contentLength;
    }
    r.handler.onResponseStart?.(r, status, headers, '');
    if (r.done) return;
    if (endStream) {
      if (r.paused) r.endHeld = true;
      else this.complete(r);
    }
  }

  // ------------------------------------------------------------------ failure

  /** A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then the end. */
  private protocolError(code: number, message: string): void {
    if (this.closed) return;
    const f = frame(Type.GoAway, 0, 0, 8);
    f.writeUInt32BE(0, 9);
    f.writeUInt32BE(code, 13);
    this.send(f);
    this.fatal(new CodedError('ERR_HTTP2_ERROR', `${this.origin}: ${message}`));
  }

  /** The connection is gone: fail everything it carried with the first cause. */
  private fatal(e: Error): void {
    this.error ??= e;
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    this.client.forget(this);
    this.socket.destroy();
    const err = this.error;
    for (const r of this.streams.values()) r.fail(err);
    this.streams.clear();
    for (const r of this.queue.splice(0)) r.fail(err);
  }

  destroy(): void {
    this.fatal(new CodedError('UND_ERR_DESTROYED', 'client destroyed'));
  }
}

export class H2Client implements GetDispatcher {
  private readonly connections = new Map<string, H2Connection>();
  private destroyed = false;

  constructor(private readonly secureContext: SecureContext | undefined) {}

  dispatch(opts: GetRequest, handler: Dispatcher.DispatchHandler): boolean {
    if (this.destroyed) throw new CodedError('UND_ERR_DESTROYED', 'client destroyed');
    const c = this.connectionFor(opts.origin);
    const r = new H2Request(
      encodeGetRequest(
        opts.path,
        c.authority,
        // a body's length: servers (fastify among them) take a request without one for bodiless
        opts.body === undefined ? opts.headers : { ...opts.headers, 'content-length': String(opts.body.length) },
        opts.method,
      ),
      handler,
      opts.headersTimeout ?? 60_000,
      opts.bodyTimeout ?? 30_000,
      opts.body === undefined ? undefined : Buffer.from(opts.body, 'latin1'),
    );
    handler.onRequestStart?.(r, undefined);
    if (r.aborted) return true;
    busy.add(r);
    sweeper ??= setInterval(sweep, 1000).unref();
    c.request(r);
    return true;
  }

  private connectionFor(origin: string): H2Connection {
    let c = this.connections.get(origin);
    if (!c || c.draining) {
      const u = new URL(origin);
      if (u.protocol !== 'https:')
        throw new CodedError('UNSUPPORTED', `H2Client speaks HTTP/2 over TLS (https) only, not ${u.protocol}`);
      c = new H2Connection(
        this,
        origin,
        u.host,
        u.hostname.replace(/^\[|\]$/g, ''),
        Number(u.port || 443),
        this.secureContext,
      );
      this.connections.set(origin, c);
    }
    return c;
  }

  /** A request a GOAWAY left queued: onto the origin's next connection. */
  requeue(r: H2Request): void {
    if (this.destroyed || r.done || !r.conn) return r.fail(new CodedError('UND_ERR_DESTROYED', 'client destroyed'));
    this.connectionFor(r.conn.origin).request(r);
  }

  /** A connection that closed or got GOAWAY takes no new streams: the next request opens another. */
  forget(c: H2Connection): void {
    if (this.connections.get(c.origin) === c) this.connections.delete(c.origin);
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    for (const c of this.connections.values()) c.destroy();
    this.connections.clear();
    return Promise.resolve();
  }
}
