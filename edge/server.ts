/**
 * The edge: a caching reverse proxy for video (and any HTTP content) on raw node:http, so the
 * edge controls exactly how bytes reach each of many waiting clients.
 *
 * This file holds the lifecycle (store, sockets, close) and the dispatch of each request:
 *
 *   request → admin (/_edge/*, edge/admin.ts) | PURGE (edge/admin-purge.ts) | filter (signing) →
 *     GET/HEAD → the lookup state machine (edge/lookup.ts; fills from edge/fill-source.ts)
 *     other methods, credentials → the bypass proxy (edge/bypass.ts)
 *
 * A request target in absolute-form (`http://host/path`, RFC 9112 §3.2.2) is accepted: its host
 * replaces Host, and the edge goes on with its path and query. `OPTIONS *` is answered here
 * about the edge itself (RFC 9110 §9.3.7), nothing forwarded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { stdoutLog } from '../src/logging/log-destination.js';
import { StreamedgeError } from '../src/errors.js';
import type { CacheKeyPolicy } from '../src/http/cache-key.js';
import type { CacheStatusEntry } from '../src/http/cache-status.js';
import { type EdgeStore, LogStore, ReadOnlyStore, type StoreStats } from './store/index.js';
import { type EdgeOptions, type ResolvedEdgeOptions, resolveOptions } from './config.js';
import type { EdgeCachePolicy } from './cache-policy.js';
import { Coalescer } from './coalesce.js';
import type { EdgeContext } from './context.js';
import { type Exchange, header, requestIdOf, sendText, writeHead } from './exchange.js';
import { preflightAnswer } from './cors-preflight.js';
import { EdgeMetrics } from './metrics.js';
import { handleAdmin } from './admin.js';
import { purgeMethod } from './admin-purge.js';
import { answerAsFinalRecipient, bypass } from './bypass.js';
import { Lookup } from './lookup.js';
import { HitPath } from './hit-path.js';
import { PreparedAnswers } from './prepared-answers.js';
import { checkTarget } from './request-limits.js';
import { EdgeListener } from './listener.js';
import type { ReloadingTls } from '../src/tls/reloading-tls.js';
import { protocolOf } from '../src/tls/secure-http-server.js';
import type { EdgeRules } from './request-rules.js';
import { PeerRouter } from './tiering/peers.js';
import { Upstream } from './upstream.js';
import { UpstreamSet } from './upstream-set.js';
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
import { adminTokenMatches, type PurgeSpec } from './purge.js';
import { applyLocalPurge, applyWorkerPurge } from './admin-purge.js';
import { StoreClient } from './cluster/store-client.js';
import { framingRefusal, type FramingRefusal } from '../src/http/request-framing.js';
import { CMSD_DYNAMIC, formatCmsdDynamicEntry } from '../src/http/cmsd.js';
import { WorkerStore, ramDropTarget } from './cluster/worker-store.js';

/** Edge options plus signed-URL access (edge/signed-access.ts). */
export interface EdgeServerOptions extends EdgeOptions {
  /** Verify signed URLs before anything else; tokens never reach the cache key or upstream. */
  signedAccess?: EdgeSignedAccess;
  /** Sent as X-Streamedge-Upstream-Credential on every upstream and peer request (tier trust). */
  upstreamCredential?: string;
  /**
   * HTTPS with HTTP/2 and HTTP/1.1 on the listen port (edge/listener.ts); `listenPlain` adds a
   * plain-HTTP port beside it. Everything (caching, coalescing, held reloads, purge, metrics)
   * behaves the same on every listener.
   */
  tls?: ReloadingTls;
  /**
   * `Timing-Allow-Origin` on every answer (default `*`), so players on other origins can read
   * protocol and timings from Resource Timing; '' sends none.
   */
  timingAllowOrigin?: string;
  /**
   * `CMSD-Dynamic: "<name>";mb=<kbps>` on every answer (CTA-5006): the highest bitrate this edge
   * suggests players play (an operator's cap for a busy event). Absent: no CMSD-Dynamic.
   */
  cmsdMaxBitrateKbps?: number;
  /** PEM CA an https upstream (and https peers) must chain to; default: the system store. */
  upstreamCa?: string | Buffer;
  /** HTTP/2 to https upstreams that offer it (default true). */
  upstreamHttp2?: boolean;
  /**
   * Run as one worker of a multi-worker edge (edge/cluster): the store in `store.dir` is opened
   * read-only (hits never leave this process), fills and writes go through the store process on
   * `socketPath`, and every answer carries `x-edge-worker: <index>`.
   */
  worker?: {
    index: number;
    socketPath: string;
    requestRollingRestart?: () => void;
    /** Hands a CMSD cap set here (PUT /_edge/cmsd) to the supervisor, for the other workers. */
    shareCmsdCap?: (kbps: number | undefined) => void;
  };
}

export interface Edge {
  /** Start listening; resolves with the base URL (http://host:port, https:// with TLS). */
  listen(port?: number, host?: string): Promise<string>;
  /** With TLS: plain HTTP beside the HTTPS port (after listen()); resolves with its base URL. */
  listenPlain(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
  /**
   * Graceful stop: stop accepting, let requests in flight and fills finish (at most `timeoutMs`),
   * then close. New connections go to the other workers meanwhile.
   */
  drain(timeoutMs?: number): Promise<void>;
  readonly metrics: EdgeMetrics;
  /** The store (after listen()). */
  readonly store: LogStore | undefined;
  readonly logger: Logger;
  /** Resolves once no fill is in flight (every fill's outcome is settled in the store). */
  whenIdle(): Promise<void>;
  /** Joins a fleet (edge/fleet): purge through it, wait for its replay before serving, health shows it. */
  attachFleet(link: FleetLink): void;
  /** Applies purges to this edge only (the fleet's purge consumer calls it). */
  applyPurge(specs: PurgeSpec[]): Promise<number>;
  /** Changes the CMSD cap of every answer from the next one on (see EdgeContext). */
  setCmsdMaxBitrate(kbps: number | undefined, from: 'admin' | 'supervisor'): void;
  /** Replaces the peers of this PoP (the fleet's live members; `self` is this edge's URL). */
  setPeers(peers: string[], self: string): void;
  /** Replaces the credential sent upstream (the fleet's, when it keeps one). */
  setUpstreamCredential(credential: string | undefined): void;
  /**
   * Objects in the store (after listen()); in a worker, as the store process last reported them,
   * undefined while it is not connected.
   */
  storeObjects(): number | undefined;
}

/** Conditional and range headers do not apply to a manifest rewritten per viewer. */
const REWRITE_DROPS = ['if-none-match', 'if-modified-since', 'range', 'if-range'];

class EdgeServer implements Edge, EdgeContext {
  readonly o: ResolvedEdgeOptions;
  readonly logger: Logger;
  readonly metrics: EdgeMetrics;
  private readonly listeners: EdgeListener[] = [];
  private storeRef: LogStore | undefined;
  private ownsStore = false;
  private workerStore: WorkerStore | undefined;
  private workerLocal: ReadOnlyStore | undefined;
  cluster: StoreClient | undefined;
  private inFlight = 0;
  private draining = false;
  private tempDir: string | undefined;
  readonly upstream: Upstream;
  readonly upstreams: UpstreamSet;
  /** Headers every answer carries (listenerHeaders): on the hit path's prepared blocks and set on every other answer. */
  private readonly everyAnswer: [string, string][];
  private cmsdCapKbps: number | undefined;
  readonly coalescer: Coalescer;
  readonly router: PeerRouter;
  readonly keyPolicy: CacheKeyPolicy;
  readonly rules: EdgeRules;
  readonly policy: EdgeCachePolicy;
  private readonly background = new Set<Promise<unknown>>();
  private readonly lookup: Lookup;
  /** Fresh RAM-tier hits in one write (edge/hit-path.ts); undefined when signing or a filter must see every request. */
  private readonly hitPath: HitPath | undefined;
  /** Header blocks prepared per RAM-tier entry (the hit path's, and the full lookup's HTTP/2 answers). */
  readonly answers: PreparedAnswers;
  closing = false;
  private credentialAuth: Record<string, string>;
  fleet: FleetLink | undefined;

  constructor(private readonly input: EdgeServerOptions) {
    this.o = resolveOptions(input);
    this.logger =
      input.logger ??
      pino(
        {
          level: input.logLevel ?? 'info',
          base: {
            service: 'streamedge-edge',
            edge: this.o.name,
            ...(input.worker ? { worker: input.worker.index, pid: process.pid } : {}),
          },
        },
        stdoutLog(),
      );
    this.upstream = newUpstream(this.o, input);
    this.coalescer = new Coalescer(this.o.maxHeldRequests);
    this.router = new PeerRouter(this.o.peers, this.o.self, this.o.peerRetryMs, this.o.now);
    this.keyPolicy = { queryParams: 'all', headers: this.o.keyHeaders };
    this.rules = this.o.rules;
    this.policy = {
      keyPolicy: this.keyPolicy,
      negativeTtl: this.o.negativeTtl,
      keepForRevalidation: this.o.keepForRevalidation,
    };
    this.metrics = new EdgeMetrics(
      () => this.storeStats(),
      () => this.coalescer.size,
      false,
      this.o.now,
      input.worker !== undefined,
    );
    this.upstreams = newUpstreamSet(this.o, this.upstream, this.metrics, this.logger);
    if (input.worker) this.metrics.markProcess('worker', input.worker.index);
    this.lookup = new Lookup(this);
    this.cmsdCapKbps = input.cmsdMaxBitrateKbps;
    this.everyAnswer = listenerHeaders(input, this.o.name, this.cmsdCapKbps);
    this.answers = new PreparedAnswers(this.o.name, this.everyAnswer);
    this.hitPath =
      input.signedAccess || input.requestFilter
        ? undefined
        : new HitPath(this, this.answers, this.o.prefetch ? this.lookup.noteServed : undefined);
    const credential = checkCredential(input.upstreamCredential, 'the upstream credential');
    this.credentialAuth = credential !== undefined ? { [UPSTREAM_CREDENTIAL_HEADER]: credential } : {};
    if (input.signedAccess) for (const reason of REJECT_REASONS) this.metrics.signedRejections.inc({ reason }, 0);
  }

  get store(): LogStore | undefined {
    return this.storeRef;
  }

  /** Headers every upstream and peer request carries: the tier credential and this edge's purge floor. */
  get upstreamAuth(): Readonly<Record<string, string>> {
    const floor = this.fleet?.purgeFloor() ?? 0;
    return floor > 0 ? { ...this.credentialAuth, [PURGE_FLOOR_HEADER]: String(floor) } : this.credentialAuth;
  }

  /** With a tier credential configured, only requests carrying it speak for a tier (purge floor). */
  private fromTrustedTier(req: IncomingMessage): boolean {
    const mine = this.credentialAuth[UPSTREAM_CREDENTIAL_HEADER];
    return mine === undefined || adminTokenMatches(header(req, UPSTREAM_CREDENTIAL_HEADER), mine);
  }

  attachFleet(link: FleetLink): void {
    this.fleet = link;
  }

  applyPurge(specs: PurgeSpec[]): Promise<number> {
    return applyLocalPurge(this, specs);
  }

  setPeers(peers: string[], self: string): void {
    this.router.setPeers(peers, self);
  }

  setUpstreamCredential(credential: string | undefined): void {
    const c = checkCredential(credential, 'the upstream credential');
    this.credentialAuth = c !== undefined ? { [UPSTREAM_CREDENTIAL_HEADER]: c } : {};
  }

  storeObjects(): number | undefined {
    if (this.workerStore) return this.cluster?.stats?.objects;
    return this.storeRef?.stats().objects;
  }

  get cmsdMaxBitrateKbps(): number | undefined {
    return this.cmsdCapKbps;
  }

  /**
   * The CMSD cap from the next answer on (hits included: their prepared heads are rebuilt). Set
   * by the admin (PUT /_edge/cmsd), a worker also hands it to the supervisor, which tells the
   * other workers (`from: 'supervisor'`) and starts new workers with it.
   */
  setCmsdMaxBitrate(kbps: number | undefined, from: 'admin' | 'supervisor'): void {
    const was = this.cmsdCapKbps;
    this.cmsdCapKbps = kbps;
    this.everyAnswer.splice(0, this.everyAnswer.length, ...listenerHeaders(this.input, this.o.name, kbps));
    this.answers.forget();
    if (from === 'admin') this.input.worker?.shareCmsdCap?.(kbps);
    this.logger.info(
      { cmsdMaxBitrateKbps: kbps ?? null, was: was ?? null, from },
      kbps === undefined ? 'CMSD cap removed' : `CMSD cap set to ${kbps} kbit/s`,
    );
  }

  get requestRollingRestart(): (() => void) | undefined {
    return this.input.worker?.requestRollingRestart;
  }

  get openStore(): EdgeStore {
    const s = this.workerStore ?? this.storeRef;
    if (!s) throw new StreamedgeError('EDGE_STATE', 'edge store is not open (call listen() first)');
    return s;
  }

  /**
   * The store gauges of this process. A worker reports its own RAM tier and reads only: the
   * objects, bytes, capacity and admission of the shared store come from the store process, so
   * that /_edge/metrics sums them once.
   */
  private storeStats(): StoreStats | undefined {
    if (!this.workerStore) return this.storeRef?.stats();
    return { ...this.workerStore.stats(), objects: 0, bytes: 0, capacity: 0, admitting: false };
  }

  cs(extra: Omit<CacheStatusEntry, 'cache'>): CacheStatusEntry {
    return { cache: this.o.name, ...extra };
  }

  track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  async whenIdle(): Promise<void> {
    for (let i = 0; i < 100 && this.coalescer.size > 0; i++) {
      await Promise.allSettled([...this.coalescer.all()].map((f) => f.stored));
      // a fill leaves the table in a microtask after `stored` settles
      await new Promise<void>((r) => setImmediate(r));
    }
  }

  async listen(port = 8080, host = '127.0.0.1'): Promise<string> {
    if (this.listeners.length > 0) throw new StreamedgeError('EDGE_STATE', 'edge is already listening');
    await this.prepareStore();
    const l = await this.openListener(port, host, this.input.tls);
    this.logger.info(
      { url: l.url, upstream: this.o.upstream.href, peers: this.o.peers, self: this.o.self, tls: l.secure },
      'edge listening',
    );
    return l.url;
  }

  async listenPlain(port: number, host = '127.0.0.1'): Promise<string> {
    if (this.listeners.length === 0 || !this.input.tls) {
      throw new StreamedgeError('EDGE_STATE', 'listenPlain is for a plain port beside HTTPS: listen() with tls first');
    }
    const l = await this.openListener(port, host, undefined);
    this.logger.info({ url: l.url }, 'edge listening (plain HTTP beside HTTPS)');
    return l.url;
  }

  private async openListener(port: number, host: string, tls: ReloadingTls | undefined): Promise<EdgeListener> {
    const l = await EdgeListener.open(
      (req, res) => {
        // a request node:http let through that HTTP/1.1 refuses (two Host fields, HTTP/2.0 in
        // text) is answered in handle(), never from the RAM tier
        const framing = framingRefusal(req);
        // draining answers go through the full path, which tells HTTP/1.1 clients to go elsewhere
        if (framing === undefined && !this.draining && this.hitPath?.serve(req, res)) return;
        const protocol = protocolOf(req);
        this.metrics.tally[protocol]++;
        for (const [name, value] of this.everyAnswer) res.setHeader(name, value);
        // draining: an HTTP/1.1 client is told to open its next request elsewhere (another worker)
        if (this.draining && protocol === 'h1') res.setHeader('connection', 'close');
        this.inFlight++;
        res.once('close', () => this.inFlight--);
        this.handle(req, res, framing).catch((e: unknown) => this.internalError(req, res, e));
      },
      {
        port,
        host,
        clientTimeoutMs: this.o.clientTimeoutMs,
        clientHeadTimeoutMs: this.o.clientHeadTimeoutMs,
        ...(tls ? { tls } : {}),
        ...(this.hitPath
          ? {
              frontHit: (req, socket, connection) => !this.draining && this.hitPath!.serveRaw(req, socket, connection),
              streamHit: (stream, headers) => !this.draining && this.hitPath!.serveStream(stream, headers),
            }
          : {}),
        onHandshakeFailure: (code) => this.metrics.tlsHandshakeFailures.inc({ code }),
      },
    );
    this.listeners.push(l);
    return l;
  }

  private async prepareStore(): Promise<void> {
    const s = this.input.store;
    const w = this.input.worker;
    if (w) {
      if (s === undefined || s instanceof LogStore || s.dir === undefined) {
        throw new StreamedgeError('EDGE_STATE', 'a worker edge needs store: { dir } (the store process owns it)');
      }
      const local = ReadOnlyStore.open({
        dir: s.dir,
        ...(s.ramBytes !== undefined ? { ramBytes: s.ramBytes } : {}),
        logger: this.logger,
      });
      this.workerLocal = local;
      this.cluster = await StoreClient.connect(w.socketPath, local, {
        onDrop: (specs) => applyWorkerPurge(this, specs as PurgeSpec[], ramDropTarget(local)),
        onCollect: () => this.metrics.registry.getMetricsAsJSON(),
        takeCmcdSessions: () => this.metrics.cmcd.takeReport(),
        onEvicted: (keys) => this.coalescer.forgetRecent(keys),
      });
      this.workerStore = new WorkerStore(local, this.cluster);
      return;
    }
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
    this.metrics.close();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.coalescer.cancelAll('edge closing');
    await Promise.allSettled([...this.background]);
    await this.upstream.close();
    this.cluster?.close();
    await this.workerLocal?.close();
    if (this.ownsStore) await this.storeRef?.close();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }

  async drain(timeoutMs = 30_000, freshGraceMs = 2_000): Promise<void> {
    if (this.closing) return;
    this.draining = true;
    const start = Date.now();
    for (const l of this.listeners) l.stopAccepting();
    // requests in flight (held reloads, fills being streamed) finish and their HTTP/1.1 connections
    // close after the answer (connection: close); idle keep-alive connections close now; a connection
    // that has not sent its first request yet gets `freshGraceMs` to do so
    for (;;) {
      for (const l of this.listeners) l.closeIdle();
      const open = this.listeners.reduce((n, l) => n + l.connections, 0);
      const busy = this.inFlight > 0 || this.coalescer.size > 0;
      const elapsed = Date.now() - start;
      if (elapsed >= timeoutMs || (!busy && (open === 0 || elapsed >= freshGraceMs))) break;
      await new Promise<void>((r) => setTimeout(r, 20));
    }
    await this.whenIdle();
    await this.close();
  }

  // ------------------------------------------------------------------ request entry

  private async handle(req: IncomingMessage, res: ServerResponse, framing?: FramingRefusal): Promise<void> {
    const ex: Exchange = {
      req,
      res,
      id: requestIdOf(req),
      method: (req.method ?? 'GET').toUpperCase(),
      result: 'unknown',
      bytes: 0,
      startedAt: Date.now(),
    };
    if (req.httpVersionMajor === 2) ex.h2 = (res as unknown as Http2ServerResponse).stream;
    else ex.rawH1 = true;
    res.once('close', () => this.logDone(ex));
    if (framing !== undefined) {
      ex.result = 'bad-request';
      return sendText(ex, framing.status, `edge: ${framing.reason}`, undefined, { connection: 'close' });
    }
    const received = req.url ?? '/';
    const limit = checkTarget(received);
    if (!limit.ok) {
      ex.result = 'bad-request';
      return sendText(ex, limit.status, `edge: ${limit.reason}`, undefined);
    }
    const absolute = absoluteForm(received);
    if (absolute === 'invalid') {
      ex.result = 'bad-request';
      return sendText(ex, 400, 'edge: an absolute-form target must be an http(s) URI with a host', undefined);
    }
    // RFC 9112 §3.2.2: the host of an absolute-form target is the request's; Host is ignored
    if (absolute !== undefined) req.headers.host = absolute.authority;
    const url = absolute?.target ?? received;
    if (url === '*') {
      // asterisk-form is for OPTIONS only: a question about the server itself (RFC 9110 §9.3.7)
      if (ex.method === 'OPTIONS') return answerAsFinalRecipient(this, ex, 'server-options');
      ex.result = 'bad-request';
      return sendText(ex, 400, 'edge: the asterisk-form target is for OPTIONS only', undefined);
    }

    if (url.startsWith('/_edge/') || url === '/_edge') return handleAdmin(this, ex, url);
    if (ex.method === 'PURGE') return purgeMethod(this, ex, url);
    if (this.fleet) {
      // never serve what a missed purge covers: wait for the replay (bounded inside the fleet)
      if (!this.fleet.ready) await this.fleet.whenReady();
      // a lower tier that applied purge N asks this one to have applied it too before it answers
      const floor = Number(header(req, PURGE_FLOOR_HEADER));
      if (
        Number.isSafeInteger(floor) &&
        floor > 0 &&
        this.fromTrustedTier(req) &&
        !(await this.fleet.reachPurgeFloor(floor))
      ) {
        return bypass(this, ex, url, 'request', 'purge-floor-not-reached');
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
        // the rewrite wraps res: answers go through it
        delete ex.h2;
        delete ex.rawH1;
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
      return sendText(ex, 400, 'request target must be a path (origin-form or absolute-form)', undefined);
    }
    if (ex.method === 'OPTIONS' && this.o.corsPreflight === 'edge') {
      const answer = preflightAnswer(req.headers);
      if (answer) {
        ex.result = 'preflight';
        writeHead(ex, 204, answer, { cache: this.o.name, detail: 'preflight' }, {}).end();
        return;
      }
    }
    if (ex.method !== 'GET' && ex.method !== 'HEAD') return bypass(this, ex, target, 'method');
    if (req.headers['authorization'] !== undefined) return bypass(this, ex, target, 'request', 'authorization');
    return this.lookup.cached(ex, target);
  }

  private logDone(ex: Exchange): void {
    const ms = Date.now() - ex.startedAt;
    this.metrics.requests.inc({ result: ex.result });
    const aborted = !ex.res.writableFinished;
    this.logger.info(
      {
        reqId: ex.id,
        method: ex.method,
        url: redactToken(ex.req.url),
        status: ex.res.statusCode,
        result: ex.result,
        cacheStatus: ex.cacheStatus,
        ...(ex.cmcd ? { cmcd: ex.cmcd } : {}),
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
}

/**
 * A request target in absolute-form (RFC 9112 §3.2.2): its authority and the origin-form target
 * it names (`http://h/a?b` → `/a?b`, `http://h` → `/`); undefined for any other form; 'invalid'
 * for an absolute URI the edge cannot serve (not http/https, no host, userinfo: RFC 9110 §4.2).
 */
function absoluteForm(target: string): { authority: string; target: string } | 'invalid' | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(target);
  if (!m) return undefined;
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  if (!/^https?$/i.test(scheme) || authority === '' || authority.includes('@')) return 'invalid';
  return { authority, target: rest.startsWith('/') ? rest : `/${rest}` };
}

/** The upstream pool of an edge (the store process of a multi-worker edge builds the same one). */
export function newUpstream(
  o: ResolvedEdgeOptions,
  input: Pick<EdgeServerOptions, 'upstreamCa' | 'upstreamHttp2'>,
): Upstream {
  return new Upstream({
    maxConcurrent: o.maxUpstreamConcurrent,
    maxQueued: o.maxUpstreamQueued,
    connectionsPerOrigin: o.connectionsPerOrigin,
    connectTimeoutMs: o.connectTimeoutMs,
    headersTimeoutMs: o.headersTimeoutMs,
    bodyTimeoutMs: o.bodyTimeoutMs,
    ...(input.upstreamCa !== undefined ? { ca: input.upstreamCa } : {}),
    ...(input.upstreamHttp2 !== undefined ? { http2: input.upstreamHttp2 } : {}),
  });
}

/**
 * Headers every answer of an edge carries: Timing-Allow-Origin, in a worker x-edge-worker, and
 * with a CMSD cap this edge's CMSD-Dynamic entry.
 */
function listenerHeaders(input: EdgeServerOptions, name: string, mb: number | undefined): [string, string][] {
  const tao = input.timingAllowOrigin ?? '*';
  return [
    ...(tao !== '' ? [['timing-allow-origin', tao] as [string, string]] : []),
    ...(input.worker !== undefined ? [['x-edge-worker', String(input.worker.index)] as [string, string]] : []),
    ...(mb !== undefined ? [[CMSD_DYNAMIC, formatCmsdDynamicEntry({ server: name, mb })] as [string, string]] : []),
  ];
}

/** The primary/backup upstream set, reporting its switches in metrics and the log. */
export function newUpstreamSet(
  o: ResolvedEdgeOptions,
  upstream: Upstream,
  metrics: EdgeMetrics,
  logger: Logger,
): UpstreamSet {
  for (const u of o.upstreams) metrics.upstreamCurrent.set({ upstream: u }, u === o.upstreams[0] ? 1 : 0);
  return new UpstreamSet(upstream, {
    bases: o.upstreams,
    timeoutMs: o.upstreamTimeoutMs,
    retryInitialMs: o.upstreamRetryMs,
    onSwitch: (from, to, reason, scope) => {
      metrics.upstreamFailovers.inc({ reason });
      if (scope !== undefined) {
        logger.warn({ from, to, reason, scope }, `live channel ${scope} switched to upstream ${to} (${reason})`);
        return;
      }
      metrics.upstreamCurrent.set({ upstream: from }, 0);
      metrics.upstreamCurrent.set({ upstream: to }, 1);
      logger.warn({ from, to, reason }, `upstream switched to ${to} (${reason})`);
    },
  });
}

/** Create an edge (call listen() to start it). */
export function createEdge(opts: EdgeServerOptions): Edge {
  return new EdgeServer(opts);
}
