/**
 * The lookup state machine for a cacheable GET/HEAD:
 *
 *   cache key → fresh entry → serve from the store (hit)
 *     stale entry in stale-while-revalidate → serve it, revalidate in the background
 *     otherwise → join the one fill for the key (coalesced) → stream the upstream bytes to every
 *     waiter as they arrive, store when complete; 304 refreshes the entry; errors may serve stale
 *
 * Prefetch (next segment/part) starts fills through the same table.
 */
import { cacheKey, keyTarget } from '../src/http/cache-key.js';
import type { ObjectMeta } from './store/index.js';
import { viewEntry } from './cache-policy.js';
import type { EdgeContext } from './context.js';
import { type Exchange, header, sendText } from './exchange.js';
import { Fill, type FillHead } from './fill.js';
import { fetchForFill, fillHeaders } from './fill-source.js';
import { Prefetcher } from './prefetch.js';
import { serveFill } from './serve-fill.js';
import { serveStored } from './serve-stored.js';
import { HOP_HEADER } from './tiering/peers.js';

type StoredEntry = { meta: ObjectMeta; size: number };

export class Lookup {
  private readonly prefetcher: Prefetcher;

  constructor(private readonly ctx: EdgeContext) {
    this.prefetcher = new Prefetcher((target, source) => this.prefetch(target, source));
  }

  private readonly countBytes = (tier: 'ram' | 'disk' | 'upstream', n: number): void => {
    this.ctx.metrics.bytesSent.inc({ tier }, n);
  };

  async cached(ex: Exchange, target: string): Promise<void> {
    const { ctx } = this;
    const store = ctx.openStore;
    const key = cacheKey(target, ex.req.headers, ctx.keyPolicy);
    ex.key = key;
    const hopFrom = header(ex.req, HOP_HEADER);
    const fromPeer = ctx.router.isPeer(hopFrom);

    for (let attempt = 0; attempt < 3; attempt++) {
      const entry = await store.head(key);
      const now = ctx.o.now();
      if (entry) {
        const view = viewEntry(entry.meta, now);
        if (view.state === 'fresh') {
          ex.result = 'hit';
          ctx.metrics.hits.inc();
          if (await serveStored(ex, store, entry.meta, entry.size, ctx.cs({ hit: true }), now, this.countBytes)) {
            this.afterServe(ex, keyTarget(key));
            return;
          }
          continue; // evicted meanwhile: look again
        }
        if (view.state === 'stale-while-revalidate') {
          this.revalidateInBackground(ex, key, entry, fromPeer);
          ex.result = 'stale';
          ctx.metrics.staleServed.inc({ reason: 'stale-while-revalidate' });
          const cs = ctx.cs({ hit: true, detail: 'stale-while-revalidate' });
          if (await serveStored(ex, store, entry.meta, entry.size, cs, now, this.countBytes)) return;
          continue;
        }
      }
      await this.fromFill(ex, key, entry, fromPeer);
      return;
    }
    await this.fromFill(ex, key, undefined, fromPeer);
  }

  private newFill(ex: Exchange | undefined, key: string, stale: StoredEntry | undefined, fromPeer: boolean): Fill {
    const { ctx } = this;
    const target = keyTarget(key);
    const fwdHeaders = fillHeaders(ctx, ex);
    return new Fill({
      key,
      store: ctx.openStore,
      policy: ctx.policy,
      reqHeaders: {},
      ...(stale ? { stale } : {}),
      storeIt: true,
      retainBytes: ctx.o.fillRetainBytes,
      storeQueueBytes: 8 * 1024 * 1024,
      now: ctx.o.now,
      onStoreError: (e) => ctx.logger.warn({ err: e, key }, 'store put failed'),
      fetch: (conditional, signal) =>
        fetchForFill(ctx, key, target, { ...fwdHeaders, ...conditional }, signal, fromPeer),
    });
  }

  private revalidateInBackground(ex: Exchange, key: string, entry: StoredEntry, fromPeer: boolean): void {
    const { coalescer } = this.ctx;
    if (coalescer.get(key)) return;
    const { fill } = coalescer.join(key, () => this.newFill(ex, key, entry, fromPeer));
    fill.readers--;
    this.ctx.track(fill.stored);
  }

  private async fromFill(ex: Exchange, key: string, stale: StoredEntry | undefined, fromPeer: boolean): Promise<void> {
    const { ctx } = this;
    if (!ctx.coalescer.hold()) {
      ex.result = 'overloaded';
      return sendText(
        ex,
        503,
        'edge busy: too many requests waiting for upstream',
        ctx.cs({ detail: 'held-requests-cap' }),
        { 'retry-after': '1' },
      );
    }
    ctx.metrics.held.inc();
    let head: FillHead;
    let fill: Fill;
    let leader: boolean;
    let recent: boolean | undefined;
    try {
      ({ fill, leader, recent } = ctx.coalescer.join(
        key,
        () => this.newFill(ex, key, stale, fromPeer),
        stale === undefined,
      ));
      if (leader) ctx.metrics.misses.inc();
      else if (!recent && !fill.isComplete) ctx.metrics.collapsed.inc();
      head = await fill.head;
    } finally {
      ctx.coalescer.release();
      ctx.metrics.held.dec();
    }
    if (ex.res.destroyed) return;
    const store = ctx.openStore;
    if (recent || (!leader && fill.isComplete)) {
      // The fill has its whole body (and is stored, or about to be): this is a hit on the cached object.
      const storedNow = recent || (await fill.stored.catch(() => false));
      const entry = storedNow ? await store.head(key) : undefined;
      if (entry) {
        fill.readers--;
        ex.result = 'hit';
        ctx.metrics.hits.inc();
        if (await serveStored(ex, store, entry.meta, entry.size, ctx.cs({ hit: true }), ctx.o.now(), this.countBytes))
          return;
        fill.readers++;
      }
    }
    const fwd = fill.forward;
    const collapsed = !leader;
    ex.result = collapsed ? 'collapsed' : 'miss';

    if (head.kind === 'revalidated' || head.kind === 'stale-on-error') {
      const entry = await store.head(key);
      const now = ctx.o.now();
      if (entry) {
        const status =
          head.kind === 'revalidated'
            ? ctx.cs({ fwd, fwdStatus: 304, stored: true, ...(collapsed ? { collapsed } : {}) })
            : ctx.cs({
                fwd: 'stale',
                ...(head.fwdStatus !== undefined ? { fwdStatus: head.fwdStatus } : {}),
                ...(collapsed ? { collapsed } : {}),
                detail: 'stale-if-error',
              });
        if (head.kind === 'stale-on-error') {
          ex.result = 'stale-if-error';
          ctx.metrics.staleServed.inc({ reason: 'stale-if-error' });
        } else ex.result = collapsed ? 'collapsed' : 'revalidated';
        if (await serveStored(ex, store, entry.meta, entry.size, status, now, this.countBytes)) return;
      }
      ex.result = 'error';
      return sendText(
        ex,
        502,
        'edge: entry vanished during revalidation; retry',
        ctx.cs({ fwd, detail: 'entry-vanished' }),
      );
    }
    if (head.kind === 'error') {
      ex.result = 'error';
      const status =
        head.error.code === 'UPSTREAM_TIMEOUT' ? 504 : head.error.code === 'UPSTREAM_BUSY' ? 503 : head.status;
      ctx.logger.warn({ reqId: ex.id, key, code: head.error.code, msg: head.error.message }, 'upstream failed');
      return sendText(
        ex,
        status,
        `edge: ${head.error.message}`,
        ctx.cs({ fwd, ...(collapsed ? { collapsed } : {}), detail: head.error.code }),
      );
    }
    await serveFill(
      ex,
      fill,
      head,
      store,
      ctx.cs({ fwd, ...(collapsed ? { collapsed } : {}) }),
      {
        onBytes: this.countBytes,
        onAbort: (reason) => ctx.metrics.clientAborts.inc({ reason }),
      },
      { stripSetCookie: collapsed },
    );
    if (head.status === 200) this.afterFill(ex, fill, keyTarget(key), head.headers['content-type']);
  }

  // ------------------------------------------------------------------ prefetch hooks

  private afterServe(ex: Exchange, target: string): void {
    if (!this.ctx.o.prefetch) return;
    this.prefetcher.onServed(target, ex.req.url ?? target, ex.req.headers);
  }

  private afterFill(ex: Exchange, fill: Fill, target: string, contentType: string | undefined): void {
    if (!this.ctx.o.prefetch) return;
    this.prefetcher.onServed(target, ex.req.url ?? target, ex.req.headers);
    if (Prefetcher.isPlaylist(target, contentType)) {
      void fill.finished.then((ok) => {
        const body = ok ? fill.retainedBody() : undefined;
        if (body) this.prefetcher.onPlaylist(target, body.toString('utf8'));
      });
    }
  }

  private async prefetch(target: string, source: string): Promise<void> {
    const { ctx } = this;
    if (ctx.closing) return;
    const key = cacheKey(target, {}, ctx.keyPolicy);
    if (ctx.coalescer.get(key)) return;
    const entry = await ctx.openStore.head(key);
    if (entry && viewEntry(entry.meta, ctx.o.now()).state === 'fresh') return;
    if (ctx.coalescer.get(key)) return;
    ctx.metrics.prefetches.inc({ source });
    const { fill } = ctx.coalescer.join(key, () => this.newFill(undefined, key, entry, false));
    fill.readers--;
    ctx.track(fill.stored);
  }
}
