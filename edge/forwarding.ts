/**
 * The request headers the edge sends upstream (RFC 9110 §7.6): the client's end-to-end fields,
 * without hop-by-hop fields and those the client's Connection names, without the deny list of
 * fields known to poison shared caches, with Via and Forwarded / X-Forwarded-For added.
 *
 * A fill is shared by every waiter for its key, so it is neutral: the fields that make one
 * requester's answer different from the others' (conditionals, Range, request Cache-Control)
 * are never sent on a fill — the edge answers those from the complete response itself.
 * Accept-Encoding is reduced to the one coding a variant stores (br, gzip or identity).
 * Max-Forwards on OPTIONS and TRACE is decremented (RFC 9110 §7.6.2; bypass.ts answers one
 * that reached 0 itself).
 */
import { CMCD_HEADERS } from '../src/http/cmcd.js';
import { keyHeaderValue, preferredEncoding } from '../src/http/cache-key.js';
import type { EdgeContext } from './context.js';
import type { Exchange } from './exchange.js';
import { PURGE_HOP_HEADER } from './purge.js';
import { UPSTREAM_CREDENTIAL_HEADER } from './signed-access.js';
import { HOP_HEADER } from './tiering/peers.js';
import { HOP_BY_HOP_FIELDS } from '../src/http/hop-by-hop.js';

/** Hop-by-hop fields (RFC 9110 §7.6.1) and the proxy-identity ones this edge recomputes. */
const HOP_BY_HOP = new Set([
  ...HOP_BY_HOP_FIELDS,
  'host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-server',
  HOP_HEADER,
  PURGE_HOP_HEADER,
  UPSTREAM_CREDENTIAL_HEADER,
]);

/** Fields that make one requester's answer differ: never on a fill shared by many waiters. */
const REQUEST_SPECIFIC = new Set([
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'if-range',
  'range',
  'expect',
  'cache-control',
  'pragma',
  'content-length',
]);

/** Methods whose Max-Forwards a proxy honours and decrements (RFC 9110 §7.6.2). */
const MAX_FORWARDS_METHODS = new Set(['OPTIONS', 'TRACE']);

/**
 * The request's Max-Forwards when the method is one it applies to (OPTIONS, TRACE) and the
 * value is valid (1*DIGIT, RFC 9110 §7.6.2); undefined otherwise (the field is then ignored).
 */
export function maxForwards(ex: Pick<Exchange, 'req' | 'method'>): number | undefined {
  if (!MAX_FORWARDS_METHODS.has(ex.method)) return undefined;
  const v = ex.req.headers['max-forwards'];
  const text = Array.isArray(v) ? v.join(',') : v;
  if (text === undefined || !/^\s*\d{1,15}\s*$/.test(text)) return undefined;
  return Number(text.trim());
}

/** `for=` node of a Forwarded element (RFC 7239 §6): IPv6 quoted and bracketed. */
function forwardedFor(addr: string | undefined): string {
  if (addr === undefined) return 'for=unknown';
  const a = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a.includes(':') ? `for="[${a}]"` : `for=${a}`;
}

function join(existing: string | string[] | undefined, add: string): string {
  const e = Array.isArray(existing) ? existing.join(', ') : existing;
  return e !== undefined && e.trim() !== '' ? `${e}, ${add}` : add;
}

/**
 * Headers for an upstream request on behalf of `ex`. `shared`: the request is a fill other
 * waiters will read (neutral); otherwise (bypass, a private conditional fill) the client's
 * request goes as it came.
 */
export function forwardHeaders(ctx: EdgeContext, ex: Exchange, shared: boolean): Record<string, string> {
  const req = ex.req;
  const connectionNamed = new Set(
    String(req.headers['connection'] ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== ''),
  );
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(req.headers)) {
    // HTTP/2 pseudo-headers (:path, :authority, ...) describe the client's hop only
    if (v === undefined || HOP_BY_HOP.has(name) || connectionNamed.has(name) || name.startsWith(':')) continue;
    if (ctx.rules.denyHeaders.includes(name)) continue;
    if (!ctx.rules.forwardCmcd && CMCD_HEADERS.includes(name)) continue;
    if (shared && REQUEST_SPECIFIC.has(name)) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  // Via names the protocol version the request was received with (RFC 9110 §7.6.3)
  out['via'] = join(req.headers['via'], `${req.httpVersionMajor === 2 ? '2' : '1.1'} ${ctx.o.name}`);
  out['forwarded'] = join(req.headers['forwarded'], `${forwardedFor(req.socket.remoteAddress)};proto=${proto}`);
  const ip = req.socket.remoteAddress?.replace(/^::ffff:/, '');
  if (ip !== undefined) out['x-forwarded-for'] = join(req.headers['x-forwarded-for'], ip);
  out['x-request-id'] = ex.id;
  const hops = maxForwards(ex);
  if (hops !== undefined && hops > 0) out['max-forwards'] = String(hops - 1);
  if (shared) {
    out['accept-encoding'] = preferredEncoding(out['accept-encoding'] ?? '');
    for (const h of ctx.keyPolicy.headers) out[h] = keyHeaderValue(h, req.headers[h]);
  }
  Object.assign(out, ctx.upstreamAuth);
  return out;
}

/** Headers of a fill nobody requested (prefetch): what a player would send for the variant. */
export function prefetchHeaders(ctx: EdgeContext, acceptEncoding: string | undefined): Record<string, string> {
  return {
    'user-agent': 'streamedge-edge',
    via: `1.1 ${ctx.o.name}`,
    'accept-encoding': preferredEncoding(acceptEncoding ?? ''),
    ...ctx.upstreamAuth,
  };
}

/**
 * Relay a 103 Early Hints from upstream to the client (RFC 8297), while its final response has
 * not started. Other 1xx are not relayed (100 Continue is the server's own business).
 */
export function earlyHintsRelay(ex: Exchange): (status: number, headers: Record<string, string | string[]>) => void {
  return (status, headers) => {
    if (status !== 103 || ex.res.headersSent || ex.res.destroyed) return;
    const link = headers['link'];
    if (link === undefined) return;
    ex.res.writeEarlyHints({ link: Array.isArray(link) ? link : [link] });
  };
}
