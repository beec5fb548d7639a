/**
 * A VOD asset packaged by the real packager, played through the edge by a client that knows only
 * the signed master URL (HLS) or MPD URL (DASH), with path and with query placement; and the
 * shared cache: viewers with different tokens hit one cached copy (one upstream request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { crawlDash, crawlHls, playlistUris, type Fetched } from './crawl.js';
import {
  UPSTREAM_CREDENTIAL,
  es256,
  get,
  sign,
  startStack,
  url,
  writeJwks,
  type KeyPairFiles,
  type Stack,
} from './signed-helpers.js';

let dir: string;
let root: string;
let stack: Stack;
let key: KeyPairFiles;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-signed-vod-'));
  root = join(dir, 'root');
  mkdirSync(root);
  await packageVod({ input: await fixture('small'), outDir: root, assetId: 'a', ladder: 'small', preset: 'ultrafast' });
  key = await es256('k1');
  const jwksFile = join(dir, 'jwks.json');
  writeJwks(jwksFile, [key]);
  stack = await startStack({ root, jwksFile, storeDir: join(dir, 'store') });
}, 50_000);

afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The published file a URL names (token removed, /vod/ → root). */
function fileFor(u: string): Buffer {
  const path = new URL(u).pathname.replace(/^\/t\/[^/]+/, '').replace(/^\/vod\//, '');
  return readFileSync(join(root, path));
}

function upstreamCount(path: string): number {
  return stack.proxy.seen.filter((s) => s.url === path).length;
}

function expectComplete(fetched: Fetched[], renditions: string[]): void {
  for (const f of fetched) expect(f.status, f.url).toBe(200);
  for (const r of renditions) {
    expect(
      fetched.some((f) => f.kind === 'init' && f.url.includes(`/${r}/init.mp4`)),
      `${r} init`,
    ).toBe(true);
    expect(
      fetched.some((f) => f.kind === 'segment' && f.url.includes(`/${r}/seg-1.m4s`)),
      `${r} segment`,
    ).toBe(true);
  }
}

describe('signed VOD playback through the edge', () => {
  it('two viewers with different tokens share one cached segment and one cached manifest (one upstream request each)', async () => {
    const alice = await sign(key, '/vod/a/', { viewerId: 'alice' });
    const bob = await sign(key, '/vod/a/', { viewerId: 'bob', sessionId: 's-2' });
    expect(alice).not.toBe(bob);
    const seg = '/vod/a/360p/seg-1.m4s';
    const a = await get(url(stack.edgeUrl, seg, alice));
    const b = await get(url(stack.edgeUrl, seg, bob, 'query'));
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(b.body.equals(a.body)).toBe(true);
    expect(b.headers['cache-status']).toMatch(/hit/);
    expect(upstreamCount(seg)).toBe(1);

    // query placement: one upstream fetch of the playlist, each viewer gets it with their own token
    const pl = '/vod/a/360p/index.m3u8';
    const pa = await get(url(stack.edgeUrl, pl, alice, 'query'));
    const pb = await get(url(stack.edgeUrl, pl, bob, 'query'));
    expect(upstreamCount(pl)).toBe(1);
    expect(pa.text).toContain(`seg-1.m4s?token=${alice}`);
    expect(pb.text).toContain(`seg-1.m4s?token=${bob}`);
    expect(pb.text).not.toContain(alice);
    expect(pb.headers['cache-control']).toMatch(/^private/);
    expect(pb.headers['etag']).toBeUndefined();
    expect(Number(pb.headers['content-length'])).toBe(pb.body.length);

    // a compressed stored copy (the origin compresses for clients that accept it) is rewritten too
    const master = '/vod/a/master.m3u8';
    const direct = await get(`${stack.originUrl}${master}`, {
      'accept-encoding': 'br',
      'x-streamedge-upstream-credential': UPSTREAM_CREDENTIAL,
    });
    expect(direct.headers['content-encoding']).toBe('br');
    const plain = await get(url(stack.edgeUrl, master, alice, 'query'));
    const ma = await get(url(stack.edgeUrl, master, alice, 'query'), { 'accept-encoding': 'br' });
    const mb = await get(url(stack.edgeUrl, master, bob, 'query'), { 'accept-encoding': 'br' });
    expect(upstreamCount(master)).toBe(2); // identity + br: two representations (Vary: Accept-Encoding)
    expect(ma.headers['content-encoding']).toBeUndefined();
    expect(ma.text).toBe(plain.text);
    expect(mb.text).toBe(plain.text.replaceAll(alice, bob));
    expect(mb.text).toContain(`360p/index.m3u8?token=${bob}`);
  });

  for (const placement of ['path', 'query'] as const) {
    it(`HLS, ${placement} placement: every playlist, init and segment from the signed master URL alone`, async () => {
      const token = await sign(key, '/vod/a/', { viewerId: `hls-${placement}` });
      const master = url(stack.edgeUrl, '/vod/a/master.m3u8', token, placement);
      const fetched = await crawlHls(master);
      expectComplete(fetched, ['360p', '240p', 'audio']);
      expect(fetched.filter((f) => f.kind === 'playlist').length).toBe(1 + 3 + 2); // master, 3 media, 2 I-frame
      for (const f of fetched) {
        if (f.kind === 'playlist') {
          if (placement === 'query')
            for (const u of playlistUris(f.body.toString())) expect(u, f.url).toContain(`token=${token}`);
          continue;
        }
        expect(f.body.equals(fileFor(f.url)), f.url).toBe(true);
      }
    });

    it(`DASH, ${placement} placement: every init and segment from the signed MPD URL alone`, async () => {
      const token = await sign(key, '/vod/a/', { viewerId: `dash-${placement}` });
      const { mpd, fetched } = await crawlDash(url(stack.edgeUrl, '/vod/a/manifest.mpd', token, placement));
      expect(mpd.status).toBe(200);
      if (placement === 'query') expect(mpd.text).toContain(`init.mp4?token=${token}`);
      expectComplete(fetched, ['360p', '240p', 'audio']);
      for (const f of fetched) expect(f.body.equals(fileFor(f.url)), f.url).toBe(true);
    });
  }

  it('the whole asset was fetched from upstream once, whatever the viewers and placements', async () => {
    const objects = stack.proxy.seen.map((s) => s.url).filter((u) => /\.(m4s|mp4)$/.test(u));
    expect(objects.length).toBeGreaterThanOrEqual(6);
    expect(new Set(objects).size).toBe(objects.length);
    for (const s of stack.proxy.seen) expect(s.url.startsWith('/vod/a/')).toBe(true); // never /t/...
  });
});
