/**
 * The edge: a caching reverse proxy for video (and any HTTP content) on raw node:http, so the
 * edge controls exactly how bytes reach each of many waiting clients.
 *
 *   request → admin (/_edge/*) | PURGE | filter (signing) → cache key →
 *     fresh entry → serve from the store (hit)
 *     stale entry in stale-while-revalidate → serve it, revalidate in the background
 *     otherwise → join the one fill for the key (coalesced) → stream the upstream bytes to every
 *     waiter as they arrive, store when complete; 304 refreshes the entry; errors may serve stale
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream';
import pino, { type Logger } from 'pino';
import { StreamedgeError } from '../src/errors.js';
import { type CacheKeyPolicy, cacheKey, keyHeaderValue, keyTarget } from '../src/http/cache-key.js';
import { type CacheStatusEntry, appendCacheStatus } from '../src/http/cache-status.js';
import { LogStore, type ObjectMeta } from './store/index.js';
import { type EdgeOptions, type ResolvedEdgeOptions, resolveOptions } from './config.js';
import type { EdgeCachePolicy } from './cache-policy.js';
import { viewEntry } from './cache-policy.js';
import { Coalescer } from './coalesce.js';
import { type Exchange, header, sendJson, sendText } from './exchange.js';
import { Fill, type FillHead } from './fill.js';
import { EdgeMetrics } from './metrics.js';
import { healthReport } from './health.js';
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
import { serveFill } from './serve-fill.js';
import { serveStored } from './serve-stored.js';
import { HOP_HEADER, PeerRouter } from './tiering/peers.js';
import { Upstream, type UpstreamResponse, upstreamError } from './upstream.js';
import { Prefetcher } from './prefetch.js';
import {
  type EdgeSignedAccess,
  UPSTREAM_CREDENTIAL_HEADER,
  manifestKindOfPath,
  redactToken,
  rewriteManifestOnTheWayOut,
} from './signed-access.js';
import { REJECT_REASONS } from '../src/signing/verify.js';
import { checkCredential } from '../src/signing/upstream-credential.js';
import { PURGE_FLOOR_HEADER, type FleetLink } from './fleet/fleet-link.js';

/** Edge options plus signed-URL access (edge/signed-access.ts). */
export interface EdgeServerOptions extends EdgeOptions {
  /** Verify signed URLs before anything else; tokens never reach the cache key or upstream. */
  signedAccess?: EdgeSignedAccess;
  /** Sent as X-Streamedge-Upstream-Credential on every upstream and peer request (tier trust). */
  upstreamCredential?: string;
}

export interface Edge {
  /** Start listening; resolves with the base URL (http://host:port). */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
  readonly metrics: EdgeMetrics;
  /** The store (after listen()). */
  readonly store: LogStore | undefined;
  readonly logger: Logger;
  /** Resolves once no fill is in flight (every fill's outcome is settled in the store). */
  whenIdle(): Promise<void>;
  /** Joins a fleet (edge/fleet): purge through it, wait for its replay before serving, health shows it. */
  attachFleet(link: FleetLink): void;
  /** Applies purges to this edge only (the fleet's consumer calls it). */
  applyPurge(specs: PurgeSpec[]): Promise<number>;
  /** Replaces the peers of this PoP (the fleet's live members; `self` is this edge's URL). */
  setPeers(peers: string[], self: string): void;
  /** Replaces the credential sent upstream (the fleet's, when it keeps one). */
  setUpstreamCredential(credential: string | undefined): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_PURGE_BODY = 1024 * 1024;
/** Request headers a bypassed (uncached) request never forwards: hop-by-hop and proxy-identity ones. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-server',
  'x-original-url',
  'x-rewrite-url',
  'x-http-method-override',
  HOP_HEADER,
  PURGE_HOP_HEADER,
]);

/** Conditional and range headers do not apply to a manifest rewritten per viewer. */
const REWRITE_DROPS = ['if-none-match', 'if-modified-since', 'range', 'if-range'];

function isBlockingReload(target: string): boolean {
  return /[?&]_HLS_(msn|part)=/.test(target);
}

class EdgeServer implements Edge {
  readonly o: ResolvedEdgeOptions;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  private server: Server | undefined;
  private storeRef: LogStore | undefined;
  private ownsStore = false;
  private tempDir: string | undefined;
  private readonly upstream: Upstream;
  private readonly coalescer: Coalescer;
  private readonly router: PeerRouter;
  private readonly keyPolicy: CacheKeyPolicy;
  private readonly policy: EdgeCachePolicy;
  private readonly sockets = new Set<Socket>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly prefetcher: Prefetcher;
  private closing = false;
  private upstreamAuth: Record<string, string>;
  private fleet: FleetLink | undefined;

  constructor(private readonly input: EdgeServerOptions) {
    this.o = resolveOptions(input);
    this.logger =
      input.logger ??
      pino({ level: input.logLevel ?? 'info', base: { service: 'streamedge-edge', edge: this.o.name } });
    this.upstream = new Upstream({
      maxConcurrent: this.o.maxUpstreamConcurrent,
      maxQueued: this.o.maxUpstreamQueued,
      connectionsPerOrigin: this.o.connectionsPerOrigin,
      connectTimeoutMs: this.o.connectTimeoutMs,
      headersTimeoutMs: this.o.headersTimeoutMs,
      bodyTimeoutMs: this.o.bodyTimeoutMs,
    });
    this.coalescer = new Coalescer(this.o.maxHeldRequests);
    this.router = new PeerRouter(this.o.peers, this.o.self, this.o.peerRetryMs, this.o.now);
    this.keyPolicy = { queryParams: this.o.keyQueryParams, headers: this.o.keyHeaders };
    this.policy = {
      keyPolicy: this.keyPolicy,
      negativeTtl: this.o.negativeTtl,
      keepForRevalidation: this.o.keepForRevalidation,
    };
    this.metrics = new EdgeMetrics(
      () => this.storeRef,
      () => this.coalescer.size,
    );
    this.prefetcher = new Prefetcher((target, source) => this.prefetch(target, source));
    const credential = checkCredential(input.upstreamCredential, 'the upstream credential');
    this.upstreamAuth = credential !== undefined ? { [UPSTREAM_CREDENTIAL_HEADER]: credential } : {};
    if (input.signedAccess) for (const reason of REJECT_REASONS) this.metrics.signedRejections.inc({ reason }, 0);
  }

  get store(): LogStore | undefined {
    return this.storeRef;
  }

  attachFleet(link: FleetLink): void {
    this.fleet = link;
  }

  async applyPurge(specs: PurgeSpec[]): Promise<number> {
    const store = this.storeRef;
    if (!store) throw new StreamedgeError('EDGE_STATE', 'edge store is not open');
    this.coalescer.forgetRecent();
    let purged = 0;
    for (const s of specs) {
      purged += await applyPurge(s, store, this.coalescer.all(), this.keyPolicy);
      this.metrics.purges.inc({ kind: s.kind, mode: s.mode });
    }
    return purged;
  }

  setPeers(peers: string[], self: string): void {
    this.router.setPeers(peers, self);
  }

  setUpstreamCredential(credential: string | undefined): void {
    const c = checkCredential(credential, 'the upstream credential');
    this.upstreamAuth = c !== undefined ? { [UPSTREAM_CREDENTIAL_HEADER]: c } : {};
  }

  /** Headers every upstream and peer request carries: the tier credential and this edge's purge floor. */
  private tierHeaders(): Record<string, string> {
    const floor = this.fleet?.purgeFloor() ?? 0;
    return floor > 0 ? { ...this.upstreamAuth, [PURGE_FLOOR_HEADER]: String(floor) } : this.upstreamAuth;
  }

  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100 && this.coalescer.size > 0; i++) {
      await Promise.allSettled([...this.coalescer.all()].map((f) => f.stored));
      // a fill leaves the table in a microtask after `stored` settles
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async listen(port = 8080, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new StreamedgeError('EDGE_STATE', 'edge is already listening');
    await this.openStore();
    const server = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => this.internalError(req, res, e));
    });
    // slow-client protection: a socket that neither reads nor sends for this long is destroyed
    server.setTimeout(this.o.clientTimeoutMs);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    server.on('clientError', (_e, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string')
      throw new StreamedgeError('EDGE_LISTEN', 'edge did not get a TCP address');
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const url = `http://${h}:${addr.port}`;
    this.logger.info({ url, upstream: this.o.upstream.href, peers: this.o.peers, self: this.o.self }, 'edge listening');
    return url;
  }

  private async openStore(): Promise<void> {
    const s = this.input.store;
    if (s instanceof LogStore) {
      this.storeRef = s;
      return;
    }
    let dir = s?.dir;
    if (dir === undefined) {
      this.tempDir = mkdtempSync(join(tmpdir(), 'streamedge-edge-'));
      dir = this.tempDir;
    }
    this.storeRef = await LogStore.open({
      dir,
      capacityBytes: s?.capacityBytes ?? 1024 ** 3,
      ...(s?.ramBytes !== undefined ? { ramBytes: s.ramBytes } : {}),
      ...(s?.regionBytes !== undefined ? { regionBytes: s.regionBytes } : {}),
      durability: s?.durability ?? 'flush',
      logger: this.logger,
    });
    this.ownsStore = true;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of this.sockets) s.destroy();
      await closed;
    }
    this.coalescer.cancelAll('edge closing');
    await Promise.allSettled([...this.background]);
    await this.upstream.close();
    if (this.ownsStore) await this.storeRef?.close();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ request entry

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const presented = header(req, 'x-request-id');
    const ex: Exchange = {
      req,
      res,
      id: presented !== undefined && REQUEST_ID.test(presented) ? presented : randomUUID(),
      method: (req.method ?? 'GET').toUpperCase(),
      result: 'unknown',
      bytes: 0,
      startedAt: Date.now(),
    };
    res.once('close', () => this.logDone(ex));
    const url = req.url ?? '/';

    if (url.startsWith('/_edge/') || url === '/_edge') return this.admin(ex, url);
    if (ex.method === 'PURGE') return this.purgeMethod(ex, url);
    if (this.fleet) {
      // never serve what a missed purge covers: wait for the replay (bounded inside the fleet)
      if (!this.fleet.ready) await this.fleet.whenReady();
      // a lower tier that applied purge N asks us to have applied it too before we answer
      const floor = Number(header(req, PURGE_FLOOR_HEADER));
      if (Number.isSafeInteger(floor) && floor > 0 && !(await this.fleet.reachPurgeFloor(floor))) {
        return this.bypass(ex, url, 'request', 'purge-floor-not-reached');
      }
    }

    let target = url;
    if (this.input.signedAccess) {
      const a = await this.input.signedAccess.authorize(url, req.headers, req.socket.remoteAddress);
      if (!a.ok) {
        ex.result = 'rejected';
        this.metrics.signedRejections.inc({ reason: a.reason });
        return sendText(ex, a.status, a.body, undefined, a.headers);
      }
      target = a.target;
      if (
        a.queryToken !== undefined &&
        manifestKindOfPath(target) !== undefined &&
        (ex.method === 'GET' || ex.method === 'HEAD')
      ) {
        for (const h of REWRITE_DROPS) delete req.headers[h];
        rewriteManifestOnTheWayOut(res, a.queryToken, ex.method);
      }
    }
    if (this.input.requestFilter) {
      const verdict = await this.input.requestFilter({
        method: ex.method,
        url: target,
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
      });
      if (verdict && 'reject' in verdict) {
        ex.result = 'rejected';
        return sendText(ex, verdict.reject.status, verdict.reject.body, undefined, verdict.reject.headers ?? {});
      }
      if (verdict && 'url' in verdict) target = verdict.url;
    }
    if (!target.startsWith('/')) {
      ex.result = 'bad-request';
      return sendText(ex, 400, 'request target must be a path (origin-form)', undefined);
    }
    if (ex.method !== 'GET' && ex.method !== 'HEAD') return this.bypass(ex, target, 'method');
    if (req.headers['authorization'] !== undefined) return this.bypass(ex, target, 'request', 'authorization');
    return this.cached(ex, target);
  }

  private logDone(ex: Exchange): void {
    const ms = Date.now() - ex.startedAt;
    this.metrics.requests.inc({ result: ex.result });
    const aborted = !ex.res.writableFinished;
    this.logger.info(
      {
        reqId: ex.id,
        method: ex.method,
        url: this.input.signedAccess ? redactToken(ex.req.url) : ex.req.url,
        status: ex.res.statusCode,
        result: ex.result,
        cacheStatus: ex.cacheStatus,
        bytes: ex.bytes,
        ms,
        ...(aborted ? { aborted: true } : {}),
      },
      'request',
    );
  }

  private internalError(req: IncomingMessage, res: ServerResponse, e: unknown): void {
    this.logger.error({ err: e, url: redactToken(req.url) }, 'edge internal error');
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('edge internal error\n');
    } else res.destroy();
  }

  // ------------------------------------------------------------------ cached GET/HEAD

  private cs(extra: Omit<CacheStatusEntry, 'cache'>): CacheStatusEntry {
    return { cache: this.o.name, ...extra };
  }

  private async cached(ex: Exchange, target: string): Promise<void> {
    const store = this.storeRef!;
    const key = cacheKey(target, ex.req.headers, this.keyPolicy);
    ex.key = key;
    const hopFrom = header(ex.req, HOP_HEADER);
    const fromPeer = this.router.isPeer(hopFrom);

    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await store.head(key);
      const now = this.o.now();
      if (entry) {
        const view = viewEntry(entry.meta, now);
        if (view.state === 'fresh') {
          ex.result = 'hit';
          this.metrics.hits.inc();
          if (await serveStored(ex, store, entry.meta, entry.size, this.cs({ hit: true }), now, this.countBytes)) {
            this.afterServe(ex, keyTarget(key));
            return;
          }
          continue; // evicted meanwhile: look again
        }
        if (view.state === 'stale-while-revalidate') {
          this.revalidateInBackground(ex, key, entry, fromPeer);
          ex.result = 'stale';
          this.metrics.staleServed.inc({ reason: 'stale-while-revalidate' });
          if (
            await serveStored(
              ex,
              store,
              entry.meta,
              entry.size,
              this.cs({ hit: true, detail: 'stale-while-revalidate' }),
              now,
              this.countBytes,
            )
          ) {
            return;
          }
          continue;
        }
      }
      await this.fromFill(ex, key, entry, fromPeer);
      return;
    }
    await this.fromFill(ex, key, undefined, fromPeer);
  }

  private readonly countBytes = (tier: 'ram' | 'disk' | 'upstream', n: number): void => {
    this.metrics.bytesSent.inc({ tier }, n);
  };

  private newFill(
    ex: Exchange | undefined,
    key: string,
    stale: { meta: ObjectMeta; size: number } | undefined,
    fromPeer: boolean,
  ): Fill {
    const target = keyTarget(key);
    const fwdHeaders: Record<string, string> = { 'user-agent': 'streamedge-edge', ...this.tierHeaders() };
    if (ex) {
      fwdHeaders['x-request-id'] = ex.id;
      for (const h of ['traceparent', 'tracestate']) {
        const v = header(ex.req, h);
        if (v !== undefined) fwdHeaders[h] = v;
      }
      // Upstream sees exactly what the key says (e.g. one Accept-Encoding coding), so a stored
      // variant is acceptable to every request that maps to its key.
      for (const h of this.keyPolicy.headers) {
        const v = header(ex.req, h);
        if (v !== undefined || h === 'accept-encoding') fwdHeaders[h] = keyHeaderValue(h, v);
      }
    }
    const blocking = isBlockingReload(target);
    return new Fill({
      key,
      store: this.storeRef!,
      policy: this.policy,
      reqHeaders: {},
      ...(stale ? { stale } : {}),
      storeIt: true,
      retainBytes: this.o.fillRetainBytes,
      storeQueueBytes: 8 * 1024 * 1024,
      now: this.o.now,
      onStoreError: (e) => this.logger.warn({ err: e, key }, 'store put failed'),
      fetch: (conditional, signal) =>
        this.fetchUpstream(key, target, { ...fwdHeaders, ...conditional }, signal, fromPeer, blocking),
    });
  }

  /** Fetch for a fill: from the owning peer if another peer owns the key, else from upstream. */
  private async fetchUpstream(
    key: string,
    target: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    fromPeer: boolean,
    blocking: boolean,
  ): Promise<UpstreamResponse & { viaPeer?: string }> {
    const timeouts = blocking ? { headersTimeoutMs: this.o.blockingHeadersTimeoutMs } : {};
    if (!fromPeer) {
      for (const peer of this.router.candidates(key)) {
        const u = new URL(peer);
        const t0 = performance.now();
        try {
          const res = await this.upstream.request(
            `${u.protocol}//${u.host}`,
            `${u.pathname.replace(/\/$/, '')}${target}`,
            {
              headers: { ...headers, [HOP_HEADER]: this.o.self! },
              signal,
              ...timeouts,
            },
          );
          this.metrics.upstreamLatency.observe({ target: 'peer' }, (performance.now() - t0) / 1000);
          this.metrics.upstreamRequests.inc({ target: 'peer', status: String(res.status) });
          this.router.markAlive(peer);
          return { ...res, viaPeer: peer };
        } catch (e) {
          const err = upstreamError(e, peer);
          this.metrics.upstreamRequests.inc({ target: 'peer', status: err.code });
          if (err.code !== 'UPSTREAM_UNREACHABLE' && err.code !== 'UPSTREAM_TIMEOUT') throw err;
          this.logger.warn({ peer, code: err.code }, 'peer failed: skipping it for a while');
          this.router.markDead(peer);
        }
      }
    }
    const t0 = performance.now();
    try {
      const res = await this.upstream.request(this.o.upstreamOrigin, `${this.o.upstreamPathPrefix}${target}`, {
        headers,
        signal,
        ...timeouts,
      });
      this.metrics.upstreamLatency.observe({ target: 'upstream' }, (performance.now() - t0) / 1000);
      this.metrics.upstreamRequests.inc({ target: 'upstream', status: String(res.status) });
      return res;
    } catch (e) {
      const err = upstreamError(e, this.o.upstreamOrigin);
      this.metrics.upstreamRequests.inc({ target: 'upstream', status: err.code });
      throw err;
    }
  }

  private revalidateInBackground(
    ex: Exchange,
    key: string,
    entry: { meta: ObjectMeta; size: number },
    fromPeer: boolean,
  ): void {
    if (this.coalescer.get(key)) return;
    const { fill } = this.coalescer.join(key, () => this.newFill(ex, key, entry, fromPeer));
    fill.readers--;
    this.track(fill.stored);
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  private async fromFill(
    ex: Exchange,
    key: string,
    stale: { meta: ObjectMeta; size: number } | undefined,
    fromPeer: boolean,
  ): Promise<void> {
    if (!this.coalescer.hold()) {
      ex.result = 'overloaded';
      return sendText(
        ex,
        503,
        'edge busy: too many requests waiting for upstream',
        this.cs({ detail: 'held-requests-cap' }),
        { 'retry-after': '1' },
      );
    }
    this.metrics.held.inc();
    let head: FillHead;
    let fill: Fill;
    let leader: boolean;
    let recent: boolean | undefined;
    try {
      ({ fill, leader, recent } = this.coalescer.join(
        key,
        () => this.newFill(ex, key, stale, fromPeer),
        stale === undefined,
      ));
      if (leader) this.metrics.misses.inc();
      else if (!recent && !fill.isComplete) this.metrics.collapsed.inc();
      head = await fill.head;
    } finally {
      this.coalescer.release();
      this.metrics.held.dec();
    }
    if (ex.res.destroyed) return;
    if (recent || (!leader && fill.isComplete)) {
      // The fill has its whole body (and is stored, or about to be): this is a hit on the cached object.
      const storedNow = recent || (await fill.stored.catch(() => false));
      const entry = storedNow ? await this.storeRef!.head(key) : undefined;
      if (entry) {
        fill.readers--;
        ex.result = 'hit';
        this.metrics.hits.inc();
        if (
          await serveStored(
            ex,
            this.storeRef!,
            entry.meta,
            entry.size,
            this.cs({ hit: true }),
            this.o.now(),
            this.countBytes,
          )
        )
          return;
        fill.readers++;
      }
    }
    const fwd = fill.forward;
    const collapsed = !leader;
    ex.result = collapsed ? 'collapsed' : 'miss';
    const store = this.storeRef!;

    if (head.kind === 'revalidated' || head.kind === 'stale-on-error') {
      const entry = await store.head(key);
      const now = this.o.now();
      if (entry) {
        const status =
          head.kind === 'revalidated'
            ? this.cs({ fwd, fwdStatus: 304, stored: true, ...(collapsed ? { collapsed } : {}) })
            : this.cs({
                fwd: 'stale',
                ...(head.fwdStatus !== undefined ? { fwdStatus: head.fwdStatus } : {}),
                ...(collapsed ? { collapsed } : {}),
                detail: 'stale-if-error',
              });
        if (head.kind === 'stale-on-error') {
          ex.result = 'stale-if-error';
          this.metrics.staleServed.inc({ reason: 'stale-if-error' });
        } else ex.result = collapsed ? 'collapsed' : 'revalidated';
        if (await serveStored(ex, store, entry.meta, entry.size, status, now, this.countBytes)) return;
      }
      ex.result = 'error';
      return sendText(
        ex,
        502,
        'edge: entry vanished during revalidation; retry',
        this.cs({ fwd, detail: 'entry-vanished' }),
      );
    }
    if (head.kind === 'error') {
      ex.result = 'error';
      const status =
        head.error.code === 'UPSTREAM_TIMEOUT' ? 504 : head.error.code === 'UPSTREAM_BUSY' ? 503 : head.status;
      this.logger.warn({ reqId: ex.id, key, code: head.error.code, msg: head.error.message }, 'upstream failed');
      return sendText(
        ex,
        status,
        `edge: ${head.error.message}`,
        this.cs({ fwd, ...(collapsed ? { collapsed } : {}), detail: head.error.code }),
      );
    }
    await serveFill(
      ex,
      fill,
      head,
      store,
      this.cs({ fwd, ...(collapsed ? { collapsed } : {}) }),
      {
        onBytes: this.countBytes,
        onAbort: (reason) => this.metrics.clientAborts.inc({ reason }),
      },
      { stripSetCookie: collapsed },
    );
    if (head.status === 200) this.afterFill(ex, fill, keyTarget(key), head.headers['content-type']);
  }

  // ------------------------------------------------------------------ prefetch hooks

  private afterServe(ex: Exchange, target: string): void {
    if (!this.o.prefetch) return;
    this.prefetcher.onServed(target, ex.req.url ?? target, ex.req.headers);
  }

  private afterFill(ex: Exchange, fill: Fill, target: string, contentType: string | undefined): void {
    if (!this.o.prefetch) return;
    this.prefetcher.onServed(target, ex.req.url ?? target, ex.req.headers);
    if (Prefetcher.isPlaylist(target, contentType)) {
      void fill.finished.then((ok) => {
        const body = ok ? fill.retainedBody() : undefined;
        if (body) this.prefetcher.onPlaylist(target, body.toString('utf8'));
      });
    }
  }

  private async prefetch(target: string, source: string): Promise<void> {
    if (this.closing) return;
    const key = cacheKey(target, {}, this.keyPolicy);
    if (this.coalescer.get(key)) return;
    const entry = await this.storeRef!.head(key);
    if (entry && viewEntry(entry.meta, this.o.now()).state === 'fresh') return;
    if (this.coalescer.get(key)) return;
    this.metrics.prefetches.inc({ source });
    const { fill } = this.coalescer.join(key, () => this.newFill(undefined, key, entry, false));
    fill.readers--;
    this.track(fill.stored);
  }

  // ------------------------------------------------------------------ bypass (uncached)

  private async bypass(ex: Exchange, target: string, reason: 'method' | 'request', detail?: string): Promise<void> {
    ex.result = 'pass';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ex.req.headers)) {
      if (v === undefined || NOT_FORWARDED.has(k)) continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    headers['x-request-id'] = ex.id;
    delete headers[UPSTREAM_CREDENTIAL_HEADER];
    const incomingFloor = Number(headers[PURGE_FLOOR_HEADER] ?? 0);
    Object.assign(headers, this.tierHeaders());
    if (incomingFloor > Number(headers[PURGE_FLOOR_HEADER] ?? 0)) headers[PURGE_FLOOR_HEADER] = String(incomingFloor);
    const hasBody = ex.req.headers['content-length'] !== undefined || ex.req.headers['transfer-encoding'] !== undefined;
    let res: UpstreamResponse;
    try {
      res = await this.upstream.request(this.o.upstreamOrigin, `${this.o.upstreamPathPrefix}${target}`, {
        method: ex.method,
        headers,
        ...(hasBody ? { body: ex.req } : {}),
      });
      this.metrics.upstreamRequests.inc({ target: 'upstream', status: String(res.status) });
    } catch (e) {
      const err = upstreamError(e, this.o.upstreamOrigin);
      ex.result = 'error';
      return sendText(
        ex,
        err.code === 'UPSTREAM_TIMEOUT' ? 504 : 502,
        `edge: ${err.message}`,
        this.cs({ fwd: reason, detail: err.code }),
      );
    }
    // an unsafe method that succeeded invalidates the stored response for the URL (RFC 9111 §4.4)
    if (ex.method !== 'GET' && ex.method !== 'HEAD' && ex.method !== 'OPTIONS' && res.status < 400) {
      await this.storeRef!.delete(cacheKey(target, {}, this.keyPolicy)).catch(() => false);
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (v === undefined || k === 'connection' || k === 'keep-alive' || k === 'transfer-encoding') continue;
      out[k] = v;
    }
    const upstreamCs = typeof out['cache-status'] === 'string' ? out['cache-status'] : undefined;
    out['cache-status'] = appendCacheStatus(upstreamCs, this.cs({ fwd: reason, ...(detail ? { detail } : {}) }));
    out['x-request-id'] = ex.id;
    ex.cacheStatus = out['cache-status'];
    ex.res.writeHead(res.status, out);
    res.body.on('data', (c: Buffer) => {
      ex.bytes += c.length;
    });
    pipeline(res.body, ex.res, (err) => {
      if (err) ex.res.destroy();
    });
  }

  // ------------------------------------------------------------------ admin

  private async admin(ex: Exchange, url: string): Promise<void> {
    ex.result = 'admin';
    const path = url.split('?')[0];
    if (path === '/_edge/health' && (ex.method === 'GET' || ex.method === 'HEAD')) {
      const report = healthReport({
        name: this.o.name,
        upstream: this.o.upstream.href,
        store: this.storeRef?.stats(),
        peers: this.o.peers,
        deadPeers: this.router.deadPeers(),
        fillsInFlight: this.coalescer.size,
        held: this.coalescer.held,
        upstreamActive: this.upstream.active,
        upstreamQueued: this.upstream.queued,
      });
      if (this.fleet) {
        const f = this.fleet.health();
        return sendJson(ex, report.status === 'ok' && f.reasons.length === 0 ? 200 : 503, {
          ...report,
          ...(f.reasons.length > 0 ? { status: 'degraded', reasons: [...report.reasons, ...f.reasons] } : {}),
          peers: this.router.peers,
          fleet: f.report,
        });
      }
      return sendJson(ex, report.status === 'ok' ? 200 : 503, report);
    }
    if (path === '/_edge/metrics' && (ex.method === 'GET' || ex.method === 'HEAD')) {
      const body = Buffer.from(await this.metrics.registry.metrics());
      ex.res.writeHead(200, {
        'content-type': this.metrics.registry.contentType,
        'cache-control': 'no-store',
        'content-length': String(body.length),
        'x-request-id': ex.id,
      });
      ex.bytes += body.length;
      ex.res.end(ex.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/_edge/purge') {
      if (ex.method !== 'POST')
        return sendText(ex, 405, 'use POST /_edge/purge with a JSON body', undefined, { allow: 'POST' });
      if (!this.authorized(ex)) return;
      let specs: PurgeSpec[];
      try {
        specs = parsePurgeBody(JSON.parse((await readBody(ex.req, MAX_PURGE_BODY)).toString('utf8')));
      } catch (e) {
        const msg = e instanceof StreamedgeError ? e.message : `bad JSON: ${(e as Error).message}`;
        return sendText(ex, 400, `purge: ${msg}`, undefined);
      }
      return this.runPurge(ex, specs);
    }
    return sendText(
      ex,
      404,
      'unknown admin endpoint (try /_edge/health, /_edge/metrics, POST /_edge/purge)',
      undefined,
    );
  }

  private authorized(ex: Exchange): boolean {
    if (this.o.adminToken === undefined) {
      sendText(ex, 403, 'purge disabled: start the edge with --admin-token or STREAMEDGE_ADMIN_TOKEN', undefined);
      return false;
    }
    if (!adminTokenMatches(presentedToken(ex.req.headers), this.o.adminToken)) {
      ex.res.setHeader('www-authenticate', 'Bearer realm="streamedge-admin"');
      sendText(ex, 401, 'admin token missing or wrong', undefined);
      return false;
    }
    return true;
  }

  private async purgeMethod(ex: Exchange, url: string): Promise<void> {
    ex.result = 'admin';
    ex.req.resume();
    if (!this.authorized(ex)) return;
    const soft = /^(1|true|yes)$/i.test(header(ex.req, SOFT_PURGE_HEADER) ?? '');
    return this.runPurge(ex, [{ kind: 'url', value: url, mode: soft ? 'soft' : 'hard' }]);
  }

  private async runPurge(ex: Exchange, specs: PurgeSpec[]): Promise<void> {
    if (this.fleet) {
      const r = await this.fleet.purge(specs, ex.id);
      for (const [k, v] of Object.entries(r.headers ?? {})) ex.res.setHeader(k, v);
      return sendJson(ex, r.status, r.body);
    }
    const purged = await this.applyPurge(specs);
    const forwarded = header(ex.req, PURGE_HOP_HEADER) !== undefined;
    const peers = forwarded ? [] : await fanOutPurge(this.router.others(), specs, this.o.adminToken, ex.id);
    this.logger.info({ reqId: ex.id, specs, purged, peers }, 'purge');
    sendJson(ex, 200, { purged, items: specs, peers });
  }
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

/** Create an edge (call listen() to start it). */
export function createEdge(opts: EdgeServerOptions): Edge {
  return new EdgeServer(opts);
}
