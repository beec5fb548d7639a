/**
 * The fleet's verification keys (a JWKS) and the upstream credential in a JetStream KV bucket.
 * Writers (`streamedge keys ...`) update with compare-and-set on the entry's revision, so two
 * rotations at once never lose a kid. Only public parts of asymmetric keys are published; an HS256
 * (oct) key is a shared secret and is stored as such — the bucket is as secret as the NATS
 * credential that guards it.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { KV } from '@nats-io/kv';
import { StreamedgeError } from '../../src/errors.js';
import { JWKS_ENTRY } from '../../src/signing/kv-key-source.js';
import { verificationKeysFromJwks } from '../../src/signing/keys.js';
import { checkCredential } from '../../src/signing/upstream-credential.js';

export const CREDENTIAL_ENTRY = 'upstream-credential';

type Jwk = Record<string, unknown> & { kid?: string; kty?: string };

/** The verification (public, or oct) JWK of a private key file: JWK, one-key JWKS, or PKCS#8/SEC1 PEM. */
export async function verificationJwkFromKeyFile(path: string, kid?: string): Promise<Jwk> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new StreamedgeError(
      'KEY_FILE',
      `cannot read the key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let jwk: Jwk;
  if (text.includes('-----BEGIN')) {
    try {
      jwk = createPublicKey(createPrivateKey(text)).export({ format: 'jwk' });
    } catch {
      throw new StreamedgeError('BAD_KEY', `${path}: not a readable PEM private key`);
    }
  } else {
    let doc: Jwk & { keys?: Jwk[] };
    try {
      doc = JSON.parse(text) as Jwk & { keys?: Jwk[] };
    } catch {
      throw new StreamedgeError('BAD_KEY', `${path}: not valid JSON`);
    }
    if (Array.isArray(doc.keys)) {
      if (doc.keys.length !== 1) throw new StreamedgeError('BAD_KEY', `${path}: expected exactly one key`);
      doc = doc.keys[0]!;
    }
    jwk = { ...doc };
    if (jwk.kty !== 'oct') delete jwk['d']; // public part only
  }
  const k = kid ?? jwk.kid;
  if (typeof k !== 'string' || k === '')
    throw new StreamedgeError('BAD_OPTION', 'the key needs a kid: give --kid or a "kid" in the JWK');
  const out: Jwk = { ...jwk, kid: k, use: 'sig' };
  await verificationKeysFromJwks({ keys: [out] }, path); // refuses what verifiers would refuse
  return out;
}

async function updateJwks(kv: KV, change: (keys: Jwk[]) => Jwk[]): Promise<Jwk[]> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await kv.get(JWKS_ENTRY);
    const keys =
      cur && cur.operation === 'PUT' && cur.length > 0 ? (cur.json<{ keys?: Jwk[] }>().keys ?? []) : ([] as Jwk[]);
    await verificationKeysFromJwks({ keys }, 'the fleet key set now in NATS').catch((e: unknown) => {
      throw new StreamedgeError(
        'BAD_KEY',
        `${(e as Error).message}; repair it (put a valid JWKS under ${JWKS_ENTRY}) before rotating`,
      );
    });
    const next = change(keys);
    await verificationKeysFromJwks({ keys: next }, 'the new key set');
    const body = JSON.stringify({ keys: next });
    try {
      if (cur) await kv.update(JWKS_ENTRY, body, cur.revision);
      else await kv.create(JWKS_ENTRY, body);
      return next;
    } catch (e) {
      if (!/wrong last sequence|exists/i.test((e as Error).message)) throw e;
      // someone else changed it meanwhile: read again
    }
  }
  throw new StreamedgeError('KEYS_BUSY', 'the fleet key set kept changing; try again');
}

/** Adds (or replaces) a kid in the fleet's JWKS; returns the kids now published. */
export async function addFleetKey(kv: KV, jwk: Jwk): Promise<string[]> {
  const keys = await updateJwks(kv, (ks) => [...ks.filter((k) => k.kid !== jwk.kid), jwk]);
  return keys.map((k) => String(k.kid));
}

/** Withdraws a kid from the fleet's JWKS; returns the kids left. */
export async function withdrawFleetKey(kv: KV, kid: string): Promise<string[]> {
  const keys = await updateJwks(kv, (ks) => {
    if (!ks.some((k) => k.kid === kid))
      throw new StreamedgeError('BAD_OPTION', `kid "${kid}" is not in the fleet key set`);
    return ks.filter((k) => k.kid !== kid);
  });
  return keys.map((k) => String(k.kid));
}

export async function listFleetKids(kv: KV): Promise<string[]> {
  const cur = await kv.get(JWKS_ENTRY);
  if (!cur || cur.operation !== 'PUT' || cur.length === 0) return [];
  return (cur.json<{ keys?: Jwk[] }>().keys ?? []).map((k) => String(k.kid));
}

export async function setFleetCredential(kv: KV, credential: string): Promise<void> {
  await kv.put(CREDENTIAL_ENTRY, checkCredential(credential, 'the upstream credential')!);
}

/**
 * Follows the upstream credential in the bucket: `fn` gets each valid value (and undefined when it
 * is deleted). Resolves after the current value was delivered. Values are never logged.
 */
export async function watchFleetCredential(
  kv: KV,
  fn: (credential: string | undefined) => void,
  log?: { warn(o: object, m: string): void },
): Promise<() => Promise<void>> {
  const cur = await kv.get(CREDENTIAL_ENTRY);
  let revision = 0;
  const deliver = (value: string | undefined, rev: number): void => {
    revision = rev;
    try {
      fn(checkCredential(value, 'the fleet upstream credential'));
    } catch (e) {
      log?.warn({ msg: (e as Error).message }, 'fleet upstream credential ignored');
    }
  };
  if (cur) deliver(cur.operation === 'PUT' ? cur.string() : undefined, cur.revision);
  const it = await kv.watch({ key: CREDENTIAL_ENTRY, include: 'updates' });
  const loop = (async () => {
    for await (const e of it) {
      if (e.revision <= revision) continue;
      deliver(e.operation === 'PUT' ? e.string() : undefined, e.revision);
    }
  })();
  return async () => {
    it.stop();
    await loop.catch(() => undefined);
  };
}
