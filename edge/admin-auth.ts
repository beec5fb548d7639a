/**
 * The admin token check of the endpoints that need it (purge, restart, the CMCD sessions, the CMSD cap): 403
 * with how to enable them when the edge has no admin token, 401 with a Bearer challenge when the
 * request's token is missing or wrong. Answers the request itself when it refuses.
 */
import type { EdgeContext } from './context.js';
import { type Exchange, sendText } from './exchange.js';
import { adminTokenMatches, presentedToken } from './purge.js';

/** True when the request carries the edge's admin token; otherwise answers 403 or 401 and returns false. */
export function adminAuthorized(ctx: EdgeContext, ex: Exchange, what: string): boolean {
  if (ctx.o.adminToken === undefined) {
    sendText(ex, 403, `${what} disabled: start the edge with --admin-token or STREAMEDGE_ADMIN_TOKEN`, undefined);
    return false;
  }
  if (!adminTokenMatches(presentedToken(ex.req.headers), ctx.o.adminToken)) {
    ex.res.setHeader('www-authenticate', 'Bearer realm="streamedge-admin"');
    sendText(ex, 401, 'admin token missing or wrong', undefined);
    return false;
  }
  return true;
}
