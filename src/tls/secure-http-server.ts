/**
 * One HTTPS port that speaks HTTP/2 and HTTP/1.1 (ALPN), for the origin and the edge alike: a
 * node:http2 secure server with `allowHTTP1`, the documented limits (secure-server-options.ts),
 * an idle timeout per HTTP/2 session, its certificate kept current by a ReloadingTls, and every
 * failed TLS handshake counted (never logged with the peer's bytes).
 */
import {
  createSecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { ReloadingTls } from './reloading-tls.js';
import { HTTP2_LIMITS, secureServerOptions, type Http2Limits } from './secure-server-options.js';
import { answerConnect } from '../http/request-framing.js';

/** A request on the secure port: HTTP/2 (compat API) or HTTP/1.1 after ALPN fallback. */
export type SecureRequest = Http2ServerRequest | IncomingMessage;
export type SecureResponse = Http2ServerResponse | ServerResponse;
export type SecureHandler = (req: SecureRequest, res: SecureResponse) => void;

export interface SecureHttpServerOptions {
  limits?: Http2Limits;
  /** A TLS handshake failed (bad client, wrong protocol, no shared cipher, rejected certificate). */
  onHandshakeFailure?: (code: string) => void;
  /** HTTP/1.1 keep-alive timeout on the same port (ms, default 72 s, as fastify). */
  keepAliveTimeoutMs?: number;
  /** Offered every HTTP/2 stream before the handler (see interceptStreams). */
  streamFirst?: StreamFirst;
}

/**
 * Offered an HTTP/2 stream and its request headers (pseudo-headers included) before node:http2's
 * compatibility layer makes request and response objects for it: true when it answered the stream
 * itself (the handler never sees it), false, having written nothing, to hand it on.
 */
export type StreamFirst = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => boolean;

export function createSecureHttpServer(
  tls: ReloadingTls,
  handler: SecureHandler,
  opts: SecureHttpServerOptions = {},
): Http2SecureServer {
  const limits = opts.limits ?? HTTP2_LIMITS;
  const server = createSecureServer(secureServerOptions(tls.material, limits), handler as never);
  tls.attach(server);
  answerConnect(server);
  if (opts.streamFirst) interceptStreams(server, opts.streamFirst);
  const sessions = new Set<ServerHttp2Session>();
  SESSIONS.set(server, sessions);
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    session.setTimeout(limits.idleTimeoutMs, () => session.close());
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    opts.onHandshakeFailure?.(err.code ?? 'TLS_ERROR');
    socket.destroy();
  });
  // HTTP/1.1 connections on this port follow http.Server's timeouts.
  const h1 = server as unknown as { keepAliveTimeout?: number };
  h1.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 72_000;
  return server;
}

const SESSIONS = new WeakMap<Http2SecureServer, Set<ServerHttp2Session>>();

/**
 * Puts `first` ahead of the compatibility layer. A node:http2 server given a request handler
 * listens to its own 'stream' event with one bound `onServerStream` (Node 20), which makes an
 * Http2ServerRequest and Http2ServerResponse per stream (two stream objects and their listeners)
 * and emits 'request': about a fifth of the cost of a small answer (a constant 1 KiB answered on
 * the stream: 1.22x the requests per second of the same answer through 'request'). That
 * listener is taken off and called only for the streams `first` leaves. Should a Node version
 * listen otherwise (not exactly one such listener), nothing changes and every stream goes through
 * the compatibility layer as before; `streamsIntercepted` says which.
 */
function interceptStreams(server: Http2SecureServer, first: StreamFirst): void {
  const listeners = server.listeners('stream');
  if (listeners.length !== 1 || !listeners[0].name.includes('onServerStream')) return;
  const compat = listeners[0] as (...args: unknown[]) => void;
  server.removeListener('stream', compat);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
    if (!first(stream, headers)) compat.call(server, stream, headers, ...rest);
  });
  INTERCEPTED.add(server);
}

const INTERCEPTED = new WeakSet<Http2SecureServer>();

/** Whether `server`'s HTTP/2 streams are offered to its `streamFirst` (false: this Node listens otherwise). */
export function streamsIntercepted(server: Http2SecureServer): boolean {
  return INTERCEPTED.has(server);
}

/**
 * Sends GOAWAY on every HTTP/2 session of `server` (streams in flight finish, idle sessions close
 * at once), so `server.close()` does not wait for clients that keep idle connections open.
 */
export function closeHttp2Sessions(server: Http2SecureServer): void {
  for (const s of SESSIONS.get(server) ?? []) if (!s.closed && !s.destroyed) s.close();
}

/**
 * "h2" or "h1" for a request on any listener: by the object (node:http2's compatibility request
 * carries its stream), not by the version a plain-text request line may claim (`HTTP/2.0`).
 */
export function protocolOf(req: { httpVersionMajor: number }): 'h2' | 'h1' {
  return (req as { stream?: unknown }).stream !== undefined ? 'h2' : 'h1';
}
