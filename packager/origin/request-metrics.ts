/**
 * Per-request accounting and the headers every response carries: a route label for the
 * request counter, body bytes (streams counted as they flow), and `Surrogate-Key` (the asset
 * or channel id, `origin` for the rest) on everything, errors included.
 */
import { Transform, pipeline, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OriginMetrics } from './metrics.js';
import { protocolOf } from '../../src/tls/secure-http-server.js';

export function routeLabel(url: string): string {
  const path = url.split('?', 1)[0];
  const [, top, , ...rest] = path.split('/');
  const last = rest[rest.length - 1] ?? '';
  if (top === 'vod' || top === 'live') {
    if (last.endsWith('.m3u8') || last.endsWith('.mpd')) return `${top}-manifest`;
    if (/^seg-\d+\.\d+\.m4s$/.test(last)) return `${top}-part`;
    if (last.endsWith('.m4s')) return `${top}-segment`;
    if (last.endsWith('.mp4')) return `${top}-init`;
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
  app.addHook('onSend', async (req: FastifyRequest, reply, payload) => {
    if (!reply.hasHeader('surrogate-key')) reply.header('surrogate-key', surrogateKeyFor(req.raw.url ?? ''));
    const route = routeLabel(req.raw.url ?? '');
    if (req.method === 'HEAD') return payload;
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
      // pipeline: an error in the source (e.g. a dropped live segment) aborts the response.
      pipeline(payload, counter, () => undefined);
      return counter;
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: routeLabel(req.raw.url ?? ''), status: String(reply.statusCode) });
    metrics.requestsByProtocol.inc({ protocol: protocolOf(req.raw) });
  });
}
