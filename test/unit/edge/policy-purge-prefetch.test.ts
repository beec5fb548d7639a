import { describe, expect, it } from 'vitest';
import { buildMeta, refreshedMeta, replayHeaders, viewEntry } from '../../../edge/cache-policy.js';
import { adminTokenMatches, parsePurgeBody, presentedToken, purgeTarget } from '../../../edge/purge.js';
import { playlistUris, Prefetcher, resolveAgainst } from '../../../edge/prefetch.js';
import { nextObjectOf } from '../../../src/http/cmcd.js';
import { ByteQueue } from '../../../edge/byte-queue.js';

const policy = { keyPolicy: { queryParams: [], headers: [] }, negativeTtl: 5, keepForRevalidation: 3600 };

describe('edge cache policy', () => {
  it('builds store metadata: expiry net of age, stale windows, tags, no hop-by-hop headers', () => {
    const t = 1_000_000_000_000;
    const b = buildMeta(
      {},
      {
        status: 200,
        headers: {
          'cache-control': 'max-age=60, stale-while-revalidate=10, stale-if-error=100',
          age: '20',
          connection: 'x-hop',
          'x-hop': '1',
          'transfer-encoding': 'chunked',
          'surrogate-key': 'a b  a',
          etag: '"e"',
        },
      },
      t,
      t,
      policy,
    );
    expect(b.meta).toBeDefined();
    const m = b.meta!;
    expect(m.expiresAt).toBe(t + 40_000);
    expect(m.staleUntil).toBe(t + 40_000 + 3600_000);
    expect(m.tags).toEqual(['a', 'b']);
    const replay = replayHeaders(m);
    expect(replay['x-hop']).toBeUndefined();
    expect(replay['transfer-encoding']).toBeUndefined();
    expect(Object.keys(replay).some((k) => k.startsWith(':'))).toBe(false);
    expect(viewEntry(m, t + 10_000)).toMatchObject({ state: 'fresh', age: 30 });
    expect(viewEntry(m, t + 45_000).state).toBe('stale-while-revalidate');
    expect(viewEntry(m, t + 100_000).state).toBe('stale-if-error-only');
    expect(viewEntry({ ...m, expiresAt: 0 }, t).state).toBe('stale'); // soft-purged
  });
  it('a 304 refreshes headers and freshness', () => {
    const t = 1_000_000_000_000;
    const m = buildMeta(
      {},
      { status: 200, headers: { 'cache-control': 'max-age=10', etag: '"e"', 'content-type': 'video/mp4' } },
      t,
      t,
      policy,
    ).meta!;
    const r = refreshedMeta(
      m,
      { 'cache-control': 'max-age=100', etag: '"e"', 'content-type': 'text/html' },
      {},
      t + 50_000,
      t + 50_000,
      policy,
    )!;
    expect(r.expiresAt).toBe(t + 150_000);
    expect(r.headers['cache-control']).toBe('max-age=100');
    expect(r.headers['content-type']).toBe('video/mp4');
    expect(refreshedMeta(m, { 'cache-control': 'no-store' }, {}, t, t, policy)).toBeUndefined();
  });
});

describe('purge helpers', () => {
  it('parses bodies and rejects bad ones', () => {
    expect(parsePurgeBody({ url: '/a', prefix: ['/b/'], tag: 't', soft: true })).toEqual([
      { kind: 'url', value: '/a', mode: 'soft' },
      { kind: 'prefix', value: '/b/', mode: 'soft' },
      { kind: 'tag', value: 't', mode: 'soft' },
    ]);
    expect(() => parsePurgeBody({})).toThrow(/nothing to purge/);
    expect(() => parsePurgeBody([])).toThrow();
    expect(() => parsePurgeBody({ url: 3 })).toThrow();
    expect(() => parsePurgeBody({ url: '/a', soft: 'yes' })).toThrow();
    expect(purgeTarget('http://edge:8080/vod/a?x=1')).toBe('/vod/a?x=1');
    expect(purgeTarget('vod/a')).toBe('/vod/a');
  });
  it('compares tokens in constant time and reads Bearer or the admin header', () => {
    expect(adminTokenMatches('abc', 'abc')).toBe(true);
    expect(adminTokenMatches('abd', 'abc')).toBe(false);
    expect(adminTokenMatches('abc', undefined)).toBe(false);
    expect(adminTokenMatches(undefined, 'abc')).toBe(false);
    expect(presentedToken({ authorization: 'Bearer t1' })).toBe('t1');
    expect(presentedToken({ 'x-streamedge-admin-token': 't2' })).toBe('t2');
  });
});

describe('prefetch', () => {
  it('reads playlist URIs in order (segments, parts, preload hint) and CMCD nor', () => {
    const pl =
      '#EXTM3U\n#EXTINF:4,\nseg-1.m4s\n#EXT-X-PART:DURATION=1,URI="seg-2.0.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-2.1.m4s"\n';
    expect(playlistUris(pl)).toEqual(['seg-1.m4s', 'seg-2.0.m4s', 'seg-2.1.m4s']);
    expect(resolveAgainst('/live/c/v/index.m3u8', 'seg-1.m4s')).toBe('/live/c/v/seg-1.m4s');
    expect(resolveAgainst('/live/c/v/index.m3u8', '../a/seg-1.m4s')).toBe('/live/c/a/seg-1.m4s');
    expect(nextObjectOf('bl=2000,nor="seg-5.m4s",ot=v')).toBe('seg-5.m4s');
    expect(nextObjectOf('bl=2000')).toBeUndefined();
  });
  it('prefetches the next object after one is served', () => {
    const started: string[] = [];
    const p = new Prefetcher(async (t) => {
      started.push(t);
    });
    p.onPlaylist('/live/c/v/index.m3u8', '#EXTM3U\nseg-1.m4s\nseg-2.m4s\n');
    p.onServed('/live/c/v/seg-1.m4s', '/live/c/v/seg-1.m4s', {});
    p.onServed('/live/c/v/seg-9.m4s', '/live/c/v/seg-9.m4s?CMCD=nor%3D%22seg-10.m4s%22', {});
    p.onServed('/live/c/v/seg-20.m4s', '/live/c/v/seg-20.m4s', { 'cmcd-request': 'nor="seg-21.m4s"' });
    expect(started).toEqual(['/live/c/v/seg-2.m4s', '/live/c/v/seg-10.m4s', '/live/c/v/seg-21.m4s']);
  });
  it("learns the next object from the origin's CMSD-Static nor, which a playlist does not overrule", () => {
    const started: [string, string][] = [];
    const p = new Prefetcher(async (t, source) => {
      started.push([t, source]);
    });
    p.onObject('/dash/a/v/seg-1.m4s', 'br=800,d=2000,nor="seg-2.m4s",ot=v,st=v');
    // what a nor may not name: the object itself, a manifest; absent or malformed: nothing learnt
    p.onObject('/dash/a/v/seg-5.m4s', 'nor="seg-5.m4s"');
    p.onObject('/dash/a/v/seg-6.m4s', 'nor="../manifest.mpd"');
    p.onObject('/dash/a/v/seg-7.m4s', 'ot=v');
    p.onObject('/dash/a/v/seg-8.m4s', undefined);
    p.onObject('/dash/a/v/seg-9.m4s', 'nor="%E0%A4%A"');
    // an absolute URL (CTA-5006 asks for a relative path) is not followed; a root-relative path is
    p.onObject('/dash/a/v/seg-10.m4s', 'nor="http://elsewhere.test/x/seg-11.m4s"');
    p.onObject('/dash/a/v/seg-11.m4s', 'nor="//elsewhere.test/x/seg-12.m4s"');
    p.onObject('/dash/a/v/seg-12.m4s', 'nor="/dash/a/v/seg-13.m4s"');
    p.onPlaylist('/dash/a/v/index.m3u8', '#EXTM3U\nseg-1.m4s\nseg-3.m4s\n');
    for (const n of [1, 5, 6, 7, 8, 9, 10, 11, 12]) p.onServed(`/dash/a/v/seg-${n}.m4s`, `/dash/a/v/seg-${n}.m4s`, {});
    expect(started).toEqual([
      ['/dash/a/v/seg-2.m4s', 'cmsd'],
      ['/dash/a/v/seg-13.m4s', 'cmsd'],
    ]);
  });
});

describe('byte queue', () => {
  it('delivers pushed chunks in order, and a failure makes the consumer throw', async () => {
    const q = new ByteQueue(1024);
    q.push(Buffer.from('ab'));
    q.push(Buffer.from('cd'));
    q.end();
    const out: string[] = [];
    for await (const c of q) out.push(c.toString());
    expect(out).toEqual(['ab', 'cd']);
    const f = new ByteQueue(1024);
    f.push(Buffer.from('x'));
    const consume = (async () => {
      for await (const _ of f) {
        /* drain */
      }
    })();
    f.fail(new Error('upstream reset'));
    await expect(consume).rejects.toThrow('upstream reset');
  });
  it('makes the producer wait above the high-water mark until the consumer reads', async () => {
    const q = new ByteQueue(4);
    q.push(Buffer.alloc(8));
    let drained = false;
    const wait = q.drained().then(() => (drained = true));
    expect(drained).toBe(false);
    const it = q[Symbol.asyncIterator]();
    await it.next();
    await wait;
    expect(drained).toBe(true);
  });
});
