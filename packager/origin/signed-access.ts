/**
 * Signed URLs at the origin (fastify):
 *
 * - routing: `stripTokenForRouting` (fastify `rewriteUrl`) removes a `/t/<token>/` prefix or a
 *   `token=` parameter (the spellings `src/signing/token-placement.ts` accepts, the same as the
 *   edge's) before the router sees the URL, so every route, log line and metric sees the
 *   token-free path; the token is remembered for the request. A path the router could not decode
 *   (`/vod/a/%ff`) is routed to one internal route that answers 400, so the token is checked first:
 *   an unsigned request gets its 403 before anything parses the rest of the path;
 * - logs: `redactingLogger` makes the request serializer pass every URL through `redactTokens`,
 *   so no spelling of a token (accepted or refused) reaches a log line;
 * - `--require-signed`: an onRequest hook verifies that token against the token-free path and
 *   answers 403 `{"error":"forbidden","reason":...}` (no-store) with a metric
 *   `origin_signed_rejections_total{reason}`; never a 500;
 * - edge↔origin trust: a request carrying `X-Streamedge-Upstream-Credential: <credential>`
 *   (constant-time compare) is an edge's (or shield's) request for a token-free URL it already
 *   authorized, and needs no token;
 * - query placement, players served directly: manifests get the token added to every URI on the
 *   way out (the edge does the same from its cached token-free copy), marked `private`;
 * - `POST /_sign` (behind its own bearer credential) issues signed URLs for a trusted backend.
 *
 * Paths that never need a token: /health, /metrics, /time (DASH UTCTiming is an absolute path a
 * player fetches without the token), /_sign (its own credential).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type {
  FastifyInstance,
  FastifyLoggerOptions,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { AD_BREAK_PREFIX } from './ad-break-routes.js';
import {
  REJECT_REASONS,
  addTokenToMpd,
  addTokenToPlaylist,
  addTokenToThumbnailVtt,
  credentialMatches,
  extractToken,
  forbiddenResponse,
  handleSignRequest,
  redactTokens,
  splitUrl,
  type SignEndpointOptions,
  type TokenPlacement,
  type Verifier,
  ReloadingKeySource,
  UPSTREAM_CREDENTIAL_HEADER,
  type KeyLog,
} from '../../src/signing/index.js';
import { sendError } from './errors-reply.js';
import { THUMBNAIL_INDEX } from '../../src/media/thumbnail-vtt.js';

/** The header an edge adds to every upstream request (same name in edge/signed-access.ts). */
export const SIGN_PATH = '/_sign';
/** Credentials shorter than this are refused at startup. */
const DEFAULT_UNSIGNED = ['/health', '/metrics', '/time', SIGN_PATH];

export interface OriginSignedAccessOptions {
  /** Verify every request's token (`--require-signed`). Without it tokens are stripped, not checked. */
  verifier?: Verifier;
  /** Requests presenting this in X-Streamedge-Upstream-Credential need no token (edges, shields). */
  upstreamCredential?: string;
  /** Mounts `POST /_sign` with these options (its own bearer credential and signing key). */
  sign?: SignEndpointOptions;
  /** Exact paths served without a token (default /health, /metrics, /time, /_sign). */
  unsignedPaths?: readonly string[];
}

interface RequestToken {
  /** The token-free path the request was made for (what the token's scope is checked against). */
  path: string;
  token?: string;
  placement?: TokenPlacement;
  /** Set once the verifier accepted it (only then is it written into manifests). */
  verified?: boolean;
}

const tokens = new WeakMap<IncomingMessage, RequestToken>();

/** Where `stripTokenForRouting` sends a path that does not percent-decode (the route answers 400). */
const MALFORMED_PATH_ROUTE = '/_malformed-path';

function decodes(path: string): boolean {
  if (!path.includes('%')) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * fastify `rewriteUrl`: the URL without its token (path prefix or query parameter); the token
 * and the token-free path are kept for the verification hook. A path that does not decode goes to
 * the internal 400 route, after the token check.
 */
export function stripTokenForRouting(req: IncomingMessage): string {
  const ex = extractToken(req.url ?? '/');
  const url = ex.strippedUrl === '' ? '/' : ex.strippedUrl;
  const path = splitUrl(url).path;
  const info: RequestToken = { path };
  if (ex.token !== undefined) {
    info.token = ex.token;
    info.placement = ex.placement!;
  }
  tokens.set(req, info);
  return decodes(path) ? url : MALFORMED_PATH_ROUTE;
}

/**
 * fastify logger options whose request serializer redacts tokens from the URL (`false` stays
 * off). Other serializers and options are kept.
 */
export function redactingLogger(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === false) return false;
  const base: FastifyLoggerOptions = logger === true || logger === undefined ? {} : logger;
  const own = base.serializers?.req;
  return {
    ...base,
    serializers: {
      ...base.serializers,
      req(req: FastifyRequest) {
        const out = own ? (own(req) as Record<string, unknown>) : defaultRequestFields(req);
        return { ...out, url: redactTokens(String(req.originalUrl ?? req.url)) };
      },
    },
  };
}

function defaultRequestFields(req: FastifyRequest): Record<string, unknown> {
  return {
    method: req.method,
    url: req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

type ManifestKind = 'hls' | 'dash' | 'thumbnail-index';

function manifestKind(contentType: string, path: string): ManifestKind | undefined {
  if (/mpegurl/i.test(contentType) || /\.m3u8$/i.test(path)) return 'hls';
  if (/dash\+xml/i.test(contentType) || /\.mpd$/i.test(path)) return 'dash';
  if (path.endsWith(`/${THUMBNAIL_INDEX}`)) return 'thumbnail-index';
  return undefined;
}

async function payloadText(payload: unknown): Promise<string | undefined> {
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  if (payload && typeof (payload as Readable).pipe === 'function') {
    const parts: Buffer[] = [];
    for await (const c of payload as Readable) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
    return Buffer.concat(parts).toString('utf8');
  }
  return undefined;
}

/** A shared cache must never keep a per-viewer body: `public`/`s-maxage` become `private`. */
export function privateCacheControl(value: string | undefined): string {
  const kept = (value ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(public|private|s-maxage=.*|immutable)$/i.test(d));
  return ['private', ...kept].join(', ');
}

/**
 * Registers the routing-independent parts: verification hook, manifest rewrite, `/_sign`.
 * Call after CORS (so a 403 still carries CORS headers) and before compression (so manifests
 * are rewritten before they are compressed). The `rewriteUrl` half is `stripTokenForRouting`.
 */
export function registerSignedAccess(app: FastifyInstance, opts: OriginSignedAccessOptions, registry: Registry): void {
  const unsigned = new Set(opts.unsignedPaths ?? DEFAULT_UNSIGNED);
  const rejections = new Counter({
    name: 'origin_signed_rejections_total',
    help: 'Requests refused for a missing or invalid signed-URL token, by reason',
    labelNames: ['reason'],
    registers: [registry],
  });
  const signRequests = new Counter({
    name: 'origin_sign_requests_total',
    help: 'POST /_sign requests by status',
    labelNames: ['status'],
    registers: [registry],
  });
  if (opts.verifier) for (const r of REJECT_REASONS) rejections.inc({ reason: r }, 0);
  const verifier = opts.verifier;
  const credential = opts.upstreamCredential;

  if (verifier) {
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.method === 'OPTIONS') return;
      const info = tokens.get(req.raw);
      const path = info?.path ?? splitUrl(req.url).path;
      // the ad-break API has its own bearer credential
      if (unsigned.has(path) || path.startsWith(AD_BREAK_PREFIX)) return;
      if (credential !== undefined) {
        const presented = headerValue(req.headers[UPSTREAM_CREDENTIAL_HEADER]);
        if (presented !== undefined && credentialMatches(presented, credential)) return;
      }
      const r = await verifier.verify(info?.token, { path, clientIp: req.ip });
      if (r.ok) {
        if (info) info.verified = true;
        return;
      }
      rejections.inc({ reason: r.reason });
      req.log.info({ reason: r.reason }, 'signed URL refused');
      const f = forbiddenResponse(r.reason);
      return reply.code(403).headers(f.headers).send(f.body);
    });

    app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const info = tokens.get(req.raw);
      if (!info?.verified || info.token === undefined || info.placement !== 'query' || reply.statusCode !== 200)
        return payload;
      const kind = manifestKind(String(reply.getHeader('content-type') ?? ''), splitUrl(req.url).path);
      if (!kind) return payload;
      reply.removeHeader('etag'); // the bytes differ per token: the token-free validator does not describe them
      reply.header('cache-control', privateCacheControl(reply.getHeader('cache-control') as string | undefined));
      if (req.method === 'HEAD') {
        reply.removeHeader('content-length');
        return payload;
      }
      const text = await payloadText(payload);
      if (text === undefined) return payload;
      const out =
        kind === 'hls'
          ? addTokenToPlaylist(text, info.token)
          : kind === 'dash'
            ? addTokenToMpd(text, info.token)
            : addTokenToThumbnailVtt(text, info.token);
      reply.header('content-length', Buffer.byteLength(out));
      return out;
    });
  }

  app.all(MALFORMED_PATH_ROUTE, async (_req, reply) => sendError(reply, 400, 'malformed percent-encoding in the path'));

  if (opts.sign) {
    const signOpts = opts.sign;
    app.post(SIGN_PATH, async (req, reply) => {
      const r = await handleSignRequest(req.body, req.headers.authorization, signOpts);
      signRequests.inc({ status: String(r.status) });
      return reply.code(r.status).headers(r.headers).send(r.body);
    });
  }
}

export { ReloadingKeySource, UPSTREAM_CREDENTIAL_HEADER, type KeyLog };
