/**
 * The NATS connection options of the fleet, shared by `edge`, `origin` and `keys`: the URL, and the
 * credential only from files or the environment (never argv), TLS files.
 */
import type { Command } from 'commander';
import { StreamedgeError } from '../errors.js';
import {
  FleetConnection,
  NATS_NKEY_ENV,
  NATS_PASSWORD_ENV,
  NATS_TOKEN_ENV,
  natsCredentialFrom,
  type NatsTls,
} from '../fleet/nats-connection.js';
import type { KeyLog } from '../signing/reloading-key-source.js';

export interface NatsCliOptions {
  nats?: string;
  natsUser?: string;
  natsPasswordFile?: string;
  natsTokenFile?: string;
  natsNkeyFile?: string;
  natsCa?: string;
  natsCert?: string;
  natsKey?: string;
}

/** Adds the NATS connection options (credential only from files or the environment). */
export function addNatsOptions(cmd: Command): Command {
  return cmd
    .option('--nats-user <user>', `NATS user (password from --nats-password-file or $${NATS_PASSWORD_ENV})`)
    .option('--nats-password-file <file>', 'file holding the NATS password')
    .option('--nats-token-file <file>', `file holding a NATS token (default: $${NATS_TOKEN_ENV})`)
    .option('--nats-nkey-file <file>', `file holding an NKey seed (default: $${NATS_NKEY_ENV})`)
    .option('--nats-ca <pem>', 'CA certificate to trust for tls:// NATS')
    .option('--nats-cert <pem>', 'client certificate for NATS (mutual TLS)')
    .option('--nats-key <pem>', 'client key for NATS (mutual TLS)');
}

export async function openFleetConnection(o: NatsCliOptions, name: string, log?: KeyLog): Promise<FleetConnection> {
  if (o.nats === undefined) throw new StreamedgeError('BAD_OPTION', 'give --nats <url>');
  const credential = natsCredentialFrom({
    ...(o.natsUser !== undefined ? { user: o.natsUser } : {}),
    ...(o.natsPasswordFile !== undefined ? { passwordFile: o.natsPasswordFile } : {}),
    ...(o.natsTokenFile !== undefined ? { tokenFile: o.natsTokenFile } : {}),
    ...(o.natsNkeyFile !== undefined ? { nkeyFile: o.natsNkeyFile } : {}),
  });
  const tls: NatsTls = {
    ...(o.natsCa !== undefined ? { caFile: o.natsCa } : {}),
    ...(o.natsCert !== undefined ? { certFile: o.natsCert } : {}),
    ...(o.natsKey !== undefined ? { keyFile: o.natsKey } : {}),
  };
  return FleetConnection.open({
    url: o.nats,
    name,
    ...(credential ? { credential } : {}),
    tls,
    ...(log ? { log } : {}),
  });
}
