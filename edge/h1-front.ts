/**
 * The edge's plain-HTTP/1.1 front: a `net` server that reads request heads from each
 * connection's bytes itself (src/http/h1-request-head.ts, a strict safe subset) so that a fresh
 * RAM hit costs no node:http objects: the hit path (edge/hit-path.ts `serveRaw`) writes the
 * prepared head and body straight to the socket.
 *
 * - A parsed GET/HEAD the hit path cannot answer (miss, fill, held reload, admin, errors...), or
 *   one asking `Connection: close`, gets node:http's own IncomingMessage/ServerResponse
 *   (src/http/node-h1-exchange.ts) and is emitted as the node:http server's 'request', so the
 *   edge's handler runs unchanged.
 * - Anything outside the subset (a request with a body, HTTP/1.0, Upgrade, odd framing, a head
 *   too long, a head still incomplete after MAX_PARTIAL_READS reads) hands the connection to
 *   node:http for the rest of its life, at that request's boundary with no answer in flight:
 *   node:http's parser then gives exactly its usual answers (400/414/431 through the
 *   listener's clientError handler, bodies, pipelining).
 *
 * Per connection, as node:http does: answers in request order (the next head is parsed only once
 * the answer in flight finished); the slow-client timeout while a request is awaited or answered,
 * the keep-alive timeout (+1 s, as node:http) once idle after an answer; a head not complete
 * within the headers timeout gets the clientError answer; reading stops while the socket's write
 * buffer is over its high-water mark (a client pipelining without reading); the client's FIN
 * aborts the request in flight and ends the connection; a socket closing mid-answer tells the
 * response 'close' (a fill stops serving a gone client).
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { parseRequestHead, type RequestHead } from '../src/http/h1-request-head.js';
import {
  abortedError,
  finishExchange,
  handToNodeHttp,
  nodeExchange,
  socketDrained,
} from '../src/http/node-h1-exchange.js';
import { keepAliveFields } from '../src/http/raw-h1.js';

/** Answers a parsed request on the socket itself (true), or writes nothing (false). */
export type FrontHit = (req: RequestHead, socket: Socket, connectionFields: string) => boolean;

export interface H1FrontOptions {
  /** The node:http server (not listening) whose 'request' handler and parser take the rest. */
  http: HttpServer;
  clientTimeoutMs: number;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  hit: FrontHit | undefined;
  /** Called once per connection, at its first request. */
  onFirstRequest: (socket: Socket) => void;
}

/** Unparsed bytes held while an answer is in flight before reading stops. */
const MAX_PENDING = 64 * 1024;
/** Reads ending in the same incomplete head before node:http takes the connection. */
const MAX_PARTIAL_READS = 4;
/** node:http's socket timeout margin over the advertised keep-alive timeout. */
const KEEP_ALIVE_MARGIN_MS = 1000;

/** The front's net.Server (not listening yet). */
export function createH1Front(o: H1FrontOptions): NetServer {
  const connection = keepAliveFields(o.keepAliveTimeoutMs, 0);
  return createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    new FrontConnection(socket, o, connection).start();
  });
}

class FrontConnection {
  /** Bytes received and not parsed yet (from a request boundary). */
  private pending: Buffer | null = null;
  /** The request answered through node:http objects, while its answer is in flight. */
  private req: IncomingMessage | null = null;
  private res: ServerResponse | null = null;
  /** Waiting for 'drain' before answering more. */
  private waitingDrain = false;
  /** Reading stopped (pending bytes over MAX_PENDING while an answer is in flight). */
  private readStopped = false;
  private keepAliveSet = false;
  private used = false;
  private done = false;
  private headTimer: NodeJS.Timeout | undefined;
  /** Reads that ended in an incomplete head since the last complete one. */
  private partialReads = 0;

  constructor(
    private readonly socket: Socket,
    private readonly o: H1FrontOptions,
    private readonly connection: string,
  ) {}

  start(): void {
    const s = this.socket;
    s.setTimeout(this.o.clientTimeoutMs);
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('timeout', this.onTimeout);
    s.on('drain', this.onDrain);
    s.on('error', this.onError);
    s.once('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.keepAliveSet) {
      this.keepAliveSet = false;
      this.socket.setTimeout(this.o.clientTimeoutMs);
    }
    this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.res !== null || this.waitingDrain) {
      if (this.pending.length > MAX_PENDING && !this.readStopped) {
        this.readStopped = true;
        this.socket.pause();
      }
      return;
    }
    this.pump();
  };

  /** Answers the requests received, in order, until one is in flight or the bytes run out. */
  private pump(): void {
    const s = this.socket;
    s.cork();
    try {
      while (this.pending !== null && this.res === null && !this.waitingDrain && !this.done && !s.destroyed) {
        const head = parseRequestHead(this.pending);
        if (head === 'incomplete') {
          // a head trickling in many pieces: node:http's incremental parser takes it (each piece
          // here would re-copy and re-scan what came before)
          if (++this.partialReads > MAX_PARTIAL_READS) {
            this.handOver();
            break;
          }
          this.armHeadTimer();
          break;
        }
        this.partialReads = 0;
        if (head === 'refused') {
          this.handOver();
          break;
        }
        this.clearHeadTimer();
        this.pending = head.length === this.pending.length ? null : this.pending.subarray(head.length);
        if (!this.used) {
          this.used = true;
          this.o.onFirstRequest(s);
        }
        if (!head.close && this.o.hit !== undefined && this.o.hit(head, s, this.connection)) {
          if (s.writableNeedDrain) this.waitingDrain = true;
          continue;
        }
        this.viaNodeHttp(head);
      }
    } finally {
      s.uncork();
    }
    if (this.waitingDrain || this.res !== null || this.done) return;
    if (this.readStopped) {
      this.readStopped = false;
      s.resume();
    }
    if (this.pending === null && this.used && !this.keepAliveSet && !s.destroyed) {
      this.keepAliveSet = true;
      s.setTimeout(this.o.keepAliveTimeoutMs + KEEP_ALIVE_MARGIN_MS);
    }
  }

  /** The request through node:http's objects and the edge's handler. */
  private viaNodeHttp(head: RequestHead): void {
    const { req, res } = nodeExchange(this.socket, head, this.o.keepAliveTimeoutMs);
    this.req = req;
    this.res = res;
    res.once('finish', this.onFinish);
    this.o.http.emit('request', req, res);
  }

  private readonly onFinish = (): void => {
    const req = this.req!;
    const res = this.res!;
    this.req = null;
    this.res = null;
    if (finishExchange(req, res, this.socket)) {
      this.done = true;
      this.pending = null;
      this.socket.destroySoon();
      return;
    }
    this.pump();
  };

  private readonly onDrain = (): void => {
    if (this.res !== null) socketDrained(this.res);
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.pump();
  };

  /** The client sent FIN: the request in flight is aborted and the connection ends (node:http). */
  private readonly onEnd = (): void => {
    this.pending = null;
    this.done = true;
    this.clearHeadTimer();
    const req = this.req;
    if (req !== null) req.destroy(abortedError());
    else if (this.socket.writable) this.socket.end();
  };

  private readonly onTimeout = (): void => {
    const res = this.res;
    if (res !== null && res.emit('timeout', this.socket)) return;
    if (this.o.http.emit('timeout', this.socket)) return;
    this.socket.destroy();
  };

  private readonly onError = (e: Error): void => {
    const s = this.socket;
    s.removeListener('error', this.onError);
    s.on('error', noop);
    if (!this.o.http.emit('clientError', e, s)) s.destroy(e);
  };

  private readonly onClose = (): void => {
    this.done = true;
    this.pending = null;
    this.clearHeadTimer();
    // the response's own 'close' comes from its socket link (node:http's assignSocket)
    const req = this.req;
    if (req !== null && !req.destroyed) req.destroy(abortedError());
  };

  /** A head begun and not complete: the clientError answer once the headers timeout passes. */
  private armHeadTimer(): void {
    if (this.headTimer !== undefined) return;
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined;
      if (this.done || this.socket.destroyed) return;
      this.done = true;
      this.pending = null;
      const e = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
      if (!this.o.http.emit('clientError', e, this.socket)) this.socket.destroy();
    }, this.o.headersTimeoutMs);
    this.headTimer.unref();
  }

  private clearHeadTimer(): void {
    if (this.headTimer === undefined) return;
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  /** node:http takes the connection from this request on (its bytes given back first). */
  private handOver(): void {
    const s = this.socket;
    this.done = true;
    this.clearHeadTimer();
    s.removeListener('data', this.onData);
    s.removeListener('end', this.onEnd);
    s.removeListener('timeout', this.onTimeout);
    s.removeListener('drain', this.onDrain);
    s.removeListener('error', this.onError);
    s.removeListener('close', this.onClose);
    const rest = this.pending;
    this.pending = null;
    if (this.readStopped) this.readStopped = false;
    handToNodeHttp(this.o.http, s, rest);
  }
}

function noop(): void {}
