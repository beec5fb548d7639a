/**
 * `streamedge sign <path>`: prints a signed URL (and only that) on stdout.
 *
 *   STREAMEDGE_SIGNING_SECRET=... streamedge sign /vod/asset1/master.m3u8 --ttl 2h --base https://edge.example
 *   streamedge sign /live/ch1/ --key-file es256-private.jwk --kid 2025-01 --placement query
 */
import type { Command } from 'commander';
import { parseDuration } from './options.js';
import { StreamedgeError } from '../errors.js';
import {
  defaultScopeFor,
  issueToken,
  signedUrl,
  validateScope,
  type IssueTokenOptions,
  type TokenPlacement,
} from '../signing/issue.js';
import { SECRET_ENV_VAR } from '../signing/keys.js';
import { resolveSigningKey, type SigningKeyConfig } from '../signing/key-config.js';
import { pathInScope } from '../signing/scope-match.js';

export interface SignCliOptions {
  ttl: string;
  notBefore?: string;
  scope?: string;
  base?: string;
  placement: string;
  kid?: string;
  secretFile?: string;
  keyFile?: string;
  viewer?: string;
  session?: string;
  ip?: string;
}

/**
 * `--base`: an http(s) URL of an origin or edge, optionally with a path prefix the signed path is
 * appended to; no query or fragment (the signed path goes after it, and the token in it).
 */
function baseUrl(base: string): void {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new StreamedgeError('BAD_OPTION', `--base ${base}: not a URL (expected e.g. https://edge.example)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new StreamedgeError('BAD_OPTION', `--base ${base}: expected an http or https URL`);
  if (u.search !== '' || u.hash !== '' || base.includes('?') || base.includes('#'))
    throw new StreamedgeError('BAD_OPTION', `--base ${base}: no query or fragment (the signed path is appended to it)`);
}

/** The work of `sign`, minus printing: returns the signed URL. */
export async function signCommand(
  path: string,
  o: SignCliOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (!path.startsWith('/'))
    throw new StreamedgeError('BAD_OPTION', `the path to sign must start with / (got "${path}")`);
  const placement = o.placement as TokenPlacement;
  if (placement !== 'path' && placement !== 'query') {
    throw new StreamedgeError('BAD_OPTION', `--placement must be "path" or "query" (got "${o.placement}")`);
  }
  if (o.base !== undefined) baseUrl(o.base);
  const scope = validateScope(o.scope ?? defaultScopeFor(path));
  if (!pathInScope(path, scope))
    throw new StreamedgeError('BAD_OPTION', `${path} is outside the scope ${scope}: the URL would not verify`);
  const keyCfg: SigningKeyConfig = { env };
  if (o.secretFile !== undefined) keyCfg.secretFile = o.secretFile;
  if (o.keyFile !== undefined) keyCfg.keyFile = o.keyFile;
  if (o.kid !== undefined) keyCfg.kid = o.kid;
  const key = await resolveSigningKey(keyCfg);
  const issue: IssueTokenOptions = { scope, ttlSec: parseDuration(o.ttl), key };
  if (o.notBefore !== undefined) issue.notBeforeSec = parseDuration(o.notBefore);
  if (o.viewer !== undefined) issue.viewerId = o.viewer;
  if (o.session !== undefined) issue.sessionId = o.session;
  if (o.ip !== undefined) issue.clientIp = o.ip;
  const token = await issueToken(issue);
  return signedUrl(o.base ?? '', path, token, placement);
}

/** Registers the `sign` command. */
export function registerSignCommand(program: Command): void {
  program
    .command('sign')
    .description('print a signed URL granting access to a path prefix until it expires')
    .argument('<path>', 'path to sign, e.g. /vod/asset1/master.m3u8 or /vod/asset1/')
    .option('--ttl <duration>', 'lifetime, e.g. 30m, 2h, 1d', '1h')
    .option('--not-before <duration>', 'valid only after this delay (default: now)')
    .option('--scope <prefix>', 'path prefix the token grants (default: the directory of <path>)')
    .option('--base <url>', 'origin or edge URL to prepend, e.g. https://edge.example (default: path only)')
    .option('--placement <where>', 'path (/t/<token>/...) or query (?token=...)', 'path')
    .option('--kid <id>', 'key id written in the token header')
    .option('--secret-file <file>', `HS256 secret file (default: $${SECRET_ENV_VAR})`)
    .option('--key-file <file>', 'ES256/EdDSA private key: private JWK or PKCS#8 PEM')
    .option('--viewer <id>', 'viewer id (sub claim)')
    .option('--session <id>', 'session id (sid claim)')
    .option('--ip <addr>', 'bind the token to a client address or CIDR')
    .action(async (path: string, o: SignCliOptions) => {
      process.stdout.write(`${await signCommand(path, o)}\n`);
    });
}
