/**
 * A whole HTTP response built once and written to many requests: status, header list and body
 * (compressed when the request accepts it). Held requests that wake together (thousands of
 * blocking reloads for the same part) get the same object, so waking N of them is N socket
 * writes of ONE shared Buffer (status line + headers + body): no fastify reply pipeline, no
 * per-request rendering, compression or header serialisation.
 *
 * `WakeBatch` writes those bytes straight to each request's socket when that is safe (HTTP/1.1
 * keep-alive, GET, the response is the one the socket is serving, nothing sent yet), and then,
 * after the whole batch is on the wire, completes each ServerResponse (marks its head as sent and
 * ends it with no further bytes) so Node's keep-alive handling, pipelined requests and the
 * framework's onResponse accounting carry on as usual. That step uses Node's (v20) OutgoingMessage
 * fields `_header`/`_headerSent`; when they do not look as expected, or the request is not a
 * plain keep-alive GET, the response goes through `writeHead` + `end` instead (same bytes but the
 * head is serialised per request).
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

export type ContentEncoding = 'br' | 'gzip' | 'identity';

export interface PreparedResponse {
  status: number;
  /** Flat header list [name, value, name, value, ...], content-length included. */
  headers: string[];
  body: Buffer;
  /** Status line + headers (+ Date, Connection) + body, built on first raw write. */
  wire?: Buffer;
  head?: string;
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
export function writePrepared(res: ServerResponse, r: PreparedResponse): boolean {
  if (res.headersSent || res.destroyed || res.writableEnded) return false;
  res.writeHead(r.status, r.headers);
  res.end(r.body);
  return true;
}

/** The Node internals a raw write relies on (OutgoingMessage of Node 20). */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  shouldKeepAlive: boolean;
  req?: { method?: string; httpVersion?: string };
}

function wireOf(r: PreparedResponse, date: string): Buffer {
  if (!r.wire) {
    let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n`;
    for (let i = 0; i < r.headers.length; i += 2) head += `${r.headers[i]}: ${r.headers[i + 1]}\r\n`;
    head += `date: ${date}\r\nconnection: keep-alive\r\n\r\n`;
    r.head = head;
    r.wire = Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
  }
  return r.wire;
}

/** Writes prepared responses to many requests at once (see the file comment). */
/** Node's private link from a socket to the response it is writing. */
type SocketInternals = NonNullable<ServerResponse['socket']> & { _httpMessage?: unknown };

export class WakeBatch {
  private readonly raw: { res: ServerResponse; r: PreparedResponse }[] = [];
  private readonly date = new Date().toUTCString();

  /** Sends `r` to `res`; false when the client has gone. */
  write(res: ServerResponse, r: PreparedResponse): boolean {
    if (res.headersSent || res.destroyed || res.writableEnded) return false;
    const o = res as unknown as OutgoingInternals;
    const socket: SocketInternals | null = res.socket;
    if (
      socket &&
      !socket.destroyed &&
      socket._httpMessage === res &&
      o._header === null &&
      o._headerSent === false &&
      o.shouldKeepAlive === true &&
      o.req?.method === 'GET' &&
      o.req.httpVersion === '1.1'
    ) {
      socket.write(wireOf(r, this.date));
      // Sent: nothing may write a second head for this response before finish().
      o._header = r.head!;
      o._headerSent = true;
      res.statusCode = r.status;
      this.raw.push({ res, r });
      return true;
    }
    return writePrepared(res, r);
  }

  /** Ends every raw-written response (no more bytes): Node's keep-alive and 'finish' bookkeeping. */
  finish(): void {
    for (const { res } of this.raw) {
      try {
        if (!res.writableEnded) res.end();
      } catch {
        /* the connection went away meanwhile */
      }
    }
    this.raw.length = 0;
  }

  get pending(): number {
    return this.raw.length;
  }
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
