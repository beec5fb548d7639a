/**
 * Answer a request from a stored entry: 200, 206/416 for a Range, 304 for a matching
 * conditional, headers only for HEAD. A body in memory (RAM tier, small record) goes in one write;
 * a large one streams from its region file. A whole GET of a RAM-tier entry (HTTP/2, or an
 * HTTP/1.1 keep-alive connection) is answered with the entry's prepared header block
 * (edge/prepared-answers.ts), as the one-write hit path answers it, instead of building the head
 * field by field.
 */
import { pipeline } from 'node:stream';
import { type CacheStatusEntry, appendCacheStatus } from '../src/http/cache-status.js';
import { notModified } from '../src/http/conditional.js';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange } from '../src/http/range.js';
import { rawConnectionFields, writeRaw } from '../src/http/raw-h1.js';
import type { EdgeStore, ObjectMeta } from './store/index.js';
import { notModifiedHeaders, replayHeaders, viewEntry } from './cache-policy.js';
import { type Exchange, breakOff, header, writeHead } from './exchange.js';
import type { PreparedAnswers } from './prepared-answers.js';
import { VARY_FIELD } from './variants.js';

/**
 * Serve the stored entry for `ex.key`. Resolves false, having written nothing, when the entry
 * is gone (evicted or purged since it was looked up): the caller treats the request as a miss.
 */
export async function serveStored(
  ex: Exchange,
  store: EdgeStore,
  meta: ObjectMeta,
  size: number,
  status: CacheStatusEntry,
  now: number,
  answers: PreparedAnswers,
  onBytes: (tier: 'ram' | 'disk', n: number) => void,
): Promise<boolean> {
  const key = ex.key!;
  if ((ex.h2 !== undefined || ex.rawH1 === true) && ex.method === 'GET' && meta.status === 200) {
    const sent = answerFromRam(ex, store, status, now, answers);
    if (sent !== undefined) {
      onBytes('ram', sent);
      return true;
    }
  }
  const view = viewEntry(meta, now);
  const headers = replayHeaders(meta);
  const upstreamCacheStatus = meta.headers[':upstream-cache-status'];
  const entry: CacheStatusEntry = { ...status, ttl: status.ttl ?? view.ttl };
  const req = ex.req;

  if (meta.status === 200 && (ex.method === 'GET' || ex.method === 'HEAD')) {
    const cond = {
      'if-none-match': header(req, 'if-none-match'),
      'if-modified-since': header(req, 'if-modified-since'),
    };
    if (
      (cond['if-none-match'] !== undefined || cond['if-modified-since'] !== undefined) &&
      notModified(cond, {
        etag: view.etag,
        lastModified: view.lastModified,
      })
    ) {
      writeHead(ex, 304, notModifiedHeaders(headers), entry, { age: view.age, upstreamCacheStatus }).end();
      return true;
    }
  }

  let range: { start: number; end: number } | undefined;
  let code = meta.status;
  const extra: Record<string, string> = {};
  if (meta.status === 200) {
    extra['accept-ranges'] = 'bytes';
    const rangeHeader = header(req, 'range');
    if (rangeHeader !== undefined && ifRangeAllows(header(req, 'if-range'), view.etag, view.lastModified)) {
      const r = parseRange(rangeHeader, size);
      if (r.kind === 'unsatisfiable') {
        writeHead(ex, 416, { ...headers, ...extra, 'content-range': unsatisfiedRange(size) }, entry, {
          age: view.age,
          upstreamCacheStatus,
          length: 0,
        }).end();
        return true;
      }
      if (r.kind === 'satisfiable') {
        range = { start: r.start, end: r.end };
        code = 206;
        extra['content-range'] = contentRange(r.start, r.end, size);
      }
    }
  }
  const length = range ? range.end - range.start + 1 : size;

  if (ex.method === 'HEAD') {
    writeHead(ex, code, { ...headers, ...extra }, entry, { age: view.age, upstreamCacheStatus, length }).end();
    return true;
  }

  const obj = await store.get(key, range && size > 0 ? range : undefined).catch(() => undefined);
  if (!obj) return false;
  if (ex.res.destroyed) {
    if (!obj.buffer) obj.body.destroy();
    return true;
  }
  // the entry may have been replaced between head() and get(): trust what get() returned
  if (obj.size !== size) {
    if (!obj.buffer) obj.body.destroy();
    return serveStored(ex, store, obj.meta, obj.size, status, now, answers, onBytes);
  }
  const sink = writeHead(ex, code, { ...headers, ...extra }, entry, { age: view.age, upstreamCacheStatus, length });
  const tier = obj.fromRam ? 'ram' : 'disk';
  if (obj.buffer) {
    // in memory already (RAM tier, or a small record read whole): one write, no stream
    ex.bytes += obj.buffer.length;
    onBytes(tier, obj.buffer.length);
    sink.end(obj.buffer);
    return true;
  }
  obj.body.on('data', (c: Buffer) => {
    ex.bytes += c.length;
    onBytes(tier, c.length);
  });
  pipeline(obj.body, sink, (err) => {
    if (err) breakOff(sink);
  });
  return true;
}

/**
 * A whole GET of the RAM tier's copy of `ex.key` from its prepared header block, on an HTTP/2
 * stream or raw on an HTTP/1.1 keep-alive socket: the body bytes sent; undefined, having written
 * nothing, when the request has a Range or a conditional, the entry is not in RAM (or is a vary
 * record), or the answer cannot be written so (a stream already answered, a connection closing).
 * The RAM tier's entry is used as it is held (its meta and body belong together), as the hit path
 * and the store's get() would serve it: the head the caller looked at may be a moment older.
 */
function answerFromRam(
  ex: Exchange,
  store: EdgeStore,
  status: CacheStatusEntry,
  now: number,
  answers: PreparedAnswers,
): number | undefined {
  const h = ex.req.headers;
  if (h['range'] !== undefined || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) {
    return undefined;
  }
  const stream = ex.h2;
  // HTTP/1.1: a draining edge's `connection: close` (set on res) is written by node:http
  const connection = stream === undefined && !ex.res.hasHeader('connection') ? rawConnectionFields(ex.res) : undefined;
  if (stream !== undefined ? stream.destroyed || stream.headersSent : connection === undefined) return undefined;
  const key = ex.key!;
  const held = store.ramEntry(key, false);
  if (held === undefined || held.meta.status !== 200 || held.meta.headers[VARY_FIELD] !== undefined) return undefined;
  const { meta, body } = held;
  const p = answers.of(meta, body.length);
  if (stream === undefined && p.h1Head === undefined) return undefined;
  store.ramEntry(key, true);
  // Age (and the hit's Cache-Status) brought up to date; another member is built for this answer
  const hitStatus = answers.refresh(p, meta, now, status.detail === 'stale-while-revalidate');
  const cacheStatus = plainHit(status)
    ? hitStatus
    : appendCacheStatus(p.upstreamCacheStatus, { ...status, ttl: status.ttl ?? (meta.expiresAt - now) / 1000 });
  ex.cacheStatus = cacheStatus;
  ex.bytes += body.length;
  if (stream !== undefined) {
    ex.res.statusCode = 200;
    stream.respond(answers.h2Block(p, cacheStatus, ex.id, now));
    stream.end(body);
  } else {
    writeRaw(ex.res, 200, p.h1Head!, answers.h1Tail(p, cacheStatus, ex.id, connection!), body);
  }
  return body.length;
}

/** A hit's Cache-Status member the prepared answer keeps (fresh, or stale-while-revalidate). */
function plainHit(s: CacheStatusEntry): boolean {
  return (
    s.hit === true &&
    s.fwd === undefined &&
    s.fwdStatus === undefined &&
    s.ttl === undefined &&
    s.stored !== true &&
    s.collapsed !== true &&
    s.key === undefined &&
    (s.detail === undefined || s.detail === 'stale-while-revalidate')
  );
}
