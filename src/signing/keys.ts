/**
 * Signing and verification keys for signed-URL tokens.
 *
 * - HS256: a shared secret (≥ 32 bytes) from a file or an environment variable
 *   (`STREAMEDGE_SIGNING_SECRET`), or `oct` keys in a JWKS file (several kids for rotation).
 * - ES256 (P-256) / EdDSA (Ed25519): public keys from a JWKS file or a JWKS URL (fetched,
 *   cached, refreshed), several kids at once for rotation; private keys (JWK or PKCS#8 PEM)
 *   for signing.
 *
 * Key objects never reveal their material: `toJSON()` and `util.inspect` print only alg and kid,
 * and error messages name files, never contents.
 */
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { importJWK, importPKCS8, importSPKI, type JWK } from 'jose';
import { StreamedgeError } from '../errors.js';

export type TokenAlg = 'HS256' | 'ES256' | 'EdDSA';
export const TOKEN_ALGS: readonly TokenAlg[] = ['HS256', 'ES256', 'EdDSA'];
export const SECRET_ENV_VAR = 'STREAMEDGE_SIGNING_SECRET';
const MIN_SECRET_BYTES = 32;

type KeyMaterial = webcrypto.CryptoKey;

/** A key with its algorithm and optional kid. Material is hidden from JSON and inspect. */
abstract class RedactedKey {
  readonly alg: TokenAlg;
  readonly kid: string | undefined;
  readonly #material: KeyMaterial;
  constructor(alg: TokenAlg, kid: string | undefined, material: KeyMaterial) {
    this.alg = alg;
    this.kid = kid;
    this.#material = material;
  }
  /** The crypto key, for jose. Never log it. */
  material(): KeyMaterial {
    return this.#material;
  }
  toJSON(): { alg: TokenAlg; kid?: string; key: '[redacted]' } {
    return { alg: this.alg, ...(this.kid !== undefined ? { kid: this.kid } : {}), key: '[redacted]' };
  }
  toString(): string {
    return `${this.constructor.name}(${this.alg}${this.kid !== undefined ? ` kid=${this.kid}` : ''}, [redacted])`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

/** A key that signs tokens (HMAC secret or private key). */
export class SigningKey extends RedactedKey {}
/** A key that verifies tokens (HMAC secret or public key). */
export class VerificationKey extends RedactedKey {}

// ---------------------------------------------------------------- HS256 shared secrets

async function importHmac(secret: Uint8Array, usages: Array<'sign' | 'verify'>): Promise<KeyMaterial> {
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new StreamedgeError(
      'WEAK_SECRET',
      `the HS256 signing secret is ${secret.byteLength} bytes; use at least ${MIN_SECRET_BYTES} (e.g. \`openssl rand -base64 48\`)`,
    );
  }
  return webcrypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, usages);
}

function secretBytes(secret: string | Uint8Array): Uint8Array {
  return typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
}

/** HS256 secret → a key that can both sign and verify (the same secret does both). */
export async function hmacKeys(
  secret: string | Uint8Array,
  kid?: string,
): Promise<{ signing: SigningKey; verification: VerificationKey }> {
  const material = await importHmac(secretBytes(secret), ['sign', 'verify']);
  return { signing: new SigningKey('HS256', kid, material), verification: new VerificationKey('HS256', kid, material) };
}

/**
 * Reads the HS256 secret from `secretFile` (trailing newline/whitespace trimmed) or, when no
 * file is given, from the environment variable `envVar` (default STREAMEDGE_SIGNING_SECRET).
 */
export async function loadHmacSecret(opts: {
  secretFile?: string;
  envVar?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<Uint8Array> {
  if (opts.secretFile !== undefined) {
    let text: string;
    try {
      text = await readFile(opts.secretFile, 'utf8');
    } catch (e) {
      throw new StreamedgeError(
        'KEY_FILE',
        `cannot read the secret file ${opts.secretFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const trimmed = text.replace(/\s+$/, '');
    if (trimmed.length === 0) throw new StreamedgeError('KEY_FILE', `the secret file ${opts.secretFile} is empty`);
    return secretBytes(trimmed);
  }
  const envVar = opts.envVar ?? SECRET_ENV_VAR;
  const value = (opts.env ?? process.env)[envVar];
  if (value === undefined || value.length === 0) {
    throw new StreamedgeError('NO_KEY', `no signing secret: pass --secret-file <file> or set ${envVar}`);
  }
  return secretBytes(value);
}

// ---------------------------------------------------------------- JWK / PEM

function algForJwk(jwk: JWK, where: string): TokenAlg {
  let alg: TokenAlg;
  if (jwk.kty === 'oct') alg = 'HS256';
  else if (jwk.kty === 'EC' && jwk.crv === 'P-256') alg = 'ES256';
  else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') alg = 'EdDSA';
  else {
    throw new StreamedgeError(
      'BAD_KEY',
      `${where}: unsupported key type kty=${String(jwk.kty)} crv=${String(jwk.crv)} (use oct/HS256, EC P-256/ES256 or OKP Ed25519/EdDSA)`,
    );
  }
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === 'EdDSA' && jwk.alg === 'Ed25519')) {
    throw new StreamedgeError('BAD_KEY', `${where}: key says alg=${jwk.alg} but its type means ${alg}`);
  }
  return alg;
}

async function materialFromJwk(jwk: JWK, alg: TokenAlg, where: string, usage: 'sign' | 'verify'): Promise<KeyMaterial> {
  if (alg === 'HS256') {
    if (typeof jwk.k !== 'string') throw new StreamedgeError('BAD_KEY', `${where}: oct key without "k"`);
    return importHmac(Buffer.from(jwk.k, 'base64url'), ['sign', 'verify']);
  }
  const isPrivate = typeof jwk.d === 'string';
  if (usage === 'sign' && !isPrivate)
    throw new StreamedgeError('BAD_KEY', `${where}: a signing key needs the private part ("d")`);
  // For verification, strip the private part so a leaked verifier never holds signing power.
  const { d: _d, ...pub } = jwk;
  try {
    const k = await importJWK(usage === 'sign' ? jwk : pub, alg, { extractable: false });
    return k as KeyMaterial;
  } catch (e) {
    throw new StreamedgeError('BAD_KEY', `${where}: not a usable ${alg} key (${(e as Error).name})`);
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new StreamedgeError('BAD_KEY', `${where}: not valid JSON`);
  }
}

/** Turns a JWKS document ({ keys: [...] }) into verification keys (private parts are dropped). */
export async function verificationKeysFromJwks(
  doc: unknown,
  where = 'JWKS',
  opts: { allowOct?: boolean } = {},
): Promise<VerificationKey[]> {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys))
    throw new StreamedgeError('BAD_KEY', `${where}: expected a JSON object with a "keys" array`);
  const out: VerificationKey[] = [];
  const kids = new Set<string>();
  for (const [i, raw] of keys.entries()) {
    const jwk = raw as JWK;
    const here = `${where} key #${i}`;
    if (jwk === null || typeof jwk !== 'object') throw new StreamedgeError('BAD_KEY', `${here}: not an object`);
    if (jwk.use !== undefined && jwk.use !== 'sig') continue; // encryption keys are not ours
    const alg = algForJwk(jwk, here);
    if (alg === 'HS256' && opts.allowOct === false) {
      throw new StreamedgeError('BAD_KEY', `${here}: shared secrets (kty=oct) are not accepted from a JWKS URL`);
    }
    if (keys.length > 1 && typeof jwk.kid !== 'string') {
      throw new StreamedgeError('BAD_KEY', `${here}: every key of a multi-key set needs a "kid"`);
    }
    if (typeof jwk.kid === 'string') {
      if (kids.has(jwk.kid)) throw new StreamedgeError('BAD_KEY', `${here}: duplicate kid "${jwk.kid}"`);
      kids.add(jwk.kid);
    }
    out.push(new VerificationKey(alg, jwk.kid, await materialFromJwk(jwk, alg, here, 'verify')));
  }
  return out;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new StreamedgeError(
      'KEY_FILE',
      `cannot read the key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** Loads a JWKS file ({ keys: [...] }; oct, EC P-256 and Ed25519 keys with kids). */
export async function loadJwksFile(path: string): Promise<VerificationKey[]> {
  return verificationKeysFromJwks(parseJson(await readKeyFile(path), path), path);
}

function pemAlg(pem: string, kind: 'private' | 'public', where: string): TokenAlg {
  let key;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch {
    throw new StreamedgeError('BAD_KEY', `${where}: not a readable PEM ${kind} key`);
  }
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new StreamedgeError(
    'BAD_KEY',
    `${where}: unsupported key (${key.asymmetricKeyType ?? 'unknown'}); use P-256 or Ed25519`,
  );
}

/**
 * Loads a private signing key from a file: a private JWK (JSON, with "d"), a JWKS holding one
 * private key, or a PKCS#8 PEM. `kid` overrides the JWK's kid.
 */
export async function loadSigningKeyFile(path: string, kid?: string): Promise<SigningKey> {
  const text = await readKeyFile(path);
  if (text.includes('-----BEGIN')) {
    const alg = pemAlg(text, 'private', path);
    let material: KeyMaterial;
    try {
      // PKCS#8 is what jose reads; a SEC1 "EC PRIVATE KEY" is converted through node:crypto.
      const pkcs8 = text.includes('BEGIN PRIVATE KEY')
        ? text
        : (createPrivateKey(text).export({ type: 'pkcs8', format: 'pem' }) as string);
      material = await importPKCS8(pkcs8, alg, { extractable: false });
    } catch {
      throw new StreamedgeError('BAD_KEY', `${path}: cannot import the private key`);
    }
    return new SigningKey(alg, kid, material);
  }
  let jwk = parseJson(text, path) as JWK & { keys?: JWK[] };
  if (Array.isArray(jwk.keys)) {
    if (jwk.keys.length !== 1)
      throw new StreamedgeError('BAD_KEY', `${path}: a signing key file must hold exactly one key`);
    jwk = jwk.keys[0]!;
  }
  return signingKeyFromJwk(jwk, kid, path);
}

/** A private JWK (or an oct JWK) → a signing key. */
export async function signingKeyFromJwk(jwk: JWK, kid?: string, where = 'JWK'): Promise<SigningKey> {
  const alg = algForJwk(jwk, where);
  return new SigningKey(alg, kid ?? jwk.kid, await materialFromJwk(jwk, alg, where, 'sign'));
}

/** A public JWK (or oct JWK) → a verification key. */
export async function verificationKeyFromJwk(jwk: JWK, kid?: string, where = 'JWK'): Promise<VerificationKey> {
  const alg = algForJwk(jwk, where);
  return new VerificationKey(alg, kid ?? jwk.kid, await materialFromJwk(jwk, alg, where, 'verify'));
}

/** Loads a public key from an SPKI PEM file. */
export async function loadPublicKeyPemFile(path: string, kid?: string): Promise<VerificationKey> {
  const text = await readKeyFile(path);
  const alg = pemAlg(text, 'public', path);
  try {
    return new VerificationKey(alg, kid, await importSPKI(text, alg, { extractable: false }));
  } catch {
    throw new StreamedgeError('BAD_KEY', `${path}: cannot import the public key`);
  }
}

// ---------------------------------------------------------------- key sources (what a verifier asks)

export type KeyLookup =
  | { ok: true; keys: readonly VerificationKey[] }
  | { ok: false; reason: 'unknown_kid' | 'alg_not_allowed' | 'key_unavailable' };

/** What a verifier needs: the algorithms it may accept, and candidate keys for a token header. */
export interface KeySource {
  /** Algorithms this source can verify (the verifier's allowlist defaults to their union). */
  algorithms(): ReadonlySet<TokenAlg>;
  /** Candidate keys for a header { alg, kid? }. Never throws. */
  lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup>;
  /** Increments whenever the set of keys changes (verifiers drop cached results then). */
  readonly generation: number;
}

function lookupIn(keys: readonly VerificationKey[], alg: TokenAlg, kid: string | undefined): KeyLookup {
  if (kid !== undefined) {
    const k = keys.find((x) => x.kid === kid);
    if (!k) return { ok: false, reason: 'unknown_kid' };
    // A kid whose key is of another algorithm: refuse (this is the alg-confusion attack shape).
    if (k.alg !== alg) return { ok: false, reason: 'alg_not_allowed' };
    return { ok: true, keys: [k] };
  }
  const matching = keys.filter((x) => x.alg === alg);
  if (matching.length === 0) return { ok: false, reason: 'unknown_kid' };
  return { ok: true, keys: matching };
}

/**
 * A fixed, replaceable set of verification keys. For rotation without downtime: add the new key
 * (both verify during the overlap), move signers to it, then `remove` the old kid.
 */
export class StaticKeySet implements KeySource {
  #keys: VerificationKey[];
  #generation = 0;
  constructor(keys: readonly VerificationKey[] = []) {
    this.#keys = [...keys];
  }
  get generation(): number {
    return this.#generation;
  }
  keys(): readonly VerificationKey[] {
    return this.#keys;
  }
  replace(keys: readonly VerificationKey[]): void {
    this.#keys = [...keys];
    this.#generation++;
  }
  add(key: VerificationKey): void {
    this.replace([...this.#keys.filter((k) => key.kid === undefined || k.kid !== key.kid), key]);
  }
  remove(kid: string): void {
    this.replace(this.#keys.filter((k) => k.kid !== kid));
  }
  algorithms(): ReadonlySet<TokenAlg> {
    return new Set(this.#keys.map((k) => k.alg));
  }
  async lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    return lookupIn(this.#keys, alg, kid);
  }
  toJSON(): unknown {
    return { keys: this.#keys.map((k) => k.toJSON()) };
  }
  [inspect.custom](): string {
    return `StaticKeySet(${this.#keys.map((k) => k.toString()).join(', ')})`;
  }
}

export interface RemoteJwksOptions {
  /** Keep a fetched set this long before refetching (default 10 min). */
  maxAgeMs?: number;
  /** On an unknown kid, refetch at most this often (default 30 s), so garbage kids can't hammer the URL. */
  cooldownMs?: number;
  /** Abort a fetch after this long (default 5 s). */
  timeoutMs?: number;
  /** Algorithms accepted from this URL (default ES256 and EdDSA; shared secrets never). */
  algorithms?: readonly Exclude<TokenAlg, 'HS256'>[];
  fetch?: typeof fetch;
}

/**
 * A JWKS fetched from a URL, cached for `maxAgeMs`, refetched early when a token names a kid it
 * doesn't know (rate-limited by `cooldownMs`). A failed refetch keeps the last good set.
 * Shared secrets (kty=oct) are refused from a URL.
 */
export class RemoteJwks implements KeySource {
  readonly url: string;
  #opts: Required<Omit<RemoteJwksOptions, 'fetch' | 'algorithms'>> & {
    fetch: typeof fetch;
    algorithms: ReadonlySet<TokenAlg>;
  };
  #set = new StaticKeySet();
  #fetchedAt = -Infinity;
  #attemptedAt = -Infinity;
  #inflight: Promise<void> | undefined;
  #lastError: string | undefined;
  /** Number of completed HTTP fetches (for tests and metrics). */
  fetchCount = 0;

  constructor(url: string, opts: RemoteJwksOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new StreamedgeError('BAD_OPTION', `not a JWKS URL: "${url}"`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new StreamedgeError('BAD_OPTION', `a JWKS URL must be http(s): "${url}"`);
    }
    this.url = parsed.href;
    this.#opts = {
      maxAgeMs: opts.maxAgeMs ?? 600_000,
      cooldownMs: opts.cooldownMs ?? 30_000,
      timeoutMs: opts.timeoutMs ?? 5_000,
      algorithms: new Set(opts.algorithms ?? ['ES256', 'EdDSA']),
      fetch: opts.fetch ?? fetch,
    };
  }

  get generation(): number {
    return this.#set.generation;
  }
  /** The last fetch error, if the latest attempt failed. */
  get lastError(): string | undefined {
    return this.#lastError;
  }
  keys(): readonly VerificationKey[] {
    return this.#set.keys();
  }
  /**
   * The configured algorithms, not just those of the keys fetched so far: a token signed with a
   * newly published key of another algorithm must reach `lookup` (which refetches), not be
   * refused by the allowlist first.
   */
  algorithms(): ReadonlySet<TokenAlg> {
    return this.#opts.algorithms;
  }

  /** Fetches now (coalesced with a fetch already running). Rejects with a StreamedgeError on failure. */
  refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    this.#attemptedAt = Date.now();
    try {
      const res = await this.#opts.fetch(this.url, {
        signal: AbortSignal.timeout(this.#opts.timeoutMs),
        headers: { accept: 'application/jwk-set+json, application/json' },
        redirect: 'error',
      });
      if (!res.ok) throw new StreamedgeError('JWKS_FETCH', `JWKS ${this.url} answered HTTP ${res.status}`);
      const text = await res.text();
      const keys = await verificationKeysFromJwks(parseJson(text, this.url), this.url, { allowOct: false });
      this.fetchCount++;
      this.#set.replace(keys);
      this.#fetchedAt = Date.now();
      this.#lastError = undefined;
    } catch (e) {
      const err =
        e instanceof StreamedgeError
          ? e
          : new StreamedgeError(
              'JWKS_FETCH',
              `cannot fetch JWKS ${this.url}: ${(e as Error).name === 'TimeoutError' ? 'timed out' : (e as Error).message}`,
            );
      this.#lastError = err.message;
      throw err;
    }
  }

  async lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    if (this.#inflight) {
      try {
        await this.#inflight; // a fetch is running: wait for its result rather than answer from nothing
      } catch {
        // handled below
      }
    }
    const now = Date.now();
    const stale = now - this.#fetchedAt >= this.#opts.maxAgeMs;
    if (stale && now - this.#attemptedAt >= this.#opts.cooldownMs) {
      try {
        await this.refresh();
      } catch {
        // keep serving the last good set
      }
    }
    if (this.#fetchedAt === -Infinity) return { ok: false, reason: 'key_unavailable' };
    let found = lookupIn(this.#set.keys(), alg, kid);
    if (!found.ok && found.reason === 'unknown_kid' && now - this.#attemptedAt >= this.#opts.cooldownMs) {
      try {
        await this.refresh();
        found = lookupIn(this.#set.keys(), alg, kid);
      } catch {
        // the unknown kid stays unknown
      }
    }
    return found;
  }

  toJSON(): unknown {
    return { url: this.url, keys: this.#set.keys().map((k) => k.toJSON()) };
  }
  [inspect.custom](): string {
    return `RemoteJwks(${this.url}, ${this.#set.keys().length} keys)`;
  }
}

/** Several sources as one (e.g. an HS256 secret for the origin plus a JWKS URL). First match wins. */
export class CombinedKeySource implements KeySource {
  readonly #sources: readonly KeySource[];
  constructor(sources: readonly KeySource[]) {
    this.#sources = sources;
  }
  get generation(): number {
    // A sum changes whenever any part changes (each part only ever increments).
    return this.#sources.reduce((s, x) => s + x.generation, 0);
  }
  algorithms(): ReadonlySet<TokenAlg> {
    const out = new Set<TokenAlg>();
    for (const s of this.#sources) for (const a of s.algorithms()) out.add(a);
    return out;
  }
  async lookup(alg: TokenAlg, kid: string | undefined): Promise<KeyLookup> {
    let worst: KeyLookup = { ok: false, reason: 'unknown_kid' };
    for (const s of this.#sources) {
      if (!s.algorithms().has(alg)) continue;
      const r = await s.lookup(alg, kid);
      if (r.ok) return r;
      if (r.reason !== 'unknown_kid') worst = r;
    }
    return worst;
  }
}
