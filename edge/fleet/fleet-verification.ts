/**
 * Signed-URL verification for an edge that takes its keys from the fleet (--fleet-keys): the KV
 * key source, plus any key files or URLs also configured (both accepted). Keys published with
 * `streamedge keys rotate` are accepted without a restart; withdrawn ones are refused.
 */
import { StreamedgeError } from '../../src/errors.js';
import { openVerification, type VerificationCliOptions } from '../../src/cli/verification-options.js';
import { parseDuration } from '../../src/cli/options.js';
import { CombinedKeySource } from '../../src/signing/keys.js';
import type { KvKeySource } from '../../src/signing/kv-key-source.js';
import { createVerifier } from '../../src/signing/verify.js';
import { EdgeSignedAccess, type KeyLog } from '../signed-access.js';

export async function fleetVerification(
  o: VerificationCliOptions & { unsignedPath?: string[] },
  fleetKeys: KvKeySource,
  upstreamCredential: string | undefined,
  env: NodeJS.ProcessEnv,
  log: KeyLog,
): Promise<{ access: EdgeSignedAccess; close(): void } | undefined> {
  if (!o.requireSigned) {
    log.warn({}, '--fleet-keys without --require-signed: the fleet keys are not used');
    return undefined;
  }
  let files;
  try {
    files = await openVerification(o, env, log);
  } catch (e) {
    if (!(e instanceof StreamedgeError && e.code === 'NO_KEY')) throw e;
    files = undefined; // the fleet's keys only
  }
  const keys = files ? new CombinedKeySource([fleetKeys, files.keys]) : fleetKeys;
  const verifier = createVerifier({ keys, clockToleranceSec: parseDuration(o.clockSkew ?? '30s') });
  const access = new EdgeSignedAccess({
    verifier,
    ...(upstreamCredential !== undefined ? { trustedCredential: upstreamCredential } : {}),
    ...(o.unsignedPath !== undefined && o.unsignedPath.length > 0 ? { unsignedPaths: o.unsignedPath } : {}),
  });
  return { access, close: () => files?.keys.close() };
}
