/**
 * The lookup state machine for a cacheable GET/HEAD:
 *
 *   request rules (edge/request-rules.ts) → primary key → vary record? → variant key (edge/variants.ts)
 *     → fresh entry → serve from the store (hit)
 *     stale entry in stale-while-revalidate → serve it, revalidate in the background
 *     otherwise → join the one fill for the key (coalesced) → stream the upstream bytes to every
 *     waiter as they arrive, store when complete; 304 refreshes the entry; errors may serve stale
 *
 * A waiter whose Vary-selected fields differ from the fill's starts or joins its own variant's
 * fill. A conditional request with no stored copy and no fill in flight goes upstream with its
 * conditionals, in a fill of its own (a 304 is only ever for the client that asked).
 * Prefetch (next segment/part) starts fills through the same table, for the variant players use.
 */
import type { IncomingMessage } from 'node:http';
import { cacheKey, variantKey } from '../src/http/cache-key.js';
import { parseCacheControl } from '../src/http/cache-control.js';
import { requestForcesRevalidation } from '../src/http/freshness.js';
import type { ObjectMeta } from './store/index.js';
import { viewEntry } from './cache-policy.js';
import type { CacheStatusEntry, ForwardReason } from '../src/http/cache-status.js';
import type { EdgeContext } from './context.js';
import { type Exchange, header, sendText } from './exchange.js';
import { Fill, type FillHead } from './fill.js';
import { fetchForFill } from './fill-source.js';
import { earlyHintsRelay, forwardHeaders, prefetchHeaders } from './forwarding.js';
import { type ObjectKind, requestTargets } from './request-rules.js';
import { resolveVariant } from './variants.js';
import { LivePlaylists, deliveryDirectives } from './live-playlists.js';
import { Prefetcher, type PrefetchSource } from './prefetch.js';
import { CMSD_STATIC } from '../src/http/cmsd.js';
import { checkKey } from './request-limits.js';
import { redactTokens } from '../src/signing/redact.js';
import { serveFill } from './serve-fill.js';
import { serveStored } from './serve-stored.js';
import { HOP_HEADER } from './tiering/peers.js';

type StoredEntry = { meta: ObjectMeta; size: number };
/** A fill's outcome that is answered from the stored entry. */
type StoredHead = Extract<FillHead, { kind: 'stored-meanwhile' | 'revalidated' | 'stale-on-error' }>;

/** What one request asks for, once the request rules are applied. */
interface Wanted {
  /** Primary key: the normalised URL as the rules key it. */
  primary: string;
  /** The target a fill requests upstream. */
  upstreamTarget: string;
  kind: ObjectKind;
  /** The normalised target the rules key (prefetch resolves playlist URIs against it). */
  keyTarget: string;
  fromPeer: boolean;
  /** Headers the variant is selected by (the client's; a prefetch's own). */
  headers: Record<string, string | string[] | undefined>;
  /**
   * A fresh stored response was selected, but the request's own Cache-Control (no-cache,
   * max-age=0) forbade its use without revalidation: Cache-Status says `fwd=request`.
   */
  refusedFresh?: boolean;
}

/**
 * Why `wanted`'s request went upstream through `fill` (RFC 9211 §2.2): the fill's own reason,
 * made precise for this request: `vary-miss` when the URI has a stored response (its vary
 * record) but not the variant this request selects, `request` when a fresh response was
 * refused by the request's Cache-Control.
 */
function forwardReason(fill: Fill, wanted: Wanted): ForwardReason {
  if (fill.forward === 'uri-miss' && fill.key !== wanted.primary) return 'vary-miss';
  if (fill.forward === 'stale' && wanted.refusedFresh === true) return 'request';
  return fill.forward;
}

export class Lookup {
  private readonly prefetcher: Prefetcher;
  /** The Accept-Encoding players of this edge send lately: prefetch fills that variant. */
  private playerAcceptEncoding: string | undefined;
  private readonly live = new LivePlaylists();

  constructor(private readonly ctx: EdgeContext) {
    this.prefetcher = new Prefetcher((target, source) => this.prefetch(target, source));
  }

  private readonly countBytes = (tier: 'ram' | 'disk' | 'upstream', n: number): void => {
    this.ctx.metrics.bytesSent.inc({ tier }, n);
  };

  /** Answers `ex` from the stored `entry` (serve-stored.ts); false when it is gone meanwhile. */
  private serveEntry(
    ex: Exchange,
    entry: { meta: ObjectMeta; size: number },
    status: CacheStatusEntry,
    now: number,
  ): Promise<boolean> {
    const { ctx } = this;
    return serveStored(ex, ctx.openStore, entry.meta, entry.size, status, now, ctx.answers, this.countBytes);
  }

  async cached(ex: Exchange, target: string): Promise<void> {
    const { ctx } = this;
    const store = ctx.openStore;
    const t = requestTargets(target, ex.req.headers, ctx.rules);
    if (t.cmcd) {
      ex.cmcd = t.cmcd;
      ctx.metrics.cmcd.note(t.cmcd);
    }
    const wanted: Wanted = {
      primary: cacheKey(t.keyTarget, ex.req.headers, ctx.keyPolicy),
      upstreamTarget: t.upstreamTarget,
      kind: t.kind,
      keyTarget: t.keyTarget,
      fromPeer: ctx.router.isPeer(header(ex.req, HOP_HEADER)),
      headers: ex.req.headers,
    };
    const limit = checkKey(wanted.primary);
    if (!limit.ok) {
      ex.result = 'bad-request';
      return sendText(ex, limit.status, `edge: ${limit.reason}`, undefined);
    }
    if (t.kind === 'playlist') await this.pastDirectiveToNewest(wanted);
    const reqCcText = header(ex.req, 'cache-control');
    const reqCc = reqCcText !== undefined ? parseCacheControl(reqCcText) : undefined;
    // only a request Cache-Control or Pragma can force a revalidation: skip the parse otherwise
    const mayForce = t.kind !== 'media' && (reqCc !== undefined || ex.req.headers['pragma'] !== undefined);

    for (let attempt = 0; attempt < 3; attempt++) {
      const { key, entry } = await resolveVariant(store, wanted.primary, ex.req.headers);
      ex.key = key;
      const now = ctx.o.now();
      if (entry) {
        const view = viewEntry(entry.meta, now);
        const fresh = view.state === 'fresh';
        // a client's no-cache is honoured, except on media objects and immutable responses
        // (the origin is protected from reload storms on segments: see edge/README.md)
        const forced = mayForce && requestForcesRevalidation(ex.req.headers, { immutable: view.immutable, fresh });
        if (fresh && !forced) {
          ex.result = 'hit';
          ctx.metrics.hits.inc();
          if (await this.serveEntry(ex, entry, ctx.cs({ hit: true }), now)) {
            this.noteServed(ex.req, t.keyTarget);
            return;
          }
          continue; // evicted meanwhile: look again
        }
        wanted.refusedFresh = forced && fresh;
        if (view.state === 'stale-while-revalidate' && !forced) {
          this.revalidateInBackground(ex, key, entry, wanted);
          ex.result = 'stale';
          ctx.metrics.staleServed.inc({ reason: 'stale-while-revalidate' });
          const cs = ctx.cs({ hit: true, detail: 'stale-while-revalidate' });
          if (await this.serveEntry(ex, entry, cs, now)) return;
          continue;
        }
      }
      if (reqCc?.has('only-if-cached')) {
        // RFC 9111 §5.2.1.7: nothing usable stored, and the client forbids going upstream
        ex.result = 'miss';
        return sendText(
          ex,
          504,
          'edge: only-if-cached and no usable stored response',
          ctx.cs({ detail: 'only-if-cached' }),
        );
      }
      if (!entry && isConditional(ex) && !ctx.coalescer.get(key)) return this.conditionalFill(ex, key, wanted);
      // stored meanwhile (a multi-worker edge's store process said so): look again, a hit
      if (await this.fromFill(ex, key, entry, wanted)) continue;
      return;
    }
    if (await this.fromFill(ex, ex.key ?? wanted.primary, undefined, wanted)) this.lookupRace(ex);
  }

  /** The key was stored, then gone (purged, evicted) each time this request looked: it may retry. */
  private lookupRace(ex: Exchange): void {
    ex.result = 'error';
    sendText(
      ex,
      503,
      'edge: the object changed while it was looked up; retry',
      this.ctx.cs({ detail: 'lookup-race' }),
      {
        'retry-after': '1',
      },
    );
  }

  /**
   * No stored copy and no fill in flight, and the client holds a copy (If-None-Match /
   * If-Modified-Since): its conditional goes upstream in a fill of its own (RFC 9111 §4.3.2).
   * A 304 goes to this client only; a 200 is stored as usual.
   */
  private async conditionalFill(ex: Exchange, key: string, wanted: Wanted): Promise<void> {
    const { ctx } = this;
    const fill = this.newFill(ex, key, undefined, wanted, false).start();
    fill.readers++;
    const head = await fill.head;
    ex.key = fill.storeKey;
    ex.result = 'miss';
    ctx.metrics.misses.inc();
    if (head.kind !== 'response') return this.answerHead(ex, fill, head, false, wanted);
    await serveFill(ex, fill, head, ctx.openStore, ctx.cs({ fwd: forwardReason(fill, wanted) }), this.fillHooks, {
      stripSetCookie: false,
    });
  }

  private newFill(
    ex: Exchange | undefined,
    key: string,
    stale: StoredEntry | undefined,
    wanted: Wanted,
    shared = true,
  ): Fill {
    const { ctx } = this;
    const fwdHeaders = ex
      ? forwardHeaders(ctx, ex, shared)
      : prefetchHeaders(ctx, header1(wanted.headers['accept-encoding']));
    const target = wanted.upstreamTarget;
    // 103 Early Hints reach the request that started the fill (waiters join after it)
    const onInfo = ex ? earlyHintsRelay(ex) : undefined;
    return new Fill({
      key,
      primaryKey: wanted.primary,
      variantKeyFor: (names) => variantKey(wanted.primary, names, wanted.headers),
      store: ctx.openStore,
      policy: ctx.policy,
      reqHeaders: {},
      ...(stale ? { stale } : {}),
      storeIt: true,
      retainBytes: ctx.o.fillRetainBytes,
      storeQueueBytes: 8 * 1024 * 1024,
      now: ctx.o.now,
      onStoreError: (e) => ctx.logger.warn({ err: e, key: redactTokens(key) }, 'store put failed'),
      fetch: (conditional, signal) =>
        fetchForFill(ctx, key, target, { ...fwdHeaders, ...conditional }, signal, wanted.fromPeer, onInfo),
    });
  }

  private revalidateInBackground(ex: Exchange, key: string, entry: StoredEntry, wanted: Wanted): void {
    const { coalescer } = this.ctx;
    if (coalescer.get(key)) return;
    const { fill } = coalescer.join(key, () => this.newFill(ex, key, entry, wanted));
    fill.readers--;
    this.ctx.track(fill.stored);
  }

  /**
   * A live playlist request whose `_HLS_msn`/`_HLS_part` the newest stored copy already
   * satisfies is answered from that copy (edge/live-playlists.ts): past values make no new keys.
   */
  private async pastDirectiveToNewest(wanted: Wanted): Promise<void> {
    const d = deliveryDirectives(wanted.keyTarget);
    if (!d) return;
    const newestKey = this.live.answering(d.base, d.msn, d.part);
    if (newestKey === undefined || newestKey === wanted.primary) return;
    // only a fresh copy answers: a stale one would be refilled with this request's target
    const stored = await this.ctx.openStore.head(newestKey);
    if (!stored || viewEntry(stored.meta, this.ctx.o.now()).state !== 'fresh') return;
    wanted.primary = newestKey;
  }

  private readonly fillHooks = {
    onBytes: this.countBytes,
    onAbort: (reason: string) => this.ctx.metrics.clientAborts.inc({ reason }),
  };

  /**
   * Answer from the key's fill (joined or started). Resolves true, having answered nothing, when the
   * fill says the key was stored after this request looked it up (`stored-meanwhile`): look again.
   */
  private async fromFill(
    ex: Exchange,
    key: string,
    stale: StoredEntry | undefined,
    wanted: Wanted,
    rejoin = 0,
  ): Promise<boolean> {
    const { ctx } = this;
    if (!ctx.coalescer.hold()) {
      ex.result = 'overloaded';
      sendText(ex, 503, 'edge busy: too many requests waiting for upstream', ctx.cs({ detail: 'held-requests-cap' }), {
        'retry-after': '1',
      });
      return false;
    }
    ctx.metrics.held.inc();
    let head: FillHead;
    let fill: Fill;
    let leader: boolean;
    let recent: boolean | undefined;
    try {
      ({ fill, leader, recent } = ctx.coalescer.join(
        key,
        () => this.newFill(ex, key, stale, wanted),
        stale === undefined,
      ));
      if (leader) ctx.metrics.misses.inc();
      else if (!recent && !fill.isComplete) ctx.metrics.collapsed.inc();
      head = await fill.head;
    } finally {
      ctx.coalescer.release();
      ctx.metrics.held.dec();
    }
    if (ex.res.destroyed) {
      fill.readers--;
      return false;
    }
    if (head.kind === 'stored-meanwhile') {
      fill.readers--;
      return true;
    }
    if (!leader && head.kind === 'response') {
      // The response's Vary decides who may share it: a waiter whose selected fields differ
      // from the fill's own request starts or joins its variant's fill (RFC 9111 §4.1). One meant
      // for its requester alone (private, no-store, Set-Cookie) is shared with nobody.
      const mine =
        fill.varyAny || !head.shared ? undefined : variantKey(wanted.primary, fill.varyNames, wanted.headers);
      if (mine !== fill.storeKey) {
        fill.readers--;
        if (mine === undefined || rejoin > 1) {
          // a fill of this waiter's own
          const own = this.newFill(ex, key, undefined, wanted).start();
          own.readers++;
          const ownHead = await own.head;
          ex.key = own.storeKey;
          ex.result = 'miss';
          await this.answerHead(ex, own, ownHead, false, wanted);
          return false;
        }
        return this.fromFill(ex, mine, undefined, wanted, rejoin + 1);
      }
    }
    const store = ctx.openStore;
    ex.key = fill.storeKey;
    if (recent || (!leader && fill.isComplete)) {
      // The fill has its whole body (and is stored, or about to be): this is a hit on the cached object.
      const storedNow = recent || (await fill.stored.catch(() => false));
      const entry = storedNow ? await store.head(fill.storeKey) : undefined;
      if (entry) {
        fill.readers--;
        ex.result = 'hit';
        ctx.metrics.hits.inc();
        if (await this.serveEntry(ex, entry, ctx.cs({ hit: true }), ctx.o.now())) return false;
        fill.readers++;
      }
    }
    await this.answerHead(ex, fill, head, !leader, wanted);
    return false;
  }

  /** Answer a request attached to `fill` whose head is known. */
  private async answerHead(
    ex: Exchange,
    fill: Fill,
    head: FillHead,
    collapsed: boolean,
    wanted: Wanted,
  ): Promise<void> {
    const { ctx } = this;
    const fwd = forwardReason(fill, wanted);
    const store = ctx.openStore;
    if (ex.result !== 'miss') ex.result = collapsed ? 'collapsed' : 'miss';

    if (head.kind === 'stored-meanwhile' || head.kind === 'revalidated' || head.kind === 'stale-on-error') {
      // one path: the answer is the stored entry (stored meanwhile, refreshed by a 304, stale-if-error)
      const stored = this.storedAnswer(head, fwd, collapsed);
      const entry = await store.head(fill.storeKey);
      if (entry) {
        ex.result = stored.result;
        stored.count();
        const now = ctx.o.now();
        if (await this.serveEntry(ex, entry, stored.cacheStatus, now)) return;
      }
      return stored.vanished(ex);
    }
    if (head.kind === 'error') {
      ex.result = 'error';
      const status =
        head.error.code === 'UPSTREAM_TIMEOUT' ? 504 : head.error.code === 'UPSTREAM_BUSY' ? 503 : head.status;
      ctx.logger.warn(
        { reqId: ex.id, key: redactTokens(fill.key), code: head.error.code, err: head.error.message },
        'upstream failed',
      );
      return sendText(
        ex,
        status,
        `edge: ${head.error.message}`,
        ctx.cs({ fwd, ...(collapsed ? { collapsed } : {}), detail: head.error.code }),
      );
    }
    await serveFill(ex, fill, head, store, ctx.cs({ fwd, ...(collapsed ? { collapsed } : {}) }), this.fillHooks, {
      stripSetCookie: collapsed,
    });
    if (head.status === 200 && wanted.kind === 'playlist') this.trackLive(fill, wanted);
    if (head.status === 200) this.afterFill(ex, fill, wanted.keyTarget, head.headers);
  }

  /**
   * How a request is answered whose fill's outcome is the stored entry: its result, Cache-Status
   * and metric, and the answer when the entry is gone by the time it is read.
   */
  private storedAnswer(
    head: StoredHead,
    fwd: ForwardReason,
    collapsed: boolean,
  ): { result: string; cacheStatus: CacheStatusEntry; count(): void; vanished(ex: Exchange): void } {
    const { ctx } = this;
    const c = collapsed ? { collapsed } : {};
    const vanished = (ex: Exchange): void => {
      ex.result = 'error';
      sendText(ex, 502, 'edge: entry vanished during revalidation; retry', ctx.cs({ fwd, detail: 'entry-vanished' }));
    };
    switch (head.kind) {
      case 'stored-meanwhile':
        // a fill of this request's own (conditional, or Vary: *) found the key stored meanwhile
        return {
          result: 'hit',
          cacheStatus: ctx.cs({ hit: true }),
          count: () => ctx.metrics.hits.inc(),
          vanished: (ex) => this.lookupRace(ex),
        };
      case 'revalidated':
        return {
          result: collapsed ? 'collapsed' : 'revalidated',
          cacheStatus: ctx.cs({ fwd, fwdStatus: 304, stored: true, ...c }),
          count: () => undefined,
          vanished,
        };
      case 'stale-on-error':
        return {
          result: 'stale-if-error',
          cacheStatus: ctx.cs({
            fwd: 'stale',
            ...(head.fwdStatus !== undefined ? { fwdStatus: head.fwdStatus } : {}),
            ...c,
            detail: 'stale-if-error',
          }),
          count: () => ctx.metrics.staleServed.inc({ reason: 'stale-if-error' }),
          vanished,
        };
    }
  }

  private trackLive(fill: Fill, wanted: Wanted): void {
    const d = deliveryDirectives(wanted.keyTarget);
    const base = d?.base ?? wanted.keyTarget;
    void fill.stored.then((stored) => {
      const body = stored ? fill.retainedBody() : undefined;
      if (body) this.live.seen(base, fill.storeKey, body.toString('utf8'));
    });
  }

  // ------------------------------------------------------------------ prefetch hooks

  /** After a hit (here or on the one-write hit path): prefetch what a player asks for next. */
  readonly noteServed = (req: Pick<IncomingMessage, 'headers' | 'url'>, target: string): void => {
    if (!this.ctx.o.prefetch) return;
    this.playerAcceptEncoding = header(req, 'accept-encoding');
    this.prefetcher.onServed(target, req.url ?? target, req.headers);
  };

  private afterFill(ex: Exchange, fill: Fill, target: string, headers: Record<string, string | string[]>): void {
    if (!this.ctx.o.prefetch) return;
    this.playerAcceptEncoding = header(ex.req, 'accept-encoding');
    const one = (name: string) => {
      const v = headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    this.prefetcher.onObject(target, one(CMSD_STATIC));
    this.prefetcher.onServed(target, ex.req.url ?? target, ex.req.headers);
    if (Prefetcher.isPlaylist(target, one('content-type'))) {
      void fill.finished.then((ok) => {
        const body = ok ? fill.retainedBody() : undefined;
        if (body) this.prefetcher.onPlaylist(target, body.toString('utf8'));
      });
    }
  }

  private async prefetch(target: string, source: PrefetchSource): Promise<void> {
    const { ctx } = this;
    if (ctx.closing) return;
    const headers = { 'accept-encoding': this.playerAcceptEncoding };
    const t = requestTargets(target, headers, ctx.rules);
    const wanted: Wanted = {
      primary: cacheKey(t.keyTarget, headers, ctx.keyPolicy),
      upstreamTarget: t.upstreamTarget,
      kind: t.kind,
      keyTarget: t.keyTarget,
      fromPeer: false,
      headers,
    };
    if (!checkKey(wanted.primary).ok || ctx.coalescer.get(wanted.primary)) return;
    const { key, entry } = await resolveVariant(ctx.openStore, wanted.primary, headers);
    if (entry && viewEntry(entry.meta, ctx.o.now()).state === 'fresh') return;
    if (ctx.coalescer.get(key)) return;
    ctx.metrics.prefetches.inc({ source });
    const { fill } = ctx.coalescer.join(key, () => this.newFill(undefined, key, entry, wanted));
    fill.readers--;
    ctx.track(fill.stored);
  }
}

function header1(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

function isConditional(ex: Exchange): boolean {
  return ex.req.headers['if-none-match'] !== undefined || ex.req.headers['if-modified-since'] !== undefined;
}
