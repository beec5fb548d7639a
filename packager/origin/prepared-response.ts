/**
 * A whole HTTP response built once and written to many requests: status, header list and body
 * (compressed when the request accepts it). Held requests that wake together (thousands of
 * blocking reloads for the same part) get the same object, so waking N of them writes ONE shared
 * body (and, on HTTP/1.1, one shared head): no fastify reply pipeline, no per-request rendering,
 * compression or header serialisation. The writers live in wake-batch.ts (HTTP/1.1: h1-wake.ts,
 * HTTP/2: h2-wake.ts).
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

export type ContentEncoding = 'br' | 'gzip' | 'identity';

export interface PreparedResponse {
  status: number;
  /** Flat header list [name, value, name, value, ...], content-length included. */
  headers: string[];
  body: Buffer;
  /** HTTP/1.1: status line + headers (+ Date, Connection) + body, built on first raw write. */
  wire?: Buffer;
  /** The connection fields `wire` was built with (Node's, per server keep-alive settings). */
  wireTail?: string;
  /** HTTP/2: the header block as node:http2 takes it, built on first h2 write. */
  h2Headers?: Record<string, string | string[] | number>;
}

/** Header pairs of a fastify reply (CORS, Surrogate-Key, ...), flattened. */
export function headerPairs(headers: Record<string, string | number | string[] | undefined>): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) out.push([k, x]);
    else out.push([k, String(v)]);
  }
  return out;
}

/**
 * Builds a response. `headers` are sent as given (later names do not replace earlier ones, so
 * pass each name once); `content-length` is added.
 */
export function prepareResponse(status: number, headers: [string, string][], body: Buffer): PreparedResponse {
  const flat: string[] = [];
  for (const [k, v] of headers) {
    if (k.toLowerCase() === 'content-length') continue;
    flat.push(k, v);
  }
  flat.push('content-length', String(body.length));
  return { status, headers: flat, body };
}

/** Writes a prepared response to one request through the ServerResponse API (skipped when the client has gone). */
export function writePrepared(res: ServerResponse | Http2ServerResponse, r: PreparedResponse): boolean {
  if (res.headersSent || res.destroyed || res.writableEnded) return false;
  (res as ServerResponse).writeHead(r.status, r.headers);
  res.end(r.body);
  return true;
}

/**
 * The encoding to use for an Accept-Encoding value (RFC 9110 12.5.3): br, then gzip, when
 * listed with a non-zero q (or via `*`); identity otherwise.
 */
export function negotiateEncoding(accept: string | string[] | undefined): ContentEncoding {
  if (!accept) return 'identity';
  const text = Array.isArray(accept) ? accept.join(',') : accept;
  let star: boolean | undefined;
  const q = new Map<string, number>();
  for (const item of text.split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    if (name === '*') star = weight > 0;
    else q.set(name, weight);
  }
  const ok = (enc: string): boolean => {
    const w = q.get(enc);
    return w !== undefined ? w > 0 : star === true;
  };
  if (ok('br')) return 'br';
  if (ok('gzip')) return 'gzip';
  return 'identity';
}

/** Compresses a manifest body (fast brotli settings: built once per playlist version). */
export function encodeBody(body: Buffer, encoding: ContentEncoding): Buffer {
  if (encoding === 'br') {
    return brotliCompressSync(body, {
      params: {
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_QUALITY]: 5,
        [zlib.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    });
  }
  if (encoding === 'gzip') return gzipSync(body, { level: 6 });
  return body;
}
