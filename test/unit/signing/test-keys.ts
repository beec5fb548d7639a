/** Fresh test keys (generated per run; nothing secret is committed). */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  hmacKeys,
  signingKeyFromJwk,
  verificationKeyFromJwk,
  type SigningKey,
  type VerificationKey,
} from '../../../src/signing/keys.js';

export interface TestKeyPair {
  signing: SigningKey;
  verification: VerificationKey;
  publicJwk: JWK;
  privateJwk: JWK;
}

export async function asymmetricPair(alg: 'ES256' | 'EdDSA', kid: string): Promise<TestKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(
    alg,
    alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true },
  );
  const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid };
  return {
    signing: await signingKeyFromJwk(privateJwk),
    verification: await verificationKeyFromJwk(publicJwk),
    publicJwk,
    privateJwk,
  };
}

export async function hmacPair(kid?: string): Promise<TestKeyPair & { secret: string }> {
  const secret = randomBytes(48).toString('base64');
  const { signing, verification } = await hmacKeys(secret, kid);
  const k = Buffer.from(secret).toString('base64url');
  const jwk: JWK = { kty: 'oct', k, ...(kid !== undefined ? { kid } : {}) };
  return { signing, verification, publicJwk: jwk, privateJwk: jwk, secret };
}

export function b64url(x: unknown): string {
  return Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
}
