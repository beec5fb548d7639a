/**
 * node:http's request/response objects for a connection whose bytes node:http's parser does not
 * read (a front that parses heads itself), and the hand-over of such a connection to node:http.
 * This does per request what node:http's server does (lib/_http_server.js parserOnIncoming and
 * resOnFinish), with the public constructors (`new IncomingMessage(socket)`, `new
 * ServerResponse(req)`, `assignSocket`/`detachSocket`), so handlers see the objects they always do.
 *
 * Node-private fields it relies on (Node 20), each with a fallback when it does not look as
 * expected:
 * - `res._keepAliveTimeout`: the Keep-Alive timeout node:http advertises (without it, responses
 *   carry `connection: keep-alive` without `keep-alive: timeout=…`);
 * - `res._last`: the response ended the connection (`Connection: close` written); fallback: the
 *   response's own Connection field or a request that did not keep alive;
 * - `res._closed`: set with the 'close' node:http emits after 'finish' (so a socket closing later
 *   does not emit a second one);
 * - the response's `kNeedDrain` symbol (found by its description): cleared when the socket
 *   drains, before the response's 'drain', as node:http's socketOnDrain does; without it
 *   'drain' is still emitted while `writableNeedDrain` says so.
 *
 * A hand-over relies on node:http's documented-by-code rule that a socket given a 'data' listener
 * after its 'connection' is read through 'data' events (node:http unconsumes it: its parser would
 * otherwise read the handle directly and skip the bytes given back with `unshift`).
 */
import { IncomingMessage, ServerResponse, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';

/** What a node:http request needs from a parsed head (src/http/h1-request-head.ts RequestHead). */
export interface ExchangeHead {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  close: boolean;
}

interface ResponseInternals {
  _keepAliveTimeout?: number;
  _last?: boolean;
  _closed?: boolean;
  destroyed: boolean;
}

/**
 * An HTTP/1.1 request and its response on `socket`, the response linked to the socket (it is
 * told 'close' when the socket closes). The caller emits them and calls `finishExchange` on the
 * response's 'finish'.
 */
export function nodeExchange(
  socket: Socket,
  head: ExchangeHead,
  keepAliveTimeoutMs: number,
): { req: IncomingMessage; res: ServerResponse } {
  const req = new IncomingMessage(socket);
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  req.method = head.method;
  req.url = head.url;
  req.headers = head.headers;
  req.rawHeaders = head.rawHeaders;
  req.complete = true;
  req.push(null);
  const res = new ServerResponse(req);
  (res as unknown as ResponseInternals)._keepAliveTimeout = keepAliveTimeoutMs;
  res.shouldKeepAlive = !head.close;
  res.assignSocket(socket);
  return { req, res };
}

/**
 * After the response's 'finish': unlinks it from the socket, emits its 'close' on the next tick
 * (as node:http does), and says whether the connection must end (the response said close).
 */
export function finishExchange(req: IncomingMessage, res: ServerResponse, socket: Socket): boolean {
  if (!req.readableEnded) req.resume();
  res.detachSocket(socket);
  process.nextTick(emitClose, res);
  const last = (res as unknown as ResponseInternals)._last;
  if (typeof last === 'boolean') return last;
  const connection = res.getHeader('connection');
  return !res.shouldKeepAlive || (typeof connection === 'string' && /(^|,)\s*close\s*(,|$)/i.test(connection));
}

function emitClose(res: ServerResponse): void {
  const o = res as unknown as ResponseInternals;
  if (o._closed === true) return;
  o.destroyed = true;
  o._closed = true;
  res.emit('close');
}

let kNeedDrain: symbol | null | undefined;

/**
 * The socket drained: tells the response in flight 'drain' when it was waiting for it (what
 * node:http's socketOnDrain does for the response it links to a socket).
 */
export function socketDrained(res: ServerResponse): void {
  if (!res.writableNeedDrain) return;
  if (kNeedDrain === undefined) {
    kNeedDrain = Object.getOwnPropertySymbols(res).find((k) => k.description === 'kNeedDrain') ?? null;
  }
  if (kNeedDrain !== null) (res as unknown as Record<symbol, boolean>)[kNeedDrain] = false;
  res.emit('drain');
}

/** The error a request in flight gets when its client goes away (node:http's). */
export function abortedError(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/**
 * Hands `socket` to node:http's server for the rest of its life, `unconsumed` (bytes received and
 * not parsed yet, from a request boundary) given back first. Call with no response in flight and
 * none of the caller's listeners left on the socket.
 */
export function handToNodeHttp(server: Server, socket: Socket, unconsumed: Buffer | null): void {
  socket.pause();
  if (unconsumed !== null && unconsumed.length > 0) socket.unshift(unconsumed);
  server.emit('connection', socket);
  // a 'data' listener added now makes node:http read through 'data' events, the bytes above first
  socket.on('data', noop);
  socket.removeListener('data', noop);
  socket.resume();
}

function noop(): void {}
