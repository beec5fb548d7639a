/**
 * A prepared HTTP/1.1 response head written straight to a ServerResponse's socket, the body in the
 * same writev, instead of `writeHead` serialising (and validating) every field per response.
 *
 * It relies on Node's (v20) OutgoingMessage fields: `_header`/`_headerSent` (set afterwards so
 * nothing writes a second head, and `end()` then finishes the response with no further bytes:
 * keep-alive, pipelined requests and 'finish' carry on as usual), and the keep-alive fields
 * `shouldKeepAlive`, `_defaultKeepAlive`, `_keepAliveTimeout`, `_maxRequestsPerSocket`,
 * `maxRequestsOnConnectionReached`, from which it writes the same Connection/Keep-Alive fields
 * Node would. When they do not look as expected, or the response is not a keep-alive HTTP/1.1
 * GET that is the one its socket is serving with nothing written yet, `rawConnectionFields`
 * says no (undefined) and the caller uses `writeHead` + `end`.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The Node internals a raw write relies on (OutgoingMessage of Node 20). */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  shouldKeepAlive: boolean;
  _defaultKeepAlive: boolean;
  _keepAliveTimeout: number;
  _maxRequestsPerSocket: number | undefined;
  maxRequestsOnConnectionReached: boolean | undefined;
  _removedConnection: boolean;
  req?: { method?: string; httpVersion?: string };
}

/** Node's private link from a socket to the response it is writing. */
type SocketInternals = NonNullable<ServerResponse['socket']> & { _httpMessage?: unknown };

const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const TOKEN = /^[\^_`a-zA-Z\-0-9!#$%&'*+.|~]+$/;

/** What `_header` holds after a raw write: Node only checks that it is set. */
const RAW_SENT = 'raw';

let lastTimeout = -1;
let lastMax = -1;
let lastFields = '';

/**
 * Whether an HTTP/1.1 connection has an answer open: node:http links the socket to the response
 * it is writing from the request's arrival until that response finished (then to the next
 * pipelined one), else null.
 */
export function socketAnswering(socket: SocketInternals): boolean {
  return socket._httpMessage != null;
}

/**
 * The Connection (and Keep-Alive) fields Node would write for `res` ("connection: keep-alive\r\n
 * keep-alive: timeout=5\r\n"), or undefined when `res` cannot take a raw write.
 */
export function rawConnectionFields(res: ServerResponse): string | undefined {
  const o = res as unknown as OutgoingInternals;
  const socket: SocketInternals | null = res.socket;
  if (
    socket === null ||
    socket.destroyed ||
    socket._httpMessage !== res ||
    o._header !== null ||
    o._headerSent !== false ||
    o.shouldKeepAlive !== true ||
    o._removedConnection !== false ||
    o.maxRequestsOnConnectionReached === true ||
    o.req?.method !== 'GET' ||
    o.req.httpVersion !== '1.1'
  ) {
    return undefined;
  }
  const timeout = o._defaultKeepAlive && typeof o._keepAliveTimeout === 'number' ? o._keepAliveTimeout : 0;
  const max = ~~(o._maxRequestsPerSocket ?? 0);
  if (timeout !== lastTimeout || max !== lastMax) {
    lastTimeout = timeout;
    lastMax = max;
    lastFields = keepAliveFields(timeout, max);
  }
  return lastFields;
}

/**
 * The Connection and Keep-Alive fields node:http writes on a keep-alive response of a server with
 * this keep-alive timeout (ms; 0: none) and requests-per-socket limit (0: none).
 */
export function keepAliveFields(timeoutMs: number, max: number): string {
  return (
    'connection: keep-alive\r\n' +
    (timeoutMs > 0 ? `keep-alive: timeout=${Math.floor(timeoutMs / 1000)}${max > 0 ? `, max=${max}` : ''}\r\n` : '')
  );
}

/**
 * The fixed part of a head: status line and the given [name, value, ...] fields, as latin1 bytes;
 * undefined when a name is not a token or a value holds a character `writeHead` would refuse.
 */
export function prepareRawHead(status: number, fields: readonly string[]): Buffer | undefined {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < fields.length; i += 2) {
    if (!TOKEN.test(fields[i]) || INVALID_VALUE.test(fields[i + 1])) return undefined;
    head += `${fields[i]}: ${fields[i + 1]}\r\n`;
  }
  return Buffer.from(head, 'latin1');
}

/**
 * Writes `head` + `tail` (the per-response fields, each ending in CRLF, then the empty line) +
 * `body` in one writev and ends `res`. Only after `rawConnectionFields(res)` said yes (the
 * `tail` carries its answer); `tail` must hold only characters `prepareRawHead` allows.
 */
export function writeRaw(res: ServerResponse, status: number, head: Buffer, tail: string, body: Buffer): void {
  writeRawTo(res.socket!, head, tail, body);
  markRawSent(res, status);
  res.end();
}

/** `head` + `tail` + `body` on `socket` in one writev (no body: a HEAD answer or an empty one). */
export function writeRawTo(socket: Socket, head: Buffer, tail: string, body: Buffer | undefined): void {
  socket.cork();
  socket.write(head);
  socket.write(tail, 'latin1');
  if (body !== undefined && body.length > 0) socket.write(body);
  socket.uncork();
}

/**
 * Marks `res` as having its head on the wire (written raw after `rawConnectionFields(res)` said
 * yes), so nothing writes a second head and `end()` finishes it with no further bytes.
 */
export function markRawSent(res: ServerResponse, status: number): void {
  const o = res as unknown as OutgoingInternals;
  o._header = RAW_SENT; // non-null: the head is sent (its text is not read again)
  o._headerSent = true;
  res.statusCode = status;
}
