/**
 * Signed URLs at the edge.
 *
 * Every request (except the admin API and a few unsigned paths) is authorized first: the token
 * (`/t/<token>/…` or `?token=`) is verified against the token-free path and removed, and only
 * the token-free target reaches the cache key and the upstream request, so every viewer shares
 * one cached copy. Failures are 403 with a short reason body (no-store), counted by reason.
 *
 * Tiers trust each other with a shared credential instead of tokens: the edge sends
 * `X-Streamedge-Upstream-Credential` on every upstream/peer request and accepts it from a
 * downstream tier (a peer or an edge below this shield).
 *
 * Query placement: relative URIs lose the query, so manifests must carry the token. The edge
 * rewrites the token-free cached playlist/MPD per request on the way out (`private`, no ETag,
 * new Content-Length); the stored copy stays token-free and shared.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  addTokenToMpd,
  addTokenToPlaylist,
  credentialMatches,
  extractToken,
  forbiddenResponse,
  redactTokens,
  splitUrl,
  type RejectReason,
  type Verifier,
  checkCredential,
  ReloadingKeySource,
  UPSTREAM_CREDENTIAL_HEADER,
  type KeyLog,
} from '../src/signing/index.js';

/** The header tiers use to trust each other (same name in packager/origin/signed-access.ts). */

export interface EdgeSignedAccessOptions {
  verifier: Verifier;
  /** Requests presenting this credential (peers, edges below a shield) need no token. */
  trustedCredential?: string;
  /**
   * Exact paths served without a token (default: /time, the DASH UTCTiming clock, and /steering
   * and /steering/dash, the origin's Steering Manifests: a signed playlist's relative SERVER-URI
   * and an MPD's ContentSteering URL carry no token).
   */
  unsignedPaths?: readonly string[];
}

export type EdgeAuthorization =
  | {
      ok: true;
      /** The token-free request target: cache key and upstream. */
      target: string;
      /** Set for a verified `?token=` request: manifests in the answer must carry it. */
      queryToken?: string;
    }
  | { ok: false; reason: RejectReason; status: 403; headers: Record<string, string>; body: string };

/**
 * The URL for logs: tokens are bearer credentials and never written to a log. Every spelling,
 * accepted or refused, loses its value (src/signing/redact.ts), whether or not this edge verifies.
 */
export function redactToken(url: string | undefined): string | undefined {
  return url === undefined ? undefined : redactTokens(url);
}

export class EdgeSignedAccess {
  readonly #verifier: Verifier;
  #credential: string | undefined;
  readonly #unsigned: ReadonlySet<string>;

  constructor(opts: EdgeSignedAccessOptions) {
    this.#verifier = opts.verifier;
    this.#credential = checkCredential(opts.trustedCredential, 'the upstream credential');
    this.#unsigned = new Set(opts.unsignedPaths ?? ['/time', '/steering', '/steering/dash']);
  }

  /** Replaces the credential accepted from peers and lower tiers (a fleet rotates it through NATS). */
  setTrustedCredential(credential: string | undefined): void {
    this.#credential = checkCredential(credential, 'the upstream credential');
  }

  /** Authorizes one request. Never throws. */
  async authorize(
    rawUrl: string,
    headers: IncomingHttpHeaders,
    clientIp: string | undefined,
  ): Promise<EdgeAuthorization> {
    try {
      const ex = extractToken(rawUrl);
      const target = ex.strippedUrl === '' ? '/' : ex.strippedUrl;
      const path = splitUrl(target).path;
      if (this.#unsigned.has(path)) return { ok: true, target };
      if (this.#credential !== undefined) {
        const h = headers[UPSTREAM_CREDENTIAL_HEADER];
        const presented = Array.isArray(h) ? h[0] : h;
        if (presented !== undefined && credentialMatches(presented, this.#credential)) return { ok: true, target };
      }
      const r = await this.#verifier.verify(ex.token, { path, ...(clientIp !== undefined ? { clientIp } : {}) });
      if (!r.ok) return { ok: false, reason: r.reason, ...forbiddenResponse(r.reason) };
      return ex.placement === 'query' ? { ok: true, target, queryToken: ex.token! } : { ok: true, target };
    } catch {
      return { ok: false, reason: 'malformed', ...forbiddenResponse('malformed') };
    }
  }
}

// ------------------------------------------------------------------ query placement: manifests

type ManifestKind = 'hls' | 'dash';

/** Manifests by path (decides before the answer exists, e.g. to drop conditional headers). */
export function manifestKindOfPath(target: string): ManifestKind | undefined {
  const path = splitUrl(target).path;
  if (/\.m3u8$/i.test(path)) return 'hls';
  if (/\.mpd$/i.test(path)) return 'dash';
  return undefined;
}

/** A header value as text: strings as they are, lists joined, numbers printed, anything else empty. */
function headerText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string').join(', ');
  return '';
}

function manifestKindOfType(contentType: unknown): ManifestKind | undefined {
  const ct = headerText(contentType);
  if (/mpegurl/i.test(ct)) return 'hls';
  if (/dash\+xml/i.test(ct)) return 'dash';
  return undefined;
}

/** `public`/`s-maxage`/`immutable` dropped, `private` added: a shared cache must not keep a per-viewer body. */
export function privateCacheControl(value: unknown): string {
  const kept = headerText(value)
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(public|private|s-maxage=.*|immutable)$/i.test(d));
  return ['private', ...kept].join(', ');
}

function decoded(body: Buffer, encoding: unknown): Buffer | undefined {
  const e = (headerText(encoding) || 'identity').trim().toLowerCase();
  try {
    if (e === '' || e === 'identity') return body;
    if (e === 'gzip' || e === 'x-gzip') return gunzipSync(body);
    if (e === 'br') return brotliDecompressSync(body);
    if (e === 'deflate') return inflateSync(body);
  } catch {
    return undefined;
  }
  return undefined;
}

/** Adds the token to every URI of a manifest body; undefined when it cannot be read. */
export function tokenizeManifest(
  kind: ManifestKind,
  body: Buffer,
  encoding: unknown,
  token: string,
): Buffer | undefined {
  const plain = decoded(body, encoding);
  if (!plain) return undefined;
  const text = plain.toString('utf8');
  return Buffer.from(kind === 'hls' ? addTokenToPlaylist(text, token) : addTokenToMpd(text, token));
}

/**
 * Makes `res` rewrite a 200 manifest answer before it leaves: the head and body the cache code
 * writes are held, the token is added to every URI, then the head (new Content-Length, no
 * ETag, `private`) and body are sent. Any other answer passes through untouched. The cache code
 * is unaware: it writes to `res` as to any client.
 */
export function rewriteManifestOnTheWayOut(res: ServerResponse, token: string, method: string): void {
  // The methods are saved to be put back and are always called with `res` as `this`.
  /* eslint-disable @typescript-eslint/unbound-method */
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
  /* eslint-enable @typescript-eslint/unbound-method */
  const restore = () => {
    res.writeHead = writeHead;
    res.write = write;
    res.end = end;
  };
  let status = 200;
  let headers: OutgoingHttpHeaders = {};
  let kind: ManifestKind | undefined;
  const chunks: Buffer[] = [];

  res.writeHead = function (this: ServerResponse, code: number, ...rest: unknown[]): ServerResponse {
    const h = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as OutgoingHttpHeaders | undefined;
    const k = code === 200 && h && !Array.isArray(h) ? manifestKindOfType(h['content-type']) : undefined;
    if (!k) {
      restore();
      return (writeHead as (...a: unknown[]) => ServerResponse).call(res, code, ...rest);
    }
    const out: OutgoingHttpHeaders = { ...h };
    delete out['etag'];
    out['cache-control'] = privateCacheControl(out['cache-control']);
    if (method === 'HEAD') {
      delete out['content-length'];
      restore();
      return writeHead.call(res, code, out);
    }
    status = code;
    headers = out;
    kind = k;
    return res;
  };

  res.write = function (chunk: unknown, ...rest: unknown[]): boolean {
    if (!kind) return (write as (...a: unknown[]) => boolean).call(res, chunk, ...rest);
    if (chunk !== undefined && chunk !== null)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return true;
  } as ServerResponse['write'];

  res.end = function (...args: unknown[]): ServerResponse {
    if (!kind) return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    const cb = args.find((x) => typeof x === 'function') as (() => void) | undefined;
    if (chunk !== undefined && chunk !== null)
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    restore();
    const original = Buffer.concat(chunks);
    const rewritten = tokenizeManifest(kind, original, headers['content-encoding'], token);
    const body = rewritten ?? original;
    if (rewritten) delete headers['content-encoding'];
    headers['content-length'] = String(body.length);
    (writeHead as (...a: unknown[]) => ServerResponse).call(res, status, headers);
    return (end as (...a: unknown[]) => ServerResponse).call(res, body, ...(cb ? [cb] : []));
  } as ServerResponse['end'];
}

// ------------------------------------------------------------------ keys that follow their files

export { ReloadingKeySource, UPSTREAM_CREDENTIAL_HEADER, type KeyLog };
