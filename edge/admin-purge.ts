/**
 * The purge endpoints: POST /_edge/purge (JSON body) and the PURGE method, both behind the admin
 * token; applied here, then fanned out to the other peers (edge/purge.ts holds the purge rules).
 */
import { StreamedgeError, asError } from '../src/errors.js';
import { cacheKey } from '../src/http/cache-key.js';
import type { EdgeContext } from './context.js';
import { adminAuthorized } from './admin-auth.js';
import { BodyTooLarge, readBody } from './admin-body.js';
import { requestTargets } from './request-rules.js';
import { redactTokens } from '../src/signing/redact.js';
import { type Exchange, header, sendJson, sendText } from './exchange.js';
import {
  PURGE_HOP_HEADER,
  SOFT_PURGE_HEADER,
  type PurgeSpec,
  type PurgeTarget,
  applyPurge,
  checkPurgeSpecs,
  fanOutPurge,
  parsePurgeBody,
} from './purge.js';

const MAX_PURGE_BODY = 1024 * 1024;

/** POST /_edge/purge */
export async function purgeEndpoint(ctx: EdgeContext, ex: Exchange): Promise<void> {
  if (ex.method !== 'POST')
    return sendText(ex, 405, 'use POST /_edge/purge with a JSON body', undefined, { allow: 'POST' });
  if (!adminAuthorized(ctx, ex, 'purge')) return;
  let specs: PurgeSpec[];
  try {
    specs = parsePurgeBody(JSON.parse((await readBody(ex.req, MAX_PURGE_BODY, 'BAD_PURGE')).toString('utf8')));
  } catch (e) {
    if (e instanceof BodyTooLarge) return sendText(ex, 413, `purge: ${e.message}`, undefined);
    const msg = e instanceof StreamedgeError ? e.message : `bad JSON: ${(e as Error).message}`;
    return sendText(ex, 400, `purge: ${msg}`, undefined);
  }
  return runPurge(ctx, ex, specs);
}

/** PURGE <url> */
export async function purgeMethod(ctx: EdgeContext, ex: Exchange, url: string): Promise<void> {
  ex.result = 'admin';
  ex.req.resume();
  if (!adminAuthorized(ctx, ex, 'purge')) return;
  const soft = /^(1|true|yes)$/i.test(header(ex.req, SOFT_PURGE_HEADER) ?? '');
  return runPurge(ctx, ex, [{ kind: 'url', value: url, mode: soft ? 'soft' : 'hard' }]);
}

/**
 * Applies purges to this edge's store and fills in flight only; returns how many objects they touched.
 * In a worker of a multi-worker edge the store's index lives in the store process and RAM copies in
 * every worker: while the store process is away (restarting) a purge could reach neither, so it
 * throws `STORE_PROCESS` instead of answering as if it had been applied (a purge is idempotent:
 * the caller retries, the fleet's stream redelivers).
 */
export async function applyLocalPurge(ctx: EdgeContext, specs: PurgeSpec[]): Promise<number> {
  const urlKey = (target: string) => cacheKey(requestTargets(target, {}, ctx.rules).keyTarget, {}, ctx.keyPolicy);
  const store = ctx.openStore;
  assertStoreProcess(ctx);
  ctx.coalescer.forgetRecent();
  let purged = 0;
  for (const s of specs) {
    purged += await applyPurge(s, store, ctx.coalescer.all(), urlKey);
    ctx.metrics.purges.inc({ kind: s.kind, mode: s.mode });
  }
  // several workers: each drops its RAM copies and marks its fills in flight before this answers
  if (ctx.cluster) {
    assertStoreProcess(ctx);
    await ctx.cluster.dropAll(specs);
  }
  return purged;
}

function assertStoreProcess(ctx: EdgeContext): void {
  if (ctx.cluster && !ctx.cluster.connected) {
    throw new StreamedgeError(
      'STORE_PROCESS',
      'the store process is restarting: purge not applied (or not on every worker); retry',
    );
  }
}

/**
 * This worker's part of a purge another worker applied to the store (a Drop from the store
 * process): RAM copies through `ram`, fills in flight marked, recently completed fills forgotten.
 */
export async function applyWorkerPurge(ctx: EdgeContext, specs: PurgeSpec[], ram: PurgeTarget): Promise<void> {
  const urlKey = (target: string) => cacheKey(requestTargets(target, {}, ctx.rules).keyTarget, {}, ctx.keyPolicy);
  ctx.coalescer.forgetRecent();
  for (const s of specs) await applyPurge(s, ram, ctx.coalescer.all(), urlKey);
}

async function runPurge(ctx: EdgeContext, ex: Exchange, specs: PurgeSpec[]): Promise<void> {
  // every URL, prefix and tag within the limits before the store sees any of them
  const urlKey = (target: string) => cacheKey(requestTargets(target, {}, ctx.rules).keyTarget, {}, ctx.keyPolicy);
  const limit = checkPurgeSpecs(specs, urlKey);
  if (!limit.ok) return sendText(ex, limit.status, `purge: ${limit.reason}`, undefined);
  if (ctx.fleet) {
    // the fleet's stream reaches every member (this one included) and waits for them
    const r = await ctx.fleet.purge(specs, ex.id);
    for (const [k, v] of Object.entries(r.headers ?? {})) ex.res.setHeader(k, v);
    return sendJson(ex, r.status, r.body);
  }
  let purged: number;
  try {
    purged = await applyLocalPurge(ctx, specs);
  } catch (e) {
    const err = asError(e);
    if (!(err instanceof StreamedgeError) || err.code !== 'STORE_PROCESS') throw err;
    ctx.logger.warn({ reqId: ex.id, err: err.message }, 'purge refused');
    ex.res.setHeader('retry-after', '1');
    return sendText(ex, 503, `purge: ${err.message}`, undefined);
  }
  const forwarded = header(ex.req, PURGE_HOP_HEADER) !== undefined;
  const peers = forwarded ? [] : await fanOutPurge(ctx.router.others(), specs, ctx.o.adminToken, ex.id);
  const logged = specs.map((x) => (x.kind === 'tag' ? x : { ...x, value: redactTokens(x.value) }));
  ctx.logger.info({ reqId: ex.id, specs: logged, purged, peers }, 'purge');
  sendJson(ex, 200, { purged, items: specs, peers });
}
