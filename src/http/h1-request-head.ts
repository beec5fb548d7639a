/**
 * A strict parser for a safe subset of HTTP/1.1 request heads (RFC 9112 §2–§5), for a front that
 * answers those requests itself and hands everything else to node:http. It accepts only:
 *
 * - a request line `GET` or `HEAD`, SP, an origin-form target of visible ASCII, SP, `HTTP/1.1`;
 * - CRLF line ends only (a bare CR or LF anywhere is refused);
 * - `name: value` fields: a token name directly followed by the colon (no space before it, no
 *   obs-fold), a value of visible ASCII, SP and HTAB (no obs-text), each name once;
 * - exactly one Host; no Transfer-Encoding, Upgrade or Expect; Content-Length only as `0`; a
 *   Connection list naming no `upgrade` (`close` is reported);
 * - a head (request line to the empty line) of at most MAX_HEAD_BYTES, MAX_HEAD_FIELDS fields.
 *
 * Anything else is 'refused': the caller hands the connection, at this request, to a full parser
 * (node:http's llhttp), which gives it its usual answer. Refusing is always safe; accepting is
 * only ever done for heads node:http parses the same way (same method, target, field values with
 * surrounding whitespace trimmed), so a request never gets a different meaning here. A head not
 * yet complete is 'incomplete' unless what has arrived already falls outside the subset.
 */

/** A head longer than this is refused (node:http's default max header size). */
export const MAX_HEAD_BYTES = 16 * 1024;
/** A head with more fields than this is refused. */
export const MAX_HEAD_FIELDS = 64;

/** An accepted request head. */
export interface RequestHead {
  method: 'GET' | 'HEAD';
  /** The request target as sent (`/path?query`). */
  url: string;
  /** Field values by lowercased name (node:http's shape: `set-cookie` is an array). */
  headers: Record<string, string | string[]>;
  /** Names and values as received, alternating (node:http's `rawHeaders`). */
  rawHeaders: string[];
  /** The request said `Connection: close`. */
  close: boolean;
  /** Bytes of the head, its final empty line included. */
  length: number;
}

export type HeadParse = RequestHead | 'incomplete' | 'refused';

const END = Buffer.from('\r\n\r\n', 'latin1');
const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** A field line: token name, colon, value of visible ASCII, SP, HTAB (a stray CR or LF fails it). */
const FIELD = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\t\x20-\x7e]*)$/;
/** A byte outside the subset, a CR not before LF, or an LF not after CR. */
const OUTSIDE = /[^\t\r\n\x20-\x7e]|\r(?!\n)|(?<!\r)\n/;
const REFUSED_FIELDS = new Set(['transfer-encoding', 'upgrade', 'expect']);

/**
 * Parses the request head starting at `start` in `buf` (bytes received on a connection, the
 * previous requests consumed).
 */
export function parseRequestHead(buf: Buffer, start = 0): HeadParse {
  const end = buf.indexOf(END, start);
  if (end === -1) return incomplete(buf, start);
  const length = end + 4 - start;
  if (length > MAX_HEAD_BYTES) return 'refused';
  // each line is checked whole by its pattern below: a byte outside the subset, or a CR or LF
  // not part of a CRLF (left inside a line by the split), fails it
  const lines = buf.toString('latin1', start, end).split('\r\n');
  if (lines.length - 1 > MAX_HEAD_FIELDS) return 'refused';
  const line = REQUEST_LINE.exec(lines[0]);
  if (line === null) return 'refused';
  const headers: Record<string, string | string[]> = {};
  const rawHeaders: string[] = [];
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const f = FIELD.exec(lines[i]);
    if (f === null) return 'refused';
    const name = lowerName(f[1]);
    // surrounding SP/HTAB trimmed (the value holds no other whitespace trim() would take)
    const value = f[2].trim();
    if (headers[name] !== undefined || REFUSED_FIELDS.has(name)) return 'refused';
    if (name === 'content-length' && value !== '0') return 'refused';
    if (name === 'connection') {
      const c = connectionOptions(value);
      if (c === 'refused') return 'refused';
      close = c;
    }
    headers[name] = name === 'set-cookie' ? [value] : value;
    rawHeaders.push(f[1], value);
  }
  if (headers['host'] === undefined) return 'refused';
  return { method: line[1] as 'GET' | 'HEAD', url: line[2], headers, rawHeaders, close, length };
}

/** A head not complete yet: 'refused' when it is too long or already outside the subset. */
function incomplete(buf: Buffer, start: number): HeadParse {
  const have = buf.length - start;
  if (have > MAX_HEAD_BYTES) return 'refused';
  if (have === 0) return 'incomplete';
  // a trailing CR may be followed by its LF in the next bytes
  const last = buf[buf.length - 1] === 0x0d ? buf.length - 1 : buf.length;
  const part = buf.toString('latin1', start, last);
  if (OUTSIDE.test(part)) return 'refused';
  const eol = part.indexOf('\r\n');
  if (eol !== -1 && !REQUEST_LINE.test(part.slice(0, eol))) return 'refused';
  return 'incomplete';
}

/** Field names as received → lowercased (a few dozen distinct ones in practice; dropped whole when full). */
const lowered = new Map<string, string>();
const LOWERED_MAX = 512;

function lowerName(name: string): string {
  let l = lowered.get(name);
  if (l === undefined) {
    if (lowered.size >= LOWERED_MAX) lowered.clear();
    l = name.toLowerCase();
    lowered.set(name, l);
  }
  return l;
}

/** The Connection options: whether they say close; 'refused' when they name upgrade. */
function connectionOptions(value: string): boolean | 'refused' {
  if (value === 'keep-alive' || value === 'Keep-Alive') return false;
  let close = false;
  for (const raw of value.split(',')) {
    const o = raw.trim().toLowerCase();
    if (o === 'upgrade') return 'refused';
    if (o === 'close') close = true;
  }
  return close;
}
