/**
 * Purge (URL, prefix, surrogate key, PURGE method; soft and hard; auth; fan-out to peers),
 * tiers (viewer → edge → shield → origin) and a three-peer PoP (each object reaches the origin once).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { client, get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';
import { storedKey } from './helpers.js';
import { freePort } from '../../../bench/free-port.js';

const TOKEN = 'test-admin-token-0123456789';
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

let version = 1;
function originHandler(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '/';
  const etag = `"${version}"`;
  const asset = /^\/vod\/([^/]+)\//.exec(url)?.[1] ?? 'none';
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, { etag, 'cache-control': 'max-age=600' });
    res.end();
    return;
  }
  res.writeHead(200, {
    'cache-control': 'public, max-age=600',
    etag,
    'surrogate-key': `asset-${asset} all`,
    'content-type': 'video/mp4',
  });
  res.end(`v${version} ${url}`);
}

/** The purge endpoint's JSON reply (its raw text when it is not JSON: the field assertions then fail). */
interface PurgeReply {
  purged?: number;
  peers?: { ok: boolean }[];
}

async function purge(edgeUrl: string, body: unknown, token = TOKEN): Promise<{ status: number; json: PurgeReply }> {
  const r = await request(`${edgeUrl}/_edge/purge`, {
    method: 'POST',
    dispatcher: client,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await r.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.statusCode, json: json as PurgeReply };
}

describe('purge', () => {
  let up: Upstream;
  let e: TestEdge;
  beforeAll(async () => {
    up = await startUpstream(originHandler);
    e = await startEdge({ upstream: up.url, adminToken: TOKEN });
  });
  afterAll(async () => {
    await e?.close();
    await up?.close();
  });

  const fetchTwice = async (p: string) => {
    await get(`${e.url}${p}`);
    await e.edge.whenIdle();
    const r = await get(`${e.url}${p}`);
    expect(parseCacheStatus(r.headers['cache-status'])[0].hit, p).toBe(true);
  };

  it('refuses without the admin token', async () => {
    expect((await purge(e.url, { url: '/x' }, 'wrong')).status).toBe(401);
    const r = await request(`${e.url}/x`, { method: 'PURGE', dispatcher: client });
    await r.body.text();
    expect(r.statusCode).toBe(401);
    expect((await purge(e.url, { nothing: 1 })).status).toBe(400);
  });

  it('hard URL purge drops the object; the next request is a miss', async () => {
    await fetchTwice('/vod/a/seg-1.m4s');
    const r = await purge(e.url, { url: `${e.url}/vod/a/seg-1.m4s` });
    expect(r).toMatchObject({ status: 200, json: { purged: 1 } });
    const after = await get(`${e.url}/vod/a/seg-1.m4s`);
    expect(parseCacheStatus(after.headers['cache-status'])[0]).toMatchObject({ fwd: 'uri-miss' });
    expect(up.count('/vod/a/seg-1.m4s')).toBe(2);
  });

  it('soft URL purge (PURGE method) marks stale: the next request revalidates with a conditional request', async () => {
    await fetchTwice('/vod/a/seg-2.m4s');
    const r = await request(`${e.url}/vod/a/seg-2.m4s`, {
      method: 'PURGE',
      dispatcher: client,
      headers: { 'x-streamedge-admin-token': TOKEN, 'x-streamedge-soft-purge': '1' },
    });
    expect(JSON.parse(await r.body.text())).toMatchObject({ purged: 1 });
    const after = await get(`${e.url}/vod/a/seg-2.m4s`);
    expect(after.body.toString()).toBe('v1 /vod/a/seg-2.m4s');
    expect(parseCacheStatus(after.headers['cache-status'])[0]).toMatchObject({ fwd: 'stale', fwdStatus: 304 });
    const seen = up.seen.filter((s) => s.url === '/vod/a/seg-2.m4s');
    expect(seen.length).toBe(2);
    expect(seen[1].headers['if-none-match']).toBe('"1"');
  });

  it('prefix purge drops everything under the prefix only', async () => {
    await fetchTwice('/vod/b/seg-1.m4s');
    await fetchTwice('/vod/b/seg-2.m4s');
    await fetchTwice('/vod/c/seg-1.m4s');
    const r = await purge(e.url, { prefix: '/vod/b/' });
    expect(r.json.purged).toBe(2);
    expect(await e.edge.store!.head(storedKey('/vod/b/seg-1.m4s'))).toBeUndefined();
    expect(await e.edge.store!.head(storedKey('/vod/b/seg-2.m4s'))).toBeUndefined();
    expect(await e.edge.store!.head(storedKey('/vod/c/seg-1.m4s'))).toBeDefined();
  });

  it('surrogate-key purge (soft and hard)', async () => {
    await fetchTwice('/vod/d/seg-1.m4s');
    await fetchTwice('/vod/d/seg-2.m4s');
    version = 2;
    const soft = await purge(e.url, { tag: 'asset-d', soft: true });
    expect(soft.json.purged).toBe(2);
    const after = await get(`${e.url}/vod/d/seg-1.m4s`);
    expect(after.body.toString()).toBe('v2 /vod/d/seg-1.m4s'); // revalidated, origin changed: new body
    expect(parseCacheStatus(after.headers['cache-status'])[0]).toMatchObject({ fwd: 'stale' }); // streamed: not yet stored
    const hard = await purge(e.url, { tag: 'asset-d' });
    expect(hard.json.purged).toBe(2);
    expect(await e.edge.store!.head(storedKey('/vod/d/seg-2.m4s'))).toBeUndefined();
    version = 1;
  });
});

describe('tiers: viewer → edge → shield → origin', () => {
  it('the shield absorbs the second edge; Cache-Status shows every tier', async () => {
    const origin = await startUpstream(originHandler);
    cleanups.push(() => origin.close());
    const shield = await startEdge({ upstream: origin.url, name: 'shield' });
    cleanups.push(() => shield.close());
    const edgeA = await startEdge({ upstream: shield.url, name: 'edgeA' });
    cleanups.push(() => edgeA.close());
    const edgeB = await startEdge({ upstream: shield.url, name: 'edgeB' });
    cleanups.push(() => edgeB.close());

    const a = await get(`${edgeA.url}/vod/t/seg-1.m4s`);
    expect(a.body.toString()).toBe('v1 /vod/t/seg-1.m4s');
    expect(parseCacheStatus(a.headers['cache-status']).map((s) => [s.cache, s.fwd, s.stored])).toEqual([
      // streamed through both tiers before either put landed: neither says `stored` yet
      ['shield', 'uri-miss', undefined],
      ['edgeA', 'uri-miss', undefined],
    ]);
    await shield.edge.whenIdle();
    const b = await get(`${edgeB.url}/vod/t/seg-1.m4s`);
    const cs = parseCacheStatus(b.headers['cache-status']);
    expect(cs.map((s) => s.cache)).toEqual(['shield', 'edgeB']);
    expect(cs[0].hit).toBe(true);
    await edgeA.edge.whenIdle();
    const c = await get(`${edgeA.url}/vod/t/seg-1.m4s`);
    expect(parseCacheStatus(c.headers['cache-status'])[1].hit).toBe(true);
    expect(origin.count('/vod/t/seg-1.m4s')).toBe(1);
  });
});

describe('a three-peer PoP', () => {
  let origin: Upstream;
  const peers: TestEdge[] = [];
  let urls: string[] = [];
  beforeAll(async () => {
    origin = await startUpstream(originHandler);
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    urls = ports.map((p) => `http://127.0.0.1:${p}`);
    for (let i = 0; i < 3; i++) {
      const e = await startEdge({
        upstream: origin.url,
        name: `peer${i}`,
        peers: urls,
        self: urls[i],
        adminToken: TOKEN,
        port: ports[i],
      });
      peers.push(e);
    }
  });
  afterAll(async () => {
    for (const p of peers) await p.close();
    await origin?.close();
  });

  it('each object reaches the origin once, whichever peer viewers ask', async () => {
    const objects = Array.from({ length: 30 }, (_, i) => `/vod/pop/seg-${i}.m4s`);
    for (const round of [0, 1, 2]) {
      await Promise.all(
        objects.map(async (o, i) => {
          const peer = peers[(i + round) % 3];
          const r = await get(`${peer.url}${o}`);
          expect(r.body.toString()).toBe(`v1 ${o}`);
        }),
      );
      for (const p of peers) await p.edge.whenIdle();
    }
    for (const o of objects) expect(origin.count(o), o).toBe(1);
    // each object is stored once in the PoP, by its owner
    let stored = 0;
    for (const p of peers) for (const o of objects) if (await p.edge.store!.head(storedKey(o))) stored++;
    expect(stored).toBe(objects.length);
  });

  it('a purge sent to one peer reaches every peer', async () => {
    const r = await purge(peers[0].url, { prefix: '/vod/pop/' });
    expect(r.json.peers).toHaveLength(2);
    expect(r.json.peers?.every((p) => p.ok)).toBe(true);
    for (const p of peers)
      for (let i = 0; i < 30; i++) expect(await p.edge.store!.head(storedKey(`/vod/pop/seg-${i}.m4s`))).toBeUndefined();
  });

  it('a dead peer is skipped: its keys are fetched by the next peer in rank', async () => {
    const dead = peers.pop()!;
    await dead.close();
    const objects = Array.from({ length: 12 }, (_, i) => `/vod/dead/seg-${i}.m4s`);
    for (const o of objects) {
      const r = await get(`${peers[0].url}${o}`);
      expect(r.status, o).toBe(200);
    }
    for (const o of objects) expect(origin.count(o), o).toBe(1);
  });
});
