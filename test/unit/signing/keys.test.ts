import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CombinedKeySource,
  StaticKeySet,
  hmacKeys,
  loadHmacSecret,
  loadJwksFile,
  loadPublicKeyPemFile,
  loadSigningKeyFile,
  verificationKeysFromJwks,
} from '../../../src/signing/keys.js';
import { resolveSigningKey, resolveVerificationKeys } from '../../../src/signing/key-config.js';
import { issueToken } from '../../../src/signing/issue.js';
import { createVerifier } from '../../../src/signing/verify.js';
import { asymmetricPair, hmacPair } from './test-keys.js';

const dir = mkdtempSync(join(tmpdir(), 'signing-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}
const PATH = '/vod/a/seg-1.m4s';

async function roundTrip(
  signingFile: string,
  verify: Parameters<typeof createVerifier>[0]['keys'],
  kid?: string,
): Promise<boolean> {
  const key = await loadSigningKeyFile(signingFile, kid);
  const token = await issueToken({ scope: '/vod/', ttlSec: 60, key });
  return (await createVerifier({ keys: verify }).verify(token, { path: PATH })).ok;
}

describe('key loading', () => {
  it('HS256 secret from a file (trailing newline ignored) or the environment; short secrets refused', async () => {
    const secret = 'x'.repeat(40);
    const fromFile = await loadHmacSecret({ secretFile: file('secret', `${secret}\n`) });
    const fromEnv = await loadHmacSecret({ env: { STREAMEDGE_SIGNING_SECRET: secret } });
    expect(Buffer.from(fromFile).toString()).toBe(secret);
    expect(Buffer.from(fromEnv).toString()).toBe(secret);
    await expect(loadHmacSecret({ env: {} })).rejects.toThrow(/STREAMEDGE_SIGNING_SECRET/);
    await expect(loadHmacSecret({ secretFile: join(dir, 'nope') })).rejects.toThrow(
      /cannot read the secret file .*ENOENT/,
    );
    await expect(hmacKeys('short')).rejects.toMatchObject({ code: 'WEAK_SECRET' });
    // sign with the file, verify with the env: same secret, same key
    const s = await resolveSigningKey({ secretFile: file('secret2', `${secret}\n`), env: {} });
    const v = await resolveVerificationKeys({ env: { STREAMEDGE_SIGNING_SECRET: secret } });
    const token = await issueToken({ scope: '/vod/', ttlSec: 60, key: s });
    expect((await createVerifier({ keys: v }).verify(token, { path: PATH })).ok).toBe(true);
  });

  it('private JWK / JWKS-of-one for signing, public JWKS file for verification (ES256, EdDSA, oct)', async () => {
    const es = await asymmetricPair('ES256', 'es-1');
    const ed = await asymmetricPair('EdDSA', 'ed-1');
    const hs = await hmacPair('hs-1');
    const jwks = file('keys.jwks', JSON.stringify({ keys: [es.publicJwk, ed.publicJwk, hs.publicJwk] }));
    const set = new StaticKeySet(await loadJwksFile(jwks));
    expect(set.keys().map((k) => [k.alg, k.kid])).toEqual([
      ['ES256', 'es-1'],
      ['EdDSA', 'ed-1'],
      ['HS256', 'hs-1'],
    ]);
    expect(await roundTrip(file('es.jwk', JSON.stringify(es.privateJwk)), set)).toBe(true);
    expect(await roundTrip(file('ed.jwks', JSON.stringify({ keys: [ed.privateJwk] })), set)).toBe(true);
    expect(await roundTrip(file('hs.jwk', JSON.stringify(hs.privateJwk)), set)).toBe(true);
    // a public key cannot sign
    await expect(loadSigningKeyFile(file('pub.jwk', JSON.stringify(es.publicJwk)))).rejects.toThrow(/private part/);
    // the verification set never holds the private part, even when the JWKS file had it
    const leaked = await verificationKeysFromJwks({ keys: [es.privateJwk] });
    const t = await issueToken({ scope: '/vod/', ttlSec: 60, key: es.signing });
    expect((await createVerifier({ keys: leaked }).verify(t, { path: PATH })).ok).toBe(true);
    expect(leaked[0].material().type).toBe('public');
  });

  it('PEM keys: PKCS#8 and SEC1 private keys sign; SPKI public keys verify', async () => {
    for (const [type, opts, alg] of [
      ['ec', { namedCurve: 'P-256' }, 'ES256'],
      ['ed25519', {}, 'EdDSA'],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
      const pkcs8 = file(`${type}.pem`, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      const spki = file(`${type}.pub.pem`, publicKey.export({ type: 'spki', format: 'pem' }) as string);
      const pub = await loadPublicKeyPemFile(spki, 'pem-1');
      expect(pub.alg).toBe(alg);
      expect(await roundTrip(pkcs8, [pub], 'pem-1')).toBe(true);
      if (type === 'ec') {
        const sec1 = file('ec-sec1.pem', privateKey.export({ type: 'sec1', format: 'pem' }) as string);
        expect(await roundTrip(sec1, [pub], 'pem-1')).toBe(true);
      }
      const v = await resolveVerificationKeys({ publicKeyFiles: [`pem-1=${spki}`], env: {} });
      expect(await roundTrip(pkcs8, v, 'pem-1')).toBe(true);
    }
    const { privateKey: rsa } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await expect(
      loadSigningKeyFile(file('rsa.pem', rsa.export({ type: 'pkcs8', format: 'pem' }) as string)),
    ).rejects.toThrow(/unsupported key \(rsa\)/);
  });

  it('refuses bad JWKS documents with messages that name the file, not the key', async () => {
    const es = await asymmetricPair('ES256', 'dup');
    await expect(loadJwksFile(file('bad.json', '{nope'))).rejects.toThrow(/bad\.json: not valid JSON/);
    await expect(loadJwksFile(file('nokeys.json', '{}'))).rejects.toThrow(/"keys" array/);
    await expect(
      loadJwksFile(file('dup.json', JSON.stringify({ keys: [es.publicJwk, es.publicJwk] }))),
    ).rejects.toThrow(/duplicate kid "dup"/);
    const { kid: _k, ...nokid } = es.publicJwk;
    await expect(loadJwksFile(file('nokid.json', JSON.stringify({ keys: [nokid, es.publicJwk] })))).rejects.toThrow(
      /needs a "kid"/,
    );
    await expect(
      loadJwksFile(file('rsa.json', JSON.stringify({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }] }))),
    ).rejects.toThrow(/unsupported key type kty=RSA/);
    await expect(
      loadJwksFile(file('liar.json', JSON.stringify({ keys: [{ ...es.publicJwk, alg: 'HS256' }] }))),
    ).rejects.toThrow(/says alg=HS256/);
    await expect(resolveVerificationKeys({ env: {} })).rejects.toMatchObject({ code: 'NO_KEY' });
  });
});

describe('keys are never revealed', () => {
  it('toJSON, String() and util.inspect show alg and kid only', async () => {
    const secret = 'S3CRET-'.repeat(8);
    const { signing, verification } = await hmacKeys(secret, 'k9');
    const es = await asymmetricPair('ES256', 'es-9');
    const set = new StaticKeySet([verification, es.verification]);
    const renderings = [
      JSON.stringify({ signing, verification, set, es: es.signing }),
      inspect({ signing, verification, set, es: es.signing }, { depth: 10, showHidden: true }),
      String(signing),
      String(es.signing), // the same ToString a template literal performs
    ];
    for (const r of renderings) {
      expect(r).not.toContain('S3CRET');
      expect(r).not.toContain(Buffer.from(secret).toString('base64url').slice(0, 12));
      expect(r).not.toContain(String(es.privateJwk.d));
      expect(r).toMatch(/k9|es-9/);
    }
    expect(JSON.parse(JSON.stringify(signing))).toEqual({ alg: 'HS256', kid: 'k9', key: '[redacted]' });
  });
});

describe('CombinedKeySource', () => {
  it('finds keys in any part and reports rotation in any part', async () => {
    const a = await hmacPair('a');
    const b = await asymmetricPair('EdDSA', 'b');
    const sa = new StaticKeySet([a.verification]);
    const sb = new StaticKeySet([b.verification]);
    const both = new CombinedKeySource([sa, sb]);
    const v = createVerifier({ keys: both });
    const tb = await issueToken({ scope: '/', ttlSec: 60, key: b.signing });
    const ta = await issueToken({ scope: '/', ttlSec: 60, key: a.signing });
    expect((await v.verify(ta, { path: PATH })).ok).toBe(true);
    expect((await v.verify(tb, { path: PATH })).ok).toBe(true);
    sb.remove('b');
    // EdDSA is no longer verifiable by anything: the allowlist shrinks with the keys
    expect(await v.verify(tb, { path: PATH })).toEqual({ ok: false, reason: 'alg_not_allowed' });
  });
});
