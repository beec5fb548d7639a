/**
 * Answer a request from a stored entry: 200, 206/416 for a Range, 304 for a matching
 * conditional, headers only for HEAD. A body in memory (RAM tier, small record) goes in one write;
 * a large one streams from its region file.
 */
import { pipeline } from 'node:stream';
import type { CacheStatusEntry } from '../src/http/cache-status.js';
import { notModified } from '../src/http/conditional.js';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange } from '../src/http/range.js';
import type { EdgeStore, ObjectMeta } from './store/index.js';
import { notModifiedHeaders, replayHeaders, viewEntry } from './cache-policy.js';
import { type Exchange, breakOff, header, writeHead } from './exchange.js';

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
  onBytes: (tier: 'ram' | 'disk', n: number) => void,
): Promise<boolean> {
  const key = ex.key!;
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
    return serveStored(ex, store, obj.meta, obj.size, status, now, onBytes);
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
