/**
 * RFC 9111 behaviour end to end: a real origin on loopback, the edge in front, one rule per test.
 * The edge's clock (and the origin's Date) run `skew` ms ahead of real time, so entries age
 * without sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, getTwice, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let skew = 0;
const versions = new Map<string, number>();
/** Paths whose origin answers 500 from now on. */
const failing = new Set<string>();
const date = (offsetMs = 0) => new Date(Date.now() + skew + offsetMs).toUTCString();

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const v = (versions.get(path) ?? 0) + 1;
    versions.set(path, v);
    if (failing.has(path)) {
      res.writeHead(500, { date: date() });
      res.end('down');
      return;
    }
    const base = { date: date(), 'content-type': 'text/plain' };
    const send = (headers: Record<string, string>, body = `${path} v${v}`) => {
      res.writeHead(200, { ...base, ...headers });
      res.end(body);
    };
    switch (path) {
      case '/expires-zero':
        return send({ expires: '0' });
      case '/expires-future':
        return send({ expires: date(60_000) });
      case '/age-invalid':
        return send({ 'cache-control': 'max-age=100', age: 'soon' });
      case '/age-list':
        return send({ 'cache-control': 'max-age=100', age: '30, 90' });
      case '/heuristic':
        return send({ 'last-modified': date(-10 * 86_400_000) });
      case '/no-validator':
        return send({});
      case '/cond':
        if (req.headers['if-none-match'] === '"c1"') {
          res.writeHead(304, { date: date(), etag: '"c1"', 'cache-control': 'max-age=60' });
          res.end();
          return;
        }
        return send({ etag: '"c1"', 'cache-control': 'max-age=60' });
      case '/no-cache':
      case '/update': {
        const etag = path === '/no-cache' ? '"nc1"' : '"u1"';
        const cc = path === '/no-cache' ? 'no-cache' : 'max-age=1';
        if (req.headers['if-none-match'] === etag) {
          res.writeHead(304, { date: date(), etag, 'cache-control': cc, 'x-version': `v${v}` });
          res.end();
          return;
        }
        return send({ etag, 'cache-control': cc, 'x-version': `v${v}` });
      }
      case '/must-revalidate':
        return send({ 'cache-control': 'max-age=1, must-revalidate, stale-if-error=600' });
      case '/proxy-revalidate':
        return send({ 'cache-control': 'max-age=1, proxy-revalidate, stale-if-error=600' });
      case '/stale-if-error':
        return send({ 'cache-control': 'max-age=1, stale-if-error=600' });
      case '/private':
        return send({ 'cache-control': 'private, max-age=60' });
      case '/no-store':
        return send({ 'cache-control': 'no-store, max-age=60' });
      case '/s-maxage':
        return send({ 'cache-control': 'max-age=0, s-maxage=60' });
      case '/auth':
        return send({ 'cache-control': 'public, max-age=60' }, `for ${String(req.headers['authorization'])}`);
      case '/cache-status-lines': // an upstream cache chain that sends one Cache-Status line per cache
        res.writeHead(200, {
          ...base,
          'cache-control': 'max-age=60',
          'cache-status': ['origin; fwd=miss', 'shield; fwd=uri-miss; stored'],
        });
        res.end('lines');
        return;
      case '/stale-on-arrival':
        return send({ 'cache-control': 'max-age=10', age: '30' });
      case '/set-cookie':
        return send({ 'cache-control': 'max-age=60', 'set-cookie': `s=${v}` });
      case '/weak':
        return send({ 'cache-control': 'max-age=60', etag: 'W/"w1"' }, '0123456789');
      case '/swr':
        return send({ 'cache-control': 'max-age=1, stale-while-revalidate=600' });
      case '/live.m3u8': // the origin's live playlist headers (packager/origin/cache-headers.ts)
        return send({
          'cache-control': 'public, max-age=0, s-maxage=1',
          'cdn-cache-control': 'max-age=1, stale-while-revalidate=1',
        });
      default:
        return send({ 'cache-control': 'max-age=60' });
    }
  });
  e = await startEdge({ upstream: up.url, name: 'edge1', now: () => Date.now() + skew });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

const hit = (r: { headers: Record<string, string> }) => parseCacheStatus(r.headers['cache-status'])[0].hit === true;

const twice = (path: string, headers: Record<string, string> = {}) => getTwice(e, path, headers);

describe('RFC 9111 freshness (§4.2, §5.1, §5.3)', () => {
  it('Expires: 0 (an invalid date) means already expired; a future Expires is fresh', async () => {
    const z = await twice('/expires-zero');
    expect(hit(z.b)).toBe(false);
    expect(up.count('/expires-zero')).toBe(2);
    const f = await twice('/expires-future');
    expect(hit(f.b)).toBe(true);
    expect(up.count('/expires-future')).toBe(1);
  });

  it('an invalid Age is ignored; a list-valued Age uses its first member', async () => {
    const inv = await twice('/age-invalid');
    expect(Number(inv.b.headers['age'])).toBeLessThan(5);
    const list = await twice('/age-list');
    expect(Number(list.b.headers['age'])).toBeGreaterThanOrEqual(30);
    expect(Number(list.b.headers['age'])).toBeLessThan(90);
    expect(hit(list.b)).toBe(true);
  });

  it('heuristic freshness: 10% of the time since Last-Modified (at most a day); nothing without it', async () => {
    const h = await twice('/heuristic');
    expect(hit(h.b)).toBe(true);
    const ttl = parseCacheStatus(h.b.headers['cache-status'])[0].ttl!;
    expect(ttl).toBeGreaterThan(80_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    const n = await twice('/no-validator');
    expect(hit(n.b)).toBe(false);
    expect(up.count('/no-validator')).toBe(2);
  });

  it('s-maxage overrides max-age=0 for a shared cache', async () => {
    const r = await twice('/s-maxage');
    expect(hit(r.b)).toBe(true);
    expect(up.count('/s-maxage')).toBe(1);
  });
});

describe('RFC 9111 storing and reuse (§3, §4)', () => {
  it('private and no-store responses are never stored', async () => {
    for (const p of ['/private', '/no-store']) {
      const r = await twice(p);
      expect(hit(r.b), p).toBe(false);
      expect(up.count(p), p).toBe(2);
    }
  });

  it('no-cache: stored, but revalidated with the origin before every use', async () => {
    const r = await twice('/no-cache');
    expect(r.b.status).toBe(200);
    expect(r.b.body.toString()).toBe('/no-cache v1');
    const sent = up.seen.filter((s) => s.url === '/no-cache').map((s) => s.headers['if-none-match']);
    expect(sent).toEqual([undefined, '"nc1"']);
  });

  it('must-revalidate and proxy-revalidate: never served stale, not even when the origin fails', async () => {
    for (const p of ['/must-revalidate', '/proxy-revalidate', '/stale-if-error']) {
      await get(`${e.url}${p}`);
      await e.edge.whenIdle();
      failing.add(p);
    }
    skew += 5000;
    for (const p of ['/must-revalidate', '/proxy-revalidate']) {
      const r = await get(`${e.url}${p}`);
      expect(r.status, p).toBeGreaterThanOrEqual(500);
    }
    // the control: without must-revalidate, stale-if-error serves the stored copy
    const sie = await get(`${e.url}/stale-if-error`);
    expect(sie.status).toBe(200);
    expect(sie.body.toString()).toBe('/stale-if-error v1');
    await e.edge.whenIdle();
  });

  it('Authorization (§3.5): forwarded, answered uncached, never shared with another request', async () => {
    const a = await get(`${e.url}/auth`, { authorization: 'Bearer alice' });
    expect(a.body.toString()).toBe('for Bearer alice');
    await e.edge.whenIdle();
    const b = await get(`${e.url}/auth`);
    expect(b.body.toString()).toBe('for undefined');
    expect(up.count('/auth')).toBe(2);
  });

  it('Set-Cookie is never stored nor shared', async () => {
    const r = await twice('/set-cookie');
    expect(hit(r.b)).toBe(false);
    expect(r.b.headers['set-cookie']).toBe('s=2');
    expect(up.count('/set-cookie')).toBe(2);
  });

  it('an upstream Cache-Status sent as several lines is one list, kept before ours on a miss and a hit (RFC 9211 §2)', async () => {
    const r = await twice('/cache-status-lines');
    for (const got of [r.a, r.b])
      expect(parseCacheStatus(got.headers['cache-status']).map((s) => s.cache)).toEqual(['origin', 'shield', 'edge1']);
    expect(parseCacheStatus(r.b.headers['cache-status'])[2].hit).toBe(true);
  });

  it('a response stale on arrival says so: a negative ttl in Cache-Status (RFC 9211 §2.4)', async () => {
    const r = await get(`${e.url}/stale-on-arrival`);
    const ttl = parseCacheStatus(r.headers['cache-status'])[0].ttl;
    expect(ttl).toBeLessThanOrEqual(-20);
    expect(ttl).toBeGreaterThanOrEqual(-21);
  });

  it('a 304 updates the stored headers (§3.2, §4.3.4)', async () => {
    const first = await get(`${e.url}/update`);
    expect(first.headers['x-version']).toBe('v1');
    await e.edge.whenIdle();
    skew += 3000;
    const revalidated = await get(`${e.url}/update`);
    expect(revalidated.status).toBe(200);
    expect(revalidated.body.toString()).toBe('/update v1');
    expect(revalidated.headers['x-version']).toBe('v2');
    await e.edge.whenIdle();
    const after = await get(`${e.url}/update`);
    expect(hit(after)).toBe(true);
    expect(after.headers['x-version']).toBe('v2');
  });

  it('If-None-Match uses the weak comparison; If-Range needs a strong validator', async () => {
    await get(`${e.url}/weak`);
    await e.edge.whenIdle();
    expect((await get(`${e.url}/weak`, { 'if-none-match': '"w1"' })).status).toBe(304);
    expect((await get(`${e.url}/weak`, { 'if-none-match': 'W/"w1"' })).status).toBe(304);
    expect((await get(`${e.url}/weak`, { 'if-none-match': '"other"' })).status).toBe(200);
    const ranged = await get(`${e.url}/weak`, { range: 'bytes=0-1', 'if-range': 'W/"w1"' });
    expect(ranged.status).toBe(200);
    expect(ranged.body.toString()).toBe('0123456789');
    expect(up.count('/weak')).toBe(1);
  });

  it("a client's conditional request is forwarded when the edge holds no copy", async () => {
    const r = await get(`${e.url}/cond`, { 'if-none-match': '"c1"' });
    expect(r.status).toBe(304);
    expect(up.seen.find((s) => s.url === '/cond')!.headers['if-none-match']).toBe('"c1"');
  });

  it('only-if-cached: 504 without a stored response, the stored one otherwise', async () => {
    const miss = await get(`${e.url}/oic`, { 'cache-control': 'only-if-cached' });
    expect(miss.status).toBe(504);
    expect(up.count('/oic')).toBe(0);
    await get(`${e.url}/oic`);
    await e.edge.whenIdle();
    const stored = await get(`${e.url}/oic`, { 'cache-control': 'only-if-cached' });
    expect(stored.status).toBe(200);
    expect(up.count('/oic')).toBe(1);
  });

  it('HEAD is answered from a stored GET', async () => {
    const g = await get(`${e.url}/head-me`);
    await e.edge.whenIdle();
    const h = await get(`${e.url}/head-me`, {}, 'HEAD');
    expect(h.status).toBe(200);
    expect(hit(h)).toBe(true);
    expect(h.headers['content-length']).toBe(String(g.body.length));
    expect(h.body.length).toBe(0);
    expect(up.count('/head-me')).toBe(1);
  });

  it('stale-while-revalidate serves the stale copy and the background refresh replaces the entry', async () => {
    await get(`${e.url}/swr`);
    await e.edge.whenIdle();
    skew += 3000;
    const stale = await get(`${e.url}/swr`);
    expect(stale.body.toString()).toBe('/swr v1');
    expect(parseCacheStatus(stale.headers['cache-status'])[0].detail).toBe('stale-while-revalidate');
    await e.edge.whenIdle();
    const fresh = await get(`${e.url}/swr`);
    expect(hit(fresh)).toBe(true);
    expect(fresh.body.toString()).toBe('/swr v2');
    expect(up.count('/swr')).toBe(2);
  });

  it("a live playlist's CDN-Cache-Control stale-while-revalidate: served stale for its 1 s past expiry while one refetch runs, not after", async () => {
    await get(`${e.url}/live.m3u8`);
    await e.edge.whenIdle();
    skew += 1500; // 0.5 s into the stale window
    const [s1, s2] = await Promise.all([get(`${e.url}/live.m3u8`), get(`${e.url}/live.m3u8`)]);
    for (const s of [s1, s2]) {
      expect(s.body.toString()).toBe('/live.m3u8 v1');
      expect(parseCacheStatus(s.headers['cache-status'])[0].detail).toBe('stale-while-revalidate');
    }
    await e.edge.whenIdle();
    expect(up.count('/live.m3u8')).toBe(2); // one refetch for both
    const fresh = await get(`${e.url}/live.m3u8`);
    expect(hit(fresh)).toBe(true);
    expect(fresh.body.toString()).toBe('/live.m3u8 v2');
    skew += 2500; // past the refreshed copy's freshness and stale window
    const late = await get(`${e.url}/live.m3u8`);
    expect(hit(late)).toBe(false);
    expect(late.body.toString()).toBe('/live.m3u8 v3');
  });
});
