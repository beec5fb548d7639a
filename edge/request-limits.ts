/**
 * The edge's request limits, checked before anything touches the store (README "Limits"):
 *
 * - a request-target longer than MAX_TARGET_BYTES is refused with 414 (URI Too Long, RFC 9110
 *   §15.5.15), whatever the method, admin endpoints included;
 * - a request-target that is not origin-form syntax (a `%` not followed by two hex digits, a raw
 *   space or control character, anything but a path and query) is refused with 400;
 * - a cache key (the normalized URL plus its variant part) longer than MAX_KEY_BYTES, the store's
 *   own key limit, is refused with 414: such a key could be neither stored nor looked up;
 * - the same limits apply to every URL and prefix in a purge, and a surrogate key longer than
 *   MAX_TAG_BYTES is refused with 400;
 * - a request head the HTTP parser itself refuses (over Node's 16 KiB header limit) gets 414 when
 *   its request line alone is over MAX_TARGET_BYTES, 431 when the header fields are, else 400.
 *
 * Pure functions: the server answers with the verdict's status and reason. The key and tag
 * limits are the store's own (edge/store/record-format.ts), so what passes here can be stored.
 */
import { MAX_KEY_BYTES, MAX_TAG_BYTES } from './store/record-format.js';

/** Longest request-target accepted (bytes, as received). */
export const MAX_TARGET_BYTES = 8 * 1024;

export type LimitVerdict = { ok: true } | { ok: false; status: 400 | 414; reason: string };

const OK: LimitVerdict = { ok: true };
/** A `%` not followed by two hex digits. */
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
/** Characters that never appear raw in a request-target: controls, space, DEL (RFC 9112 §3.2). */
const NOT_IN_TARGET = /[\u0000-\u0020\u007f]/;

function tooLong(what: string, bytes: number, max: number): LimitVerdict {
  return { ok: false, status: 414, reason: `${what} is ${bytes} bytes; the edge accepts at most ${max}` };
}

/** A request-target as the client sent it (`/path?query`). */
export function checkTarget(target: string): LimitVerdict {
  const bytes = Buffer.byteLength(target, 'utf8');
  if (bytes > MAX_TARGET_BYTES) return tooLong('the request target', bytes, MAX_TARGET_BYTES);
  if (NOT_IN_TARGET.test(target))
    return { ok: false, status: 400, reason: 'the request target has a character a URL may not carry raw' };
  if (BAD_ESCAPE.test(target))
    return { ok: false, status: 400, reason: 'the request target has a malformed percent-escape' };
  return OK;
}

/** A cache key about to be looked up, stored or purged. */
export function checkKey(key: string): LimitVerdict {
  const bytes = Buffer.byteLength(key, 'utf8');
  return bytes > MAX_KEY_BYTES ? tooLong('the cache key for this URL', bytes, MAX_KEY_BYTES) : OK;
}

/** A surrogate key named in a purge. */
export function checkTag(tag: string): LimitVerdict {
  const bytes = Buffer.byteLength(tag, 'utf8');
  return bytes > MAX_TAG_BYTES
    ? { ok: false, status: 400, reason: `a surrogate key is ${bytes} bytes; the store keeps at most ${MAX_TAG_BYTES}` }
    : OK;
}

/**
 * The answer to a request the HTTP parser refused (node:http `clientError`): its code and what
 * it had read of the request (`rawPacket`).
 */
export function parserErrorStatus(code: string | undefined, rawPacket: Buffer | undefined): 400 | 408 | 414 | 431 {
  // the head did not arrive within the client head timeout (RFC 9110 §15.5.9), as node:http answers it
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (code !== 'HPE_HEADER_OVERFLOW') return 400;
  const head = rawPacket ?? Buffer.alloc(0);
  const eol = head.indexOf('\r\n');
  const requestLine = eol >= 0 ? eol : head.length;
  return requestLine > MAX_TARGET_BYTES ? 414 : 431;
}
