/**
 * Failures: upstream down, hanging, 5xx, resetting mid-body; stale-if-error; slow clients.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { client, get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';
import { storedKey } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function closedPort(): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Fetch and report how the body ended: complete, or an error (aborted connection). */
async function fetchOutcome(url: string): Promise<{ status: number; ok: boolean; bytes: number; error?: string }> {
  try {
    const res = await request(url, { dispatcher: client });
    let bytes = 0;
    try {
      for await (const c of res.body as AsyncIterable<Buffer>) bytes += c.length;
    } catch (err) {
      return { status: res.statusCode, ok: false, bytes, error: (err as { code?: string }).code ?? String(err) };
    }
    return { status: res.statusCode, ok: true, bytes };
  } catch (err) {
    return { status: 0, ok: false, bytes: 0, error: (err as { code?: string }).code ?? String(err) };
  }
}

describe('upstream down or hanging', () => {
  it('uncached request to a dead upstream gets 502 quickly, with the reason in Cache-Status', async () => {
    const port = await closedPort();
    const e = await startEdge({ upstream: `http://127.0.0.1:${port}`, connectTimeoutMs: 1000 });
    cleanups.push(() => e.close());
    const r = await get(`${e.url}/vod/x/seg-1.m4s`);
    expect(r.status).toBe(502);
    expect(parseCacheStatus(r.headers['cache-status'])[0]).toMatchObject({
      fwd: 'uri-miss',
      detail: 'UPSTREAM_UNREACHABLE',
    });
  });

  it('an upstream that accepts but never answers gets 504 after the header timeout', async () => {
    const sockets = new Set<Socket>();
    const tcp: TcpServer = createTcpServer((s) => {
      sockets.add(s);
      s.on('data', () => undefined); // read the request, never answer
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    });
    const e = await startEdge({
      upstream: `http://127.0.0.1:${(tcp.address() as { port: number }).port}`,
      headersTimeoutMs: 300,
    });
    cleanups.push(() => e.close());
    const [a, b] = await Promise.all([get(`${e.url}/hang`), get(`${e.url}/hang`)]);
    expect(a.status).toBe(504);
    expect(b.status).toBe(504);
    expect(sockets.size).toBe(1); // the two viewers collapsed into one upstream request
  });

  it('a body that stalls is ended by the body timeout: small-answer waiters get 504, nothing stored', async () => {
    let stalls = true;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '1000' });
      if (stalls)
        res.write(Buffer.alloc(100, 1)); // then silence
      else res.end(Buffer.alloc(1000, 2));
    });
    cleanups.push(() => up.close());
    const e = await startEdge({ upstream: up.url, bodyTimeoutMs: 300 });
    cleanups.push(() => e.close());
    const outs = await Promise.all(Array.from({ length: 5 }, () => get(`${e.url}/stall`)));
    // the edge answers a small body of known length whole, once complete: nothing was sent yet
    for (const o of outs) {
      expect(o.status).toBe(504);
      expect(o.body.toString()).toMatch(/the upstream response stalled before its end/);
      expect(parseCacheStatus(o.headers['cache-status'])[0].detail).toBe('UND_ERR_BODY_TIMEOUT');
    }
    expect(up.count('/stall')).toBe(1);
    await e.edge.whenIdle();
    expect(await e.edge.store!.head(storedKey('/stall'))).toBeUndefined();
    stalls = false;
    const ok = await fetchOutcome(`${e.url}/stall`);
    expect(ok).toMatchObject({ status: 200, ok: true, bytes: 1000 });
    expect(up.count('/stall')).toBe(2);
  });
});

describe('upstream resets mid-body', () => {
  let up: Upstream;
  let e: TestEdge;
  let resets = 1;
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      const chunked = req.url!.includes('chunked');
      if (resets > 0) {
        res.writeHead(200, { 'cache-control': 'max-age=60', ...(chunked ? {} : { 'content-length': '200000' }) });
        res.write(Buffer.alloc(50_000, 3));
        // reset once every waiter has attached and has bytes
        void gate.then(() => res.socket?.destroy());
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '200000' });
      res.end(Buffer.alloc(200_000, 4));
    });
    e = await startEdge({ upstream: up.url });
  });
  afterAll(async () => {
    await e?.close();
    await up?.close();
  });

  for (const kind of ['length', 'chunked']) {
    it(`(${kind}) waiters are aborted, never given a truncated body as complete; nothing stored; next request refetches`, async () => {
      resets = 1;
      gate = new Promise<void>((r) => (release = r));
      const path = `/seg-${kind}.m4s`;
      let withBytes = 0;
      const waiters = Array.from({ length: 10 }, async () => {
        const res = await request(`${e.url}${path}`, { dispatcher: client });
        let bytes = 0;
        let first = true;
        try {
          for await (const c of res.body as AsyncIterable<Buffer>) {
            bytes += c.length;
            if (first) {
              first = false;
              if (++withBytes === 10) release();
            }
          }
          return { complete: true, bytes };
        } catch {
          return { complete: false, bytes };
        }
      });
      const outs = await Promise.all(waiters);
      expect(outs.filter((o) => o.complete)).toEqual([]);
      expect(up.count(path)).toBe(1);
      await e.edge.whenIdle();
      expect(await e.edge.store!.head(storedKey(path))).toBeUndefined();
      resets = 0;
      const next = await fetchOutcome(`${e.url}${path}`);
      expect(next).toMatchObject({ status: 200, ok: true, bytes: 200_000 });
      expect(up.count(path)).toBe(2);
    });
  }
});

describe('upstream breaks off a small answer', () => {
  it('a small body of known length that breaks off before its end gets a 502 naming it, not a dropped connection; nothing stored', async () => {
    let breakOff = true;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '1000' });
      if (!breakOff) return void res.end(Buffer.alloc(1000, 5));
      // half the body, then the connection dies (the edge answers small bodies whole, once complete)
      res.write(Buffer.alloc(500, 5), () => res.socket?.destroy());
    });
    const e = await startEdge({ upstream: up.url });
    cleanups.push(async () => {
      await e.close();
      await up.close();
    });
    const path = '/live/ch/v/part-1.m4s';
    const r = await get(`${e.url}${path}`);
    expect(r.status).toBe(502);
    expect(r.body.toString()).toMatch(/the upstream response broke off before its end/);
    const cs = parseCacheStatus(r.headers['cache-status'])[0];
    expect(cs).toMatchObject({ fwd: 'uri-miss' });
    expect(cs.detail).toBeTruthy();
    expect(cs.stored).toBeUndefined();
    await e.edge.whenIdle();
    expect(await e.edge.store!.head(storedKey(path))).toBeUndefined();
    breakOff = false;
    const next = await fetchOutcome(`${e.url}${path}`);
    expect(next).toMatchObject({ status: 200, ok: true, bytes: 1000 });
    expect(up.count(path)).toBe(2);
  });
});

describe('stale-if-error', () => {
  let mode: 'ok' | '500' | 'down' = 'ok';
  let skew = 0;
  let up: Upstream;
  let e: TestEdge;
  beforeAll(async () => {
    up = await startUpstream((req, res) => {
      if (mode === '500') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('origin broke');
        return;
      }
      if (mode === 'down') {
        req.socket.destroy();
        return;
      }
      const date = new Date(Date.now() + skew).toUTCString();
      res.writeHead(200, { 'cache-control': 'max-age=5, stale-if-error=600', date, 'content-type': 'text/plain' });
      res.end(`fresh ${req.url}`);
    });
    e = await startEdge({ upstream: up.url, now: () => Date.now() + skew });
  });
  afterAll(async () => {
    await e?.close();
    await up?.close();
  });

  it('serves the stale copy when the upstream answers 5xx or is unreachable', async () => {
    expect((await get(`${e.url}/p.m3u8`)).body.toString()).toBe('fresh /p.m3u8');
    await e.edge.whenIdle();
    skew += 10_000;
    mode = '500';
    const a = await get(`${e.url}/p.m3u8`);
    expect(a.status).toBe(200);
    expect(a.body.toString()).toBe('fresh /p.m3u8');
    expect(parseCacheStatus(a.headers['cache-status'])[0]).toMatchObject({
      fwd: 'stale',
      fwdStatus: 500,
      detail: 'stale-if-error',
    });
    expect(Number(a.headers['age'])).toBeGreaterThanOrEqual(10);
    mode = 'down';
    const b = await get(`${e.url}/p.m3u8`);
    expect(b.status).toBe(200);
    expect(b.body.toString()).toBe('fresh /p.m3u8');
    // an uncached URL has nothing stale to fall back on
    const c = await get(`${e.url}/other.m3u8`);
    expect(c.status).toBe(502);
    // past the stale-if-error window: the error shows
    skew += 700_000;
    const d = await get(`${e.url}/p.m3u8`);
    expect(d.status).toBe(502);
  });
});

describe('slow clients', () => {
  it('a client that stops reading neither slows the fill nor other waiters, and finishes from the store', async () => {
    const SIZE = 24 * 1024 * 1024;
    const payload = Buffer.alloc(SIZE);
    for (let i = 0; i < SIZE; i++) payload[i] = (i * 7919) >>> 8;
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': String(SIZE) });
      let off = 0;
      const pump = () => {
        while (off < SIZE) {
          const n = Math.min(256 * 1024, SIZE - off);
          const more = res.write(payload.subarray(off, off + n));
          off += n;
          if (!more) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    cleanups.push(() => up.close());
    const e = await startEdge({ upstream: up.url, fillRetainBytes: 1024 * 1024, regionBytes: 48 * 1024 * 1024 });
    cleanups.push(() => e.close());
    const url = `${e.url}/big.m4s`;

    // the slow one: headers arrive, then it reads nothing until the others are done
    const slow = await request(url, { dispatcher: client });
    const fast = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const r = await request(url, { dispatcher: client });
        return Buffer.from(await r.body.arrayBuffer());
      }),
    );
    expect(fast.every((b) => b.equals(payload))).toBe(true);
    await e.edge.whenIdle();
    const slowBody = Buffer.from(await slow.body.arrayBuffer());
    expect(slowBody.equals(payload)).toBe(true);
    expect(up.count('/big.m4s')).toBe(1);
    // the slow client's tail came from the store (RAM or disk tier), not from the fill
    const metrics = (await get(`${e.url}/_edge/metrics`)).body.toString();
    const fromStore = [...metrics.matchAll(/edge_bytes_sent_total\{tier="(ram|disk)"\} (\d+)/g)].reduce(
      (a, m) => a + Number(m[2]),
      0,
    );
    expect(fromStore).toBeGreaterThan(0);
  });
});
