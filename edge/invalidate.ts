/**
 * Invalidation after an unsafe method (RFC 9111 §4.4): a non-error response to a POST, PUT,
 * DELETE... invalidates the target URI and the same-origin Location and Content-Location URIs,
 * every stored variant of each, and any fill in flight for them.
 */
import { KEY_HEADER_SEPARATOR, cacheKey } from '../src/http/cache-key.js';
import type { EdgeContext } from './context.js';
import { requestTargets } from './request-rules.js';

/** The request target a Location / Content-Location names, when it is on this same origin. */
export function sameOriginTarget(value: string | undefined, requestHost: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let u: URL;
  try {
    u = new URL(value, `http://${requestHost ?? 'edge.invalid'}/`);
  } catch {
    return undefined;
  }
  if (requestHost !== undefined && u.host.toLowerCase() !== requestHost.toLowerCase()) return undefined;
  if (requestHost === undefined && /^[a-z][a-z0-9+.-]*:/i.test(value)) return undefined;
  return `${u.pathname}${u.search}`;
}

/** Drop every stored variant of `target` (and mark fills for it purged). Returns objects dropped. */
export async function invalidateTarget(ctx: EdgeContext, target: string): Promise<number> {
  const t = requestTargets(target, {}, ctx.rules);
  const primary = cacheKey(t.keyTarget, {}, ctx.keyPolicy);
  const variants = primary + KEY_HEADER_SEPARATOR;
  for (const f of ctx.coalescer.all()) if (f.key === primary || f.key.startsWith(variants)) f.purge('hard');
  ctx.coalescer.forgetRecent();
  const store = ctx.openStore;
  let n = (await store.delete(primary).catch(() => false)) ? 1 : 0;
  n += await store.purgePrefix(variants, 'hard').catch(() => 0);
  return n;
}
