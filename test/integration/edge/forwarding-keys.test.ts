/**
 * Issue 12 defects 1–4 through a real origin on loopback: what a miss sends upstream (headers,
 * query), how many fills and copies Vary, Accept-Encoding spellings and query strings cost, and
 * what shared fills hand to their waiters.
 */
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;
const logLines: Array<Record<string, unknown>> = [];
/** Requests to /gate/* wait until released (to make waiters join one fill). */
const gated: Array<() => void> = [];
const gateArrivals: Array<() => void> = [];
function waitForGated(n: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (gated.length >= n) resolve();
      else gateArrivals.push(check);
    };
    check();
  });
}
function releaseGated(): void {
  for (const g of gated.splice(0)) g();
}

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const ae = String(req.headers['accept-encoding'] ?? '');
    const respond = () => {
      if (u.pathname.startsWith('/obj/')) {
        const size = Number(u.searchParams.get('size') ?? '10');
        res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' });
        res.end(Buffer.alloc(size, 1));
      } else if (u.pathname.startsWith('/vod/a/360p/')) {
        res.writeHead(200, { 'cache-control': 'public, max-age=31536000, immutable', 'content-type': 'video/mp4' });
        res.end(`segment ${u.pathname}`);
      } else if (u.pathname.startsWith('/vary-ae/') || u.pathname.startsWith('/gate/vary-ae')) {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Encoding', 'x-coding': ae });
        res.end(`body for ${ae}`);
      } else if (u.pathname === '/gate/etag') {
        if (req.headers['if-none-match'] === '"e1"') {
          res.writeHead(304, { etag: '"e1"', 'cache-control': 'max-age=60' });
          res.end();
          return;
        }
        res.writeHead(200, { etag: '"e1"', 'cache-control': 'max-age=60' });
        res.end('0123456789');
      } else if (u.pathname === '/hints' || u.pathname === '/hints-post') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end('hinted');
      } else if (u.pathname === '/echo') {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(JSON.stringify(req.headers));
      } else {
        res.writeHead(200, { 'cache-control': 'max-age=60' });
        res.end(`path ${req.url}`);
      }
    };
    if (u.pathname.startsWith('/gate/')) {
      gated.push(respond);
      for (const cb of gateArrivals.splice(0)) cb();
    } else respond();
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logLines.push(JSON.parse(line) as never);
      cb();
    },
  });
  e = await startEdge({ upstream: up.url, name: 'edge1', logger: pino({ level: 'info' }, sink) });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('defect 1: a miss forwards the request faithfully (RFC 9110 §7.6)', () => {
  it('end-to-end headers reach the origin; hop-by-hop, Connection-named and deny-listed ones do not; Via and Forwarded are added', async () => {
    // node:http sends the Connection field as given (undici rewrites it)
    await rawGet(`${e.url}/echo`, {
      'accept-language': 'fr-CA',
      cookie: 'session=1',
      'x-custom': 'yes',
      connection: 'keep-alive, x-secret-hop',
      'x-secret-hop': 'drop me',
      'x-forwarded-host': 'evil.example',
      'x-original-url': '/admin',
      'x-http-method-override': 'DELETE',
    });
    const seen = up.seen.find((s) => s.url === '/echo')!.headers;
    expect(seen['accept-language']).toBe('fr-CA');
    expect(seen['cookie']).toBe('session=1');
    expect(seen['x-custom']).toBe('yes');
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['x-forwarded-host']).toBeUndefined();
    expect(seen['x-original-url']).toBeUndefined();
    expect(seen['x-http-method-override']).toBeUndefined();
    expect(seen['via']).toBe('1.1 edge1');
    expect(seen['forwarded']).toMatch(/^for=127\.0\.0\.1;proto=http$/);
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it("a client's conditional request goes upstream when the edge holds no copy; the 304 is that client's alone", async () => {
    const cond = get(`${e.url}/gate/etag`, { 'if-none-match': '"e1"' });
    await waitForGated(1);
    const plain = get(`${e.url}/gate/etag`);
    await waitForGated(2);
    releaseGated();
    const [c, p] = await Promise.all([cond, plain]);
    expect(c.status).toBe(304);
    expect(p.status).toBe(200);
    expect(p.body.toString()).toBe('0123456789');
    const sent = up.seen.filter((s) => s.url === '/gate/etag').map((s) => s.headers['if-none-match']);
    expect(sent.sort()).toEqual(['"e1"', undefined]);
  });

  it('a shared fill is neutral: the leader decides nothing request-specific for its waiters', async () => {
    const leader = get(`${e.url}/gate/neutral`, { 'cache-control': 'no-cache', range: 'bytes=0-1' });
    await waitForGated(1);
    const c0 = await collapsed();
    const waiter = get(`${e.url}/gate/neutral`);
    // the waiter has joined the leader's fill once it is counted as collapsed
    await waitUntil(async () => (await collapsed()) >= c0 + 1);
    releaseGated();
    const [l, w] = await Promise.all([leader, waiter]);
    expect(l.status).toBe(206);
    expect(l.body.toString()).toBe('pa');
    expect(w.status).toBe(200);
    expect(w.body.toString()).toBe('path /gate/neutral');
    const seen = up.seen.filter((s) => s.url === '/gate/neutral');
    expect(seen).toHaveLength(1);
    expect(seen[0].headers['range']).toBeUndefined();
    expect(seen[0].headers['cache-control']).toBeUndefined();
  });

  it('a successful unsafe method invalidates every stored variant of the URL and its same-origin Location', async () => {
    for (const h of [{ 'accept-encoding': 'br' }, { 'accept-encoding': 'gzip' }, {}] as Array<Record<string, string>>)
      await get(`${e.url}/vary-ae/doc`, h);
    await get(`${e.url}/vary-ae/other`);
    await e.edge.whenIdle();
    const keys = () => e.edge.store!.keys('/vary-ae/');
    expect(keys()).toHaveLength(6); // a vary record + 3 variants, a vary record + 1 variant
    const before = up.count('/vary-ae/doc');
    const post = await get(`${e.url}/vary-ae/doc`, {}, 'POST');
    expect(post.status).toBe(200);
    expect(keys().filter((k) => k.startsWith('/vary-ae/doc'))).toHaveLength(0);
    await get(`${e.url}/vary-ae/doc`, { 'accept-encoding': 'br' });
    expect(up.count('/vary-ae/doc')).toBe(before + 2); // the POST and a new fill
  });
});

describe('1xx interim responses', () => {
  it('103 Early Hints from the origin reach the client, on a fill and on a pass', async () => {
    for (const [path, method] of [
      ['/hints', 'GET'],
      ['/hints-post', 'POST'],
    ] as const) {
      const infos: Array<{ statusCode: number; headers: Record<string, string | string[]> }> = [];
      const r = await request(`${e.url}${path}`, { method, onInfo: (i) => infos.push(i) });
      expect(await r.body.text()).toBe('hinted');
      expect(infos.map((i) => i.statusCode)).toEqual([103]);
      expect(String(infos[0].headers['link'])).toContain('</style.css>; rel=preload');
    }
  });
});

describe('defect 2: the query string reaches the origin (minus the signing token)', () => {
  it('/obj/8?size=N is fetched with its query and keyed on it', async () => {
    const a = await get(`${e.url}/obj/8?size=1048576&token=secret`);
    const b = await get(`${e.url}/obj/8?size=5`);
    expect(a.body.length).toBe(1048576);
    expect(b.body.length).toBe(5);
    expect(up.count('/obj/8?size=1048576')).toBe(1);
    expect(up.count('/obj/8?size=5')).toBe(1);
    expect(up.seen.some((s) => s.url.includes('token'))).toBe(false);
  });
});

describe('defect 3: keys follow Vary, not guesses (RFC 9111 §4.1)', () => {
  it('a segment without Vary: three Accept-Encoding spellings cost one fill and one stored copy', async () => {
    const path = '/vod/a/360p/seg-ae.m4s';
    for (const h of [{ 'accept-encoding': 'br' }, { 'accept-encoding': 'gzip' }, {}] as Array<Record<string, string>>) {
      const r = await get(`${e.url}${path}`, h);
      expect(r.status).toBe(200);
      await e.edge.whenIdle();
    }
    expect(up.count(path)).toBe(1);
    expect(e.edge.store!.keys(path)).toEqual([path]);
  });

  it('with Vary: Accept-Encoding, "gzip, br" and "br, gzip" share a variant; gzip alone is another', async () => {
    const path = '/vary-ae/seg';
    const a = await get(`${e.url}${path}`, { 'accept-encoding': 'gzip, br' });
    await e.edge.whenIdle();
    const b = await get(`${e.url}${path}`, { 'accept-encoding': 'br, gzip' });
    const c = await get(`${e.url}${path}`, { 'accept-encoding': 'gzip' });
    expect(a.body.toString()).toBe('body for br');
    expect(parseCacheStatus(b.headers['cache-status'])[0].hit).toBe(true);
    expect(b.body.toString()).toBe('body for br');
    expect(c.body.toString()).toBe('body for gzip');
    expect(up.count(path)).toBe(2);
  });

  it('a waiter whose Vary-selected header differs gets its own variant, not the leader’s', async () => {
    const path = '/gate/vary-ae-join';
    const br = get(`${e.url}${path}`, { 'accept-encoding': 'br' });
    await waitForGated(1);
    const c0 = await collapsed();
    const id = get(`${e.url}${path}`, { 'accept-encoding': 'identity' });
    const br2 = get(`${e.url}${path}`, { 'accept-encoding': 'br;q=1, gzip;q=0.5' });
    await waitUntil(async () => (await collapsed()) >= c0 + 2);
    releaseGated();
    await waitForGated(1); // the identity waiter's own fill
    releaseGated();
    const [r1, r2, r3] = await Promise.all([br, id, br2]);
    expect(r1.body.toString()).toBe('body for br');
    expect(r2.body.toString()).toBe('body for identity');
    expect(r3.body.toString()).toBe('body for br');
    expect(up.count(path)).toBe(2);
  });
});

describe('defect 4: query strings cannot multiply copies of media', () => {
  it('250 distinct _HLS_msn values on a VOD segment cost one fill', async () => {
    const path = '/vod/a/360p/seg-1.m4s';
    const first = await get(`${e.url}${path}?_HLS_msn=0`);
    expect(first.status).toBe(200);
    await e.edge.whenIdle();
    for (let n = 1; n < 250; n += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, (_, i) => get(`${e.url}${path}?_HLS_msn=${n + i}&_HLS_part=1`)),
      );
      expect(batch.every((r) => r.status === 200 && r.body.toString() === `segment ${path}`)).toBe(true);
    }
    expect([...up.counts.keys()].filter((u) => u.startsWith(path))).toEqual([path]);
    expect(up.count(path)).toBe(1);
    expect(e.edge.store!.keys(path)).toEqual([path]);
  });

  it('the session ids of HLS Interstitials clients on an ad’s playlist: one fill, one copy, none sent upstream', async () => {
    const path = '/vod/ad/master.m3u8';
    const ids = ['0f8e2a61-1', '7b3c9d40-2', 'c2d4e6f8-3'];
    const first = await get(`${e.url}${path}?_HLS_primary_id=${ids[0]}`);
    expect(first.body.toString()).toBe(`path ${path}`);
    await e.edge.whenIdle();
    for (const id of ids.slice(1)) {
      const r = await get(`${e.url}${path}?_HLS_primary_id=${id}`);
      expect(parseCacheStatus(r.headers['cache-status'])[0].hit).toBe(true);
    }
    expect([...up.counts.keys()].filter((u) => u.startsWith(path))).toEqual([path]);
    expect(e.edge.store!.keys(path)).toEqual([path]);
  });

  it('CMCD is never keyed nor forwarded, and its sid/ot/bs reach the access log', async () => {
    const path = '/cmcd/thing';
    const cmcd = encodeURIComponent('bs,ot=v,sid="6e2fb550-c457-11e9-bb97-0800200c9a66"');
    await get(`${e.url}${path}?a=1&CMCD=${cmcd}`, { 'cmcd-session': 'sf=h' });
    await get(`${e.url}${path}?CMCD=${encodeURIComponent('ot=m,sid="other"')}&a=1`);
    await e.edge.whenIdle();
    expect(up.count(`${path}?a=1`)).toBe(1);
    expect(up.seen.filter((s) => s.url.startsWith(path)).every((s) => s.headers['cmcd-session'] === undefined)).toBe(
      true,
    );
    const mine = () => logLines.filter((l) => typeof l['url'] === 'string' && l['url'].startsWith(path));
    await waitUntil(() => Promise.resolve(mine().length >= 2));
    const lines = mine();
    expect(lines.map((l) => l['cmcd'])).toEqual([
      { sid: '6e2fb550-c457-11e9-bb97-0800200c9a66', ot: 'v', bs: true, sf: 'h' },
      { sid: 'other', ot: 'm' },
    ]);
    // and its metrics: requests and starvation by object type, the two sessions, one starved
    const metrics = (await get(`${e.url}/_edge/metrics`)).body.toString();
    const sample = (series: string): number | undefined => {
      const at = metrics.split('\n').find((l) => l.startsWith(`${series} `));
      return at === undefined ? undefined : Number(at.slice(series.length + 1));
    };
    expect(sample('edge_cmcd_requests_total{ot="v"}')).toBe(1);
    expect(sample('edge_cmcd_requests_total{ot="m"}')).toBe(1);
    expect(sample('edge_cmcd_buffer_starvation_total{ot="v"}')).toBe(1);
    expect(sample('edge_cmcd_buffer_starvation_total{ot="m"}')).toBeUndefined();
    expect(sample('edge_cmcd_sessions')).toBe(2);
    expect(sample('edge_cmcd_starved_sessions')).toBe(1);
  });
});

function rawGet(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end();
  });
}

async function collapsed(): Promise<number> {
  const v = await e.edge.metrics.collapsed.get();
  return v.values.reduce((a, x) => a + x.value, 0);
}

async function waitUntil(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error('condition never became true');
}
