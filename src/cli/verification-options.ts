/**
 * The command-line side of signed-URL verification, shared by `origin` and `edge`: the key
 * options, opening the keys (files re-read on change), and credentials read from a file or the
 * environment (never from the command line, never logged).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { StreamedgeError } from '../errors.js';
import { parseDuration } from './options.js';
import { SECRET_ENV_VAR } from '../signing/keys.js';
import { ReloadingKeySource, type KeyLog } from '../signing/reloading-key-source.js';
import { checkCredential } from '../signing/upstream-credential.js';
import { createVerifier, type Verifier } from '../signing/verify.js';

export const UPSTREAM_CREDENTIAL_ENV = 'STREAMEDGE_UPSTREAM_CREDENTIAL';

export interface VerificationCliOptions {
  requireSigned?: boolean;
  secretFile?: string;
  secretKid?: string;
  jwksFile?: string[];
  jwksUrl?: string[];
  jwksMaxAge?: string;
  publicKeyFile?: string[];
  clockSkew?: string;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds --require-signed and the verification key options to a command. */
export function addVerificationOptions(cmd: Command, requireSignedHelp: string): Command {
  return cmd
    .option('--require-signed', requireSignedHelp)
    .option('--secret-file <file>', `HS256 secret file (default: $${SECRET_ENV_VAR})`)
    .option('--secret-kid <kid>', 'kid of the HS256 secret (tokens without a kid match it too)')
    .option('--jwks-file <file>', 'JWKS file of verification keys (repeatable; re-read when it changes)', collect, [])
    .option('--jwks-url <url>', 'JWKS URL of public keys (repeatable)', collect, [])
    .option('--jwks-max-age <duration>', 'refetch a JWKS URL this often', '10m')
    .option('--public-key-file <[kid=]file>', 'SPKI PEM public key (repeatable)', collect, [])
    .option('--clock-skew <duration>', 'tolerance for exp/nbf', '30s');
}

/** Opens the configured keys and a verifier; undefined without --require-signed. */
export async function openVerification(
  o: VerificationCliOptions,
  env: NodeJS.ProcessEnv = process.env,
  log?: KeyLog,
): Promise<{ keys: ReloadingKeySource; verifier: Verifier } | undefined> {
  if (!o.requireSigned) return undefined;
  const keys = await ReloadingKeySource.open(
    {
      ...(o.secretFile !== undefined ? { secretFile: o.secretFile } : {}),
      ...(o.secretKid !== undefined ? { secretKid: o.secretKid } : {}),
      jwksFiles: o.jwksFile ?? [],
      jwksUrls: o.jwksUrl ?? [],
      remote: { maxAgeMs: parseDuration(o.jwksMaxAge ?? '10m') * 1000 },
      publicKeyFiles: o.publicKeyFile ?? [],
      env,
    },
    log ? { log } : {},
  );
  return { keys, verifier: createVerifier({ keys, clockToleranceSec: parseDuration(o.clockSkew ?? '30s') }) };
}

/** A credential from a file (trailing whitespace trimmed) or else an environment variable. */
export function credentialFrom(
  file: string | undefined,
  envVar: string,
  env: NodeJS.ProcessEnv,
  what: string,
): string | undefined {
  let value: string | undefined;
  if (file !== undefined) {
    try {
      value = readFileSync(file, 'utf8').replace(/\s+$/, '');
    } catch (e) {
      throw new StreamedgeError(
        'KEY_FILE',
        `cannot read ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  } else {
    const v = env[envVar];
    value = v !== undefined && v !== '' ? v : undefined;
  }
  return checkCredential(value, what);
}
