/**
 * Answer a request from a fill in flight: the response head as soon as the upstream's arrives,
 * then body bytes as they arrive, paced by this client's socket alone; a small body of known
 * length is sent whole, once complete, as one prepared answer for the group (group-answer.ts). A client that falls
 * behind what the fill retains finishes from the store once the object is stored, or is
 * aborted. A fill that fails aborts the client's connection.
 */
import { type Writable, pipeline } from 'node:stream';
import type { CacheStatusEntry } from '../src/http/cache-status.js';
import { notModified } from '../src/http/conditional.js';
import { contentRange, ifRangeAllows, parseRange, unsatisfiedRange } from '../src/http/range.js';
import type { EdgeStore } from './store/index.js';
import type { Fill, FillHead } from './fill.js';
import { notModifiedHeaders } from './cache-policy.js';
import { type Exchange, breakOff, header, sendText, writeHead } from './exchange.js';
import { GROUP_ANSWER_MAX_BYTES, answerFromGroup, groupBody, writeGroupHead } from './group-answer.js';

type ResponseHead = Extract<FillHead, { kind: 'response' }>;

export interface FillServeHooks {
  onBytes(tier: 'upstream' | 'ram' | 'disk', n: number): void;
  onAbort(reason: string): void;
}

/**
 * Bytes a reader's pass may leave queued on its response (not yet taken by the kernel) before it
 * waits for 'drain': a late joiner catches up in few writes, a slow client pins little.
 */
const PASS_QUEUE_BYTES = 1024 * 1024;

/**
 * Stream fill bytes [start, end) to `res`, where the answer's body goes (after its head: sendHead);
 * resolves when the response is over. `end` undefined: until the fill completes.
 */
export function pumpFill(
  ex: Exchange,
  res: Writable,
  fill: Fill,
  store: EdgeStore,
  start: number,
  end: number | undefined,
  hooks: FillServeHooks,
): Promise<void> {
  return new Promise((resolve) => {
    let pos = start;
    let unsubscribe: (() => void) | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe?.();
      res.off('close', onClose);
      res.off('drain', onDrain);
      resolve();
    };
    const onClose = () => {
      if (!res.writableFinished) hooks.onAbort('client-closed');
      finish();
    };
    res.on('close', onClose);

    const fromStore = async () => {
      // this reader fell behind the bytes the fill retains: continue from the stored object
      unsubscribe?.();
      const stored = await fill.stored;
      if (done) return;
      if (!stored) {
        hooks.onAbort('lagging-not-stored');
        breakOff(res);
        return finish();
      }
      const last = end !== undefined ? end - 1 : undefined;
      const obj = await store.get(ex.key!, { start: pos, end: last ?? Number.MAX_SAFE_INTEGER }).catch(() => undefined);
      if (!obj || done) {
        obj?.body.destroy();
        if (!done) {
          hooks.onAbort('lagging-evicted');
          breakOff(res);
        }
        return finish();
      }
      const tier = obj.fromRam ? 'ram' : 'disk';
      obj.body.on('data', (c: Buffer) => {
        ex.bytes += c.length;
        hooks.onBytes(tier, c.length);
      });
      pipeline(obj.body, res, (err) => {
        if (err) breakOff(res);
        finish();
      });
    };

    // A pass is corked: what it writes goes out in one writev. Every chunk available goes in it,
    // up to PASS_QUEUE_BYTES queued on the response: beyond, this reader waits for 'drain' (a client
    // that does not keep up holds no more than that). The first pass runs in the request's own
    // turn and sends the head and ONE chunk. The rest is bulk, sent on the fill's bulk turns
    // (Fill.bulkTurn): a late joiner's catch-up, more bytes to a reader already streaming, a pass
    // after 'drain'; a turn in which readers got their first bytes puts the bulk off to the next
    // one, so the requests of a burst get their first bytes before anyone gets more. A reader
    // that has sent nothing yet is woken as soon as bytes arrive (Fill.onProgress `firstBytes`).
    const step = (): void => run(false);
    const onDrain = (): void => {
      if (!done) unsubscribe = fill.nextBulkTurn(step);
    };
    const run = (firstPass: boolean): void => {
      if (done) return;
      res.cork();
      try {
        pass(firstPass);
      } finally {
        res.uncork();
      }
    };
    const pass = (firstPass: boolean): void => {
      let wrote = false;
      for (;;) {
        if (res.destroyed) return finish();
        if (end !== undefined && pos >= end) {
          res.end();
          return finish();
        }
        const r = fill.read(pos);
        if (r.kind === 'data') {
          if (firstPass && wrote) {
            unsubscribe = fill.nextBulkTurn(step);
            return;
          }
          if (res.writableLength >= PASS_QUEUE_BYTES) {
            res.once('drain', onDrain);
            return;
          }
          if (pos === start) fill.noteFirstBytes();
          wrote = true;
          let c = r.chunk;
          if (end !== undefined && pos + c.length > end) c = c.subarray(0, end - pos);
          pos += c.length;
          ex.bytes += c.length;
          hooks.onBytes('upstream', c.length);
          res.write(c); // false past the 16 KiB high-water mark: PASS_QUEUE_BYTES bounds the queue instead
          continue;
        }
        if (r.kind === 'wait') {
          unsubscribe = fill.onProgress(step, pos === start);
          return;
        }
        if (r.kind === 'end') {
          if (end !== undefined && pos < end) {
            // declared length not reached: never present a truncated body as complete
            hooks.onAbort('fill-short');
            breakOff(res);
            return finish();
          }
          res.end();
          return finish();
        }
        if (r.kind === 'failed') {
          hooks.onAbort('fill-failed');
          breakOff(res);
          return finish();
        }
        // lagging
        void fromStore();
        return;
      }
    };
    run(true);
  });
}

/** A field that is one line (every one but Set-Cookie). */
function single(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Serve a client attached to a fill whose head is a response. */
export async function serveFill(
  ex: Exchange,
  fill: Fill,
  head: ResponseHead,
  store: EdgeStore,
  status: CacheStatusEntry,
  hooks: FillServeHooks,
  opts: { stripSetCookie: boolean },
): Promise<void> {
  const headers: Record<string, string | string[]> = { ...head.headers };
  const etag = single(headers['etag']);
  const lastModified = single(headers['last-modified']);
  if (opts.stripSetCookie) delete headers['set-cookie'];
  const entry: CacheStatusEntry = { ...status };
  // RFC 9211 `stored`: said only once the put has landed, never for a put still running or refused
  if (head.stored && fill.landedInStore) entry.stored = true;
  if (head.ttl !== undefined) entry.ttl = head.ttl;
  const common = { age: head.initialAge, upstreamCacheStatus: head.upstreamCacheStatus };
  const req = ex.req;

  if (head.status === 200) {
    const inm = header(req, 'if-none-match');
    const ims = header(req, 'if-modified-since');
    if (
      (inm !== undefined || ims !== undefined) &&
      notModified(
        {
          ...(inm !== undefined ? { 'if-none-match': inm } : {}),
          ...(ims !== undefined ? { 'if-modified-since': ims } : {}),
        },
        {
          ...(etag ? { etag } : {}),
          ...(lastModified ? { lastModified } : {}),
        },
      )
    ) {
      writeHead(ex, 304, notModifiedHeaders(headers), entry, common).end();
      return;
    }
  }

  const rangeHeader = head.status === 200 ? header(req, 'range') : undefined;
  const rangeApplies = rangeHeader !== undefined && ifRangeAllows(header(req, 'if-range'), etag, lastModified);
  if (head.status === 200) headers['accept-ranges'] = 'bytes';

  if (rangeApplies) {
    // a range needs the total size: known from Content-Length, else wait for the fill to end
    let size = head.length;
    if (size === undefined) {
      const ok = await fill.finished;
      if (!ok || fill.error) {
        ex.res.destroy();
        hooks.onAbort('fill-failed');
        return;
      }
      size = fill.size;
    }
    const r = parseRange(rangeHeader, size);
    if (r.kind === 'unsatisfiable') {
      writeHead(ex, 416, { ...headers, 'content-range': unsatisfiedRange(size) }, entry, {
        ...common,
        length: 0,
      }).end();
      return;
    }
    if (r.kind === 'satisfiable') {
      const body = writeHead(ex, 206, { ...headers, 'content-range': contentRange(r.start, r.end, size) }, entry, {
        ...common,
        length: r.end - r.start + 1,
      });
      if (ex.method === 'HEAD') {
        body.end();
        return;
      }
      await pumpFill(ex, body, fill, store, r.start, r.end + 1, hooks);
      return;
    }
  }

  if (
    ex.method === 'GET' &&
    head.length !== undefined &&
    head.length <= GROUP_ANSWER_MAX_BYTES &&
    head.status !== 204 &&
    head.status !== 304 &&
    headers['set-cookie'] === undefined
  ) {
    // small and of known length: the whole body once complete, one prepared answer for every waiter
    const body = await groupBody(fill, head.length);
    if (ex.res.destroyed) {
      hooks.onAbort('client-closed');
      return;
    }
    if (body) {
      answerFromGroup(ex, fill, head.status, headers, entry, common, body);
      hooks.onBytes('upstream', body.length);
      return;
    }
    const failure = fill.error;
    if (failure !== undefined) {
      // the upstream broke off (or stalled past the body timeout) before the body was whole, and
      // this client has been sent nothing yet: a clear 502/504 rather than a connection dropped
      // without a word
      ex.result = 'error';
      const c = (failure as { code?: unknown }).code;
      const code = typeof c === 'string' ? c : 'FILL_FAILED';
      const timedOut = code === 'UND_ERR_BODY_TIMEOUT' || code === 'UPSTREAM_TIMEOUT';
      const what = timedOut ? 'stalled' : 'broke off';
      sendText(ex, timedOut ? 504 : 502, `edge: the upstream response ${what} before its end (${failure.message})`, {
        ...status,
        detail: code,
      });
      return;
    }
  }
  const body =
    ex.method === 'GET'
      ? writeGroupHead(ex, fill, head.status, headers, entry, { ...common, length: head.length })
      : writeHead(ex, head.status, headers, entry, { ...common, length: head.length });
  if (ex.method === 'HEAD' || head.status === 204 || head.status === 304) {
    body.end();
    return;
  }
  await pumpFill(ex, body, fill, store, 0, head.length, hooks);
}
