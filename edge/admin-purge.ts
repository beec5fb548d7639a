/**
 * The purge endpoints: POST /_edge/purge (JSON body) and the PURGE method, both behind the admin
 * token; applied here, then fanned out to the other peers (edge/purge.ts holds the purge rules).
 */
import type { IncomingMessage } from 'node:http';
import { StreamedgeError } from '../src/errors.js';
import type { EdgeContext } from './context.js';
import { type Exchange, header, sendJson, sendText } from './exchange.js';
import {
  PURGE_HOP_HEADER,
  SOFT_PURGE_HEADER,
  type PurgeSpec,
  adminTokenMatches,
  applyPurge,
  fanOutPurge,
  parsePurgeBody,
  presentedToken,
} from './purge.js';

const MAX_PURGE_BODY = 1024 * 1024;

/** POST /_edge/purge */
export async function purgeEndpoint(ctx: EdgeContext, ex: Exchange): Promise<void> {
  if (ex.method !== 'POST')
    return sendText(ex, 405, 'use POST /_edge/purge with a JSON body', undefined, { allow: 'POST' });
  if (!authorized(ctx, ex)) return;
  let specs: PurgeSpec[];
  try {
    specs = parsePurgeBody(JSON.parse((await readBody(ex.req, MAX_PURGE_BODY)).toString('utf8')));
  } catch (e) {
    const msg = e instanceof StreamedgeError ? e.message : `bad JSON: ${(e as Error).message}`;
    return sendText(ex, 400, `purge: ${msg}`, undefined);
  }
  return runPurge(ctx, ex, specs);
}

/** PURGE <url> */
export async function purgeMethod(ctx: EdgeContext, ex: Exchange, url: string): Promise<void> {
  ex.result = 'admin';
  ex.req.resume();
  if (!authorized(ctx, ex)) return;
  const soft = /^(1|true|yes)$/i.test(header(ex.req, SOFT_PURGE_HEADER) ?? '');
  return runPurge(ctx, ex, [{ kind: 'url', value: url, mode: soft ? 'soft' : 'hard' }]);
}

function authorized(ctx: EdgeContext, ex: Exchange): boolean {
  if (ctx.o.adminToken === undefined) {
    sendText(ex, 403, 'purge disabled: start the edge with --admin-token or STREAMEDGE_ADMIN_TOKEN', undefined);
    return false;
  }
  if (!adminTokenMatches(presentedToken(ex.req.headers), ctx.o.adminToken)) {
    ex.res.setHeader('www-authenticate', 'Bearer realm="streamedge-admin"');
    sendText(ex, 401, 'admin token missing or wrong', undefined);
    return false;
  }
  return true;
}

async function runPurge(ctx: EdgeContext, ex: Exchange, specs: PurgeSpec[]): Promise<void> {
  const store = ctx.openStore;
  ctx.coalescer.forgetRecent();
  let purged = 0;
  for (const s of specs) {
    purged += await applyPurge(s, store, ctx.coalescer.all(), ctx.keyPolicy);
    ctx.metrics.purges.inc({ kind: s.kind, mode: s.mode });
  }
  const forwarded = header(ex.req, PURGE_HOP_HEADER) !== undefined;
  const peers = forwarded ? [] : await fanOutPurge(ctx.router.others(), specs, ctx.o.adminToken, ex.id);
  ctx.logger.info({ reqId: ex.id, specs, purged, peers }, 'purge');
  sendJson(ex, 200, { purged, items: specs, peers });
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        reject(new StreamedgeError('BAD_PURGE', `body larger than ${max} bytes`));
        req.destroy();
        return;
      }
      parts.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(parts)));
    req.once('error', reject);
  });
}
