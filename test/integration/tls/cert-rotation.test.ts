/**
 * Certificate rotation with no restart: replace the PEM files under a running TLS edge and new
 * connections get the new certificate, while an HTTP/2 session opened before keeps working; a
 * broken replacement (key of another certificate) keeps the previous pair in use.
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge, type Edge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { startUpstream, type Upstream } from '../edge/helpers.js';
import { until } from '../../unit/origin/fake-encoder.js';
import { h2Get, h2Session } from '../../support/h2-client.js';

let dir: string;
let up: Upstream;
let edge: Edge;
let tls: ReloadingTls;
let url: string;
const warnings: string[] = [];

/** The fingerprint of the certificate a NEW TLS connection to the edge is given. */
function servedFingerprint(): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: u.hostname, port: Number(u.port), rejectUnauthorized: false, ALPNProtocols: ['h2'] },
      () => {
        const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
        s.destroy();
        resolve(fp);
      },
    );
    s.once('error', reject);
  });
}

/** Moves a file into place atomically (a new inode, as a deploy tool does). */
function replace(from: string, to: string): void {
  copyFileSync(from, `${to}.tmp`);
  renameSync(`${to}.tmp`, to);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-rotate-'));
  await createSelfSignedCertificate(join(dir, 'live'));
  up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('hello');
  });
  tls = await ReloadingTls.open(
    { certFile: join(dir, 'live', 'cert.pem'), keyFile: join(dir, 'live', 'key.pem') },
    { intervalMs: 50, log: { info: () => undefined, warn: (_o, m) => warnings.push(m) } },
  );
  edge = createEdge({ upstream: up.url, tls, logLevel: 'silent' });
  url = await edge.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await edge?.close();
  await up?.close();
  tls?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('certificate rotation', () => {
  it('serves the new certificate to new connections after the files change, no restart', async () => {
    const first = new X509Certificate(readFileSync(join(dir, 'live', 'cert.pem'))).fingerprint256;
    expect(await servedFingerprint()).toBe(first);
    const old = await h2Session(url, undefined, { rejectUnauthorized: false });
    expect((await h2Get(old, '/a')).status).toBe(200);

    const next = await createSelfSignedCertificate(join(dir, 'next'), { commonName: 'rotated.localhost' });
    const second = new X509Certificate(readFileSync(next.certFile)).fingerprint256;
    expect(second).not.toBe(first);
    replace(next.keyFile, join(dir, 'live', 'key.pem'));
    replace(next.certFile, join(dir, 'live', 'cert.pem'));
    await until(async () => (await servedFingerprint()) === second, 10_000, 'the new certificate served');
    expect(tls.material.subject).toContain('rotated.localhost');
    // the session opened before the rotation carries on
    expect((await h2Get(old, '/b')).status).toBe(200);
    old.close();
  });

  it('keeps the current pair when the replacement key does not match its certificate', async () => {
    const current = await servedFingerprint();
    const generation = tls.generation;
    const other = await createSelfSignedCertificate(join(dir, 'other'));
    replace(other.keyFile, join(dir, 'live', 'key.pem'));
    await until(() => warnings.some((w) => /not reloaded/.test(w)), 10_000, 'the failed reload reported');
    expect(tls.generation).toBe(generation);
    expect(await servedFingerprint()).toBe(current);
  });
});
