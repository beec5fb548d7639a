import { describe, expect, it } from 'vitest';
import { credentialMatches, handleSignRequest } from '../../../src/signing/sign-endpoint.js';
import { authorizeRequest, createVerifier } from '../../../src/signing/verify.js';
import { hmacPair } from './test-keys.js';

const CRED = 'backend-credential-0123456789';

describe('handleSignRequest', async () => {
  const { signing, verification } = await hmacPair('k1');
  const opts = { adminCredential: CRED, key: signing, baseUrl: 'https://edge.example' };
  const verifier = createVerifier({ keys: [verification] });

  it('signs for a caller with the credential; the URL authorizes the asset and nothing else', async () => {
    const r = await handleSignRequest(
      JSON.stringify({ path: '/vod/asset1/master.m3u8', ttl: '2h', viewer: 'v-1' }),
      `Bearer ${CRED}`,
      opts,
    );
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    const body = r.body as { url: string; token: string; scope: string; expiresAt: string; placement: string };
    expect(body.scope).toBe('/vod/asset1/');
    expect(body.placement).toBe('path');
    expect(body.url).toBe(`https://edge.example/t/${body.token}/vod/asset1/master.m3u8`);
    const exp = Date.parse(body.expiresAt);
    expect(Math.abs(exp - (Date.now() + 7200_000))).toBeLessThan(5000);
    const ok = await authorizeRequest(verifier, body.url.replace('https://edge.example', ''), undefined);
    expect(ok).toMatchObject({ ok: true, strippedUrl: '/vod/asset1/master.m3u8', claims: { sub: 'v-1' } });
    expect(await authorizeRequest(verifier, `/t/${body.token}/vod/asset2/master.m3u8`, undefined)).toMatchObject({
      ok: false,
      reason: 'wrong_scope',
    });
  });

  it('accepts a parsed object or a Buffer body and query placement', async () => {
    const r1 = await handleSignRequest(
      { path: '/live/ch1/master.m3u8', ttl: 60, placement: 'query' },
      `bearer ${CRED}`,
      opts,
    );
    expect(r1.status).toBe(200);
    expect((r1.body as { url: string }).url).toMatch(/^https:\/\/edge\.example\/live\/ch1\/master\.m3u8\?token=/);
    const r2 = await handleSignRequest(Buffer.from(JSON.stringify({ path: '/live/ch1/' })), [`Bearer ${CRED}`], opts);
    expect(r2.status).toBe(200);
  });

  it('401 without or with a wrong credential, 503 when none is configured', async () => {
    const body = { path: '/vod/a/x' };
    for (const auth of [
      undefined,
      '',
      'Bearer',
      `Basic ${CRED}`,
      `Bearer ${CRED}x`,
      `Bearer ${CRED.slice(0, -1)}`,
      'Bearer wrong',
    ]) {
      const r = await handleSignRequest(body, auth, opts);
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(r.body).toEqual({ error: 'unauthorized' });
    }
    expect((await handleSignRequest(body, 'Bearer short', { ...opts, adminCredential: 'short' })).status).toBe(503);
    expect((await handleSignRequest(body, 'Bearer ', { ...opts, adminCredential: '' })).status).toBe(503);
  });

  it('400 with a reason on bad requests, never a throw', async () => {
    const auth = `Bearer ${CRED}`;
    const cases: Array<[unknown, RegExp]> = [
      ['{nope', /not JSON/],
      ['[1]', /JSON object/],
      [null, /JSON object/],
      [{}, /"path" is required/],
      [{ path: 'vod/a' }, /must start with \//],
      [{ path: '/vod/a/x', ttl: 'soon' }, /not a duration/],
      [{ path: '/vod/a/x', ttl: 999_999 }, /between 1 and 86400/],
      [{ path: '/vod/a/x', ttl: 0 }, /between 1 and/],
      [{ path: '/vod/a/x', placement: 'header' }, /placement/],
      [{ path: '/vod/a/x', scope: '/vod/b/' }, /outside the scope/],
      [{ path: '/vod/a/x', scope: '/vod/../' }, /dot-segments/],
      [{ path: '/vod/a/x', ip: 'nowhere' }, /not an IP/],
      [{ path: 42 }, /must be a string/],
      ['x'.repeat(20_000), /too large/],
    ];
    for (const [body, re] of cases) {
      const r = await handleSignRequest(body, auth, opts);
      expect(r.status, JSON.stringify(body)?.slice(0, 40)).toBe(400);
      expect(String(r.body.message)).toMatch(re);
    }
  });

  it('credentialMatches compares exactly', () => {
    expect(credentialMatches(CRED, CRED)).toBe(true);
    expect(credentialMatches(`${CRED} `, CRED)).toBe(false);
    expect(credentialMatches(undefined, CRED)).toBe(false);
    expect(credentialMatches('', '')).toBe(false);
  });
});
