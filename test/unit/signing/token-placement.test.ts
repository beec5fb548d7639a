import { describe, expect, it } from 'vitest';
import { extractToken } from '../../../src/signing/token-placement.js';
import { issueToken, signedUrl } from '../../../src/signing/issue.js';
import { authorizeRequest, createVerifier, forbiddenResponse } from '../../../src/signing/verify.js';
import { hmacPair } from './test-keys.js';

const T = 'eyJhbGciOiJIUzI1NiJ9.eyJwZngiOiIvIn0.c2ln';

describe('extractToken', () => {
  it('path placement: strips /t/<token>, keeps the rest byte for byte', () => {
    expect(extractToken(`/t/${T}/vod/asset1/master.m3u8`)).toEqual({
      token: T,
      placement: 'path',
      strippedUrl: '/vod/asset1/master.m3u8',
    });
    expect(extractToken(`/t/${T}/live/ch1/720p/index.m3u8?_HLS_msn=12&_HLS_part=3`)).toEqual({
      token: T,
      placement: 'path',
      strippedUrl: '/live/ch1/720p/index.m3u8?_HLS_msn=12&_HLS_part=3',
    });
    expect(extractToken(`https://edge.example:8443/t/${T}/vod/a/seg-1.m4s#frag`)).toEqual({
      token: T,
      placement: 'path',
      strippedUrl: 'https://edge.example:8443/vod/a/seg-1.m4s#frag',
    });
    expect(extractToken(`/t/${T}`)).toEqual({ token: T, placement: 'path', strippedUrl: '/' });
    // URL-encoded token segment
    expect(extractToken(`/t/${T.replace(/\./g, '%2E')}/vod/a/x`).token).toBe(T);
  });

  it('query placement: removes token=, keeps other parameters in order and encoding', () => {
    expect(extractToken(`/vod/asset1/master.m3u8?token=${T}`)).toEqual({
      token: T,
      placement: 'query',
      strippedUrl: '/vod/asset1/master.m3u8',
    });
    expect(extractToken(`/live/ch1/index.m3u8?_HLS_msn=5&token=${T}&_HLS_part=2&q=a%20b`)).toEqual({
      token: T,
      placement: 'query',
      strippedUrl: '/live/ch1/index.m3u8?_HLS_msn=5&_HLS_part=2&q=a%20b',
    });
    expect(extractToken(`/a?token=${encodeURIComponent(T).replace(/\./g, '%2E')}&x=1`)).toEqual({
      token: T,
      placement: 'query',
      strippedUrl: '/a?x=1',
    });
    expect(extractToken(`/a?%74oken=${T}`)).toEqual({ token: T, placement: 'query', strippedUrl: '/a' });
    expect(extractToken(`http://h/a?x=1&token=${T}#f`)).toEqual({
      token: T,
      placement: 'query',
      strippedUrl: 'http://h/a?x=1#f',
    });
  });

  it('no token: the URL is untouched', () => {
    for (const u of [
      '/vod/a/master.m3u8',
      '/vod/a/x?',
      '/vod/a/x?a=1&&b',
      '/tt/x/y',
      '/t',
      'https://h/vod/x?tokens=1',
    ]) {
      expect(extractToken(u)).toEqual({ strippedUrl: u });
    }
  });

  it('both placements: the path token wins and no token= survives into the cache key', () => {
    expect(extractToken(`/t/${T}/vod/a/x?token=other&b=2&token=third`)).toEqual({
      token: T,
      placement: 'path',
      strippedUrl: '/vod/a/x?b=2',
    });
  });

  it('tolerates garbage without throwing', () => {
    for (const u of ['', '%', '/t/%zz/x', '?token=%E0%A4%A', '/t//x', 'http://', '\u0000']) {
      expect(() => extractToken(u)).not.toThrow();
    }
    expect(extractToken('/t/%zz/x').token).toBe('%zz');
    expect(extractToken(42 as unknown as string)).toEqual({ strippedUrl: '' });
  });
});

describe('signedUrl', () => {
  it('builds path and query forms that extractToken reverses', () => {
    expect(signedUrl('https://edge.example/', '/vod/asset1/master.m3u8', T, 'path')).toBe(
      `https://edge.example/t/${T}/vod/asset1/master.m3u8`,
    );
    expect(signedUrl('', '/vod/asset1/master.m3u8', T, 'query')).toBe(`/vod/asset1/master.m3u8?token=${T}`);
    expect(signedUrl('https://cdn.example/media', '/vod/a/x?y=1#z', T, 'query')).toBe(
      `https://cdn.example/media/vod/a/x?y=1&token=${T}#z`,
    );
    expect(() => signedUrl('', 'vod/a', T, 'path')).toThrow(/must start with \//);
    for (const placement of ['path', 'query'] as const) {
      const u = signedUrl('http://127.0.0.1:8080', '/live/ch1/master.m3u8', T, placement);
      expect(extractToken(u)).toEqual({
        token: T,
        placement,
        strippedUrl: 'http://127.0.0.1:8080/live/ch1/master.m3u8',
      });
    }
  });
});

describe('authorizeRequest', () => {
  it('accepts a signed request and returns the token-free URL; refuses with 403 and a reason otherwise', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    const token = await issueToken({ scope: '/vod/asset1/', ttlSec: 600, key: signing });
    const viaPath = await authorizeRequest(v, `/t/${token}/vod/asset1/720p/seg-1.m4s`, '127.0.0.1');
    expect(viaPath).toMatchObject({
      ok: true,
      strippedUrl: '/vod/asset1/720p/seg-1.m4s',
      token,
      placement: 'path',
      claims: { pfx: '/vod/asset1/' },
    });
    const viaQuery = await authorizeRequest(v, `/vod/asset1/720p/index.m3u8?_HLS_msn=3&token=${token}`, '127.0.0.1');
    expect(viaQuery).toMatchObject({
      ok: true,
      strippedUrl: '/vod/asset1/720p/index.m3u8?_HLS_msn=3',
      placement: 'query',
    });
    expect(await authorizeRequest(v, '/vod/asset1/master.m3u8', '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'missing',
    });
    expect(await authorizeRequest(v, '/t//vod/asset1/master.m3u8', '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'missing',
    });
    expect(await authorizeRequest(v, `/t/${token}/vod/asset2/master.m3u8`, '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'wrong_scope',
    });
    expect(await authorizeRequest(v, `/t/${token}/vod/asset1/%2e%2e/asset2/master.m3u8`, '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'wrong_scope',
    });
    // the scope is checked on the path only: a query cannot smuggle one in
    expect(await authorizeRequest(v, `/vod/asset2/x?p=/vod/asset1/&token=${token}`, '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'wrong_scope',
    });
    expect(await authorizeRequest(v, `/t/garbage/vod/asset1/x`, '127.0.0.1')).toEqual({
      ok: false,
      status: 403,
      reason: 'malformed',
    });
    expect(await authorizeRequest(v, undefined as unknown as string, undefined)).toEqual({
      ok: false,
      status: 403,
      reason: 'missing',
    });
  });

  it('forbiddenResponse is a small uncacheable JSON body with the reason', () => {
    const r = forbiddenResponse('expired');
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({ error: 'forbidden', reason: 'expired' });
    expect(r.headers['cache-control']).toBe('no-store');
  });
});
