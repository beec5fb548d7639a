/**
 * A throwaway self-signed certificate for loopback (the demo's `--tls`, tests): an ECDSA P-256
 * key and a certificate for `localhost` and `127.0.0.1`/`::1`, made by the system's `openssl`
 * and written as `cert.pem`/`key.pem` (key mode 0600) into a folder.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { StreamedgeError } from '../errors.js';
import type { TlsFiles } from './tls-material.js';

const run = promisify(execFile);

export interface SelfSignedOptions {
  /** Common name (default localhost). */
  commonName?: string;
  /** Validity in days (default 7). */
  days?: number;
  /** subjectAltName entries (default DNS:localhost, IP:127.0.0.1, IP:::1). */
  altNames?: string[];
}

export async function createSelfSignedCertificate(dir: string, opts: SelfSignedOptions = {}): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  const san = (opts.altNames ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1']).join(',');
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        String(opts.days ?? 7),
        '-subj',
        `/CN=${opts.commonName ?? 'localhost'}`,
        '-addext',
        `subjectAltName=${san}`,
        '-addext',
        'extendedKeyUsage=serverAuth',
      ],
      { timeout: 30_000 },
    );
  } catch (e) {
    const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
    throw new StreamedgeError(
      'TLS_SELF_SIGNED',
      missing
        ? 'openssl is not installed: install it (apt-get install openssl) or pass --tls-cert/--tls-key'
        : `openssl could not create a self-signed certificate: ${(e as Error).message.split('\n')[0]}`,
    );
  }
  await chmod(keyFile, 0o600);
  return { certFile, keyFile };
}
