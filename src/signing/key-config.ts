/**
 * Resolving keys from the options users give (CLI flags, config, environment), for the `sign`
 * command and for origin/edge `--require-signed`. Key material comes only from files and
 * environment variables, never from command-line values (those end up in `ps` and shell history).
 */
import { StreamedgeError } from '../errors.js';
import {
  CombinedKeySource,
  RemoteJwks,
  SECRET_ENV_VAR,
  StaticKeySet,
  hmacKeys,
  loadHmacSecret,
  loadJwksFile,
  loadPublicKeyPemFile,
  loadSigningKeyFile,
  type KeySource,
  type RemoteJwksOptions,
  type SigningKey,
  type VerificationKey,
} from './keys.js';

export interface SigningKeyConfig {
  /** HS256 secret file (trailing newline ignored). */
  secretFile?: string;
  /** ES256/EdDSA private key: a private JWK (JSON) or PKCS#8 PEM; an oct JWK means HS256. */
  keyFile?: string;
  kid?: string;
  env?: NodeJS.ProcessEnv;
}

/** --key-file, else --secret-file, else $STREAMEDGE_SIGNING_SECRET. */
export async function resolveSigningKey(cfg: SigningKeyConfig): Promise<SigningKey> {
  if (cfg.keyFile !== undefined && cfg.secretFile !== undefined) {
    throw new StreamedgeError('BAD_OPTION', 'use either --key-file or --secret-file, not both');
  }
  if (cfg.keyFile !== undefined) return loadSigningKeyFile(cfg.keyFile, cfg.kid);
  const secret = await loadHmacSecret({
    ...(cfg.secretFile !== undefined ? { secretFile: cfg.secretFile } : {}),
    env: cfg.env ?? process.env,
  });
  return (await hmacKeys(secret, cfg.kid)).signing;
}

export interface VerificationKeyConfig {
  /** HS256 secret file. */
  secretFile?: string;
  /** Also accept the HS256 secret from $STREAMEDGE_SIGNING_SECRET when set (default true). */
  secretFromEnv?: boolean;
  /** kid of the HS256 secret (tokens without a kid match it too). */
  secretKid?: string;
  /** JWKS files (oct, EC P-256, Ed25519 keys with kids). */
  jwksFiles?: readonly string[];
  /** JWKS URLs (public keys only), fetched and cached. */
  jwksUrls?: readonly string[];
  remote?: RemoteJwksOptions;
  /** SPKI PEM public keys, each `path` or `kid=path`. */
  publicKeyFiles?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** Everything configured, as one key source; fails with NO_KEY when nothing is. */
export async function resolveVerificationKeys(cfg: VerificationKeyConfig): Promise<KeySource> {
  const env = cfg.env ?? process.env;
  const staticKeys: VerificationKey[] = [];
  const useEnv =
    (cfg.secretFromEnv ?? true) && typeof env[SECRET_ENV_VAR] === 'string' && env[SECRET_ENV_VAR].length > 0;
  if (cfg.secretFile !== undefined || useEnv) {
    const secret = await loadHmacSecret({
      ...(cfg.secretFile !== undefined ? { secretFile: cfg.secretFile } : {}),
      env,
    });
    staticKeys.push((await hmacKeys(secret, cfg.secretKid)).verification);
  }
  for (const f of cfg.jwksFiles ?? []) staticKeys.push(...(await loadJwksFile(f)));
  for (const spec of cfg.publicKeyFiles ?? []) {
    const eq = spec.indexOf('=');
    staticKeys.push(
      eq > 0 ? await loadPublicKeyPemFile(spec.slice(eq + 1), spec.slice(0, eq)) : await loadPublicKeyPemFile(spec),
    );
  }
  const sources: KeySource[] = [];
  if (staticKeys.length > 0) sources.push(new StaticKeySet(staticKeys));
  for (const url of cfg.jwksUrls ?? []) sources.push(new RemoteJwks(url, cfg.remote));
  if (sources.length === 0) {
    throw new StreamedgeError(
      'NO_KEY',
      `signed URLs are required but no verification key is configured: set ${SECRET_ENV_VAR}, or pass a secret file, JWKS file or JWKS URL`,
    );
  }
  return sources.length === 1 ? sources[0] : new CombinedKeySource(sources);
}
