/**
 * The origin's HTTP signing endpoint, as a framework-free handler: a trusted backend POSTs
 * `{ "path": "/vod/asset1/master.m3u8", "ttl": "2h" }` with `Authorization: Bearer <credential>`
 * and gets `{ "url": "/t/<token>/vod/asset1/master.m3u8", "token", "scope", "expiresAt", "placement" }`.
 *
 * The credential is the endpoint's own (not a signing key, not the admin or purge credential),
 * compared in constant time. Mount it e.g. as
 *   app.post('/_sign', async (req, reply) => { const r = await handleSignRequest(req.body,
 *     req.headers.authorization, opts); reply.code(r.status).headers(r.headers).send(r.body); });
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseDuration } from '../cli/options.js';
import { StreamedgeError } from '../errors.js';
import {
  defaultScopeFor,
  issueToken,
  signedUrl,
  validateScope,
  type IssueTokenOptions,
  type TokenPlacement,
} from './issue.js';
import type { SigningKey } from './keys.js';
import { pathInScope } from './scope-match.js';

export interface SignEndpointOptions {
  /** The bearer credential callers must present (at least 16 characters). */
  adminCredential: string;
  key: SigningKey;
  /** Used when the request gives no ttl (default 3600 s). */
  defaultTtlSec?: number;
  /** Requests asking for longer are refused (default 86 400 s). */
  maxTtlSec?: number;
  /** Prepended to the URL unless the request names its own `base` (default '': a path-only URL). */
  baseUrl?: string;
  /** Default placement (default 'path'). */
  placement?: TokenPlacement;
}

export interface SignEndpointResponse {
  status: 200 | 400 | 401 | 503;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const MIN_CREDENTIAL = 16;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time credential check (hashing first makes the lengths equal). */
export function credentialMatches(presented: string | undefined, expected: string): boolean {
  if (typeof presented !== 'string' || expected.length === 0) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The credential of an `Authorization: Bearer <credential>` field, else undefined. */
export function bearer(authHeader: string | string[] | undefined): string | undefined {
  const h = Array.isArray(authHeader) ? authHeader[0] : authHeader;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

function reply(
  status: SignEndpointResponse['status'],
  body: Record<string, unknown>,
  extra: Record<string, string> = {},
): SignEndpointResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra },
    body,
  };
}

function bad(message: string): SignEndpointResponse {
  return reply(400, { error: 'bad_request', message });
}

function parseBody(body: unknown): Record<string, unknown> | string {
  let v = body;
  if (v instanceof Uint8Array) v = Buffer.from(v).toString('utf8');
  if (typeof v === 'string') {
    if (v.length > 16_384) return 'body too large';
    try {
      v = JSON.parse(v);
    } catch {
      return 'body is not JSON';
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'body must be a JSON object';
  return v as Record<string, unknown>;
}

function optString(b: Record<string, unknown>, name: string): string | undefined | Error {
  const v = b[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > 1024) return new Error(`"${name}" must be a string`);
  return v;
}

function seconds(v: unknown, name: string): number | undefined | Error {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch {
      return new Error(`"${name}" is not a duration (e.g. 3600 or "2h")`);
    }
  }
  return new Error(`"${name}" must be seconds or a duration string`);
}

/** Handles one signing request. Never throws. */
export async function handleSignRequest(
  body: unknown,
  authHeader: string | string[] | undefined,
  opts: SignEndpointOptions,
): Promise<SignEndpointResponse> {
  try {
    if (typeof opts.adminCredential !== 'string' || opts.adminCredential.length < MIN_CREDENTIAL) {
      return reply(503, { error: 'not_configured', message: 'the signing endpoint has no credential configured' });
    }
    if (!credentialMatches(bearer(authHeader), opts.adminCredential)) {
      return reply(401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer realm="streamedge-sign"' });
    }
    const b = parseBody(body);
    if (typeof b === 'string') return bad(b);
    const fields: Record<string, string | undefined> = {};
    for (const name of ['path', 'scope', 'placement', 'viewer', 'session', 'ip', 'base']) {
      const v = optString(b, name);
      if (v instanceof Error) return bad(v.message);
      fields[name] = v;
    }
    const path = fields.path;
    if (path === undefined || !path.startsWith('/')) return bad('"path" is required and must start with /');
    const ttl = seconds(b.ttl, 'ttl');
    if (ttl instanceof Error) return bad(ttl.message);
    const notBefore = seconds(b.notBefore, 'notBefore');
    if (notBefore instanceof Error) return bad(notBefore.message);
    const ttlSec = ttl ?? opts.defaultTtlSec ?? 3600;
    const maxTtl = opts.maxTtlSec ?? 86_400;
    if (ttlSec <= 0 || ttlSec > maxTtl) return bad(`"ttl" must be between 1 and ${maxTtl} seconds`);
    const placement = (fields.placement ?? opts.placement ?? 'path') as TokenPlacement;
    if (placement !== 'path' && placement !== 'query') return bad('"placement" must be "path" or "query"');
    const scope = fields.scope ?? defaultScopeFor(path);
    try {
      validateScope(scope);
    } catch (e) {
      return bad((e as Error).message);
    }
    if (!pathInScope(path, scope)) return bad(`"path" ${path} is outside the scope ${scope}`);
    const now = new Date();
    const issue: IssueTokenOptions = { scope, ttlSec, key: opts.key, now };
    if (notBefore !== undefined) issue.notBeforeSec = notBefore;
    if (fields.viewer !== undefined) issue.viewerId = fields.viewer;
    if (fields.session !== undefined) issue.sessionId = fields.session;
    if (fields.ip !== undefined) issue.clientIp = fields.ip;
    let token: string;
    try {
      token = await issueToken(issue);
    } catch (e) {
      return bad(e instanceof StreamedgeError ? e.message : 'cannot sign this request');
    }
    const url = signedUrl(fields.base ?? opts.baseUrl ?? '', path, token, placement);
    const expiresAt = new Date((Math.floor(now.getTime() / 1000) + Math.ceil(ttlSec)) * 1000).toISOString();
    return reply(200, { url, token, scope, expiresAt, placement });
  } catch {
    return bad('cannot sign this request');
  }
}
