/**
 * Per-request accounting and the headers every response carries: a route label for the
 * request counter, body bytes (streams counted as they flow), and `Surrogate-Key` (the asset
 * or channel id, `origin` for the rest) on everything, errors included.
 */
import { Transform, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OriginMetrics } from './metrics.js';
import { protocolOf } from '../../src/tls/secure-http-server.js';

/** The path of a request URL (before `?`). */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

const PART = /^seg-\d+\.\d+\.m4s$/;

/**
 * The route label of a request URL: `<vod|live>-<manifest|part|segment|init|thumbnail|other>`
 * for media (by the last path segment, from the third one on), `<vod|live>-key` and `<vod|live>-license`
 * for an encrypted asset's key service (`…/keys/<kid>`, `…/keys/clearkey`), `health`, `metrics`,
 * `time` or `other`.
 * Runs once per answered request, so it scans the string instead of splitting it.
 */
export function routeLabel(url: string): string {
  const path = pathOf(url);
  const s1 = path.indexOf('/', 1);
  const top = s1 < 0 ? path.slice(1) : path.slice(1, s1);
  if (top === 'vod' || top === 'live') {
    // the last segment counts from /<top>/<x>/<last> on
    const s2 = s1 < 0 ? -1 : path.indexOf('/', s1 + 1);
    const last = s2 < 0 ? '' : path.slice(path.lastIndexOf('/') + 1);
    if (last.endsWith('.m3u8') || last.endsWith('.mpd')) return `${top}-manifest`;
    if (last.endsWith('.m4s')) return PART.test(last) ? `${top}-part` : `${top}-segment`;
    if (last.endsWith('.mp4')) return `${top}-init`;
    if (last.endsWith('.jpg')) return `${top}-thumbnail`;
    // …/<asset or channel>/[…/]keys/<kid | clearkey>
    if (s2 >= 0 && path.endsWith(`/keys/${last}`) && path.lastIndexOf('/keys/') >= s2)
      return last === 'clearkey' ? `${top}-license` : `${top}-key`;
    return `${top}-other`;
  }
  if (top === 'health' || top === 'metrics' || top === 'time') return top;
  return 'other';
}

function surrogateKeyFor(url: string): string {
  const m = /^\/(?:vod|live)\/([^/?]+)/.exec(url);
  if (!m) return 'origin';
  let key: string;
  try {
    key = decodeURIComponent(m[1]);
  } catch {
    return 'origin';
  }
  return /^[A-Za-z0-9._~-]{1,128}$/.test(key) ? key : 'origin';
}

function isReadable(x: unknown): x is Readable {
  return typeof x === 'object' && x !== null && typeof (x as Readable).pipe === 'function';
}

export function registerRequestHooks(app: FastifyInstance, metrics: OriginMetrics): void {
  // Callback-style hooks (not async): no promise per request.
  app.addHook('onSend', (req: FastifyRequest, reply, payload, done) => {
    if (!reply.hasHeader('surrogate-key')) reply.header('surrogate-key', surrogateKeyFor(req.raw.url ?? ''));
    done(null, countedPayload(metrics, routeLabel(req.raw.url ?? ''), req.method, payload));
  });
  app.addHook('onResponse', (req, reply, done) => {
    metrics.countRequest(routeLabel(req.raw.url ?? ''), reply.statusCode, protocolOf(req.raw));
    done();
  });
}

/** The payload to send, counting its bytes (streams as they flow). */
function countedPayload(metrics: OriginMetrics, route: string, method: string, payload: unknown): unknown {
  if (method === 'HEAD') return payload;
  if (typeof payload === 'string' || Buffer.isBuffer(payload)) {
    metrics.bytes.inc({ route }, Buffer.byteLength(payload));
    return payload;
  }
  if (isReadable(payload)) {
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        metrics.bytes.inc({ route }, chunk.length);
        cb(null, chunk);
      },
    });
    // an error in the source (e.g. a dropped live segment) aborts the response; a response that
    // closes early (the client left) stops the source. pipe, not pipeline: pipeline's
    // AbortController (and the DOMException its end creates) cost more than the counting.
    payload.on('error', (e) => counter.destroy(e));
    counter.on('close', () => payload.destroy());
    payload.pipe(counter);
    return counter;
  }
  return payload;
}
