import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { StaticKeySet } from '../../../src/signing/keys.js';
import { issueToken } from '../../../src/signing/issue.js';
import { REJECT_REASONS, createVerifier, type RejectReason } from '../../../src/signing/verify.js';
import { asymmetricPair, b64url, hmacPair } from './test-keys.js';

const NOW = new Date('2030-01-01T00:00:00Z');
const nowSec = NOW.getTime() / 1000;
const PATH = '/vod/asset1/720p/seg-3.m4s';

async function expectReason(p: Promise<{ ok: boolean }>, reason: RejectReason): Promise<void> {
  await expect(p).resolves.toEqual({ ok: false, reason });
}

describe('token round trips', () => {
  it.each(['HS256', 'ES256', 'EdDSA'] as const)('%s: issue → verify returns the claims', async (alg) => {
    const pair = alg === 'HS256' ? await hmacPair('h1') : await asymmetricPair(alg, `${alg}-1`);
    const token = await issueToken({
      scope: '/vod/asset1/',
      ttlSec: 3600,
      viewerId: 'viewer-7',
      sessionId: 's-1',
      clientIp: '203.0.113.7',
      key: pair.signing,
      now: NOW,
    });
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());
    expect(header).toEqual({ alg, kid: pair.signing.kid });
    const v = createVerifier({ keys: [pair.verification] });
    const r = await v.verify(token, { path: PATH, clientIp: '203.0.113.7', now: NOW });
    expect(r).toEqual({
      ok: true,
      claims: {
        pfx: '/vod/asset1/',
        sub: 'viewer-7',
        sid: 's-1',
        ip: '203.0.113.7',
        iat: nowSec,
        nbf: nowSec,
        exp: nowSec + 3600,
      },
    });
  });

  it('an HS256 secret without kid verifies tokens without kid', async () => {
    const pair = await hmacPair();
    const token = await issueToken({ scope: '/', ttlSec: 60, key: pair.signing, now: NOW });
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toEqual({ alg: 'HS256' });
    const r = await createVerifier({ keys: [pair.verification] }).verify(token, {
      path: '/live/ch1/index.m3u8',
      now: NOW,
    });
    expect(r.ok).toBe(true);
  });
});

describe('every rejection case gives its reason and never throws', () => {
  it('missing: undefined or empty token', async () => {
    const { verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    await expectReason(v.verify(undefined, { path: PATH }), 'missing');
    await expectReason(v.verify('', { path: PATH }), 'missing');
  });

  it('malformed: garbage, wrong shape, huge, bad JSON, missing claims, wrong claim types', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    const sign = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(signing.material());
    const cases: unknown[] = [
      'garbage',
      'a.b',
      'a.b.c.d',
      '....',
      'eyJ!.eyJ.abc',
      '%%%.%%%.%%%',
      `${b64url('not json')}.${b64url({})}.abc`,
      `${b64url([1, 2])}.${b64url({})}.abc`,
      `${b64url({ alg: 'HS256' })}.${'A'.repeat(100_000)}.abc`, // huge
      'x'.repeat(1_000_000),
      `${b64url({ alg: 'HS256', crit: ['exp'] })}.${b64url({})}.abc`,
      `${b64url({ alg: 'HS256', kid: 42 })}.${b64url({})}.abc`,
      `${b64url({ kid: 'x' })}.${b64url({})}.abc`, // no alg
      12345,
      { token: 'x' },
      // properly signed but unusable payloads
      await sign({ pfx: '/vod/' }), // no exp
      await sign({ exp: nowSec + 60 }), // no scope
      await sign({ exp: 'tomorrow', pfx: '/vod/' }),
      await sign({ exp: nowSec + 60, pfx: 'vod/' }),
      await sign({ exp: nowSec + 60, pfx: '/vod/', ip: 'not-an-ip' }),
      await sign({ exp: nowSec + 60, pfx: '/vod/', sub: 7 }),
      await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .sign(signing.material())
        .then((t) => {
          const [h, , s] = t.split('.');
          return `${h}.${b64url('[]')}.${s}`; // (signature won't match, still must not throw)
        }),
    ];
    for (const c of cases) {
      const r = await v.verify(c as string, { path: PATH, now: NOW });
      expect(r.ok, String(c).slice(0, 60)).toBe(false);
      if (!r.ok) expect(['malformed', 'bad_signature'], String(c).slice(0, 60)).toContain(r.reason);
    }
    for (const c of cases.slice(0, 21)) {
      const r = await v.verify(c as string, { path: PATH, now: NOW });
      expect(r, String(c).slice(0, 60)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('bad_signature: tampered payload, tampered signature, other secret', async () => {
    const a = await hmacPair();
    const b = await hmacPair();
    const v = createVerifier({ keys: [a.verification] });
    const token = await issueToken({ scope: '/vod/asset1/', ttlSec: 600, key: a.signing, now: NOW });
    const [h, p, s] = token.split('.') as [string, string, string];
    const widened = b64url({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), pfx: '/' });
    await expectReason(v.verify(`${h}.${widened}.${s}`, { path: PATH, now: NOW }), 'bad_signature');
    const flipped = s.slice(0, -2) + (s.at(-2) === 'A' ? 'B' : 'A') + s.at(-1);
    await expectReason(v.verify(`${h}.${p}.${flipped}`, { path: PATH, now: NOW }), 'bad_signature');
    const other = await issueToken({ scope: '/vod/asset1/', ttlSec: 600, key: b.signing, now: NOW });
    await expectReason(v.verify(other, { path: PATH, now: NOW }), 'bad_signature');
  });

  it('malformed: a segment whose last character differs only in the bits base64url leaves unused (same bytes, another string)', async () => {
    const a = await hmacPair();
    const v = createVerifier({ keys: [a.verification] });
    const token = await issueToken({ scope: '/vod/asset1/', ttlSec: 600, key: a.signing, now: NOW });
    expect((await v.verify(token, { path: PATH, now: NOW })).ok).toBe(true);
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(s.length % 4).not.toBe(0); // a 32-byte HMAC: 43 characters, the last carries 2 unused bits
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = s.slice(0, -1) + alphabet[alphabet.indexOf(s.at(-1)!) ^ 1];
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(s, 'base64url'))).toBe(true);
    await expectReason(v.verify(`${h}.${p}.${twin}`, { path: PATH, now: NOW }), 'malformed');
    const pTwin = p.length % 4 === 0 ? p : p.slice(0, -1) + alphabet[alphabet.indexOf(p.at(-1)!) ^ 1];
    if (pTwin !== p) await expectReason(v.verify(`${h}.${pTwin}.${s}`, { path: PATH, now: NOW }), 'malformed');
  });

  it('bad_signature for ES256 and EdDSA signed by a different key with the same kid', async () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const real = await asymmetricPair(alg, 'k1');
      const forger = await asymmetricPair(alg, 'k1');
      const token = await issueToken({ scope: '/vod/', ttlSec: 60, key: forger.signing, now: NOW });
      await expectReason(
        createVerifier({ keys: [real.verification] }).verify(token, { path: PATH, now: NOW }),
        'bad_signature',
      );
    }
  });

  it('expired, honouring the clock tolerance', async () => {
    const { signing, verification } = await hmacPair();
    const token = await issueToken({ scope: '/vod/', ttlSec: 60, key: signing, now: NOW });
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    const strict = createVerifier({ keys: [verification], clockToleranceSec: 0 });
    const lenient = createVerifier({ keys: [verification], clockToleranceSec: 30 });
    expect((await strict.verify(token, { path: PATH, now: at(59) })).ok).toBe(true);
    await expectReason(strict.verify(token, { path: PATH, now: at(60) }), 'expired');
    expect((await lenient.verify(token, { path: PATH, now: at(75) })).ok).toBe(true);
    await expectReason(lenient.verify(token, { path: PATH, now: at(90) }), 'expired');
  });

  it('not_yet_valid with and without skew tolerance', async () => {
    const { signing, verification } = await hmacPair();
    // issuer's clock runs 10 s ahead of ours
    const token = await issueToken({
      scope: '/vod/',
      ttlSec: 600,
      key: signing,
      now: new Date(NOW.getTime() + 10_000),
    });
    await expectReason(
      createVerifier({ keys: [verification], clockToleranceSec: 0 }).verify(token, { path: PATH, now: NOW }),
      'not_yet_valid',
    );
    expect(
      (await createVerifier({ keys: [verification], clockToleranceSec: 30 }).verify(token, { path: PATH, now: NOW }))
        .ok,
    ).toBe(true);
    // an explicit not-before an hour out is refused even with the default tolerance
    const later = await issueToken({ scope: '/vod/', ttlSec: 7200, notBeforeSec: 3600, key: signing, now: NOW });
    await expectReason(
      createVerifier({ keys: [verification] }).verify(later, { path: PATH, now: NOW }),
      'not_yet_valid',
    );
    expect(
      (
        await createVerifier({ keys: [verification] }).verify(later, {
          path: PATH,
          now: new Date(NOW.getTime() + 3600_000),
        })
      ).ok,
    ).toBe(true);
  });

  it('wrong_scope: other asset, sibling prefix, traversal in every spelling', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    const token = await issueToken({ scope: '/vod/asset1/', ttlSec: 600, key: signing, now: NOW });
    const ok = [
      '/vod/asset1/master.m3u8',
      '/vod/asset1/720p/seg-1.m4s',
      '/vod/asset1',
      '/vod/asset2/../asset1/x.m4s',
      '/vod/%61sset1/x',
    ];
    for (const path of ok) expect((await v.verify(token, { path, now: NOW })).ok, path).toBe(true);
    const bad = [
      '/vod/asset2/master.m3u8',
      '/vod/asset10/master.m3u8',
      '/vod/',
      '/',
      '/live/asset1/index.m3u8',
      '/vod/asset1/../asset2/master.m3u8',
      '/vod/asset1/%2e%2e/asset2/master.m3u8',
      '/vod/asset1/%2E%2E/asset2/master.m3u8',
      '/vod/asset1/.%2e/asset2/master.m3u8',
      '/vod/asset1/./../asset2/x',
      '/vod/asset1//../asset2/x', // in scope by WHATWG URL rules, out by POSIX path rules: refused
      '/vod/asset1/..%2fasset2/x',
      '/vod/asset1%2f..%2fasset2/x',
      '/vod/asset1/..%5casset2/x',
      '/vod/asset1/..\\asset2/x',
      '/vod/asset1/%00/x',
      '/vod/asset1/%zz/x',
      'vod/asset1/x',
      '',
    ];
    for (const path of bad) await expectReason(v.verify(token, { path, now: NOW }), 'wrong_scope');
  });

  it('wrong_ip: address, CIDR, IPv4-mapped IPv6, missing client address, required binding', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    const bound = await issueToken({ scope: '/vod/', ttlSec: 600, clientIp: '203.0.113.7', key: signing, now: NOW });
    expect((await v.verify(bound, { path: PATH, clientIp: '203.0.113.7', now: NOW })).ok).toBe(true);
    expect((await v.verify(bound, { path: PATH, clientIp: '::ffff:203.0.113.7', now: NOW })).ok).toBe(true);
    await expectReason(v.verify(bound, { path: PATH, clientIp: '203.0.113.8', now: NOW }), 'wrong_ip');
    await expectReason(v.verify(bound, { path: PATH, now: NOW }), 'wrong_ip');
    await expectReason(v.verify(bound, { path: PATH, clientIp: 'garbage', now: NOW }), 'wrong_ip');
    const net = await issueToken({ scope: '/vod/', ttlSec: 600, clientIp: '2001:db8::/32', key: signing, now: NOW });
    expect((await v.verify(net, { path: PATH, clientIp: '2001:0db8:0:0:0:0:0:1', now: NOW })).ok).toBe(true);
    await expectReason(v.verify(net, { path: PATH, clientIp: '2001:db9::1', now: NOW }), 'wrong_ip');
    const unbound = await issueToken({ scope: '/vod/', ttlSec: 600, key: signing, now: NOW });
    expect((await v.verify(unbound, { path: PATH, clientIp: '198.51.100.1', now: NOW })).ok).toBe(true);
    await expectReason(
      createVerifier({ keys: [verification], requireIpBinding: true }).verify(unbound, {
        path: PATH,
        clientIp: '198.51.100.1',
        now: NOW,
      }),
      'wrong_ip',
    );
  });

  it('unknown_kid', async () => {
    const known = await asymmetricPair('ES256', 'known');
    const stranger = await asymmetricPair('ES256', 'stranger');
    const token = await issueToken({ scope: '/vod/', ttlSec: 60, key: stranger.signing, now: NOW });
    await expectReason(
      createVerifier({ keys: [known.verification] }).verify(token, { path: PATH, now: NOW }),
      'unknown_kid',
    );
  });

  it('alg_not_allowed: hand-crafted alg none, algs outside the allowlist, alg confusion', async () => {
    const es = await asymmetricPair('ES256', 'es');
    const h = await hmacPair('h');
    const v = createVerifier({ keys: [es.verification] });
    const payload = b64url({ pfx: '/', exp: nowSec + 3600 });
    for (const alg of ['none', 'None', 'NONE', 'HS256', 'RS256', 'PS256', 'ES512', 'HS512']) {
      await expectReason(
        v.verify(`${b64url({ alg, kid: 'es' })}.${payload}.`, { path: PATH, now: NOW }),
        'alg_not_allowed',
      );
      await expectReason(v.verify(`${b64url({ alg })}.${payload}.c2ln`, { path: PATH, now: NOW }), 'alg_not_allowed');
    }
    // Alg confusion: an HS256 token signed with the ES256 *public* key bytes as the secret.
    const pubBytes = new TextEncoder().encode(JSON.stringify(es.publicJwk));
    const forged = await new SignJWT({ pfx: '/', exp: nowSec + 3600 })
      .setProtectedHeader({ alg: 'HS256', kid: 'es' })
      .sign(pubBytes);
    await expectReason(v.verify(forged, { path: PATH, now: NOW }), 'alg_not_allowed');
    // With both kinds of keys, a kid of one kind claimed with the other alg is still refused.
    const both = createVerifier({ keys: [es.verification, h.verification] });
    await expectReason(both.verify(forged, { path: PATH, now: NOW }), 'alg_not_allowed');
    // An explicit allowlist narrows what the keys could do.
    const edOnly = createVerifier({ keys: [h.verification], algorithms: ['EdDSA'] });
    const hsToken = await issueToken({ scope: '/', ttlSec: 60, key: h.signing, now: NOW });
    await expectReason(edOnly.verify(hsToken, { path: PATH, now: NOW }), 'alg_not_allowed');
  });

  it('never throws on arbitrary input (random bytes, random JWT-shaped strings, odd contexts)', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification] });
    const good = await issueToken({ scope: '/vod/', ttlSec: 60, key: signing, now: NOW });
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const alphabet = 'ABCabc012-_.%/=+ \u0000\u00e9{}"';
    for (let i = 0; i < 500; i++) {
      const len = Math.floor(rnd() * 200);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const mutated = good.slice(0, Math.floor(rnd() * good.length)) + s;
      for (const t of [s, mutated]) {
        const r = await v.verify(t, { path: rnd() < 0.5 ? PATH : s, clientIp: s, now: NOW });
        expect(r.ok).toBe(false);
        expect(REJECT_REASONS).toContain((r as { reason: RejectReason }).reason);
      }
    }
    const odd = [
      { path: undefined as unknown as string },
      { path: PATH, now: Number.NaN },
      { path: PATH, now: new Date('invalid') },
    ];
    for (const ctx of odd) {
      const r = await v.verify(good, ctx);
      expect(r.ok).toBe(false);
    }
  });
});

describe('key rotation without downtime', () => {
  it.each(['ES256', 'EdDSA', 'HS256'] as const)(
    '%s: overlap accepts old and new kid; after removal the old kid is unknown',
    async (alg) => {
      const old = alg === 'HS256' ? await hmacPair('2029-12') : await asymmetricPair(alg, '2029-12');
      const next = alg === 'HS256' ? await hmacPair('2030-01') : await asymmetricPair(alg, '2030-01');
      const set = new StaticKeySet([old.verification]);
      const v = createVerifier({ keys: set });
      const oldToken = await issueToken({ scope: '/live/ch1/', ttlSec: 3600, key: old.signing, now: NOW });
      const ctx = { path: '/live/ch1/index.m3u8', now: NOW };
      expect((await v.verify(oldToken, ctx)).ok).toBe(true); // (and now cached)

      set.add(next.verification); // overlap begins
      const newToken = await issueToken({ scope: '/live/ch1/', ttlSec: 3600, key: next.signing, now: NOW });
      expect((await v.verify(oldToken, ctx)).ok).toBe(true);
      expect((await v.verify(newToken, ctx)).ok).toBe(true);

      set.remove('2029-12'); // overlap over: the cached verdict for the old token must not survive
      await expectReason(v.verify(oldToken, ctx), 'unknown_kid');
      expect((await v.verify(newToken, ctx)).ok).toBe(true);
    },
  );
});

describe('verified-signature cache', () => {
  it('still checks time, scope and IP on every request', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification], clockToleranceSec: 0 });
    const token = await issueToken({ scope: '/vod/asset1/', ttlSec: 60, clientIp: '10.0.0.1', key: signing, now: NOW });
    const ctx = { path: '/vod/asset1/a.m4s', clientIp: '10.0.0.1', now: NOW };
    expect((await v.verify(token, ctx)).ok).toBe(true);
    await expectReason(v.verify(token, { ...ctx, path: '/vod/asset2/a.m4s' }), 'wrong_scope');
    await expectReason(v.verify(token, { ...ctx, clientIp: '10.0.0.2' }), 'wrong_ip');
    await expectReason(v.verify(token, { ...ctx, now: new Date(NOW.getTime() + 61_000) }), 'expired');
  });

  it('is bounded', async () => {
    const { signing, verification } = await hmacPair();
    const v = createVerifier({ keys: [verification], cacheSize: 4 });
    for (let i = 0; i < 20; i++) {
      const t = await issueToken({ scope: '/vod/', ttlSec: 60, viewerId: `v${i}`, key: signing, now: NOW });
      expect((await v.verify(t, { path: PATH, now: NOW })).ok).toBe(true);
    }
  });
});
