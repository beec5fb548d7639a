/**
 * Request limits before storage (README "Limits"), through a real edge and a real upstream on
 * loopback: URLs and keys over the limit get 414 (a malformed one 400) on GET, HEAD, PURGE and
 * inside POST /_edge/purge, before the store or the upstream sees them, never a 500 and never an
 * error-level log line; Cache-Status says `stored` only for an object the store really kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'undici';
import pino from 'pino';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { client, get, startEdge, startUpstream, storedKey, type TestEdge, type Upstream } from './helpers.js';
import { LineSink } from '../../support/line-sink.js';

const ADMIN = 'limits-admin-token-0123456789';
const BIG = Buffer.alloc(200 * 1024, 7); // larger than the 64 KiB store region below: never storable

let up: Upstream;
let e: TestEdge;
const log = new LineSink();
const storeKeys: string[] = [];

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/vary/')) {
      res.writeHead(200, {
        'cache-control': 'public, max-age=600',
        'content-type': 'text/plain',
        vary: 'Accept-Language',
      });
      res.end(`${url} for ${String(req.headers['accept-language']).slice(0, 8)}`);
      return;
    }
    if (url.startsWith('/big-chunked')) {
      res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
      res.write(BIG.subarray(0, 1000));
      res.end(BIG.subarray(1000));
      return;
    }
    if (url.startsWith('/big')) {
      res.writeHead(200, {
        'cache-control': 'public, max-age=600',
        'content-type': 'video/mp4',
        'content-length': String(BIG.length),
      });
      res.end(BIG);
      return;
    }
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
    res.end(`body of ${url}`);
  });
  e = await startEdge({
    upstream: up.url,
    adminToken: ADMIN,
    regionBytes: 64 * 1024,
    logger: pino({ level: 'trace' }, log),
  });
  // record every key the edge hands the store (the real store still does the work)
  const store = e.edge.store!;
  for (const name of ['head', 'get', 'put', 'delete', 'updateMeta', 'purgePrefix'] as const) {
    const real = store[name].bind(store) as (...a: unknown[]) => Promise<unknown>;
    (store as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      storeKeys.push(String(a[0]));
      return real(...a);
    };
  }
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

const auth = { authorization: `Bearer ${ADMIN}` };

async function postPurge(body: unknown): Promise<{ status: number; text: string }> {
  const r = await request(`${e.url}/_edge/purge`, {
    method: 'POST',
    dispatcher: client,
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify(body),
  });
  return { status: r.statusCode, text: await r.body.text() };
}

function errorLines(): string[] {
  return log.lines.filter((l) => (JSON.parse(l) as { level: number }).level >= 50 || l.includes('"stack"'));
}

describe('URL and key limits', () => {
  const longPath = `/vod/${'a'.repeat(5 * 1024)}/seg-1.m4s`;
  const hugePath = `/vod/${'b'.repeat(9 * 1024)}/seg-1.m4s`;
  const longMsn = `/live/ch/v/index.m3u8?_HLS_msn=${'9'.repeat(5 * 1024)}`;
  const overKeyLimit = `/vod/${'c'.repeat(1500)}/seg-1.m4s`; // a short target, a key the store cannot index

  it('a 5 KB path, a 9 KB target, a 5 KB _HLS_msn and a 1.5 KB key get 414 on GET and HEAD; nothing goes upstream', async () => {
    const before = up.total();
    for (const path of [longPath, hugePath, longMsn, overKeyLimit]) {
      for (const method of ['GET', 'HEAD']) {
        const r = await get(`${e.url}${path}`, {}, method);
        expect(r.status, `${method} ${path.slice(0, 40)}`).toBe(414);
        expect(r.headers['cache-control']).toBe('no-store');
        if (method === 'GET') expect(r.body.toString()).toMatch(/bytes; the edge accepts at most \d+/);
      }
    }
    expect(up.total()).toBe(before);
  });

  it('a request line over Node’s header limit gets 414, oversized header fields 431 (raw socket)', async () => {
    const { port } = new URL(e.url);
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = connect(Number(port), '127.0.0.1', () => sock.write(head));
        let got = '';
        sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
        sock.on('end', () => resolve(got));
        sock.on('error', reject);
      });
    const longLine = await raw(`GET /vod/${'d'.repeat(20 * 1024)}/seg-1.m4s HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(longLine.split('\r\n')[0]).toBe('HTTP/1.1 414 URI Too Long');
    const bigHeader = await raw(`GET /vod/a/seg-1.m4s HTTP/1.1\r\nHost: x\r\nX-Big: ${'e'.repeat(20 * 1024)}\r\n\r\n`);
    expect(bigHeader.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
  });

  it('request headers that make a Vary variant key too long: answered from upstream, never stored, no error', async () => {
    const path = '/vary/seg.txt';
    expect((await get(`${e.url}${path}`, { 'accept-language': 'en' })).status).toBe(200);
    await e.edge.whenIdle();
    const long = `en, ${Array.from({ length: 300 }, (_, i) => `x${i};q=0.1`).join(', ')}`;
    for (let i = 0; i < 2; i++) {
      const r = await get(`${e.url}${path}`, { 'accept-language': long });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe(`${path} for en, x0;q`);
      expect(parseCacheStatus(r.headers['cache-status'])[0].stored).toBeUndefined();
      await e.edge.whenIdle();
    }
    expect(up.count(path)).toBe(3);
  });

  it('a malformed percent-escape gets 400', async () => {
    const before = up.total();
    for (const path of ['/vod/a%zz/seg-1.m4s', '/vod/a/seg-1.m4s?x=%', '/vod/a/seg-%4.m4s']) {
      const r = await get(`${e.url}${path}`);
      expect(r.status, path).toBe(400);
      expect(r.body.toString()).toContain('malformed percent-escape');
    }
    expect(up.total()).toBe(before);
  });

  it('PURGE of a long URL gets 414; POST /_edge/purge with a long url or prefix 414, a long tag 400; nothing is purged', async () => {
    const keep = '/vod/keep/seg-1.m4s';
    expect((await get(`${e.url}${keep}`)).status).toBe(200);
    await e.edge.whenIdle();
    expect(await e.edge.store!.head(storedKey(keep))).toBeDefined();

    const p = await get(`${e.url}${longPath}`, auth, 'PURGE');
    expect(p.status).toBe(414);
    for (const body of [
      { url: longPath },
      { prefix: longPath },
      { urls: [keep, longPath] },
      { prefixes: ['/vod/keep/', hugePath] },
    ]) {
      const r = await postPurge(body);
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(414);
      expect(r.text).toMatch(/at most \d+/);
    }
    const t = await postPurge({ tags: ['ok', 'x'.repeat(600)] });
    expect(t.status).toBe(400);
    expect(t.text).toMatch(/surrogate key/);
    const m = await postPurge({ url: '/vod/a%zz/x' });
    expect(m.status).toBe(400);
    // the valid item of a refused purge was not applied
    expect(await e.edge.store!.head(storedKey(keep))).toBeDefined();
    // and a purge within the limits still works
    expect((await postPurge({ url: keep })).status).toBe(200);
    expect(await e.edge.store!.head(storedKey(keep))).toBeUndefined();
  });

  it('none of it reached the store or logged an error or a stack trace', () => {
    expect(storeKeys.length).toBeGreaterThan(0);
    expect(storeKeys.filter((k) => Buffer.byteLength(k) > 1024).map((k) => k.slice(0, 40))).toEqual([]);
    expect(log.lines.length).toBeGreaterThan(10);
    expect(errorLines()).toEqual([]);
  });
});

describe('Cache-Status `stored` only when the put landed', () => {
  it('an object over the store’s largest record is served but never said to be stored', async () => {
    for (const path of ['/big/seg-1.m4s', '/big-chunked/seg-1.m4s']) {
      for (let i = 0; i < 2; i++) {
        const r = await get(`${e.url}${path}`);
        expect(r.status).toBe(200);
        expect(r.body.equals(BIG)).toBe(true);
        const cs = parseCacheStatus(r.headers['cache-status']);
        expect(cs[0], `${path} #${i}`).toMatchObject({ fwd: 'uri-miss' });
        expect(cs[0].stored, `${path} #${i}`).toBeUndefined();
        await e.edge.whenIdle();
      }
      expect(up.count(path)).toBe(2);
      expect(await e.edge.store!.head(storedKey(path))).toBeUndefined();
    }
  });

  it('an object that is stored is a hit next time', async () => {
    const path = '/vod/small/seg-1.m4s';
    expect((await get(`${e.url}${path}`)).status).toBe(200);
    await e.edge.whenIdle();
    expect(await e.edge.store!.head(storedKey(path))).toBeDefined();
    const again = await get(`${e.url}${path}`);
    expect(parseCacheStatus(again.headers['cache-status'])[0]).toMatchObject({ hit: true });
    expect(up.count(path)).toBe(1);
  });
});
