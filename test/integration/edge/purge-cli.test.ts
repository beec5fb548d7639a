/**
 * `streamedge purge` (runPurge) against a real edge on loopback: a full URL finds its edge by
 * itself, a path needs --edge, and a wrong token or an edge that is not there fail with one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPurge } from '../../../edge/edge-cli.js';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { get, startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

const TOKEN = 'purge-cli-token-0123456789';
let up: Upstream;
let e: TestEdge;

beforeAll(async () => {
  up = await startUpstream((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
    res.end(`body of ${req.url}`);
  });
  e = await startEdge({ upstream: up.url, adminToken: TOKEN });
});

afterAll(async () => {
  await e?.close();
  await up?.close();
});

describe('streamedge purge', () => {
  it('purges a full URL at the edge it names, without --edge', async () => {
    const url = `${e.url}/vod/a/seg-1.m4s`;
    await get(url);
    expect(parseCacheStatus((await get(url)).headers['cache-status'])[0]).toMatchObject({ hit: true });
    const result = (await runPurge(url, { adminToken: TOKEN })) as { purged: number };
    expect(result.purged).toBe(1);
    expect(parseCacheStatus((await get(url)).headers['cache-status'])[0]).toMatchObject({ fwd: 'uri-miss' });
    expect(up.count('/vod/a/seg-1.m4s')).toBe(2);
  });

  it('a path, a prefix or a tag needs --edge', async () => {
    await expect(runPurge('/vod/a/seg-1.m4s', { adminToken: TOKEN })).rejects.toMatchObject({
      code: 'BAD_OPTION',
      message: expect.stringContaining('--edge') as unknown,
    });
    await expect(runPurge(undefined, { prefix: '/vod/a/', adminToken: TOKEN })).rejects.toMatchObject({
      code: 'BAD_OPTION',
    });
    const r = (await runPurge(undefined, { prefix: '/vod/a/', edge: e.url, adminToken: TOKEN })) as {
      items: unknown[];
    };
    expect(r.items).toEqual([{ kind: 'prefix', value: '/vod/a/', mode: 'hard' }]);
  });

  it('a wrong token or an edge that is not there fails with one line', async () => {
    await expect(runPurge(`${e.url}/vod/a/seg-1.m4s`, { adminToken: 'wrong' })).rejects.toMatchObject({
      code: 'PURGE_FAILED',
      message: expect.stringMatching(/^edge answered 401/) as unknown,
    });
    await expect(runPurge('http://127.0.0.1:1/vod/a/seg-1.m4s', { adminToken: TOKEN })).rejects.toMatchObject({
      code: 'PURGE_FAILED',
      message: 'cannot reach the edge at http://127.0.0.1:1: ECONNREFUSED',
    });
  });
});
