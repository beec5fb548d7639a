/**
 * Protocol details of the edge end to end, one rule per test: s-maxage forbids stale serving
 * (RFC 9111 §5.2.2.10), CDN-Cache-Control is a structured-field Dictionary (RFC 9213 §2.1), the
 * query in a key keeps what RFC 3986 does not make equivalent, Cache-Status says why a request
 * was forwarded (RFC 9211 §2.2), Max-Forwards on OPTIONS/TRACE (RFC 9110 §7.6.2), and the
 * absolute-form and asterisk-form request targets (RFC 9112 §3.2.2, RFC 9110 §9.3.7).
 * The edge's clock (and the origin's Date) run `skew` ms ahead of real time, so entries age
 * without sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { exchangeRaw, get, getTwice, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
let skew = 0;
const versions = new Map<string, number>();
/** Paths whose origin answers 503 from now on. */
const failing = new Set<string>();
const date = () => new Date(Date.now() + skew).toUTCString();

/** Response headers by path (every one also gets Date and Content-Type). */
const routes: Record<string, Record<string, string>> = {
  '/smax-sie': { 'cache-control': 's-maxage=1, stale-if-error=600' },
  '/smax-swr': { 'cache-control': 's-maxage=1, stale-while-revalidate=600' },
  '/cdn-smax-swr': {
    'cache-control': 'public, max-age=0, s-maxage=1',
    'cdn-cache-control': 'max-age=1, stale-while-revalidate=600',
  },
  '/cdn-param': { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60;x=1' },
  '/cdn-dup': { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=0, max-age=60' },
  '/cdn-invalid': { 'cache-control': 'max-age=60', 'cdn-cache-control': 'MAX-AGE=0' },
  '/vary': { 'cache-control': 'max-age=60', vary: 'Accept-Language' },
  '/nc': { 'cache-control': 'max-age=60', etag: '"nc"' },
};

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const v = (versions.get(path) ?? 0) + 1;
    versions.set(path, v);
    if (failing.has(path)) {
      res.writeHead(503, { date: date() });
      res.end('down');
      return;
    }
    if (req.method === 'OPTIONS' || req.method === 'TRACE') {
      res.writeHead(200, { date: date(), allow: 'GET, POST, OPTIONS, TRACE' });
      res.end('upstream-answered');
      return;
    }
    if (path === '/nc' && req.headers['if-none-match'] === '"nc"') {
      res.writeHead(304, { date: date(), ...routes['/nc'] });
      res.end();
      return;
    }
    const lang = req.headers['accept-language'];
    const body = `${req.url} v${v}${path === '/vary' ? ` ${String(lang)}` : ''}`;
    res.writeHead(200, {
      date: date(),
      'content-type': 'text/plain',
      ...(routes[path] ?? { 'cache-control': 'max-age=600' }),
    });
    res.end(body);
  });
  e = await startEdge({ upstream: up.url, name: 'edge1', now: () => Date.now() + skew });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

const status = (r: { headers: Record<string, string> }) => parseCacheStatus(r.headers['cache-status']).at(-1)!;

const twice = (path: string, headers: Record<string, string> = {}) => getTwice(e, path, headers);

describe('s-maxage incorporates proxy-revalidate (RFC 9111 §5.2.2.10, §4.2.4)', () => {
  it('s-maxage with stale-if-error or stale-while-revalidate is never served stale; CDN-Cache-Control still is', async () => {
    for (const p of ['/smax-sie', '/smax-swr', '/cdn-smax-swr']) {
      await get(`${e.url}${p}`);
      await e.edge.whenIdle();
    }
    failing.add('/smax-sie');
    skew += 3000;
    // stale-if-error does not apply: the origin's error goes to the client
    const sie = await get(`${e.url}/smax-sie`);
    expect(sie.status).toBe(503);
    expect(status(sie).detail).not.toBe('stale-if-error');
    // stale-while-revalidate does not apply: the request waits for the refetch
    const swr = await get(`${e.url}/smax-swr`);
    expect(swr.body.toString()).toBe('/smax-swr v2');
    expect(status(swr).fwd).toBe('stale');
    expect(status(swr).detail).toBeUndefined();
    // the control: CDN-Cache-Control governs, and Cache-Control's s-maxage does not apply
    const cdn = await get(`${e.url}/cdn-smax-swr`);
    expect(cdn.body.toString()).toBe('/cdn-smax-swr v1');
    expect(status(cdn).detail).toBe('stale-while-revalidate');
    await e.edge.whenIdle();
  });
});

describe('CDN-Cache-Control is a structured-field Dictionary (RFC 9213 §2.1)', () => {
  it('parameters are ignored and a duplicate key takes its last value', async () => {
    for (const p of ['/cdn-param', '/cdn-dup']) {
      const r = await twice(p);
      expect(status(r.b).hit, p).toBe(true);
      expect(up.count(p), p).toBe(1);
    }
  });

  it('an invalid field is ignored: Cache-Control governs', async () => {
    const r = await twice('/cdn-invalid');
    expect(status(r.b).hit).toBe(true);
    expect(up.count('/cdn-invalid')).toBe(1);
  });
});

describe('query spellings RFC 3986 does not make equivalent are different keys', () => {
  it('`+` is not `%20`, `flag` is not `flag=`, and each goes upstream as sent', async () => {
    for (const q of ['/q?tag=c++', '/q?tag=c%20%20', '/q?flag', '/q?flag=']) {
      const r = await get(`${e.url}${q}`);
      await e.edge.whenIdle();
      expect(status(r).fwd, q).toBe('uri-miss');
      expect(r.body.toString(), q).toMatch(new RegExp(`^${q.replace(/[?+]/g, '\\$&')} v`));
      expect(up.count(q), q).toBe(1);
    }
    // spellings RFC 3986 does make equivalent still share one copy
    const same = await get(`${e.url}/q?tag=c%2b%2b&x=%7e`);
    const other = await get(`${e.url}/q?x=~&tag=c%2B%2B`);
    await e.edge.whenIdle();
    expect(status(other).hit).toBe(true);
    expect(other.body.toString()).toBe(same.body.toString());
  });
});

describe('Cache-Status forward reasons (RFC 9211 §2.2)', () => {
  it('a second Vary variant of a stored URI is a vary-miss', async () => {
    const fr = await get(`${e.url}/vary`, { 'accept-language': 'fr' });
    await e.edge.whenIdle();
    expect(status(fr).fwd).toBe('uri-miss');
    const de = await get(`${e.url}/vary`, { 'accept-language': 'de' });
    await e.edge.whenIdle();
    expect(de.body.toString()).toBe('/vary v2 de');
    expect(status(de).fwd).toBe('vary-miss');
    const deAgain = await get(`${e.url}/vary`, { 'accept-language': 'de' });
    expect(status(deAgain).hit).toBe(true);
  });

  it("a fresh entry revalidated because of the client's no-cache is fwd=request", async () => {
    await get(`${e.url}/nc`);
    await e.edge.whenIdle();
    const r = await get(`${e.url}/nc`, { 'cache-control': 'no-cache' });
    await e.edge.whenIdle();
    expect(r.body.toString()).toBe('/nc v1');
    expect(status(r)).toMatchObject({ fwd: 'request', fwdStatus: 304 });
    expect(up.count('/nc')).toBe(2);
  });
});

describe('Max-Forwards on OPTIONS and TRACE (RFC 9110 §7.6.2)', () => {
  it('OPTIONS with Max-Forwards: 0 is answered by the edge (200, Allow), not forwarded', async () => {
    const r = await get(`${e.url}/mf`, { 'max-forwards': '0' }, 'OPTIONS');
    expect(r.status).toBe(200);
    expect(r.headers['allow']).toBe('GET, HEAD, OPTIONS');
    expect(r.headers['content-length']).toBe('0');
    expect(r.body.length).toBe(0);
    expect(up.count('/mf')).toBe(0);
  });

  it('TRACE with Max-Forwards: 0 gets 405 with Allow, echoing nothing', async () => {
    const { text } = await exchangeRaw(
      e.url,
      'TRACE /mf-trace HTTP/1.1\r\nHost: edge.test\r\nMax-Forwards: 0\r\nCookie: secret=1\r\nConnection: close\r\n\r\n',
      () => false,
    );
    expect(text).toMatch(/^HTTP\/1\.1 405 /);
    expect(text.toLowerCase()).toContain('allow: get, head, options');
    expect(text).not.toContain('secret');
    expect(up.count('/mf-trace')).toBe(0);
  });

  it('a non-zero Max-Forwards is decremented when forwarded', async () => {
    const r = await get(`${e.url}/mf-3`, { 'max-forwards': '3' }, 'OPTIONS');
    expect(r.body.toString()).toBe('upstream-answered');
    expect(up.seen.find((s) => s.url === '/mf-3')!.headers['max-forwards']).toBe('2');
  });
});

describe('request-target forms (RFC 9112 §3.2)', () => {
  it('absolute-form is accepted: its path and query are the target, and it is cached like origin-form', async () => {
    const raw = (host: string) =>
      `GET http://origin.test/abs?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    const first = await exchangeRaw(e.url, raw('other.test'), () => false);
    expect(first.text).toMatch(/^HTTP\/1\.1 200 /);
    expect(first.text).toContain('/abs?x=1 v1');
    await e.edge.whenIdle();
    expect(up.count('/abs?x=1')).toBe(1);
    const origin = await get(`${e.url}/abs?x=1`);
    expect(status(origin).hit).toBe(true);
    expect(origin.body.toString()).toBe('/abs?x=1 v1');
  });

  it('an absolute-form target that is not an http(s) URI with a host is refused', async () => {
    const { text } = await exchangeRaw(
      e.url,
      'GET http://user@origin.test/abs HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n',
      () => false,
    );
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('OPTIONS * is answered about the edge itself (200, Allow); nothing is forwarded', async () => {
    const before = up.total();
    const { text } = await exchangeRaw(
      e.url,
      'OPTIONS * HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n',
      () => false,
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text.toLowerCase()).toContain('allow: get, head, options');
    expect(up.total()).toBe(before);
  });
});
