/**
 * A certificate chain and its private key read from PEM files and checked before use: both files
 * readable, the key matching the leaf certificate, the validity dates known. Errors name the file
 * and the problem, never the file's content (no key material reaches a log or an exception).
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { StreamedgeError } from '../errors.js';

export interface TlsFiles {
  /** PEM certificate chain (leaf first). */
  certFile: string;
  /** PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate. */
  keyFile: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate's subject, SANs and validity (no key material). */
  subject: string;
  subjectAltName: string | undefined;
  validFrom: Date;
  validTo: Date;
  fingerprint256: string;
}

async function readPem(file: string, what: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a folder'
            : (code ?? 'unreadable');
    throw new StreamedgeError('TLS_FILE', `${flag} ${file}: cannot read the ${what} (${why})`);
  }
}

/** Reads and checks a certificate/key pair (see the file comment). */
export async function loadTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([
    readPem(files.certFile, 'certificate', '--tls-cert'),
    readPem(files.keyFile, 'private key', '--tls-key'),
  ]);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new StreamedgeError('TLS_CERT', `--tls-cert ${files.certFile}: not a PEM certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // The parser's message can quote the input: only the file name goes out.
    throw new StreamedgeError(
      'TLS_KEY',
      `--tls-key ${files.keyFile}: not a PEM private key (or an encrypted one: give an unencrypted key)`,
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new StreamedgeError(
      'TLS_KEY_MISMATCH',
      `--tls-key ${files.keyFile} does not match the certificate in --tls-cert ${files.certFile} (subject ${leaf.subject.replace(/\n/g, ', ')})`,
    );
  }
  return {
    cert,
    key,
    subject: leaf.subject.replace(/\n/g, ', '),
    subjectAltName: leaf.subjectAltName,
    validFrom: new Date(leaf.validFrom),
    validTo: new Date(leaf.validTo),
    fingerprint256: leaf.fingerprint256,
  };
}

/** A warning for a certificate outside its validity period at `now`, or undefined. */
export function validityWarning(m: TlsMaterial, certFile: string, now = new Date()): string | undefined {
  if (m.validTo.getTime() <= now.getTime()) {
    return `--tls-cert ${certFile}: the certificate expired on ${m.validTo.toISOString()}: clients will reject it`;
  }
  if (m.validFrom.getTime() > now.getTime()) {
    return `--tls-cert ${certFile}: the certificate is not valid before ${m.validFrom.toISOString()}: clients will reject it`;
  }
  return undefined;
}
