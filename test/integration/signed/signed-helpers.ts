/**
 * Shared pieces of the signed-URL suites: keys written to files the way an operator would, a
 * real origin and edge configured through the same functions as their CLIs, a recording proxy
 * between them (what goes upstream), and a small HTTP client.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { Agent, request } from 'undici';
import pino from 'pino';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createOrigin, type ChannelConfig, type Origin } from '../../../packager/origin/server.js';
import { originSigningFromCli } from '../../../packager/origin/cli.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import type { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { edgeSigningFromCli } from '../../../edge/edge-cli.js';
import {
  issueToken,
  signedUrl,
  signingKeyFromJwk,
  type IssueTokenOptions,
  type SigningKey,
  type TokenPlacement,
} from '../../../src/signing/index.js';

export const client = new Agent({ connections: 64, keepAliveTimeout: 1000 });

export interface Got {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
  text: string;
}

export async function get(
  url: string,
  headers: Record<string, string> = {},
  method: 'GET' | 'HEAD' = 'GET',
): Promise<Got> {
  const res = await request(url, { method, headers, dispatcher: client, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const body = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    headers: res.headers as Record<string, string | undefined>,
    body,
    text: body.toString('utf8'),
  };
}

export interface KeyPairFiles {
  kid: string;
  signing: SigningKey;
  publicJwk: JWK;
}

export async function es256(kid: string): Promise<KeyPairFiles> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'ES256' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid };
  return { kid, signing: await signingKeyFromJwk(privateJwk), publicJwk };
}

/** An oct (HS256) key with a kid, as it appears in a JWKS file. */
export async function hs256(kid: string): Promise<KeyPairFiles & { secret: string }> {
  const secret = randomBytes(48).toString('base64url');
  const jwk: JWK = { kty: 'oct', k: Buffer.from(secret).toString('base64url'), kid };
  return { kid, signing: await signingKeyFromJwk(jwk), publicJwk: jwk, secret };
}

/** Replaces a JWKS file atomically (write + rename), as a deploy tool would. */
export function writeJwks(file: string, keys: KeyPairFiles[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
  renameSync(tmp, file);
}

export function sign(key: KeyPairFiles, scope: string, extra: Partial<IssueTokenOptions> = {}): Promise<string> {
  return issueToken({ scope, ttlSec: 600, key: key.signing, ...extra });
}

export function url(base: string, path: string, token: string, placement: TokenPlacement = 'path'): string {
  return signedUrl(base, path, token, placement);
}

/** A hand-made VOD asset (the origin does not parse media): enough for access-control tests. */
export function writeFakeAsset(root: string, id: string): { segment: Buffer } {
  const dir = join(root, id, 'v');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, id, 'master.m3u8'), '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000\nv/index.m3u8\n');
  writeFileSync(
    join(dir, 'index.m3u8'),
    '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.0,\nseg-1.m4s\n#EXT-X-ENDLIST\n',
  );
  const segment = randomBytes(64 * 1024);
  writeFileSync(join(dir, 'init.mp4'), randomBytes(512));
  writeFileSync(join(dir, 'seg-1.m4s'), segment);
  return { segment };
}

export interface Recorded {
  url: string;
  headers: IncomingHttpHeaders;
}

/** A transparent HTTP proxy that records every request passing through it. */
export async function recordingProxy(
  target: string,
): Promise<{ url: string; seen: Recorded[]; close(): Promise<void> }> {
  const seen: Recorded[] = [];
  const sockets = new Set<Socket>();
  const upstream = new Agent({ connections: 64 });
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || k === 'host' || k === 'connection') continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    request(`${target}${req.url ?? '/'}`, {
      method: (req.method ?? 'GET') as 'GET',
      headers,
      dispatcher: upstream,
      headersTimeout: 60_000,
    })
      .then((up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers))
          if (v !== undefined && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') out[k] = v;
        res.writeHead(up.statusCode, out);
        up.body.pipe(res);
      })
      .catch(() => res.destroy());
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await upstream.close();
    },
  };
}

export const UPSTREAM_CREDENTIAL = randomBytes(24).toString('base64url');

export interface Stack {
  origin: Origin;
  originUrl: string;
  proxy: Awaited<ReturnType<typeof recordingProxy>>;
  edge: Edge;
  /** The edge's plain HTTP port (beside its HTTPS one when `edgeTls` was given). */
  edgeUrl: string;
  /** The edge's HTTPS port (HTTP/2 and HTTP/1.1), when `edgeTls` was given. */
  edgeTlsUrl?: string;
  /** Key sources of origin and edge (they re-read the JWKS file when it changes). */
  originKeys: NonNullable<Awaited<ReturnType<typeof originSigningFromCli>>['keys']>;
  edgeKeys: NonNullable<Awaited<ReturnType<typeof edgeSigningFromCli>>>['keys'];
  close(): Promise<void>;
}

/**
 * origin (--require-signed --jwks-file <f> + upstream credential) ← recording proxy ← edge
 * (--require-signed --jwks-file <f> + the same upstream credential), configured through the
 * CLIs' own option functions.
 */
export async function startStack(opts: {
  root: string;
  jwksFile: string;
  live?: ChannelConfig[];
  storeDir: string;
  edgeCredential?: string;
  /** Capture every log line of both servers (level trace) into these streams. */
  logs?: { origin: Writable; edge: Writable };
  /** The edge listens on HTTPS (HTTP/2 and HTTP/1.1) with these, and on plain HTTP beside. */
  edgeTls?: ReloadingTls;
}): Promise<Stack> {
  const env: NodeJS.ProcessEnv = { STREAMEDGE_UPSTREAM_CREDENTIAL: UPSTREAM_CREDENTIAL };
  const o = await originSigningFromCli(
    {
      requireSigned: true,
      jwksFile: [opts.jwksFile],
      jwksUrl: [],
      publicKeyFile: [],
      jwksMaxAge: '10m',
      clockSkew: '5s',
      signPlacement: 'path',
      signMaxTtl: '24h',
    },
    env,
  );
  const origin = await createOrigin({
    root: opts.root,
    live: opts.live ?? [],
    logger: opts.logs ? { level: 'trace', stream: opts.logs.origin } : false,
    processMetrics: false,
    signing: o.signing,
  });
  const originUrl = await origin.listen(0, '127.0.0.1');
  const proxy = await recordingProxy(originUrl);
  const edgeCredential = opts.edgeCredential ?? UPSTREAM_CREDENTIAL;
  const e = (await edgeSigningFromCli(
    {
      requireSigned: true,
      jwksFile: [opts.jwksFile],
      jwksUrl: [],
      publicKeyFile: [],
      jwksMaxAge: '10m',
      clockSkew: '5s',
    },
    edgeCredential,
    {},
  ))!;
  const edge = createEdge({
    upstream: proxy.url,
    ...(opts.logs ? { logger: pino({ level: 'trace' }, opts.logs.edge) } : { logLevel: 'silent' as const }),
    store: {
      dir: opts.storeDir,
      capacityBytes: 256 * 1024 * 1024,
      regionBytes: 16 * 1024 * 1024,
      ramBytes: 32 * 1024 * 1024,
    },
    // manifests carry Vary: Accept-Encoding; the edge shares them only with that header in the key
    keyHeaders: ['accept-encoding'],
    signedAccess: e.access,
    upstreamCredential: edgeCredential,
    ...(opts.edgeTls ? { tls: opts.edgeTls } : {}),
  });
  const first = await edge.listen(0, '127.0.0.1');
  const edgeUrl = opts.edgeTls ? await edge.listenPlain(0, '127.0.0.1') : first;
  return {
    origin,
    originUrl,
    proxy,
    edge,
    edgeUrl,
    ...(opts.edgeTls ? { edgeTlsUrl: first } : {}),
    originKeys: o.keys!,
    edgeKeys: e.keys,
    async close() {
      await edge.close();
      e.close();
      await proxy.close();
      await origin.close();
      o.close();
    },
  };
}

/** Prometheus text → value of one series, e.g. metric('x_total{reason="expired"}'). */
export async function metricValue(metricsUrl: string, series: string): Promise<number> {
  const text = (await get(metricsUrl)).text;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

export { until } from '../live/live-helpers.js';
