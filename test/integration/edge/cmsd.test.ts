/**
 * CMSD (CTA-5006) through the edge, against a scripted upstream on loopback: the origin's
 * CMSD-Static is stored and replayed with the object (RAM hit, store hit, miss alike); the
 * upstream's CMSD-Dynamic (true of that hop, at that moment) is never stored or replayed; an edge
 * with a cap (`cmsdMaxBitrateKbps`) adds its own entry to every answer; and the `nor` of
 * CMSD-Static is what the edge prefetches next when players send no CMCD (a DASH player's case:
 * no playlist lists its segments). The cap changes while the edge runs (PUT /_edge/cmsd), RAM hits
 * included; several workers: test/integration/cluster/edge-workers.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';
import { runCli } from '../packager/cli-run.js';

let up: Upstream;
let capped: TestEdge;
let plain: TestEdge;
let admin: TestEdge;
const TOKEN = 'cmsd-admin-token';

const staticOf = (n: number) => `br=800,d=2000,nor="seg-${n + 1}.m4s",ot=v,st=v`;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const n = Number(/seg-(\d+)\.m4s$/.exec(path)?.[1] ?? 0);
    res.writeHead(200, {
      'content-type': 'video/iso.segment',
      'cache-control': 'public, max-age=600',
      'cmsd-static': staticOf(n),
      'cmsd-dynamic': '"origin";du',
    });
    res.end(`${path}`);
  });
  capped = await startEdge({ upstream: up.url, name: 'edge-a', cmsdMaxBitrateKbps: 3000 });
  plain = await startEdge({ upstream: up.url, name: 'edge-b', prefetch: true });
  admin = await startEdge({ upstream: up.url, name: 'edge-c', adminToken: TOKEN });
});

afterAll(async () => {
  await capped?.close();
  await plain?.close();
  await admin?.close();
  await up?.close();
});

describe('CMSD through the edge', () => {
  it("keeps the origin's CMSD-Static, drops its CMSD-Dynamic, adds its own cap on miss and hits", async () => {
    const miss = await get(`${capped.url}/dash/m/v/seg-1.m4s`);
    const hit = await get(`${capped.url}/dash/m/v/seg-1.m4s`);
    expect(parseCacheStatus(miss.headers['cache-status'])[0].fwd).toBe('uri-miss');
    expect(parseCacheStatus(hit.headers['cache-status'])[0].hit).toBe(true);
    for (const r of [miss, hit]) {
      expect(r.headers['cmsd-static']).toBe(staticOf(1));
      expect(r.headers['cmsd-dynamic']).toBe('"edge-a";mb=3000');
    }
    // an answer of the edge's own (a 404 of its admin space) carries the cap too
    expect((await get(`${capped.url}/_edge/nothing-here`)).headers['cmsd-dynamic']).toBe('"edge-a";mb=3000');
  });

  it('without a cap: no CMSD-Dynamic at all (the upstream one is not replayed)', async () => {
    const miss = await get(`${plain.url}/dash/p/v/seg-7.m4s`);
    expect(miss.headers['cmsd-static']).toBe(staticOf(7));
    expect(miss.headers['cmsd-dynamic']).toBeUndefined();
    await plain.edge.whenIdle();
    const hit = await get(`${plain.url}/dash/p/v/seg-7.m4s`);
    expect(parseCacheStatus(hit.headers['cache-status'])[0].hit).toBe(true);
    expect(hit.headers['cmsd-dynamic']).toBeUndefined();
  });

  it("prefetches the object CMSD-Static's nor names, so the next request is a hit", async () => {
    await plain.edge.whenIdle();
    const before = await prefetches('cmsd');
    await get(`${plain.url}/dash/q/v/seg-1.m4s`);
    for (let i = 0; i < 10_000 && (await prefetches('cmsd')) < before + 1; i++) {
      await new Promise<void>((r) => setImmediate(r));
    }
    await plain.edge.whenIdle();
    expect(await prefetches('cmsd')).toBe(before + 1);
    expect(up.count('/dash/q/v/seg-2.m4s')).toBe(1);
    const next = await get(`${plain.url}/dash/q/v/seg-2.m4s`);
    expect(parseCacheStatus(next.headers['cache-status'])[0].hit).toBe(true);
    expect(next.body.toString()).toBe('/dash/q/v/seg-2.m4s');
    expect(up.count('/dash/q/v/seg-2.m4s')).toBe(1);
  });

  it('PUT /_edge/cmsd changes the cap from the next answer on, RAM hits included; bad bodies and missing tokens change nothing', async () => {
    const cap = async (method: 'GET' | 'PUT', body?: string, token = TOKEN) => {
      const res = await request(`${admin.url}/_edge/cmsd`, {
        method,
        headers: {
          ...(token !== '' ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body } : {}),
      });
      return { status: res.statusCode, text: (await res.body.text()).trim() };
    };
    const seg = `${admin.url}/dash/c/v/seg-1.m4s`;
    await get(seg); // miss: stored, then RAM hits on the prepared path
    const hit = await get(seg);
    expect(parseCacheStatus(hit.headers['cache-status'])[0].hit).toBe(true);
    expect(hit.headers['cmsd-dynamic']).toBeUndefined();
    expect(await cap('GET')).toEqual({ status: 200, text: '{"maxBitrateKbps":null}' });

    expect(await cap('PUT', '{"maxBitrateKbps": "2.5M"}')).toEqual({ status: 200, text: '{"maxBitrateKbps":2500}' });
    const afterPut = await get(seg);
    expect(parseCacheStatus(afterPut.headers['cache-status'])[0].hit).toBe(true);
    expect(afterPut.headers['cmsd-dynamic']).toBe('"edge-c";mb=2500');
    expect((await get(`${admin.url}/dash/c/v/seg-2.m4s`)).headers['cmsd-dynamic']).toBe('"edge-c";mb=2500'); // a miss
    expect(await cap('GET')).toEqual({ status: 200, text: '{"maxBitrateKbps":2500}' });

    // refused, and the cap stays
    for (const [body, why] of [
      ['{"maxBitrateKbps": 0}', /maxBitrateKbps 0: expected kbit\/s/],
      ['{"maxBitrateKbps": "lots"}', /maxBitrateKbps lots: expected kbit\/s/],
      ['{"maxBitrateKbps": true}', /must be kbit\/s/],
      ['{"cap": 3000}', /expected \{"maxBitrateKbps"/],
      ['{"maxBitrateKbps": 3000, "more": 1}', /unknown field "more"/],
      ['[3000]', /expected \{"maxBitrateKbps"/],
      ['{', /bad JSON/],
    ] as const) {
      const r = await cap('PUT', body);
      expect(r.status).toBe(400);
      expect(r.text).toMatch(why);
    }
    expect((await cap('PUT', JSON.stringify({ maxBitrateKbps: 1, pad: 'x'.repeat(5000) }))).status).toBe(413);
    expect((await cap('PUT', '{"maxBitrateKbps": null}', '')).status).toBe(401);
    expect((await cap('PUT', '{"maxBitrateKbps": null}', 'wrong')).status).toBe(401);
    const del = await request(`${admin.url}/_edge/cmsd`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect([del.statusCode, del.headers.allow]).toEqual([405, 'GET, HEAD, PUT']);
    await del.body.dump();
    expect((await get(seg)).headers['cmsd-dynamic']).toBe('"edge-c";mb=2500');

    // lifted
    expect(await cap('PUT', '{"maxBitrateKbps": null}')).toEqual({ status: 200, text: '{"maxBitrateKbps":null}' });
    expect((await get(seg)).headers['cmsd-dynamic']).toBeUndefined();
    // an edge without an admin token keeps its cap to itself
    const none = await request(`${capped.url}/_edge/cmsd`, { method: 'PUT', body: '{"maxBitrateKbps": 1}' });
    expect(none.statusCode).toBe(403);
    await none.body.dump();
  });

  it('streamedge edge --cmsd-max-bitrate refuses what is not a bit rate, with one clear line', async () => {
    const r = await runCli(['edge', '--upstream', up.url, '--workers', '1', '--cmsd-max-bitrate', 'lots']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--cmsd-max-bitrate lots: expected kbit/s, e.g. 3000, 800k or 3M');
  });
});

async function prefetches(source: string): Promise<number> {
  const v = await plain.edge.metrics.prefetches.get();
  return v.values.filter((x) => x.labels.source === source).reduce((a, x) => a + x.value, 0);
}
