/**
 * CORS preflights for reads, answered by the edge itself.
 *
 * A player on another origin that sends a header outside the CORS safelist (CMCD as
 * `CMCD-Request`/`CMCD-Session`/... headers, CTA-5004's header mode) makes the browser ask
 * `OPTIONS` first, and the browser's preflight cache is per URL: every segment and part of a
 * stream is a new URL, so every media request costs a preflight. Forwarded, each of them is a
 * request to the shield and the origin that no cache can answer (an OPTIONS response is not
 * cacheable): an LL-HLS viewer in header mode doubled its requests to the origin.
 *
 * The edge answers a preflight for a GET or HEAD at once (204): it allows the method and the
 * headers asked for, for `*`. That opens nothing: what the player may read is still decided by
 * the CORS headers of the actual response, which are the origin's (stored with the object); a
 * preflight only says whether the request may be sent, and a GET through the edge changes
 * nothing anywhere. A preflight for any other method, and an OPTIONS that is not a preflight,
 * go upstream as before. `corsPreflight: 'forward'` (`--cors-preflight forward`) forwards every
 * preflight, for an origin whose preflight answers must be its own.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Methods whose preflight the edge answers: reads, which a cache serves. */
const READS = new Set(['GET', 'HEAD']);

/**
 * The headers of the edge's answer to `headers`' preflight, or undefined when it is not a
 * preflight the edge answers (no Origin, no Access-Control-Request-Method, or a method other
 * than GET/HEAD).
 */
export function preflightAnswer(headers: IncomingHttpHeaders): Record<string, string> | undefined {
  const method = headers['access-control-request-method'];
  if (headers.origin === undefined || typeof method !== 'string' || !READS.has(method.trim())) return undefined;
  const asked = headers['access-control-request-headers'];
  // Access-Control-Request-Headers is a list of field names; echo only what parses as such
  const names =
    typeof asked === 'string'
      ? asked
          .split(',')
          .map((n) => n.trim().toLowerCase())
          .filter((n) => /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n))
      : [];
  return {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    ...(names.length > 0 ? { 'access-control-allow-headers': names.join(', ') } : {}),
    'access-control-max-age': '86400',
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
}
