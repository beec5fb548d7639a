/**
 * Signed-URL verification for an edge that takes its keys from the fleet (--fleet-keys): the KV
 * key source on the fleet's connection, plus any key files or URLs also configured.
 */
import { verificationWithFleetKeys } from '../../src/cli/fleet-verification.js';
import type { VerificationCliOptions } from '../../src/cli/verification-options.js';
import type { KvKeySource } from '../../src/signing/kv-key-source.js';
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
  const { verifier, keys } = await verificationWithFleetKeys(o, fleetKeys, env, log);
  const access = new EdgeSignedAccess({
    verifier,
    ...(upstreamCredential !== undefined ? { trustedCredential: upstreamCredential } : {}),
    ...(o.unsignedPath !== undefined && o.unsignedPath.length > 0 ? { unsignedPaths: o.unsignedPath } : {}),
  });
  return { access, close: () => keys?.close() };
}
