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
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import {
  addTokenToMpd,
  addTokenToPlaylist,
  credentialMatches,
  extractToken,
  forbiddenResponse,
  resolveVerificationKeys,
  splitUrl,
  type KeyLookup,
  type KeySource,
  type RejectReason,
  type TokenAlg,
  type VerificationKeyConfig,
  type Verifier,
} from '../src/signing/index.js';
import { StreamedgeError } from '../src/errors.js';

/** The header tiers use to trust each other (same name in packager/origin/signed-access.ts). */
export const UPSTREAM_CREDENTIAL_HEADER = 'x-streamedge-upstream-credential';
export const MIN_CREDENTIAL_LENGTH = 16;

export interface EdgeSignedAccessOptions {
  verifier: Verifier;
  /** Requests presenting this credential (peers, edges below a shield) need no token. */
  trustedCredential?: string;
  /** Exact paths served without a token (default: /time, the DASH UTCTiming clock). */
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

export function checkCredential(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (value.length < MIN_CREDENTIAL_LENGTH) {
    throw new StreamedgeError('BAD_OPTION', `${what} must be at least ${MIN_CREDENTIAL_LENGTH} characters (e.g. \`openssl rand -base64 24\`)`);
  }
  return value;
}

/** The URL for logs: tokens are bearer credentials and never written to a log. */
export function redactToken(url: string | undefined): string | undefined {
  if (url === undefined || (!url.startsWith('/t/') && !url.includes('token'))) return url;
  return extractToken(url).strippedUrl;
}

export class EdgeSignedAccess {
  readonly #verifier: Verifier;
  readonly #credential: string | undefined;
  readonly #unsigned: ReadonlySet<string>;

  constructor(opts: EdgeSignedAccessOptions) {
    this.#verifier = opts.verifier;
    this.#credential = checkCredential(opts.trustedCredential, 'the upstream credential');
    this.#unsigned = new Set(opts.unsignedPaths ?? ['/time']);
  }

  /** Authorizes one request. Never throws. */
  async authorize(rawUrl: string, headers: IncomingHttpHeaders, clientIp: string | undefined): Promise<EdgeAuthorization> {
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

function manifestKindOfType(contentType: unknown): ManifestKind | undefined {
  const ct = String(contentType ?? '');
  if (/mpegurl/i.test(ct)) return 'hls';
  if (/dash\+xml/i.test(ct)) return 'dash';
  return undefined;
}

/** `public`/`s-maxage`/`immutable` dropped, `private` added: a shared cache must not keep a per-viewer body. */
export function privateCacheControl(value: unknown): string {
  const kept = String(value ?? '')
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(public|private|s-maxage=.*|immutable)$/i.test(d));
  return ['private', ...kept].join(', ');
}

function decoded(body: Buffer, encoding: unknown): Buffer | undefined {
  const e = String(encoding ?? 'identity').trim().toLowerCase();
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
export function tokenizeManifest(kind: ManifestKind, body: Buffer, encoding: unknown, token: string): Buffer | undefined {
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
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
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
  } as ServerResponse['writeHead'];

  res.write = function (chunk: unknown, ...rest: unknown[]): boolean {
    if (!kind) return (write as (...a: unknown[]) => boolean).call(res, chunk, ...rest);
    if (chunk !== undefined && chunk !== null) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return true;
  } as ServerResponse['write'];

  res.end = function (...args: unknown[]): ServerResponse {
    if (!kind) return (end as (...a: unknown[]) => ServerResponse).apply(res, args);
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    const cb = args.find((x) => typeof x === 'function') as (() => void) | undefined;
    if (chunk !== undefined && chunk !== null) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
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

/** Where key reloads are reported (a pino logger fits). */
export interface KeyLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * The configured verification keys as one source, re-read when a key file changes (JWKS, PEM or
 * secret file): replace the file to rotate keys without a restart. A file that fails to load
 * keeps the previous keys (logged by file name, never content).
 */
export class ReloadingKeySource implements KeySource {
  #inner: KeySource;
  #base = 0;
  readonly #listeners = new Set<() => void>();
  readonly #files: string[];

  readonly #onChange = (cur: Stats, prev: Stats): void => {
    if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) void this.reload();
  };

  private constructor(
    private readonly cfg: VerificationKeyConfig,
    inner: KeySource,
    private readonly log: KeyLog | undefined,
    intervalMs: number,
  ) {
    this.#inner = inner;
    this.#files = [...(cfg.jwksFiles ?? []), ...(cfg.publicKeyFiles ?? []).map((s) => s.slice(s.indexOf('=') + 1))];
    if (cfg.secretFile !== undefined) this.#files.push(cfg.secretFile);
    for (const f of this.#files) watchFile(f, { interval: intervalMs, persistent: false }, this.#onChange);
  }

  static async open(cfg: VerificationKeyConfig, opts: { log?: KeyLog; intervalMs?: number } = {}): Promise<ReloadingKeySource> {
    return new ReloadingKeySource(cfg, await resolveVerificationKeys(cfg), opts.log, opts.intervalMs ?? 1000);
  }

  get generation(): number {
    return this.#base + this.#inner.generation;
  }
  algorithms(): ReadonlySet<TokenAlg> {
    return this.#inner.algorithms();
  }
  lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    return this.#inner.lookup(alg, kid);
  }
  /** Calls `fn` after every successful reload; returns an unsubscribe function. */
  onReload(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  /** Re-reads every configured key now; true when the new keys are in use. */
  async reload(): Promise<boolean> {
    try {
      const next = await resolveVerificationKeys(this.cfg);
      this.#base = this.generation + 1; // strictly increases: verifiers drop cached results
      this.#inner = next;
      this.log?.info({ files: this.#files }, 'signing keys reloaded');
      for (const fn of this.#listeners) fn();
      return true;
    } catch (e) {
      this.log?.warn({ files: this.#files, msg: (e as Error).message }, 'signing keys not reloaded: keeping the previous keys');
      return false;
    }
  }
  close(): void {
    for (const f of this.#files) unwatchFile(f, this.#onChange);
    this.#listeners.clear();
  }
}
