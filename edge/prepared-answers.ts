/**
 * The header block of a stored entry's 200 (or stored status), prepared once per entry and kept
 * while the entry is (a WeakMap on the RAM tier's meta object, which a change replaces): the
 * one-write hit path (edge/hit-path.ts) answers from it, and so does the full lookup's answer of
 * a RAM-tier entry over HTTP/2 (edge/serve-stored.ts). Per answer only Age, Cache-Status (both
 * rebuilt when their whole-second values change), X-Request-ID and, for an entry stored without
 * one, Date are filled in.
 */
import { appendCacheStatus } from '../src/http/cache-status.js';
import { prepareRawHead } from '../src/http/raw-h1.js';
import type { ObjectMeta } from './store/index.js';
import { replayHeaders } from './cache-policy.js';

const INITIAL_AGE = ':initial-age';
const UPSTREAM_CACHE_STATUS = ':upstream-cache-status';

/** The prepared answer for one stored entry. */
export interface Prepared {
  status: number;
  length: number;
  /** HTTP/1.1: flat [name, value, ...] pairs for writeHead, with slots for Age, Cache-Status, ID. */
  h1: string[];
  /**
   * HTTP/1.1 written raw (src/http/raw-h1.ts): the status line and fixed fields as bytes, ahead of
   * the per-hit fields (undefined when a stored field would not pass writeHead's checks).
   */
  h1Head: Buffer | undefined;
  /** HTTP/2: the header object for stream.respond, same fields plus :status (and date). */
  h2: Record<string, string | string[] | number>;
  initialAge: number;
  upstreamCacheStatus: string | undefined;
  age: number;
  ageText: string;
  ttl: number;
  cacheStatus: string;
  /** The same for a stale-while-revalidate answer (its own ttl, below 0, and detail). */
  staleTtl: number;
  staleCacheStatus: string;
  /** Index in h1 of the Age value (Cache-Status and X-Request-ID follow it). */
  slot: number;
  /** Stored without a Date: answers get the current one (node:http adds it to writeHead's). */
  ownDate: boolean;
}

export class PreparedAnswers {
  private prepared = new WeakMap<ObjectMeta, Prepared>();
  private dateSecond = -1;
  private dateText = '';

  constructor(
    /** This cache's name in Cache-Status. */
    private readonly name: string,
    /** Headers every answer of the listener carries (Timing-Allow-Origin, x-edge-worker, CMSD). */
    private readonly extraHeaders: readonly (readonly [string, string])[],
  ) {}

  /** Every prepared answer is built again on its next use (the headers every answer carries changed). */
  forget(): void {
    this.prepared = new WeakMap();
  }

  /** The prepared answer of the RAM-tier entry `meta` whose body is `length` bytes. */
  of(meta: ObjectMeta, length: number): Prepared {
    let p = this.prepared.get(meta);
    if (!p || p.length !== length) {
      p = this.prepare(meta, length);
      this.prepared.set(meta, p);
    }
    return p;
  }

  /**
   * Brings Age and the Cache-Status of a hit (fresh, or stale-while-revalidate when `stale`) up to
   * date for `now`, and returns that Cache-Status.
   */
  refresh(p: Prepared, meta: ObjectMeta, now: number, stale: boolean): string {
    const age = Math.floor(p.initialAge + Math.max(0, (now - meta.storedAt) / 1000));
    const ttl = Math.trunc((meta.expiresAt - now) / 1000);
    if (age !== p.age) {
      p.age = age;
      p.ageText = String(age);
    }
    if (stale) {
      if (ttl !== p.staleTtl) {
        p.staleTtl = ttl;
        p.staleCacheStatus = appendCacheStatus(p.upstreamCacheStatus, {
          cache: this.name,
          hit: true,
          ttl,
          detail: 'stale-while-revalidate',
        });
      }
      return p.staleCacheStatus;
    }
    if (ttl !== p.ttl) {
      p.ttl = ttl;
      p.cacheStatus = appendCacheStatus(p.upstreamCacheStatus, { cache: this.name, hit: true, ttl });
    }
    return p.cacheStatus;
  }

  /**
   * The HTTP/2 header block of an answer from `p` (shared: respond() with it before the next
   * answer is prepared).
   */
  h2Block(p: Prepared, cacheStatus: string, id: string, now: number): Record<string, string | string[] | number> {
    const h2 = p.h2;
    h2['age'] = p.ageText;
    h2['cache-status'] = cacheStatus;
    h2['x-request-id'] = id;
    if (p.ownDate) h2['date'] = this.date(now);
    return h2;
  }

  /**
   * The per-answer fields of a raw HTTP/1.1 answer from `p` (src/http/raw-h1.ts writeRaw), the
   * keep-alive fields `connection` and the empty line.
   */
  h1Tail(p: Prepared, cacheStatus: string, id: string, connection: string): string {
    return (
      `age: ${p.ageText}\r\ncache-status: ${cacheStatus}\r\nx-request-id: ${id}\r\n` +
      (p.ownDate ? `date: ${this.date(Date.now())}\r\n` : '') +
      `${connection}\r\n`
    );
  }

  /**
   * The Date field for answers of entries stored without one (HTTP/2: the edge's clock; raw
   * HTTP/1.1: the wall clock, as node:http adds it), rebuilt once a second.
   */
  date(now: number): string {
    const s = Math.floor(now / 1000);
    if (s !== this.dateSecond) {
      this.dateSecond = s;
      this.dateText = new Date(s * 1000).toUTCString();
    }
    return this.dateText;
  }

  /** The header block of an entry, as serve-stored.ts writes it for a 200 (or stored status). */
  private prepare(meta: ObjectMeta, length: number): Prepared {
    const stored = replayHeaders(meta);
    delete stored['transfer-encoding'];
    const h1: string[] = [];
    const h2: Record<string, string | string[] | number> = { ':status': meta.status };
    const add = (name: string, value: string | string[]): void => {
      if (Array.isArray(value)) for (const v of value) h1.push(name, v);
      else h1.push(name, value);
      h2[name] = value;
    };
    for (const [name, value] of Object.entries(stored)) add(name, value);
    if (meta.status === 200) add('accept-ranges', 'bytes');
    for (const [name, value] of this.extraHeaders) add(name, value);
    add('content-length', String(length));
    const slot = h1.length + 1;
    const h1Head = prepareRawHead(meta.status, h1);
    h1.push('age', '', 'cache-status', '', 'x-request-id', '');
    return {
      status: meta.status,
      length,
      h1,
      h1Head,
      h2,
      initialAge: Number(meta.headers[INITIAL_AGE] ?? '0') || 0,
      upstreamCacheStatus: meta.headers[UPSTREAM_CACHE_STATUS],
      age: -1,
      ageText: '',
      ttl: Number.NaN,
      cacheStatus: '',
      staleTtl: Number.NaN,
      staleCacheStatus: '',
      slot,
      ownDate: stored['date'] === undefined,
    };
  }
}
