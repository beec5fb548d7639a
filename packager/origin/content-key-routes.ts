/**
 * Content keys for encrypted assets and channels (`--content-keys <file>`), next to every
 * manifest that names them, behind the same signed-URL check as the media:
 *
 *   GET  /vod/<asset>[/<version>]/keys/<kid hex>    → the raw 16-byte key (HLS KEYFORMAT "identity")
 *   POST /vod/<asset>[/<version>]/keys/clearkey      → a W3C Clear Key license (EME §9.1.4), for
 *        the body {"kids":["<base64url>"],"type":"temporary"} a browser's CDM writes
 *   the same under /live/<channel>/keys/
 *
 * A key is given only for an asset or channel encrypted with it (a published version's
 * `.protection.json`, a channel's configuration): a token for one asset does not open another's.
 * Answers are never cached (`no-store`), so an edge passes them through.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { join } from 'node:path';
import { type ContentKey, kidAsBase64Url, normalizeKid } from '../../src/cenc/content-keys.js';
import { type StreamedgeError } from '../../src/errors.js';
import type { LiveChannel } from '../live/live-channel.js';
import { assetKids } from '../protection-record.js';
import { checkRelativePath } from './safe-path.js';

export interface ContentKeyRoutesOptions {
  /** The keys this origin may hand out (none: every key request is 404 saying so). */
  keys: readonly ContentKey[];
  realRoot: () => string;
  channels: Map<string, LiveChannel>;
}

/** A license request body is a few key ids: anything larger is not one. */
const LICENSE_BODY_LIMIT = 4096;

function keyError(reply: FastifyReply, status: number, message: string): FastifyReply {
  reply.header('cache-control', 'no-store');
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.code(status).send({ error: message });
}

export function registerContentKeyRoutes(app: FastifyInstance, opts: ContentKeyRoutesOptions): void {
  const byKid = new Map(opts.keys.map((k) => [k.kid, k]));

  /** The key ids the asset or channel of this request is encrypted with, or an error already sent. */
  const ownedKids = async (req: FastifyRequest, reply: FastifyReply): Promise<Set<string> | undefined> => {
    const { owner } = req.params as { owner: string };
    const live = req.url.startsWith('/live/');
    const check = checkRelativePath(owner);
    if (!check.ok || check.segments.length !== 1) {
      keyError(reply, 400, 'bad asset name');
      return undefined;
    }
    if (byKid.size === 0) {
      keyError(reply, 404, 'this origin holds no content keys (start it with --content-keys <file>)');
      return undefined;
    }
    if (live) {
      const kid = opts.channels.get(owner)?.protection?.kid;
      return new Set(kid ? [kid] : []);
    }
    return assetKids(join(opts.realRoot(), owner));
  };

  const rawKey = async (req: FastifyRequest, reply: FastifyReply) => {
    const owned = await ownedKids(req, reply);
    if (!owned) return reply;
    const { id } = req.params as { id: string };
    let kid: string;
    try {
      kid = normalizeKid(id);
    } catch (e) {
      return keyError(reply, 400, (e as StreamedgeError).message);
    }
    const key = byKid.get(kid);
    if (!key || !owned.has(kid)) return keyError(reply, 404, `no content key ${kid} for this asset`);
    reply.header('cache-control', 'private, no-store');
    reply.header('content-type', 'application/octet-stream');
    return reply.send(req.method === 'HEAD' ? undefined : key.key);
  };

  const license = async (req: FastifyRequest, reply: FastifyReply) => {
    const owned = await ownedKids(req, reply);
    if (!owned) return reply;
    let kids: string[];
    let type = 'temporary';
    try {
      const body = JSON.parse((req.body as Buffer | undefined)?.toString('utf8') ?? '') as {
        kids?: unknown;
        type?: unknown;
      };
      if (!Array.isArray(body.kids) || body.kids.length === 0 || body.kids.some((k) => typeof k !== 'string'))
        throw new Error('"kids" must be a non-empty list of base64url key ids');
      kids = (body.kids as string[]).map(normalizeKid);
      if (body.type === 'persistent-license') type = 'persistent-license';
    } catch (e) {
      return keyError(reply, 400, `not a Clear Key license request: ${(e as Error).message}`);
    }
    const keys = kids.filter((k) => owned.has(k) && byKid.has(k)).map((k) => byKid.get(k)!);
    if (keys.length === 0) return keyError(reply, 404, `no content key ${kids.join(', ')} for this asset`);
    reply.header('cache-control', 'private, no-store');
    return reply.send({
      keys: keys.map((k) => ({ kty: 'oct', kid: kidAsBase64Url(k.kid), k: k.key.toString('base64url') })),
      type,
    });
  };

  void app.register(async (scope) => {
    // a CDM's license request may come as any content type (or none): read it as bytes
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: LICENSE_BODY_LIMIT }, (_req, body, done) =>
      done(null, body),
    );
    for (const base of ['/vod/:owner/keys', '/vod/:owner/:version/keys', '/live/:owner/keys']) {
      scope.route({ method: ['GET', 'HEAD'], url: `${base}/:id`, handler: rawKey });
      scope.post(`${base}/clearkey`, license);
      // a page on another origin POSTing JSON asks first: this path's preflight allows POST
      scope.route({
        method: 'OPTIONS',
        url: `${base}/clearkey`,
        config: { cors: { methods: ['POST', 'OPTIONS'] } },
        handler: (_req, reply) => reply.code(204).send(),
      });
    }
  });
}
