/**
 * Signed-URL verification with the fleet's keys (`--nats <url> --fleet-keys`), for `origin` and
 * `edge`: the JWKS in the fleet's KV bucket, plus any key files or URLs also configured (both
 * accepted). Keys published with `streamedge keys rotate` are accepted without a restart.
 */
import type { Command } from 'commander';
import { StreamedgeError } from '../errors.js';
import { openKeysBucket } from '../fleet/keys-bucket.js';
import { CombinedKeySource, type KeySource } from '../signing/keys.js';
import { KvKeySource } from '../signing/kv-key-source.js';
import type { KeyLog, ReloadingKeySource } from '../signing/reloading-key-source.js';
import { createVerifier, type Verifier } from '../signing/verify.js';
import { addNatsOptions, openFleetConnection, type NatsCliOptions } from './nats-options.js';
import { parseDuration } from './options.js';
import { openVerification, type VerificationCliOptions } from './verification-options.js';

export interface FleetKeysCliOptions extends NatsCliOptions {
  fleetKeys?: boolean;
}

/** Adds --nats, --fleet-keys and the NATS credential options (the origin's way to the fleet keys). */
export function addFleetKeysOptions(cmd: Command): Command {
  return addNatsOptions(
    cmd
      .option('--nats <url>', "the fleet's NATS (with --fleet-keys), e.g. nats://127.0.0.1:4222")
      .option('--fleet-keys', "verification keys (JWKS) from the fleet's KV bucket, rotated without restarts"),
  );
}

/** A verifier over the fleet's keys plus any configured key files/URLs (file keys are optional here). */
export async function verificationWithFleetKeys(
  o: VerificationCliOptions,
  fleetKeys: KeySource,
  env: NodeJS.ProcessEnv,
  log?: KeyLog,
): Promise<{ verifier: Verifier; keys?: ReloadingKeySource }> {
  let files;
  try {
    files = await openVerification({ ...o, requireSigned: true }, env, log);
  } catch (e) {
    if (!(e instanceof StreamedgeError && e.code === 'NO_KEY')) throw e;
    files = undefined; // the fleet's keys only
  }
  const keys = files ? new CombinedKeySource([fleetKeys, files.keys]) : fleetKeys;
  const verifier = createVerifier({ keys, clockToleranceSec: parseDuration(o.clockSkew ?? '30s') });
  return { verifier, ...(files ? { keys: files.keys } : {}) };
}

/**
 * openVerification, with the fleet's keys when --nats and --fleet-keys are given (its own NATS
 * connection, closed by close()). Undefined without --require-signed.
 */
export async function openVerificationWithFleet(
  o: VerificationCliOptions & FleetKeysCliOptions,
  env: NodeJS.ProcessEnv,
  log: KeyLog | undefined,
  clientName: string,
): Promise<{ verifier: Verifier; keys?: ReloadingKeySource; close(): Promise<void> } | undefined> {
  if (o.fleetKeys !== true || o.nats === undefined) {
    if (o.fleetKeys === true) throw new StreamedgeError('BAD_OPTION', '--fleet-keys needs --nats <url>');
    const v = await openVerification(o, env, log);
    return v ? { ...v, close: async () => v.keys.close() } : undefined;
  }
  if (!o.requireSigned) return undefined;
  const conn = await openFleetConnection(o, clientName, log);
  try {
    const kv = await KvKeySource.open(await openKeysBucket(conn), log ? { log } : {});
    const v = await verificationWithFleetKeys(o, kv, env, log);
    return {
      ...v,
      close: async () => {
        v.keys?.close();
        await kv.close();
        await conn.close();
      },
    };
  } catch (e) {
    await conn.close();
    throw e;
  }
}
