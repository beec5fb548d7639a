import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { startUpstream, type Upstream } from '../edge/helpers.js';
import { eventually, startSupervisedEdge, type SupervisedEdge } from '../cluster/supervised-edge.js';

/**
 * Issue 14, "with workers": a 2-worker HTTPS edge shares its TLS session ticket keys (made once by
 * the supervisor), so a session from one worker resumes on the other. A real node:tls client
 * resumes one session over many new connections, which node:cluster spreads over both workers.
 * (node:cluster alone would hand every worker the first one's keys; the rotation test is what
 * proves the supervisor's keys are the ones in use, in every worker.)
 */
let dir: string;
let up: Upstream;
let edge: SupervisedEdge;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edge-workers-tls-'));
  const files = await createSelfSignedCertificate(join(dir, 'cert'));
  up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
    res.end('hello over tls\n');
  });
  edge = await startSupervisedEdge(up.url, 2, ['--tls-cert', files.certFile, '--tls-key', files.keyFile]);
});

afterAll(async () => {
  await edge?.stop();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Visit {
  reused: boolean;
  worker: string | undefined;
  status: number;
  session: Buffer | undefined;
}

/** One HTTP/1.1 request on a TLS connection of its own, offering `session` for resumption. */
function visit(base: string, session?: Buffer): Promise<Visit> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const sock = connect({
      host: u.hostname,
      port: Number(u.port),
      servername: 'localhost',
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...(session ? { session } : {}),
    });
    sock.on('session', (s: Buffer) => (ticket = s));
    const parts: Buffer[] = [];
    sock.once('secureConnect', () => {
      sock.write('GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.once('error', reject);
    sock.once('end', () => {
      const text = Buffer.concat(parts).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      const worker = /\r\nx-edge-worker: (\d+)\r\n/i.exec(text)?.[1];
      resolve({ reused: sock.isSessionReused(), worker, status, session: ticket });
      sock.destroy();
    });
  });
}

describe('edge --workers 2 with TLS', () => {
  it('resumes one TLS session on every worker (shared session ticket keys)', async () => {
    expect(edge.url.startsWith('https://')).toBe(true);
    const first = await visit(edge.url);
    expect(first.status).toBe(200);
    expect(first.reused).toBe(false);
    expect(first.session).toBeDefined();
    const visits: Visit[] = [];
    // new connections until both workers answered a resumed one (bounded)
    for (let i = 0; i < 40 && new Set(visits.map((v) => v.worker)).size < 2; i++) {
      visits.push(...(await Promise.all([visit(edge.url, first.session), visit(edge.url, first.session)])));
    }
    expect(new Set(visits.map((v) => v.worker))).toEqual(new Set(['0', '1']));
    for (const v of visits) {
      expect(v.status).toBe(200);
      expect(v.reused).toBe(true);
    }
  });

  it('rotates the shared ticket keys (SIGUSR2): old sessions stop resuming, new ones resume on every worker', async () => {
    const old = await visit(edge.url);
    expect(old.session).toBeDefined();
    expect((await visit(edge.url, old.session)).reused).toBe(true);
    const rotatedBefore = edge.logs.filter((l) => l.msg === 'TLS session ticket keys rotated').length;
    edge.proc.kill('SIGUSR2');
    await eventually(
      async () =>
        edge.logs.filter((l) => l.msg === 'TLS session ticket keys rotated').length >= rotatedBefore + 2
          ? true
          : undefined,
      'both workers took the new keys',
    );
    const stale: Visit[] = [];
    for (let i = 0; i < 40 && new Set(stale.map((v) => v.worker)).size < 2; i++)
      stale.push(await visit(edge.url, old.session));
    expect(new Set(stale.map((v) => v.worker))).toEqual(new Set(['0', '1']));
    for (const v of stale) expect(v.reused).toBe(false);
    const fresh = await visit(edge.url);
    const resumed: Visit[] = [];
    for (let i = 0; i < 40 && new Set(resumed.map((v) => v.worker)).size < 2; i++)
      resumed.push(await visit(edge.url, fresh.session));
    expect(new Set(resumed.map((v) => v.worker))).toEqual(new Set(['0', '1']));
    for (const v of resumed) expect(v.reused).toBe(true);
  });
});
