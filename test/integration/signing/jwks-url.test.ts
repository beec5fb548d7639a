import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteJwks } from '../../../src/signing/keys.js';
import { resolveVerificationKeys } from '../../../src/signing/key-config.js';
import { issueToken } from '../../../src/signing/issue.js';
import { authorizeRequest, createVerifier } from '../../../src/signing/verify.js';
import { asymmetricPair, hmacPair, type TestKeyPair } from '../../unit/signing/test-keys.js';

/** A real JWKS server on loopback whose answer the test controls. */
let server: Server;
let base: string;
let answer: (res: ServerResponse) => void = (res) => res.end('{}');
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    hits.push(req.url ?? '');
    if (req.url === '/hang') return; // never answers (timeout case)
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function serveKeys(...pairs: TestKeyPair[]): void {
  const body = JSON.stringify({ keys: pairs.map((p) => p.publicJwk) });
  answer = (res) => {
    res.setHeader('content-type', 'application/jwk-set+json');
    res.end(body);
  };
}
function countHits(path: string): number {
  return hits.filter((h) => h === path).length;
}
const PATH = '/live/ch1/720p/seg-5.m4s';
const sign = (p: TestKeyPair) => issueToken({ scope: '/live/ch1/', ttlSec: 600, key: p.signing });

describe('JWKS from a URL', () => {
  it('fetches once, caches, and refetches on an unknown kid (rotation: old and new accepted, then old refused)', async () => {
    const k1 = await asymmetricPair('ES256', 'k1');
    const k2 = await asymmetricPair('EdDSA', 'k2');
    serveKeys(k1);
    const jwks = new RemoteJwks(`${base}/rot`, { cooldownMs: 0 });
    const v = createVerifier({ keys: jwks });
    const t1 = await sign(k1);
    expect((await v.verify(t1, { path: PATH })).ok).toBe(true);
    expect((await v.verify(await sign(k1), { path: PATH })).ok).toBe(true);
    expect(countHits('/rot')).toBe(1); // cached

    serveKeys(k1, k2); // the key server publishes the new key: overlap
    const t2 = await sign(k2);
    expect((await v.verify(t2, { path: PATH })).ok).toBe(true); // unknown kid → one refetch
    expect(countHits('/rot')).toBe(2);
    expect((await v.verify(t1, { path: PATH })).ok).toBe(true);

    serveKeys(k2); // overlap over
    await jwks.refresh();
    expect(await v.verify(t1, { path: PATH })).toEqual({ ok: false, reason: 'unknown_kid' });
    expect((await v.verify(t2, { path: PATH })).ok).toBe(true);
  });

  it('rate-limits refetches for garbage kids (cooldown)', async () => {
    const k1 = await asymmetricPair('ES256', 'k1');
    serveKeys(k1);
    const v = createVerifier({ keys: new RemoteJwks(`${base}/cool`, { cooldownMs: 60_000 }) });
    expect((await v.verify(await sign(k1), { path: PATH })).ok).toBe(true);
    for (let i = 0; i < 20; i++) {
      const stranger = await asymmetricPair('ES256', `junk-${i}`);
      expect(await v.verify(await sign(stranger), { path: PATH })).toEqual({ ok: false, reason: 'unknown_kid' });
    }
    expect(countHits('/cool')).toBe(1);
  });

  it('concurrent first requests share one fetch', async () => {
    const k1 = await asymmetricPair('EdDSA', 'k1');
    serveKeys(k1);
    const v = createVerifier({ keys: new RemoteJwks(`${base}/burst`) });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => sign(k1)));
    const results = await Promise.all(tokens.map((t) => authorizeRequest(v, `/t/${t}${PATH}`, '127.0.0.1')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(countHits('/burst')).toBe(1);
  });

  it('fails closed (key_unavailable) before a first good fetch; keeps the last good set after', async () => {
    const k1 = await asymmetricPair('ES256', 'k1');
    const t1 = await sign(k1);
    for (const bad of [
      (res: ServerResponse) => {
        res.statusCode = 500;
        res.end('oops');
      },
      (res: ServerResponse) => res.end('{not json'),
      (res: ServerResponse) => res.end(JSON.stringify({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB', kid: 'r' }] })),
    ]) {
      answer = bad;
      const jwks = new RemoteJwks(`${base}/bad`, { cooldownMs: 0 });
      expect(await createVerifier({ keys: jwks }).verify(t1, { path: PATH })).toEqual({
        ok: false,
        reason: 'key_unavailable',
      });
      expect(jwks.lastError).toMatch(/HTTP 500|not valid JSON|unsupported key type/);
    }
    // shared secrets are never accepted from a URL
    const hs = await hmacPair('h');
    serveKeys(hs);
    const octJwks = new RemoteJwks(`${base}/oct`, { cooldownMs: 0 });
    expect(await createVerifier({ keys: octJwks }).verify(await sign(hs), { path: PATH })).toEqual({
      ok: false,
      reason: 'alg_not_allowed',
    });
    await expect(octJwks.refresh()).rejects.toThrow(/not accepted from a JWKS URL/);

    // a good fetch, then the server breaks: the cached set keeps working
    serveKeys(k1);
    const jwks = new RemoteJwks(`${base}/flaky`, { cooldownMs: 0, maxAgeMs: 0 });
    const v = createVerifier({ keys: jwks, cacheSize: 0 });
    expect((await v.verify(t1, { path: PATH })).ok).toBe(true);
    answer = (res) => {
      res.statusCode = 503;
      res.end();
    };
    expect((await v.verify(t1, { path: PATH })).ok).toBe(true);
    expect(jwks.lastError).toMatch(/HTTP 503/);
    expect(countHits('/flaky')).toBeGreaterThanOrEqual(2);
  });

  it('times out a JWKS server that never answers', async () => {
    const k1 = await asymmetricPair('ES256', 'k1');
    const jwks = new RemoteJwks(`${base}/hang`, { timeoutMs: 300 });
    expect(await createVerifier({ keys: jwks }).verify(await sign(k1), { path: PATH })).toEqual({
      ok: false,
      reason: 'key_unavailable',
    });
    expect(jwks.lastError).toMatch(/timed out/);
  });

  it('resolveVerificationKeys combines a secret and a JWKS URL', async () => {
    const k1 = await asymmetricPair('EdDSA', 'k1');
    serveKeys(k1);
    const hs = await hmacPair();
    const keys = await resolveVerificationKeys({
      jwksUrls: [`${base}/combo`],
      env: { STREAMEDGE_SIGNING_SECRET: hs.secret },
    });
    const v = createVerifier({ keys });
    expect((await v.verify(await sign(k1), { path: PATH })).ok).toBe(true);
    expect((await v.verify(await sign(hs), { path: PATH })).ok).toBe(true);
    expect(() => new RemoteJwks('file:///etc/passwd')).toThrow(/must be http/);
  });
});
