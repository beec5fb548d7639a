import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let version = 1;
/** The edge's clock runs `skew` ms ahead of the real one: tests age entries without sleeping. */
let skew = 0;
const seg = Buffer.alloc(100_000, 7);
for (let i = 0; i < seg.length; i++) seg[i] = (i * 31) & 0xff;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/vod/a/seg-1.m4s') {
      res.writeHead(200, {
        'content-type': 'video/mp4',
        'content-length': String(seg.length),
        'cache-control': 'public, max-age=31536000, immutable',
        etag: '"seg1"',
        'surrogate-key': 'asset-a seg',
      });
      res.end(seg);
    } else if (path === '/live/v/index.m3u8') {
      const etag = `"v${version}"`;
      // this origin shares the edge's (skewed) clock
      const date = new Date(Date.now() + skew).toUTCString();
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag, 'cache-control': 'max-age=5', date });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=5', etag, date });
      res.end(`#EXTM3U\n#version ${version}\n`);
    } else if (path === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('nope');
    } else if (path === '/boom') {
      res.writeHead(503, { 'cache-control': 'max-age=60' });
      res.end('busy');
    } else if (path === '/nostore') {
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('secret');
    } else if (path === '/private') {
      res.writeHead(200, { 'cache-control': 'private, max-age=60' });
      res.end('mine');
    } else if (path === '/cdn-only') {
      res.writeHead(200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' });
      res.end('cdn');
    } else if (path === '/host-echo') {
      res.writeHead(200, { 'cache-control': 'max-age=60' });
      res.end(
        `host=${String(req.headers['x-forwarded-host'] ?? 'none')} scheme=${String(req.headers['x-forwarded-proto'] ?? 'none')}`,
      );
    } else if (path === '/aged') {
      res.writeHead(200, { 'cache-control': 'max-age=100', age: '40' });
      res.end('aged');
    } else if (path === '/vary-star') {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: '*' });
      res.end('v');
    } else {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end(`path ${req.url}`);
    }
  });
  e = await startEdge({ upstream: up.url, negativeTtl: 30, name: 'edge1', now: () => Date.now() + skew });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('edge caching semantics', () => {
  it('miss then hit: Cache-Status, Age, body identical, one upstream request', async () => {
    const a = await get(`${e.url}/vod/a/seg-1.m4s`);
    expect(a.status).toBe(200);
    expect(a.body.equals(seg)).toBe(true);
    expect(parseCacheStatus(a.headers['cache-status'])).toEqual([
      { cache: 'edge1', fwd: 'uri-miss', stored: true, ttl: expect.any(Number) },
    ]);
    expect(Number(a.headers['age'])).toBeLessThanOrEqual(2); // Date has 1 s resolution
    await e.edge.whenIdle();
    const b = await get(`${e.url}/vod/a/seg-1.m4s`);
    expect(b.body.equals(seg)).toBe(true);
    const cs = parseCacheStatus(b.headers['cache-status'])[0];
    expect(cs.hit).toBe(true);
    expect(cs.ttl).toBeGreaterThan(31_535_000);
    expect(Number(b.headers['age'])).toBeGreaterThanOrEqual(0);
    expect(b.headers['content-length']).toBe(String(seg.length));
    expect(up.count('/vod/a/seg-1.m4s')).toBe(1);
  });

  it('answers HEAD, Range and conditionals from the cache', async () => {
    const h = await get(`${e.url}/vod/a/seg-1.m4s`, {}, 'HEAD');
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe(String(seg.length));
    expect(h.body.length).toBe(0);
    const r = await get(`${e.url}/vod/a/seg-1.m4s`, { range: 'bytes=100-199' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 100-199/${seg.length}`);
    expect(r.body.equals(seg.subarray(100, 200))).toBe(true);
    const s = await get(`${e.url}/vod/a/seg-1.m4s`, { range: 'bytes=-10' });
    expect(s.body.equals(seg.subarray(seg.length - 10))).toBe(true);
    const bad = await get(`${e.url}/vod/a/seg-1.m4s`, { range: `bytes=${seg.length}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe(`bytes */${seg.length}`);
    const c = await get(`${e.url}/vod/a/seg-1.m4s`, { 'if-none-match': 'W/"seg1"' });
    expect(c.status).toBe(304);
    expect(c.body.length).toBe(0);
    expect(c.headers['etag']).toBe('"seg1"');
    expect(up.count('/vod/a/seg-1.m4s')).toBe(1);
  });

  it('revalidates an expired entry with a 304 and refreshes it', async () => {
    const p = '/live/v/index.m3u8';
    const a = await get(`${e.url}${p}`);
    expect(a.body.toString()).toContain('version 1');
    await e.edge.whenIdle();
    skew += 6000; // the entry (max-age=5) is now expired
    const b = await get(`${e.url}${p}`);
    expect(b.status).toBe(200);
    expect(b.body.toString()).toContain('version 1');
    expect(parseCacheStatus(b.headers['cache-status'])[0]).toMatchObject({ fwd: 'stale', fwdStatus: 304 });
    const revalidation = up.seen.filter((s) => s.url === p)[1];
    expect(revalidation.headers['if-none-match']).toBe('"v1"');
    const c = await get(`${e.url}${p}`);
    expect(parseCacheStatus(c.headers['cache-status'])[0].hit).toBe(true);
    expect(up.count(p)).toBe(2);
    version = 2;
  });

  it('negative-caches 404 briefly; never caches 5xx, no-store, private; honours CDN-Cache-Control', async () => {
    expect((await get(`${e.url}/missing`)).status).toBe(404);
    await e.edge.whenIdle();
    const m2 = await get(`${e.url}/missing`);
    expect(m2.status).toBe(404);
    expect(parseCacheStatus(m2.headers['cache-status'])[0].hit).toBe(true);
    expect(up.count('/missing')).toBe(1);
    for (const p of ['/boom', '/nostore', '/private', '/vary-star']) {
      await get(`${e.url}${p}`);
      await e.edge.whenIdle();
      const again = await get(`${e.url}${p}`);
      expect(parseCacheStatus(again.headers['cache-status'])[0].hit, p).toBeUndefined();
      expect(up.count(p), p).toBe(2);
    }
    await get(`${e.url}/cdn-only`);
    await e.edge.whenIdle();
    const cdn = await get(`${e.url}/cdn-only`);
    expect(parseCacheStatus(cdn.headers['cache-status'])[0].hit).toBe(true);
    expect(up.count('/cdn-only')).toBe(1);
  });

  it('computes Age from the upstream Age (RFC 9111 §4.2.3) and ttl from it', async () => {
    const a = await get(`${e.url}/aged`);
    expect(Number(a.headers['age'])).toBeGreaterThanOrEqual(40);
    await e.edge.whenIdle();
    const b = await get(`${e.url}/aged`);
    expect(Number(b.headers['age'])).toBeGreaterThanOrEqual(40);
    const ttl = parseCacheStatus(b.headers['cache-status'])[0].ttl!;
    expect(ttl).toBeLessThanOrEqual(60);
    expect(ttl).toBeGreaterThan(50);
  });

  it('normalizes keys: tracking params, token and dot segments share one entry; delivery directives do not', async () => {
    await get(`${e.url}/k/a.m4s?utm_source=x`);
    await e.edge.whenIdle();
    await get(`${e.url}/k/./b/../a.m4s?token=abc&fbclid=1`);
    expect(up.count('/k/a.m4s')).toBe(1);
    expect(up.seen.some((s) => s.url.includes('token') || s.url.includes('utm_'))).toBe(false);
    await get(`${e.url}/k/p.m3u8?_HLS_msn=3&_HLS_part=1`);
    await e.edge.whenIdle();
    await get(`${e.url}/k/p.m3u8?_HLS_part=1&_HLS_msn=3`);
    await get(`${e.url}/k/p.m3u8?_HLS_msn=4`);
    expect(up.count('/k/p.m3u8?_HLS_msn=3&_HLS_part=1')).toBe(1);
    expect(up.count('/k/p.m3u8?_HLS_msn=4')).toBe(1);
  });

  it('deny-listed headers never reach upstream and cannot change what other viewers get', async () => {
    const evil = await get(`${e.url}/host-echo`, {
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'gopher',
      cookie: 'a=b',
    });
    expect(evil.body.toString()).toBe('host=none scheme=none');
    const victim = await get(`${e.url}/host-echo`);
    expect(victim.body.toString()).toBe('host=none scheme=none');
    const fwd = up.seen.find((s) => s.url === '/host-echo')!;
    // Cookie is end-to-end: forwarded (the response's Cache-Control and Vary decide sharing)
    expect(fwd.headers['cookie']).toBe('a=b');
    expect(fwd.headers['x-forwarded-host']).toBeUndefined();
    expect(fwd.headers['x-forwarded-proto']).toBeUndefined();
  });

  it('forwards X-Request-ID and traceparent upstream and echoes the request id', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const r = await get(`${e.url}/trace-me`, { 'x-request-id': 'req-123', traceparent: tp });
    expect(r.headers['x-request-id']).toBe('req-123');
    const fwd = up.seen.find((s) => s.url === '/trace-me')!;
    expect(fwd.headers['x-request-id']).toBe('req-123');
    expect(fwd.headers['traceparent']).toBe(tp);
  });

  it('serves health and Prometheus metrics', async () => {
    const h = await get(`${e.url}/_edge/health`);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body.toString())).toMatchObject({ status: 'ok', name: 'edge1' });
    const m = await get(`${e.url}/_edge/metrics`);
    const text = m.body.toString();
    expect(text).toMatch(/edge_hits_total \d+/);
    expect(Number(/edge_hits_total (\d+)/.exec(text)![1])).toBeGreaterThan(3);
    expect(text).toContain('edge_upstream_requests_total');
    expect(text).toContain('edge_store_objects');
  });
});
