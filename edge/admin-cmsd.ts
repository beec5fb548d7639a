/**
 * GET and PUT /_edge/cmsd (admin token): the CMSD-Dynamic cap this edge suggests on every answer
 * (CTA-5006 `mb`), changed while the edge runs: an operator lowers it when a PoP runs hot during
 * an event and lifts it afterwards, without a restart. PUT takes `{"maxBitrateKbps": 3000}` (or
 * "3M", "800k"), or `null` for no cap; both answer `{"maxBitrateKbps": …}`. In a multi-worker edge
 * the worker that took the PUT applies it at once and hands it to the supervisor, which tells the
 * other workers and starts new workers (a respawn, a rolling restart) with it; a restart of the
 * whole edge goes back to `--cmsd-max-bitrate`.
 */
import { StreamedgeError } from '../src/errors.js';
import { parseKbps } from '../src/cli/options.js';
import type { EdgeContext } from './context.js';
import { adminAuthorized } from './admin-auth.js';
import { BodyTooLarge, readBody } from './admin-body.js';
import { type Exchange, sendJson, sendText } from './exchange.js';

const MAX_BODY = 4096;
const FIELD = 'maxBitrateKbps';

/** The cap a PUT body asks for: kbit/s, or undefined for none. Throws BAD_CMSD_CAP with the reason. */
export function parseCmsdCapBody(body: unknown): number | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !(FIELD in body)) {
    throw new StreamedgeError('BAD_CMSD_CAP', `expected {"${FIELD}": <kbit/s, e.g. 3000 or "3M"> or null}`);
  }
  const extra = Object.keys(body).filter((k) => k !== FIELD);
  if (extra.length > 0) throw new StreamedgeError('BAD_CMSD_CAP', `unknown field "${extra[0]}"`);
  const v = (body as Record<string, unknown>)[FIELD];
  if (v === null) return undefined;
  if (typeof v !== 'number' && typeof v !== 'string') {
    throw new StreamedgeError('BAD_CMSD_CAP', `${FIELD} must be kbit/s (a number or "3M", "800k") or null`);
  }
  try {
    return parseKbps(String(v), FIELD);
  } catch (e) {
    throw new StreamedgeError('BAD_CMSD_CAP', (e as Error).message);
  }
}

export async function cmsdCapEndpoint(ctx: EdgeContext, ex: Exchange): Promise<void> {
  if (ex.method !== 'GET' && ex.method !== 'HEAD' && ex.method !== 'PUT') {
    return sendText(ex, 405, 'use GET /_edge/cmsd, or PUT it with {"maxBitrateKbps": …}', undefined, {
      allow: 'GET, HEAD, PUT',
    });
  }
  if (!adminAuthorized(ctx, ex, 'the CMSD cap')) return;
  if (ex.method === 'PUT') {
    let kbps: number | undefined;
    try {
      const text = (await readBody(ex.req, MAX_BODY, 'BAD_CMSD_CAP')).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new StreamedgeError('BAD_CMSD_CAP', `bad JSON: ${(e as Error).message}`);
      }
      kbps = parseCmsdCapBody(body);
    } catch (e) {
      if (e instanceof BodyTooLarge) return sendText(ex, 413, `CMSD cap: ${e.message}`, undefined);
      return sendText(ex, 400, `CMSD cap: ${(e as Error).message}`, undefined);
    }
    ctx.setCmsdMaxBitrate(kbps, 'admin');
  }
  return sendJson(ex, 200, { maxBitrateKbps: ctx.cmsdMaxBitrateKbps ?? null });
}
