/**
 * Purge and admin endpoints through a real edge and upstream on loopback: a prefix purge matches
 * whole path segments, an oversized purge body gets 413 (an answer, not a reset), and health shows
 * the upstream and peer URLs only to the admin token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { freePort } from '../../../bench/free-port.js';
import { client, get, startEdge, startUpstream, storedKey, type TestEdge, type Upstream } from './helpers.js';

const ADMIN = 'purge-admin-token-0123456789';
const DEAD_PEER = 'http://127.0.0.1:9';
let up: Upstream;
let e: TestEdge;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
    res.end(`body of ${req.url ?? '/'}`);
  });
  const port = await freePort();
  const self = `http://127.0.0.1:${port}`;
  // a second peer that is never up: its URL is what health must not show to anyone
  e = await startEdge({ upstream: up.url, adminToken: ADMIN, port, self, peers: [self, DEAD_PEER] });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

const auth = { authorization: `Bearer ${ADMIN}` };

async function cached(paths: string[]): Promise<void> {
  for (const p of paths) expect((await get(`${e.url}${p}`)).status, p).toBe(200);
  await e.edge.whenIdle();
  for (const p of paths) expect(await e.edge.store!.head(storedKey(p)), p).toBeDefined();
}

async function isStored(p: string): Promise<boolean> {
  return (await e.edge.store!.head(storedKey(p))) !== undefined;
}

describe('prefix purge matches whole path segments', () => {
  it('/vod/a touches /vod/a, /vod/a/… and /vod/a?…, never /vod/ab/…', async () => {
    const inside = ['/vod/a', '/vod/a/seg-1.m4s', '/vod/a/v/seg-2.m4s', '/vod/a?v=3'];
    const outside = ['/vod/ab/seg-1.m4s', '/vod/ab', '/vod/a-b/seg-1.m4s', '/vod/b/seg-1.m4s'];
    await cached([...inside, ...outside]);
    const r = await request(`${e.url}/_edge/purge`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ prefix: '/vod/a' }),
    });
    expect(r.statusCode).toBe(200);
    expect(((await r.body.json()) as { purged: number }).purged).toBe(inside.length);
    for (const p of inside) expect(await isStored(p), p).toBe(false);
    for (const p of outside) expect(await isStored(p), p).toBe(true);
  });

  it('/vod/ab/ with its slash touches only what lies under it', async () => {
    await cached(['/vod/ab/seg-1.m4s', '/vod/abc/seg-1.m4s']);
    const r = await request(`${e.url}/_edge/purge`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ prefix: '/vod/ab/' }),
    });
    expect(r.statusCode).toBe(200);
    await r.body.text();
    expect(await isStored('/vod/ab/seg-1.m4s')).toBe(false);
    expect(await isStored('/vod/abc/seg-1.m4s')).toBe(true);
  });
});

describe('purge by URL keys the URL as a lookup does', () => {
  it('a segment named with a query (media ignores it) is purged; a playlist keeps its _HLS_ directives', async () => {
    expect((await get(`${e.url}/vod/q/v/seg-1.m4s?session=abc`)).status).toBe(200);
    expect((await get(`${e.url}/vod/q/v/index.m3u8?_HLS_msn=4`)).status).toBe(200);
    await e.edge.whenIdle();
    expect(await isStored('/vod/q/v/seg-1.m4s')).toBe(true);
    expect(await isStored('/vod/q/v/index.m3u8?_HLS_msn=4')).toBe(true);
    const purge = async (url: string) => {
      const r = await request(`${e.url}/_edge/purge`, {
        method: 'POST',
        dispatcher: client,
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ url }),
      });
      expect(r.statusCode).toBe(200);
      return ((await r.body.json()) as { purged: number }).purged;
    };
    expect(await purge('/vod/q/v/seg-1.m4s?utm_source=mail&session=zzz')).toBe(1);
    expect(await isStored('/vod/q/v/seg-1.m4s')).toBe(false);
    expect(await purge('/vod/q/v/index.m3u8?_HLS_msn=5')).toBe(0);
    expect(await isStored('/vod/q/v/index.m3u8?_HLS_msn=4')).toBe(true);
    expect(await purge('/vod/q/v/index.m3u8?_HLS_msn=4')).toBe(1);
  });
});

describe('purge body limit', () => {
  const big = JSON.stringify({
    urls: Array.from({ length: 40_000 }, (_, i) => `/vod/x/seg-${i}.m4s-${'p'.repeat(20)}`),
  });

  it('a body over 1 MiB gets 413 with a reason (declared length and chunked alike); the edge keeps serving', async () => {
    expect(Buffer.byteLength(big)).toBeGreaterThan(1024 * 1024);
    const declared = await request(`${e.url}/_edge/purge`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...auth },
      body: big,
    });
    expect(declared.statusCode).toBe(413);
    expect(await declared.body.text()).toMatch(/larger than 1048576 bytes/);

    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < big.length; i += 64 * 1024) yield Buffer.from(big.slice(i, i + 64 * 1024));
    }
    const chunked = await request(`${e.url}/_edge/purge`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...auth },
      body: Readable.from(chunks()),
    });
    expect(chunked.statusCode).toBe(413);
    expect(await chunked.body.text()).toMatch(/larger than 1048576 bytes/);
    expect((await get(`${e.url}/vod/after/seg-1.m4s`)).status).toBe(200);
  });
});

describe('health', () => {
  it('shows the upstream and peer URLs only to the admin token', async () => {
    const anyone = await get(`${e.url}/_edge/health`);
    expect(anyone.status).toBe(200);
    const pub = anyone.body.toString();
    expect(JSON.parse(pub)).toMatchObject({ status: 'ok', peers: 2 });
    expect(pub).not.toContain(up.url);
    expect(pub).not.toContain('127.0.0.1');
    const wrong = await get(`${e.url}/_edge/health`, { authorization: 'Bearer not-the-token-at-all' });
    expect(wrong.body.toString()).not.toContain(up.url);
    const admin = await get(`${e.url}/_edge/health`, auth);
    expect(admin.status).toBe(200);
    expect(JSON.parse(admin.body.toString())).toMatchObject({
      status: 'ok',
      upstream: `${up.url}/`,
      peers: expect.arrayContaining([DEAD_PEER]) as unknown,
    });
  });
});

describe('a worker whose store process is away', () => {
  /** Stands in for a worker's link to the store process (edge/cluster/store-client.ts). */
  function fakeLink(connected: boolean) {
    const drops: unknown[] = [];
    return {
      drops,
      link: {
        connected,
        dropAll: (specs: unknown[]) => {
          drops.push(specs);
          return Promise.resolve();
        },
      },
    };
  }
  const withLink = async (link: unknown, fn: () => Promise<void>) => {
    const edge = e.edge as unknown as { cluster: unknown };
    const before = edge.cluster;
    edge.cluster = link;
    try {
      await fn();
    } finally {
      edge.cluster = before;
    }
  };
  const purge = (body: object) =>
    request(`${e.url}/_edge/purge`, {
      method: 'POST',
      dispatcher: client,
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(body),
    });

  it('refuses a purge with 503 and Retry-After, touching nothing, instead of answering 200 unapplied', async () => {
    await cached(['/vod/away/seg-1.m4s']);
    const { link, drops } = fakeLink(false);
    await withLink(link, async () => {
      const r = await purge({ urls: ['/vod/away/seg-1.m4s'] });
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(await r.body.text()).toMatch(/store process is restarting: purge not applied/);
    });
    expect(drops).toEqual([]);
    expect(await isStored('/vod/away/seg-1.m4s')).toBe(true);
  });

  it('once linked, the same purge applies and is broadcast to every worker before the 200', async () => {
    await cached(['/vod/away/seg-2.m4s']);
    const { link, drops } = fakeLink(true);
    await withLink(link, async () => {
      const r = await purge({ urls: ['/vod/away/seg-2.m4s'] });
      expect(r.statusCode).toBe(200);
      await r.body.text();
    });
    expect(drops).toHaveLength(1);
    expect(await isStored('/vod/away/seg-2.m4s')).toBe(false);
  });
});
