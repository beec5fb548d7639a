/**
 * The origin HTTP server (fastify): VOD assets under `/vod/`, live channels under `/live/`,
 * `/health`, `/metrics`, `/time`. Every response carries `Surrogate-Key`; manifests are
 * compressed (br/gzip); CORS is open for browser players.
 *
 *   const origin = await createOrigin({ root, live: [{ id: 'news', source: 'lavfi' }] });
 *   const url = await origin.listen(8081, '127.0.0.1');
 *   ...
 *   await origin.close(); // stops every ffmpeg child
 */
import { AccessLog } from './access-log.js';
import { stdoutLog } from '../../src/logging/log-destination.js';
import { mkdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import cors from '@fastify/cors';
import compress from '@fastify/compress';
import { StreamedgeError } from '../../src/errors.js';
import { OriginMetrics } from './metrics.js';
import { realRoot } from './safe-path.js';
import { registerVodRoutes } from './static-vod.js';
import { registerLiveRoutes } from './live-routes.js';
import { registerAdBreakRoutes } from './ad-break-routes.js';
import { registerContentKeyRoutes } from './content-key-routes.js';
import type { ContentKey } from '../../src/cenc/content-keys.js';
import { registerHealthRoute } from './health.js';
import { SteeringService, registerSteeringRoute, type SteeringOptions } from './content-steering.js';
import { registerTimeRoute } from './time-route.js';
import { registerRequestHooks } from './request-metrics.js';
import { sendError } from './errors-reply.js';
import { resolveChannelConfig, type ChannelConfig } from '../live/channel-config.js';
import { LiveChannel, type LiveChannelOptions, type StartRun } from '../live/live-channel.js';
import { ChannelStateStore } from '../live/channel-state-store.js';
import { closeFeed, startFfmpegLiveRun } from '../live/ffmpeg-live-run.js';
import {
  redactingLogger,
  registerSignedAccess,
  stripTokenForRouting,
  type OriginSignedAccessOptions,
} from './signed-access.js';
import { OriginListeners } from './listeners.js';
import { answerConnect, framingRefusal } from '../../src/http/request-framing.js';
import type { ReloadingTls } from '../../src/tls/reloading-tls.js';

/** What the origin's media paths answer; anything else there is 405. */
const READ_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;

export type { ChannelConfig } from '../live/channel-config.js';

export interface OriginOptions {
  /** Folder of published VOD assets; live state lives in `<root>/.live/`. */
  root: string;
  live?: ChannelConfig[];
  /**
   * fastify/pino logger option (default: info-level JSON on stdout, written once per event-loop
   * turn, one line per request: access-log.ts; false to silence).
   */
  logger?: FastifyServerOptions['logger'];
  /** How a live channel runs its encoder (default: ffmpeg). Tests may inject a producer. */
  startRun?: StartRun;
  /** Live channel tuning (stall timeout, restart backoff). */
  channelOptions?: Pick<
    LiveChannelOptions,
    'stallTimeoutMs' | 'startTimeoutMs' | 'backoffInitialMs' | 'backoffMaxMs' | 'utcTiming'
  >;
  /** Node process metrics in /metrics (default true). */
  processMetrics?: boolean;
  /**
   * Signed URLs: tokens (`/t/<token>/…` or `?token=`) are always stripped before routing; with a
   * verifier every request needs a valid one (or the edge↔origin credential); `sign` mounts
   * `POST /_sign`. See origin/signed-access.ts.
   */
  signing?: OriginSignedAccessOptions;
  /**
   * HTTPS with HTTP/2 and HTTP/1.1 on the listen port (see origin/listeners.ts); `listenPlain`
   * then adds a plain-HTTP port beside it. Held requests and streams behave the same on both.
   */
  tls?: ReloadingTls;
  /**
   * HLS Content Steering over several CDNs (origin/content-steering.ts): multivariant playlists
   * name `GET /steering`, which orders the CDNs by their health.
   */
  steering?: SteeringOptions;
  /** The live ad-break API (origin/ad-break-routes.ts): the bearer credential it asks for (off without). */
  cueCredential?: string;
  /** Content keys of encrypted assets and channels (origin/content-key-routes.ts); none: no key is handed out. */
  contentKeys?: readonly ContentKey[];
}

export interface Origin {
  app: FastifyInstance;
  metrics: OriginMetrics;
  channels: Map<string, LiveChannel>;
  /** Listens and returns the base URL, e.g. http://127.0.0.1:8081 (https:// with TLS). */
  listen(port?: number, host?: string): Promise<string>;
  /** With TLS: plain HTTP beside the HTTPS port (`--http-port`); returns its base URL. */
  listenPlain(port: number, host?: string): Promise<string>;
  /** Stops accepting requests, stops every live channel (and its ffmpeg), closes the state store. */
  close(): Promise<void>;
}

const EXPOSED_HEADERS = [
  'Age',
  'Date',
  'Content-Length',
  'Content-Range',
  'Cache-Status',
  'ETag',
  'Last-Modified',
  'Surrogate-Key',
  // CTA-5006: what players (and the demo's ABR) read of the object and of each hop
  'CMSD-Static',
  'CMSD-Dynamic',
];
const COMPRESSIBLE = /mpegurl|dash\+xml|json|^text\//;

/**
 * Logger options that write standard output through the per-turn destination (info level when
 * not given), unless they name a stream of their own.
 */
function onStdout(logger: OriginOptions['logger']): OriginOptions['logger'] {
  if (logger === false) return false;
  const base = logger === true || logger === undefined ? { level: 'info' } : logger;
  return 'stream' in base && base.stream ? base : { ...base, stream: stdoutLog() };
}

export async function createOrigin(opts: OriginOptions): Promise<Origin> {
  const root = resolve(opts.root);
  let rootReal: string;
  try {
    rootReal = await realRoot(root);
  } catch {
    throw new StreamedgeError(
      'ORIGIN_ROOT',
      `--root ${opts.root}: no such folder (create it, or package an asset into it first)`,
    );
  }
  if (!(await stat(rootReal)).isDirectory())
    throw new StreamedgeError(
      'ORIGIN_ROOT',
      `--root ${opts.root}: a file, not a folder (give the package command's --out)`,
    );
  const metrics = new OriginMetrics({ defaultMetrics: opts.processMetrics ?? true });
  const listeners = new OriginListeners(opts.tls, (code) => metrics.tlsHandshakeFailures.inc({ code }));
  // With TLS, request.raw/reply.raw are node:http2 compatibility objects for HTTP/2 requests
  // (typed as node:http's here): routes use the API both share, held answers go through wake-batch.ts.
  const app = Fastify({
    ...listeners.fastifyOptions(),
    logger: redactingLogger(onStdout(opts.logger)),
    logController: new AccessLog(),
    exposeHeadRoutes: false,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { maxParamLength: 1024 },
    rewriteUrl: (req) => stripTokenForRouting(req),
  });

  // before anything routes: what HTTP/1.1 refuses and node:http let through (two Host fields,
  // HTTP/2.0 in a text request line), and CONNECT answered rather than the connection dropped
  app.addHook('onRequest', (req, reply, done) => {
    const f = framingRefusal(req.raw);
    if (f === undefined) return done();
    void reply
      .code(f.status)
      .header('connection', 'close')
      .header('cache-control', 'no-store')
      .type('text/plain; charset=utf-8')
      .send(`origin: ${f.reason}\n`);
  });
  if (!opts.tls) answerConnect(app.server);

  await app.register(cors, {
    origin: '*',
    // (the Clear Key license path allows POST too: origin/content-key-routes.ts)
    methods: [...READ_METHODS],
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 86400,
    // an OPTIONS that is not a CORS preflight (RFC 9110 §9.3.7) gets 204 with the allowed
    // methods (Access-Control-Allow-Methods), not 400; no Allow field: setting one would take a
    // hook on every request of the origin's hot paths
    strictPreflight: false,
  });
  // after CORS (a 403 keeps its CORS headers), before compression (manifests rewritten first)
  registerSignedAccess(app, opts.signing ?? {}, metrics.registry);
  await app.register(compress, { global: true, encodings: ['br', 'gzip'], threshold: 256, customTypes: COMPRESSIBLE });
  registerRequestHooks(app, metrics);

  // Live channels.
  const channels = new Map<string, LiveChannel>();
  const liveDir = join(rootReal, '.live');
  let store: ChannelStateStore | undefined;
  const configs = (opts.live ?? []).map(resolveChannelConfig);
  const ids = new Set<string>();
  for (const c of configs) {
    if (ids.has(c.id)) throw new StreamedgeError('BAD_OPTION', `live channel "${c.id}" is configured twice`);
    ids.add(c.id);
  }
  if (configs.length > 0) {
    mkdirSync(liveDir, { recursive: true });
    store = new ChannelStateStore(join(liveDir, 'state.lmdb'));
    for (const cfg of configs) {
      metrics.setChannelState(cfg.id, 'starting');
      const channel = new LiveChannel(cfg, {
        liveDir,
        store,
        startRun: opts.startRun ?? startFfmpegLiveRun,
        ...opts.channelOptions,
        onStateChange: (s) => metrics.setChannelState(cfg.id, s),
        onPart: () => metrics.partsProduced.inc({ channel: cfg.id }),
        onRestart: () => metrics.sourceRestarts.inc({ channel: cfg.id }),
        onDiskWriteError: () => metrics.diskWriteErrors.inc({ channel: cfg.id }),
        log: app.log,
      });
      channels.set(cfg.id, channel);
    }
  }

  const steering = opts.steering ? new SteeringService(opts.steering, app.log) : undefined;
  if (steering) registerSteeringRoute(app, steering);
  registerVodRoutes(app, { realRoot: () => rootReal, ...(steering ? { steering } : {}) });
  registerLiveRoutes(app, { channels, metrics, ...(steering ? { steering } : {}) });
  registerAdBreakRoutes(app, {
    channels,
    ...(opts.cueCredential !== undefined ? { credential: opts.cueCredential } : {}),
  });
  registerContentKeyRoutes(app, { keys: opts.contentKeys ?? [], realRoot: () => rootReal, channels });
  registerHealthRoute(app, channels, Date.now(), steering);
  registerTimeRoute(app);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    reply.header('cache-control', 'no-store');
    return reply.send(await metrics.registry.metrics());
  });
  app.setNotFoundHandler((req, reply) => {
    // the media paths are read-only: another method on them is 405 with what they allow (RFC 9110 §15.5.6)
    if (/^\/(vod|live)\//.test(req.url) && !(READ_METHODS as readonly string[]).includes(req.method)) {
      reply.header('allow', READ_METHODS.join(', '));
      return sendError(reply, 405, `${req.method} is not allowed here: the origin's media is read-only`);
    }
    return sendError(reply, 404, 'not found');
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return sendError(reply, status, status >= 500 ? 'internal error' : err.message);
  });

  for (const channel of channels.values()) await channel.start();
  steering?.start();

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // Channels first: held requests are released (503/aborted streams) so the server can drain.
    await steering?.close();
    await Promise.all([...channels.values()].map((c) => c.close()));
    await Promise.all(configs.map(closeFeed));
    await listeners.close();
    await app.close();
    await store?.close();
  };

  return {
    app,
    metrics,
    channels,
    async listen(port = 8081, host = '127.0.0.1') {
      // A deep backlog: thousands of players (re)connect at once after a live edge event.
      return listeners.baseUrl(await app.listen({ port, host, backlog: 4096 }));
    },
    listenPlain(port, host = '127.0.0.1') {
      return listeners.listenPlain(port, host);
    },
    close,
  };
}
