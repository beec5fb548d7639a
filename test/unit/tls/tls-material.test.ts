import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTlsMaterial, validityWarning } from '../../../src/tls/tls-material.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import type { TlsFiles } from '../../../src/tls/tls-material.js';

let dir: string;
let a: TlsFiles;
let b: TlsFiles;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-tls-'));
  a = await createSelfSignedCertificate(join(dir, 'a'));
  b = await createSelfSignedCertificate(join(dir, 'b'), { commonName: 'other.test' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadTlsMaterial', () => {
  it('loads a matching pair and reports the certificate (never the key)', async () => {
    const m = await loadTlsMaterial(a);
    expect(m.subject).toContain('CN=localhost');
    expect(m.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(m.validTo.getTime()).toBeGreaterThan(Date.now());
    expect(validityWarning(m, a.certFile)).toBeUndefined();
  });

  it('names a missing file and says why', async () => {
    await expect(loadTlsMaterial({ ...a, certFile: join(dir, 'nope.pem') })).rejects.toThrow(
      /--tls-cert .*nope\.pem: cannot read the certificate \(no such file\)/,
    );
    await expect(loadTlsMaterial({ ...a, keyFile: join(dir, 'nokey.pem') })).rejects.toThrow(
      /--tls-key .*nokey\.pem: cannot read the private key \(no such file\)/,
    );
  });

  it('refuses an unreadable key file', async () => {
    if (process.getuid?.() === 0) {
      // root reads anything: a folder stands in for an unreadable file
      await expect(loadTlsMaterial({ ...a, keyFile: dir })).rejects.toThrow(
        /cannot read the private key \(is a folder\)/,
      );
      return;
    }
    const f = join(dir, 'locked.pem');
    writeFileSync(f, readFileSync(a.keyFile));
    chmodSync(f, 0o000);
    await expect(loadTlsMaterial({ ...a, keyFile: f })).rejects.toThrow(/permission denied/);
  });

  it('refuses a key that does not match the certificate, without quoting either', async () => {
    const err = await loadTlsMaterial({ certFile: a.certFile, keyFile: b.keyFile }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/does not match the certificate/);
    const key = readFileSync(b.keyFile, 'latin1');
    const body = key.split('\n')[1];
    expect((err as Error).message).not.toContain(body.slice(0, 16));
    expect((err as Error).message).not.toContain('PRIVATE KEY');
  });

  it('refuses garbage in place of PEM, without echoing it', async () => {
    const f = join(dir, 'junk.pem');
    writeFileSync(f, '-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldC1zZWNyZXQ=\n-----END PRIVATE KEY-----\n');
    const err = (await loadTlsMaterial({ ...a, keyFile: f }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/not a PEM private key/);
    expect(err.message).not.toContain('c2VjcmV0');
    await expect(loadTlsMaterial({ ...a, certFile: f })).rejects.toThrow(/not a PEM certificate/);
  });

  it('warns with the date when the certificate has expired', async () => {
    const m = await loadTlsMaterial(a);
    const later = new Date(m.validTo.getTime() + 1000);
    expect(validityWarning(m, a.certFile, later)).toBe(
      `--tls-cert ${a.certFile}: the certificate expired on ${m.validTo.toISOString()}: clients will reject it`,
    );
  });
});
