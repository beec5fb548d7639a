/**
 * The edge's listening sockets, for the lifecycle code in server.ts: plain HTTP/1.1 (the edge's
 * own front, edge/h1-front.ts, answering fresh RAM hits itself and the rest through node:http),
 * or HTTPS speaking HTTP/2 and HTTP/1.1 on one port (ALPN; src/tls/secure-http-server.ts: TLS 1.2+,
 * documented HTTP/2 limits, the certificate following its files), each with slow-client
 * protection, TLS handshake failures counted, and a close that stops accepting, sends GOAWAY to
 * HTTP/2 sessions and drops every connection.
 *
 * The edge's request code is written against node:http's IncomingMessage/ServerResponse and uses
 * only what node:http2's compatibility objects (Http2ServerRequest/Response) share with them
 * (headers, url, method, socket address, writeHead/write/end, 'close'), so one handler serves both.
 * Differences it must respect: HTTP/2 request headers carry pseudo-headers (`:path`, `:authority`;
 * never forwarded), and connection-specific response headers are never sent (the cache policy
 * already drops hop-by-hop fields).
 */
import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import { Server as NetServer, type Socket } from 'node:net';
import { StreamedgeError } from '../src/errors.js';
import { parserErrorStatus } from './request-limits.js';
import type { ReloadingTls } from '../src/tls/reloading-tls.js';
import { closeHttp2Sessions, createSecureHttpServer, type StreamFirst } from '../src/tls/secure-http-server.js';
import { socketAnswering } from '../src/http/raw-h1.js';
import { answerConnect } from '../src/http/request-framing.js';
import { createH1Front, type FrontHit } from './h1-front.js';

export type EdgeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface EdgeListenerOptions {
  port: number;
  host: string;
  /** HTTPS + HTTP/2 with this certificate; plain HTTP/1.1 without. */
  tls?: ReloadingTls;
  /** A connection that neither reads nor sends for this long is destroyed (HTTP/1.1). */
  clientTimeoutMs: number;
  /** A request head begun and not complete within this long gets 408 (plain HTTP/1.1). */
  clientHeadTimeoutMs: number;
  onHandshakeFailure?: (code: string) => void;
  /**
   * Plain HTTP/1.1: requests the front (edge/h1-front.ts) parsed itself are offered here first;
   * true when it answered on the socket (no node:http objects are made for them).
   */
  frontHit?: FrontHit;
  /**
   * HTTPS: HTTP/2 streams are offered here first, before node:http2's compatibility objects are
   * made; true when it answered the stream.
   */
  streamHit?: StreamFirst;
}

const KEEP_ALIVE_TIMEOUT_MS = 5_000;

export class EdgeListener {
  private readonly sockets = new Set<Socket>();
  /** HTTP/1.1 connections that carried a request (closeIdle closes those with no answer open). */
  private readonly used = new Set<Socket>();
  private url_ = '';

  private constructor(
    /** The listening server: the plain front, or the TLS server. */
    private readonly server: NetServer,
    /** The node:http(s) server whose handler answers (plain: not listening; the front feeds it). */
    private readonly http: HttpServer | Http2SecureServer,
    readonly secure: boolean,
  ) {
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // once per connection, nothing per request (a hit allocates no listener)
    http.on('request', (req: IncomingMessage) => {
      if (req.httpVersionMajor === 2) return;
      this.markUsed(req.socket);
    });
  }

  private markUsed(sock: Socket): void {
    if (this.used.has(sock)) return;
    this.used.add(sock);
    sock.once('close', () => this.used.delete(sock));
  }

  /** Connections open now (any protocol, with or without a request). */
  get connections(): number {
    return this.sockets.size;
  }

  /** The base URL (http:// or https://host:port). */
  get url(): string {
    return this.url_;
  }

  static async open(handler: EdgeHandler, o: EdgeListenerOptions): Promise<EdgeListener> {
    let l: EdgeListener;
    if (o.tls) {
      const secure = createSecureHttpServer(o.tls, handler as never, {
        ...(o.onHandshakeFailure ? { onHandshakeFailure: o.onHandshakeFailure } : {}),
        ...(o.streamHit ? { streamFirst: o.streamHit } : {}),
        keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      });
      l = new EdgeListener(secure, secure, true);
    } else {
      // node:http answers what the front hands it (it never listens itself)
      const plain = createServer(
        {
          requestTimeout: 0,
          headersTimeout: o.clientHeadTimeoutMs,
          // node:http checks the head timeout of the connections it was handed on this interval
          connectionsCheckingInterval: Math.min(30_000, o.clientHeadTimeoutMs),
          keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        },
        handler,
      );
      // slow-client protection: a socket that neither reads nor sends for this long is destroyed
      plain.setTimeout(o.clientTimeoutMs);
      answerConnect(plain);
      // a request head the parser refuses: 414 for a long request line, 431 for header fields, 408
      // for a head not complete in time, else 400
      plain.on('clientError', (e: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => {
        const status = parserErrorStatus(e.code, e.rawPacket);
        if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
        else socket.destroy();
      });
      const holder: { l?: EdgeListener } = {};
      const front = createH1Front({
        http: plain,
        clientTimeoutMs: o.clientTimeoutMs,
        keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
        headersTimeoutMs: o.clientHeadTimeoutMs,
        hit: o.frontHit,
        onFirstRequest: (s) => holder.l?.markUsed(s),
      });
      l = holder.l = new EdgeListener(front, plain, false);
    }
    const server = l.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: o.port, host: o.host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // node:http's headers-timeout tracking for the connections handed to it starts on 'listening'
    if (server !== l.http) l.http.emit('listening');
    const addr = server.address();
    if (addr === null || typeof addr === 'string') {
      throw new StreamedgeError('EDGE_LISTEN', 'edge did not get a TCP address');
    }
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    l.url_ = `${l.secure ? 'https' : 'http'}://${h}:${addr.port}`;
    return l;
  }

  /**
   * Stops accepting (in a node:cluster worker the primary then sends new connections to the other
   * workers) and tells HTTP/2 clients (GOAWAY); connections with a request in flight carry on.
   */
  stopAccepting(): void {
    if (!this.server.listening) return;
    // net.Server's close, not http.Server's: that one also drops connections whose first request
    // has not arrived yet (a client that just connected would see a reset instead of an answer)
    NetServer.prototype.close.call(this.server);
    if (this.secure) closeHttp2Sessions(this.server as Http2SecureServer);
  }

  /**
   * Closes HTTP/1.1 connections that served a request and have no answer open now (idle
   * keep-alive); connections still waiting for their first request are left alone.
   */
  closeIdle(): void {
    for (const sock of this.used) if (!socketAnswering(sock)) sock.destroy();
  }

  /** Stops accepting, tells HTTP/2 clients (GOAWAY), drops every connection. */
  async close(): Promise<void> {
    const server = this.server;
    const closed = server.listening ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    // the plain node:http server never listened: its close only stops its connection checks
    if (server !== this.http) this.http.close(() => {});
    if (this.secure) closeHttp2Sessions(server as Http2SecureServer);
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
