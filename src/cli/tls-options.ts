/**
 * The TLS command-line options shared by `origin` and `edge`: `--tls-cert <pem> --tls-key <pem>`
 * (both or neither; files re-read when they change) and `--http-port` (plain HTTP beside HTTPS).
 */
import type { Command } from 'commander';
import { StreamedgeError } from '../errors.js';
import { ReloadingTls, type TlsLog } from '../tls/reloading-tls.js';

export interface TlsCliOptions {
  tlsCert?: string;
  tlsKey?: string;
  httpPort?: string;
}

export function addTlsOptions(cmd: Command): Command {
  return cmd
    .option('--tls-cert <pem>', 'serve HTTPS (HTTP/2 + HTTP/1.1) with this PEM certificate chain (re-read on change)')
    .option('--tls-key <pem>', 'the PEM private key of --tls-cert (re-read on change)')
    .option('--http-port <port>', 'with --tls-cert: also serve plain HTTP on this port (loopback, tiers behind)');
}

/** The certificate to serve, or undefined without --tls-cert/--tls-key; close() it on exit. */
export async function openTlsFromCli(o: TlsCliOptions, log?: TlsLog): Promise<ReloadingTls | undefined> {
  if (o.tlsCert === undefined && o.tlsKey === undefined) {
    if (o.httpPort !== undefined) throw new StreamedgeError('BAD_OPTION', '--http-port needs --tls-cert and --tls-key');
    return undefined;
  }
  if (o.tlsCert === undefined || o.tlsKey === undefined) {
    throw new StreamedgeError('BAD_OPTION', '--tls-cert and --tls-key go together (give both PEM files)');
  }
  return ReloadingTls.open({ certFile: o.tlsCert, keyFile: o.tlsKey }, log ? { log } : {});
}
