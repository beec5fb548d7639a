/**
 * `edge --upstream <a>,<b>` on real sockets: the edge fails over from the primary to the backup on
 * a connect error, a 5xx and silence; a held blocking reload on a primary that dies is answered by
 * the backup; a body already half-sent is aborted (the client sees an incomplete body, nothing is
 * cached) and the next request goes to the backup; the edge returns to the primary once it is
 * back; metrics and health show the set; https upstreams (h2) fail over alike.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { createEdge } from '../../../edge/server.js';
import { client, get, startEdge, startUpstream, type Upstream } from './helpers.js';
import { until } from '../live/live-helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const TOKEN = 'failover-admin';

function answer(name: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end(`${name} ${req.url}`);
  };
}

async function closedPort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function metric(edgeUrl: string, line: RegExp): Promise<number | undefined> {
  const text = (await get(`${edgeUrl}/_edge/metrics`)).body.toString();
  const m = text.split('\n').find((l) => line.test(l));
  return m === undefined ? undefined : Number(m.split(' ').pop());
}

interface HealthUpstream {
  url?: string;
  role: string;
  healthy: boolean;
  current: boolean;
}

async function healthSet(edgeUrl: string, admin: boolean): Promise<HealthUpstream[]> {
  const r = await get(`${edgeUrl}/_edge/health`, admin ? { authorization: `Bearer ${TOKEN}` } : {});
  return (JSON.parse(r.body.toString()) as { upstreams: HealthUpstream[] }).upstreams;
}

async function backup(): Promise<Upstream> {
  const b = await startUpstream(answer('backup'));
  cleanups.push(() => b.close());
  return b;
}

describe('edge with a primary and a backup upstream', () => {
  it('fails over on a connect error; metrics and health show the set', async () => {
    const b = await backup();
    const a = `http://127.0.0.1:${await closedPort()}`;
    const e = await startEdge({ upstream: `${a},${b.url}`, adminToken: TOKEN });
    cleanups.push(() => e.close());
    const r = await get(`${e.url}/live/ch/v/seg-1.m4s`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('backup /live/ch/v/seg-1.m4s');
    expect(await metric(e.url, /^edge_upstream_failovers_total\{reason="connect"\}/)).toBe(1);
    expect(await metric(e.url, new RegExp(`^edge_upstream_current\\{upstream="${b.url}"\\}`))).toBe(1);
    expect(await metric(e.url, new RegExp(`^edge_upstream_current\\{upstream="${a}"\\}`))).toBe(0);
    expect(await healthSet(e.url, true)).toMatchObject([
      { url: a, role: 'primary', healthy: false, current: false },
      { url: b.url, role: 'backup', healthy: true, current: true },
    ]);
    // without the admin token: roles and states, no URLs
    const pub = await healthSet(e.url, false);
    expect(pub).toEqual([
      { role: 'primary', healthy: false, current: false },
      { role: 'backup', healthy: true, current: true },
    ]);
  });

  it('fails over on a 5xx (never cached) and returns to the primary once it answers again', async () => {
    let broken = true;
    const a = await startUpstream((req, res) => {
      if (broken) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('channel stalled');
        return;
      }
      answer('primary')(req, res);
    });
    cleanups.push(() => a.close());
    const b = await backup();
    const e = await startEdge({ upstream: `${a.url},${b.url}`, upstreamRetryMs: 200, adminToken: TOKEN });
    cleanups.push(() => e.close());
    const r = await get(`${e.url}/live/ch/v/index.m3u8`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('backup /live/ch/v/index.m3u8');
    expect(a.count('/live/ch/v/index.m3u8')).toBe(1);
    broken = false;
    // after the back-off one request tries the primary again; from then on it is current
    const back = await until(
      async () => {
        const x = await get(`${e.url}/live/ch/v/seg-${Math.floor(Math.random() * 1e9)}.m4s`);
        return x.body.toString().startsWith('primary') ? x : undefined;
      },
      10_000,
      'the primary to be current again',
    );
    expect(back.status).toBe(200);
    expect(await metric(e.url, /^edge_upstream_failovers_total\{reason="recovered"\}/)).toBe(1);
    expect((await healthSet(e.url, true))[0]).toMatchObject({ role: 'primary', healthy: true, current: true });
  });

  it('fails over on silence past --upstream-timeout', async () => {
    const sockets = new Set<Socket>();
    const tcp: TcpServer = createTcpServer((s) => {
      sockets.add(s);
      s.on('data', () => undefined); // reads the request, never answers
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    });
    const b = await backup();
    const e = await startEdge({
      upstream: `http://127.0.0.1:${(tcp.address() as { port: number }).port},${b.url}`,
      upstreamTimeoutMs: 300,
    });
    cleanups.push(() => e.close());
    const r = await get(`${e.url}/live/ch/v/seg-2.0.m4s`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('backup /live/ch/v/seg-2.0.m4s');
    expect(sockets.size).toBe(1);
    expect(await metric(e.url, /^edge_upstream_failovers_total\{reason="timeout"\}/)).toBe(1);
  });

  it('retries a held blocking reload on the backup when the primary dies under it', async () => {
    const parked: ServerResponse[] = [];
    const a = await startUpstream((req, res) => {
      if (req.url!.includes('_HLS_msn=')) parked.push(res);
      else answer('primary')(req, res);
    });
    const b = await backup();
    const e = await startEdge({ upstream: `${a.url},${b.url}` });
    cleanups.push(() => e.close());
    const held = get(`${e.url}/live/ch/v/index.m3u8?_HLS_msn=12&_HLS_part=2`);
    await until(() => parked.length === 1, 10_000, 'the reload held by the primary');
    await a.close(); // the primary dies: its sockets are destroyed
    const r = await held;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('backup /live/ch/v/index.m3u8?_HLS_msn=12&_HLS_part=2');
  });

  it('aborts a response already half-sent (never a truncated body that looks complete), caches nothing, and serves the next request from the backup', async () => {
    const a = await startUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': '100000', 'cache-control': 'max-age=60' });
      res.write(Buffer.alloc(30_000, 1), () => setImmediate(() => req.socket.destroy()));
    });
    cleanups.push(() => a.close());
    const b = await backup();
    const e = await startEdge({ upstream: `${a.url},${b.url}` });
    cleanups.push(() => e.close());
    const res = await request(`${e.url}/live/ch/v/seg-30.m4s`, { dispatcher: client });
    expect(res.statusCode).toBe(200);
    let bytes = 0;
    const outcome = await (async () => {
      try {
        for await (const c of res.body as AsyncIterable<Buffer>) bytes += c.length;
        return 'complete';
      } catch {
        return 'aborted';
      }
    })();
    expect(outcome).toBe('aborted');
    expect(bytes).toBeLessThan(100_000);
    // not cached: the next request is a fresh fill, now from the backup
    const again = await get(`${e.url}/live/ch/v/seg-30.m4s`);
    expect(again.status).toBe(200);
    expect(again.body.toString()).toBe('backup /live/ch/v/seg-30.m4s');
    expect(parseCacheStatus(again.headers['cache-status'])[0].hit).not.toBe(true);
  });

  it('fails over between https upstreams (verified with --upstream-ca, over h2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-failover-tls-'));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const servers: { url: string; close: () => Promise<void>; protocols: string[] }[] = [];
    for (const name of ['primary', 'backup']) {
      const protocols: string[] = [];
      const sessions = new Set<ServerHttp2Session>();
      const server: Http2SecureServer = createSecureServer(
        { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), allowHTTP1: true },
        (req, res) => {
          protocols.push(req.httpVersion);
          res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
          res.end(`${name} ${req.url}`);
        },
      );
      server.on('session', (s) => {
        sessions.add(s);
        s.once('close', () => sessions.delete(s));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const close = async (): Promise<void> => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const s of sessions) s.destroy();
        await closed;
      };
      servers.push({ url: `https://127.0.0.1:${(server.address() as { port: number }).port}`, close, protocols });
    }
    const [a, b] = servers;
    cleanups.push(() => b.close());
    const edge = createEdge({
      upstream: `${a.url},${b.url}`,
      upstreamCa: readFileSync(files.certFile),
      logLevel: 'silent',
    });
    cleanups.push(() => edge.close());
    const e = { url: await edge.listen(0, '127.0.0.1') };
    expect((await get(`${e.url}/live/ch/v/seg-1.m4s`)).body.toString()).toBe('primary /live/ch/v/seg-1.m4s');
    await a.close();
    const r = await get(`${e.url}/live/ch/v/seg-2.m4s`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('backup /live/ch/v/seg-2.m4s');
    expect(a.protocols).toEqual(['2.0']);
    expect(b.protocols).toEqual(['2.0']);
  });
});
