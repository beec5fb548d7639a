/**
 * The one-write hit path: a GET for a fresh object held in the RAM tier (or an expired one within
 * stale-while-revalidate while this worker's revalidation of it is under way: the stale answer the
 * lookup gives then, so a playlist's refresh window does not send every viewer's request through
 * the full lookup), answered with one
 * `res.end(buffer)` (HTTP/1.1) or one `stream.respond` + `end` (HTTP/2), or, for a GET or HEAD the
 * edge's HTTP/1.1 front parsed itself (edge/h1-front.ts), one writev on its socket, from a header block
 * prepared once per stored entry (edge/prepared-answers.ts). Per hit only Age and Cache-Status (rebuilt when their
 * whole-second values change) and X-Request-ID are filled in; no stream pipeline, no
 * AbortController, no close listener. Counts go to plain-number tallies (edge/metrics.ts
 * HitTally); the access log samples these hits: every `HIT_LOG_EVERY`th is logged with
 * `sampled: N`, and every one at log level debug or with CMCD keys (logged whole, with them,
 * unless the rules' `cmcdHitLog` is "sampled").
 *
 * It answers only what needs none of the full lookup's decisions: no conditional, Range, request
 * Cache-Control/Pragma, Authorization, peer hop, purge floor, HLS delivery directive; and
 * only on an edge without signed access or a request filter (server.ts decides). Anything else
 * returns false having written nothing, and the request takes the full lookup (edge/lookup.ts),
 * whose answers are the same (serve-stored.ts).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import { cacheKey, variantKey } from '../src/http/cache-key.js';
import { type CmcdLogFields, cmcdLogFields, cmcdQueryValue, splitCmcdArgument } from '../src/http/cmcd.js';
import { rawConnectionFields, writeRaw, writeRawTo } from '../src/http/raw-h1.js';
import type { ObjectMeta, RamEntry } from './store/index.js';
import { viewEntry } from './cache-policy.js';
import type { Prepared, PreparedAnswers } from './prepared-answers.js';
import type { EdgeContext } from './context.js';
import { requestIdOf } from './exchange.js';
import { PURGE_FLOOR_HEADER } from './fleet/fleet-link.js';
import { redactToken } from './signed-access.js';
import { checkKey, checkTarget } from './request-limits.js';
import { requestTargets } from './request-rules.js';
import { HOP_HEADER } from './tiering/peers.js';
import { VARY_FIELD, varyNamesOf } from './variants.js';

/** Fast hits logged: one in this many (all of them at log level debug). */
export const HIT_LOG_EVERY = 100;
/** Request targets whose cache key is remembered (the memo is dropped whole when it is full). */
const KEY_MEMO_ENTRIES = 8192;

/** Request fields that need the full lookup. */
const FULL_LOOKUP_FIELDS = [
  'range',
  'if-none-match',
  'if-modified-since',
  'cache-control',
  'pragma',
  'authorization',
  HOP_HEADER,
  PURGE_FLOOR_HEADER,
];

/**
 * The variant key the last request for a target selected (Vary: Accept-Encoding on playlists):
 * reused while the vary record and the one request field it names are the same, so a hit on a
 * varying URL builds no key.
 */
interface VariantMemo {
  record: ObjectMeta;
  names: string[];
  value: string | undefined;
  key: string;
}

/** A request target's cache key and rules target, or null when the target needs the full lookup. */
type KeyMemo = { primary: string; keyTarget: string; variant?: VariantMemo } | null;

/**
 * What the hit path reads of a request: node:http's IncomingMessage and the HTTP/1.1 front's
 * parsed head (src/http/h1-request-head.ts) both have it.
 */
export interface HitRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** A hit found: its prepared answer (Age and Cache-Status current), body and request ID. */
interface Hit {
  p: Prepared;
  /** Answered stale (stale-while-revalidate, its revalidation under way) rather than fresh. */
  stale: boolean;
  /** The Cache-Status value of this answer. */
  cacheStatus: string;
  body: Buffer;
  id: string;
  keyTarget: string;
  now: number;
  /** The CMCD keys the request carried (query argument or headers), as the lookup reads them. */
  cmcd: CmcdLogFields | undefined;
}

export class HitPath {
  private readonly keys = new Map<string, KeyMemo>();
  private logCountdown = HIT_LOG_EVERY;

  constructor(
    private readonly ctx: EdgeContext,
    /** The prepared answers of stored entries (shared with the full lookup's serve-stored.ts). */
    private readonly answers: PreparedAnswers,
    /** Called after each hit when prefetch is on (Lookup.noteServed). */
    private readonly onServed: ((req: HitRequest, keyTarget: string) => void) | undefined,
  ) {}

  /**
   * Answers a fresh RAM-tier hit in one write; false, having written nothing, when it cannot. It
   * never throws (the caller is a socket's request event): a failure before anything was written
   * hands the request to the full lookup, one after drops that response.
   */
  serve(req: IncomingMessage, res: ServerResponse): boolean {
    try {
      return this.answer(req, res);
    } catch (e) {
      this.ctx.logger.warn({ err: e, url: redactToken(req.url) }, 'edge hit path failed');
      if (!res.headersSent && !(res as unknown as Http2ServerResponse).stream?.headersSent) return false;
      res.destroy();
      return true;
    }
  }

  /**
   * The same for a request the edge's HTTP/1.1 front parsed itself (edge/h1-front.ts): a GET or
   * HEAD answered straight on `socket` (head + body in one writev; HEAD: the head only), with the
   * keep-alive fields `connection`. False, having written nothing, when it cannot; never throws.
   */
  serveRaw(req: HitRequest, socket: Socket, connection: string): boolean {
    let written = false;
    try {
      const method = req.method;
      if (method !== 'GET' && method !== 'HEAD') return false;
      const hit = this.find(req, true);
      if (hit === undefined) return false;
      written = true;
      writeRawTo(
        socket,
        hit.p.h1Head!,
        this.answers.h1Tail(hit.p, hit.cacheStatus, hit.id, connection),
        method === 'GET' ? hit.body : undefined,
      );
      this.ctx.metrics.tally.h1++;
      this.served(req, hit, method);
      return true;
    } catch (e) {
      this.ctx.logger.warn({ err: e, url: redactToken(req.url) }, 'edge hit path failed');
      if (!written) return false;
      socket.destroy();
      return true;
    }
  }

  /**
   * The same for an HTTP/2 stream the secure listener offers before node:http2's compatibility
   * layer made request and response objects for it (src/tls/secure-http-server.ts
   * interceptStreams): a GET answered with one respond + end. False, having written nothing, when
   * it cannot; never throws.
   */
  serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
    let written = false;
    try {
      const path = headers[':path'];
      if (headers[':method'] !== 'GET' || typeof path !== 'string') return false;
      const req: HitRequest = { method: 'GET', url: path, headers };
      const hit = this.find(req, false);
      if (hit === undefined || stream.destroyed || stream.headersSent) return false;
      written = true;
      this.respondOnStream(stream, hit);
      this.served(req, hit, 'GET');
      return true;
    } catch (e) {
      this.ctx.logger.warn({ err: e, url: redactToken(String(headers[':path'])) }, 'edge hit path failed');
      if (!written) return false;
      stream.destroy();
      return true;
    }
  }

  /** Answers `hit` on an HTTP/2 stream: one respond, one end (false when the stream is gone or answered). */
  private respondOnStream(stream: ServerHttp2Stream, hit: Hit): boolean {
    if (stream.destroyed || stream.headersSent) return false;
    stream.respond(this.answers.h2Block(hit.p, hit.cacheStatus, hit.id, hit.now));
    stream.end(hit.body);
    this.ctx.metrics.tally.h2++;
    return true;
  }

  private answer(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET') return false;
    const hit = this.find(req, false);
    if (hit === undefined) return false;
    const { p, body, id } = hit;
    const tally = this.ctx.metrics.tally;
    if (req.httpVersionMajor === 2) {
      if (!this.respondOnStream((res as unknown as Http2ServerResponse).stream, hit)) return false;
    } else {
      const connection = p.h1Head !== undefined ? rawConnectionFields(res) : undefined;
      if (connection !== undefined) {
        // the prepared head as bytes; only Age, Cache-Status, X-Request-ID (and Date) per hit
        writeRaw(res, p.status, p.h1Head!, this.answers.h1Tail(hit.p, hit.cacheStatus, hit.id, connection), body);
      } else {
        const h1 = p.h1;
        h1[p.slot] = p.ageText;
        h1[p.slot + 2] = hit.cacheStatus;
        h1[p.slot + 4] = id;
        res.writeHead(p.status, h1);
        res.end(body);
      }
      tally.h1++;
    }
    this.served(req, hit, 'GET');
    return true;
  }

  /**
   * The fresh RAM-tier entry `req` asks for, its prepared answer brought up to date (Age,
   * Cache-Status) and the entry touched; undefined when the full lookup must answer (or, with
   * `raw`, when the entry's head cannot be written raw).
   */
  private find(req: HitRequest, raw: boolean): Hit | undefined {
    const { ctx } = this;
    if (ctx.closing) return undefined;
    const h = req.headers;
    for (let i = 0; i < FULL_LOOKUP_FIELDS.length; i++) if (h[FULL_LOOKUP_FIELDS[i]] !== undefined) return undefined;
    if (ctx.fleet && !ctx.fleet.ready) return undefined;
    let url = req.url ?? '/';
    // CMCD is never keyed: its query argument comes off before the key (request-rules.ts does the same)
    let cmcdRaw: string | undefined;
    if (url.includes('CMCD')) {
      const split = splitCmcdArgument(url);
      if (split === undefined) return undefined;
      url = split.target;
      cmcdRaw = split.raw;
    }
    const memo = this.keyOf(url);
    if (memo === null) return undefined;
    const store = ctx.openStore;
    let key = memo.primary;
    let entry: RamEntry | undefined = store.ramEntry(key, false);
    if (!entry) return undefined;
    if (entry.meta.headers[VARY_FIELD] !== undefined) {
      const variant = this.variantOf(memo, entry.meta, h);
      if (variant === undefined) return undefined;
      key = variant;
      entry = store.ramEntry(key, false);
      if (!entry || entry.meta.headers[VARY_FIELD] !== undefined) return undefined;
    }
    const meta = entry.meta;
    const now = ctx.o.now();
    // expired: answered here only within stale-while-revalidate while this worker's revalidation
    // of the key is under way (a fill for it in the coalescer), as the lookup answers it then;
    // the request that finds none starts it through the lookup
    const stale = !(now < meta.expiresAt);
    if (stale && (ctx.coalescer.get(key) === undefined || viewEntry(meta, now).state !== 'stale-while-revalidate')) {
      return undefined;
    }
    const body = entry.body;
    const p = this.answers.of(meta, body.length);
    if (raw && p.h1Head === undefined) return undefined;
    store.ramEntry(key, true);
    const cacheStatus = this.answers.refresh(p, meta, now, stale);
    const cmcd =
      cmcdRaw !== undefined ||
      h['cmcd-request'] !== undefined ||
      h['cmcd-object'] !== undefined ||
      h['cmcd-status'] !== undefined ||
      h['cmcd-session'] !== undefined
        ? cmcdLogFields(cmcdRaw === undefined ? undefined : cmcdQueryValue(cmcdRaw), h)
        : undefined;
    return { p, stale, cacheStatus, body, id: requestIdOf(req), keyTarget: memo.keyTarget, now, cmcd };
  }

  /** Counts, prefetch and the sampled access log after a hit was written. */
  private served(req: HitRequest, hit: Hit, method: 'GET' | 'HEAD'): void {
    const tally = this.ctx.metrics.tally;
    if (hit.stale) tally.stale++;
    else tally.hits++;
    if (method === 'GET') tally.ramBytes += hit.body.length;
    // prefetch follows fresh hits, as the lookup's noteServed does
    if (this.onServed && !hit.stale) this.onServed(req, hit.keyTarget);
    // a request with CMCD is counted in the CMCD metrics and logged whole, as the lookup logs it
    if (hit.cmcd !== undefined) this.ctx.metrics.cmcd.note(hit.cmcd);
    const whole = hit.cmcd !== undefined && this.ctx.rules.cmcdHitLog === 'every';
    if (whole || this.ctx.logger.isLevelEnabled('debug')) this.logHit(req, method, hit, 1);
    else if (--this.logCountdown <= 0) {
      this.logCountdown = HIT_LOG_EVERY;
      this.logHit(req, method, hit, HIT_LOG_EVERY);
    }
  }

  /**
   * The variant key `h` selects under the vary record `record` (undefined when the store cannot
   * index it); memoised per target when the record names one field (present once, or absent).
   */
  private variantOf(memo: NonNullable<KeyMemo>, record: ObjectMeta, h: IncomingHttpHeaders): string | undefined {
    const last = memo.variant;
    const names = last !== undefined && last.record === record ? last.names : varyNamesOf(record)!;
    // the one named field's value (absent: undefined); a repeated field (an array) is not memoised
    const value = names.length === 1 ? h[names[0]] : [];
    if (last !== undefined && last.record === record && last.value === value) return last.key;
    const key = variantKey(memo.primary, names, h);
    if (!checkKey(key).ok) return undefined;
    if (!Array.isArray(value)) memo.variant = { record, names, value, key };
    return key;
  }

  /** The cache key of a request target (memoised), or null when it needs the full lookup. */
  private keyOf(url: string): KeyMemo {
    const known = this.keys.get(url);
    if (known !== undefined) return known;
    let memo: KeyMemo = null;
    if (url.startsWith('/') && !url.startsWith('/_edge') && !url.includes('CMCD') && checkTarget(url).ok) {
      const { ctx } = this;
      if (ctx.keyPolicy.headers.length > 0) return null; // keyed on request fields: no memo
      const t = requestTargets(url, {}, ctx.rules);
      const primary = cacheKey(t.keyTarget, {}, ctx.keyPolicy);
      // a delivery directive may be answered by a newer playlist: the lookup decides; so does a
      // CMCD argument spelled so that find() did not take it off (a percent-encoded name)
      if (!t.keyTarget.includes('_HLS_') && t.cmcd === undefined && checkKey(primary).ok) {
        memo = { primary, keyTarget: t.keyTarget };
      }
    }
    if (this.keys.size >= KEY_MEMO_ENTRIES) this.keys.clear();
    this.keys.set(url, memo);
    return memo;
  }

  /** One access-log line, the shape server.ts writes, with `sampled`: how many hits it stands for. */
  private logHit(req: HitRequest, method: 'GET' | 'HEAD', hit: Hit, sampled: number): void {
    const p = hit.p;
    this.ctx.logger.info(
      {
        reqId: hit.id,
        method,
        url: redactToken(req.url),
        status: p.status,
        result: hit.stale ? 'stale' : 'hit',
        cacheStatus: hit.cacheStatus,
        ...(hit.cmcd ? { cmcd: hit.cmcd } : {}),
        bytes: method === 'GET' ? p.length : 0,
        ms: 0,
        sampled,
      },
      'request',
    );
  }
}
