/**
 * Prefetch fills the variant players ask for: with `Vary: Accept-Encoding` on segments, the next
 * segment is fetched with the players' (normalised) Accept-Encoding, so their request is a hit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let up: Upstream;
let e: TestEdge;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path.endsWith('.m3u8')) {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'cache-control': 'max-age=60' });
      res.end('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.m4s\n#EXTINF:2,\nseg-2.m4s\n#EXT-X-ENDLIST\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'video/mp4',
      'cache-control': 'max-age=600',
      vary: 'Accept-Encoding',
    });
    res.end(`${path} for ${String(req.headers['accept-encoding'])}`);
  });
  e = await startEdge({ upstream: up.url, prefetch: true });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('prefetch and variants', () => {
  it('the prefetched copy is the variant the players request', async () => {
    const ae = { 'accept-encoding': 'gzip, deflate, br' };
    await get(`${e.url}/vod/p/index.m3u8`, ae);
    await e.edge.whenIdle();
    await get(`${e.url}/vod/p/seg-1.m4s`, ae);
    // the prefetch of seg-2 starts once seg-1 is served (counted as it joins the fill table),
    // then it is a fill like any other: wait until it is settled in the store
    for (let i = 0; i < 10_000 && (await prefetches()) < 1; i++) await new Promise<void>((r) => setImmediate(r));
    await e.edge.whenIdle();
    expect(up.count('/vod/p/seg-2.m4s')).toBe(1);
    const r = await get(`${e.url}/vod/p/seg-2.m4s`, { 'accept-encoding': 'br, gzip' });
    expect(parseCacheStatus(r.headers['cache-status'])[0].hit).toBe(true);
    expect(r.body.toString()).toBe('/vod/p/seg-2.m4s for br');
    expect(up.count('/vod/p/seg-2.m4s')).toBe(1);
  });
});

async function prefetches(): Promise<number> {
  const v = await e.edge.metrics.prefetches.get();
  return v.values.reduce((a, x) => a + x.value, 0);
}
