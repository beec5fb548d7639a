/**
 * Edge options: everything configurable, with defaults in one place.
 */
import type { Logger } from 'pino';
import type { LogStore } from './store/index.js';
import { type EdgeRules, type EdgeRulesInput, parseRules } from './request-rules.js';
import { StreamedgeError } from '../src/errors.js';

/** A hook run before caching logic (e.g. signed-URL verification): reject, or rewrite the target. */
export type RequestFilter = (req: {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string | undefined;
}) =>
  | undefined
  | { reject: { status: number; body: string; headers?: Record<string, string> } }
  | { url: string }
  | Promise<
      undefined | { reject: { status: number; body: string; headers?: Record<string, string> } } | { url: string }
    >;

export interface EdgeOptions {
  /**
   * Origin or shield base URL (http://host:port, optionally with a path prefix), or several
   * (a comma-separated list or an array): primary first, then backups (edge/upstream-set.ts).
   */
  upstream: string | string[];
  /** With backups: longest wait for an ordinary request's response head before failing over (default 3 s). */
  upstreamTimeoutMs?: number;
  /** With backups: first back-off before a failed upstream is tried again (default 1 s, doubling to 30 s). */
  upstreamRetryMs?: number;
  /**
   * A store to use (not closed by the edge), or where to open one; without a dir (or a store), a
   * temp dir removed on close.
   */
  store?:
    | LogStore
    | {
        dir?: string;
        capacityBytes?: number;
        ramBytes?: number;
        regionBytes?: number;
        /** Default 'flush': a cache may lose its last writes on power loss, never their integrity. */
        durability?: 'fsync' | 'flush';
      };
  /** Name in Cache-Status (an sf-token). */
  name?: string;
  /** Peer edges of this PoP (base URLs), including this one (`self`) or not. */
  peers?: string[];
  /** This edge's own base URL as the peers know it (required with peers). */
  self?: string;
  /** Admin token for purge; default from STREAMEDGE_ADMIN_TOKEN. Without one, purge is disabled. */
  adminToken?: string;
  /** Query, CMCD and forwarding rules (the `--config` file; edge/request-rules.ts). */
  rules?: EdgeRulesInput | EdgeRules;
  /**
   * Request headers (lowercase) always part of the primary key, whatever the response's Vary
   * says (default none: variants follow Vary, edge/variants.ts).
   */
  keyHeaders?: string[];
  /** Seconds a 404/410 without freshness info is cached (default 5; 0 disables). */
  negativeTtl?: number;
  /** Seconds an expired entry with validators is kept for revalidation (default 3600). */
  keepForRevalidation?: number;
  /** Upstream limits. */
  maxUpstreamConcurrent?: number;
  maxUpstreamQueued?: number;
  connectionsPerOrigin?: number;
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  /** Header timeout for LL-HLS blocking-reload requests (the origin holds them). */
  blockingHeadersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Most requests parked waiting for an upstream response head at once (beyond: 503). */
  maxHeldRequests?: number;
  /** A fill keeps at most this many bytes for readers; slower readers finish from the store. */
  fillRetainBytes?: number;
  /** Client socket inactivity limit (slow-client protection). */
  clientTimeoutMs?: number;
  /** Longest a client may take to send a request head once begun (plain HTTP/1.1): then 408. */
  clientHeadTimeoutMs?: number;
  /** How long a peer that failed is skipped. */
  peerRetryMs?: number;
  /** Prefetch the next segment/part (from the last playlist seen, or CMCD `nor`). */
  prefetch?: boolean;
  /**
   * CORS preflights for GET/HEAD: answered by the edge (default 'edge'; edge/cors-preflight.ts)
   * or forwarded upstream like any OPTIONS ('forward').
   */
  corsPreflight?: 'edge' | 'forward';
  /** pino logger, or a level for a new one writing JSON to stdout. */
  logger?: Logger;
  logLevel?: string;
  /** Signed-URL verification or any other per-request gate (issue 6 plugs in here). */
  requestFilter?: RequestFilter;
  now?: () => number;
}

export interface ResolvedEdgeOptions {
  /** The primary upstream. */
  upstream: URL;
  /** Every upstream (base URLs), primary first. */
  upstreams: string[];
  upstreamTimeoutMs: number;
  upstreamRetryMs: number;
  upstreamOrigin: string;
  upstreamPathPrefix: string;
  name: string;
  peers: string[];
  self: string | undefined;
  adminToken: string | undefined;
  rules: EdgeRules;
  keyHeaders: string[];
  negativeTtl: number;
  keepForRevalidation: number;
  maxUpstreamConcurrent: number;
  maxUpstreamQueued: number;
  connectionsPerOrigin: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  blockingHeadersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxHeldRequests: number;
  fillRetainBytes: number;
  clientTimeoutMs: number;
  clientHeadTimeoutMs: number;
  peerRetryMs: number;
  prefetch: boolean;
  corsPreflight: 'edge' | 'forward';
  now: () => number;
}

/** Base URL without a trailing slash. */
export function baseUrl(text: string, what: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new StreamedgeError('BAD_OPTION', `${what} is not a URL: "${text}" (use e.g. http://127.0.0.1:8081)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new StreamedgeError('BAD_OPTION', `${what} must be http:// or https:// (got "${text}")`);
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export function resolveOptions(o: EdgeOptions): ResolvedEdgeOptions {
  const list = (Array.isArray(o.upstream) ? o.upstream : o.upstream.split(',')).map((t) => t.trim());
  if (list.length === 0 || list.some((t) => t === '')) {
    throw new StreamedgeError('BAD_OPTION', `--upstream "${String(o.upstream)}": expected <url>[,<url>...]`);
  }
  const upstreams = list.map((t) => baseUrl(t, '--upstream'));
  if (new Set(upstreams).size !== upstreams.length) {
    throw new StreamedgeError('BAD_OPTION', `--upstream "${String(o.upstream)}" names the same upstream twice`);
  }
  const upstream = new URL(upstreams[0]);
  const peers = (o.peers ?? []).map((p) => baseUrl(p, '--peers entry'));
  const self = o.self !== undefined ? baseUrl(o.self, '--self') : undefined;
  if (peers.length > 0 && self === undefined) {
    throw new StreamedgeError('BAD_OPTION', "--peers needs --self (this edge's own URL as the peers know it)");
  }
  if (self !== undefined && peers.length > 0 && !peers.includes(self)) peers.push(self);
  const name = o.name ?? 'streamedge';
  if (!/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+\-.^_`|~]*$/.test(name)) {
    throw new StreamedgeError('BAD_OPTION', `cache name "${name}" must be a token (letters, digits, -._~ ...)`);
  }
  const token = o.adminToken ?? process.env['STREAMEDGE_ADMIN_TOKEN'];
  const upstreamTimeoutMs = o.upstreamTimeoutMs ?? 3_000;
  if (!(upstreamTimeoutMs > 0)) throw new StreamedgeError('BAD_OPTION', '--upstream-timeout must be positive');
  return {
    upstream,
    upstreams,
    upstreamTimeoutMs,
    upstreamRetryMs: o.upstreamRetryMs ?? 1_000,
    upstreamOrigin: `${upstream.protocol}//${upstream.host}`,
    upstreamPathPrefix: upstream.pathname === '/' ? '' : upstream.pathname,
    name,
    peers: [...new Set(peers)],
    self,
    adminToken: token !== undefined && token !== '' ? token : undefined,
    rules: isRules(o.rules) ? o.rules : parseRules(o.rules),
    keyHeaders: (o.keyHeaders ?? []).map((h) => h.toLowerCase()),
    negativeTtl: o.negativeTtl ?? 5,
    keepForRevalidation: o.keepForRevalidation ?? 3600,
    maxUpstreamConcurrent: o.maxUpstreamConcurrent ?? 256,
    maxUpstreamQueued: o.maxUpstreamQueued ?? 4096,
    connectionsPerOrigin: o.connectionsPerOrigin ?? 128,
    connectTimeoutMs: o.connectTimeoutMs ?? 3_000,
    headersTimeoutMs: o.headersTimeoutMs ?? 10_000,
    blockingHeadersTimeoutMs: o.blockingHeadersTimeoutMs ?? 30_000,
    bodyTimeoutMs: o.bodyTimeoutMs ?? 15_000,
    maxHeldRequests: o.maxHeldRequests ?? 20_000,
    fillRetainBytes: o.fillRetainBytes ?? 64 * 1024 * 1024,
    clientTimeoutMs: o.clientTimeoutMs ?? 60_000,
    clientHeadTimeoutMs: o.clientHeadTimeoutMs ?? 30_000,
    peerRetryMs: o.peerRetryMs ?? 10_000,
    prefetch: o.prefetch ?? false,
    corsPreflight: corsPreflightOf(o.corsPreflight),
    now: o.now ?? Date.now,
  };
}

function corsPreflightOf(v: string | undefined): 'edge' | 'forward' {
  if (v === undefined || v === 'edge' || v === 'forward') return v ?? 'edge';
  throw new StreamedgeError('BAD_OPTION', `--cors-preflight must be edge or forward (got "${v}")`);
}

function isRules(r: EdgeRulesInput | EdgeRules | undefined): r is EdgeRules {
  return r !== undefined && r.mediaPathPattern instanceof RegExp;
}
