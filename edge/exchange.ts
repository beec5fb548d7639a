/**
 * One client request/response pair as the edge handles it, and the header plumbing every
 * answer shares (Age, Cache-Status, X-Request-ID).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Writable } from 'node:stream';
import { type CacheStatusEntry, appendCacheStatus } from '../src/http/cache-status.js';
import { ageHeaderValue } from '../src/http/freshness.js';
import type { CmcdLogFields } from '../src/http/cmcd.js';

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /**
   * The HTTP/2 stream under `res`, when answers may go straight to it (sendHead); unset on
   * HTTP/1.1 and when something wraps `res`'s methods (the signed-URL manifest rewrite).
   */
  h2?: ServerHttp2Stream;
  /**
   * HTTP/1.1 with `res` as node:http made it, so a prepared head may be written raw on its socket
   * (src/http/raw-h1.ts); unset on HTTP/2 and when something wraps `res`'s methods.
   */
  rawH1?: boolean;
  id: string;
  method: string;
  /** Cache key, once computed. */
  key?: string;
  /** Short result for logs and metrics: hit, miss, collapsed, stale, pass, error... */
  result: string;
  cacheStatus?: string;
  /** CMCD keys the player sent (for the access log). */
  cmcd?: CmcdLogFields;
  /** Body bytes written. */
  bytes: number;
  startedAt: number;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's X-Request-ID when it is a sane token, else a new one. */
export function requestIdOf(req: Pick<IncomingMessage, 'headers'>): string {
  const presented = req.headers['x-request-id'];
  return typeof presented === 'string' && REQUEST_ID.test(presented) ? presented : randomUUID();
}

export function header(req: Pick<IncomingMessage, 'headers'>, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Sends an answer's head and returns where its body goes. On HTTP/2 that is the stream itself:
 * `respond()` there, then `end(body)`, puts END_STREAM on the body's last DATA frame, where
 * node:http2's compatibility `writeHead` responds waiting for trailers and ends every answer with
 * an empty DATA frame in a write of its own. The fields set on `res` beforehand (the listener's
 * Timing-Allow-Origin, X-Edge-Worker) go with it, and `res.statusCode` says the status for the
 * access log, as through `res`. Elsewhere (HTTP/1.1, a wrapped `res`): `res.writeHead`, and `res`.
 */
export function sendHead(ex: Exchange, status: number, headers: Record<string, string | string[] | number>): Writable {
  const stream = ex.h2;
  if (stream !== undefined && !stream.destroyed && !stream.headersSent) {
    ex.res.statusCode = status;
    const block: Record<string, string | string[] | number> = ex.res.getHeaders() as Record<
      string,
      string | string[] | number
    >;
    Object.assign(block, headers);
    block[':status'] = status;
    if (block['connection'] !== undefined) delete block['connection']; // HTTP/1.1 only (as the compatibility layer drops it)
    stream.respond(block);
    return stream;
  }
  ex.res.writeHead(status, headers);
  return ex.res;
}

/**
 * Breaks off an answer already begun (the fill failed, a stored read broke): HTTP/1.1 closes the
 * connection; HTTP/2 resets the stream with INTERNAL_ERROR. `destroy()` alone would reset it with
 * NO_ERROR, which a client may take for the end of a complete response (RFC 9113 §8.1: a response
 * ends with END_STREAM; this one must read as cut short).
 */
export function breakOff(sink: Writable): void {
  const stream =
    'session' in sink ? (sink as unknown as ServerHttp2Stream) : (sink as { stream?: ServerHttp2Stream }).stream;
  // destroyed with an error: RST_STREAM INTERNAL_ERROR (close(code) ends the writable side first)
  if (stream !== undefined && !stream.destroyed) stream.destroy(new Error('edge: answer broken off'));
  else sink.destroy();
}

/**
 * Sends the head with our Age and Cache-Status member appended (sendHead); returns where the
 * body goes.
 */
export function writeHead(
  ex: Exchange,
  status: number,
  headers: Record<string, string | string[] | number>,
  status_: CacheStatusEntry,
  opts: { age?: number; upstreamCacheStatus?: string | undefined; length?: number | undefined },
): Writable {
  // copied without the fields we set (a copy and deletes would leave a slow dictionary object)
  const out: Record<string, string | string[] | number> = {};
  for (const name in headers) {
    if (name === 'cache-status' || name === 'age' || name === 'content-length' || name === 'transfer-encoding')
      continue;
    out[name] = headers[name];
  }
  if (opts.age !== undefined) out['age'] = ageHeaderValue(opts.age);
  const cs = appendCacheStatus(opts.upstreamCacheStatus, status_);
  out['cache-status'] = cs;
  out['x-request-id'] = ex.id;
  if (opts.length !== undefined) out['content-length'] = String(opts.length);
  ex.cacheStatus = cs;
  return sendHead(ex, status, out);
}

/** A short plain-text answer generated by the edge itself (errors, admin). */
export function sendText(
  ex: Exchange,
  status: number,
  body: string,
  cacheStatus: CacheStatusEntry | undefined,
  extra: Record<string, string> = {},
): void {
  if (ex.res.headersSent) {
    ex.res.destroy();
    return;
  }
  const buf = Buffer.from(body.endsWith('\n') ? body : `${body}\n`);
  const headers: Record<string, string> = {
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    'x-request-id': ex.id,
    'content-length': String(buf.length),
    ...extra,
  };
  if (cacheStatus) {
    headers['cache-status'] = appendCacheStatus(undefined, cacheStatus);
    ex.cacheStatus = headers['cache-status'];
  }
  const sink = sendHead(ex, status, headers);
  ex.bytes += buf.length;
  sink.end(ex.method === 'HEAD' ? undefined : buf);
}

export function sendJson(ex: Exchange, status: number, value: unknown): void {
  const buf = Buffer.from(`${JSON.stringify(value)}\n`);
  const sink = sendHead(ex, status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'x-request-id': ex.id,
    'content-length': String(buf.length),
  });
  ex.bytes += buf.length;
  sink.end(ex.method === 'HEAD' ? undefined : buf);
}
