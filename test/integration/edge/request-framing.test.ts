/**
 * What HTTP/1.1 refuses and node:http lets through (src/http/request-framing.ts), through a real
 * edge and a real origin, plain and over TLS, on loopback: two Host fields get 400 (the edge's
 * RAM tier never answers them, the upstream never sees them), `HTTP/2.0` in a text request line
 * gets 505, and CONNECT gets 501 over HTTP/1.1 (plain and TLS) and HTTP/2, where node:http would
 * close the connection without a word.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { h2Session } from '../../support/h2-client.js';
import { startEdge, startUpstream, type TestEdge, type Upstream } from './helpers.js';

let dir: string;
let ca: Buffer;
let up: Upstream;
let plainEdge: TestEdge;
let tlsEdge: Edge;
let tlsEdgeUrl: string;
let plainOrigin: Origin;
let plainOriginUrl: string;
let tlsOrigin: Origin;
let tlsOriginUrl: string;
const tlsHandles: ReloadingTls[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-framing-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(files.certFile);
  const tlsFor = async (): Promise<ReloadingTls> => {
    const t = await ReloadingTls.open(files);
    tlsHandles.push(t);
    return t;
  };
  up = await startUpstream((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-type': 'video/mp4' });
    res.end(`body of ${req.url}`);
  });
  plainEdge = await startEdge({ upstream: up.url });
  tlsEdge = createEdge({ upstream: up.url, tls: await tlsFor(), logLevel: 'silent' });
  tlsEdgeUrl = await tlsEdge.listen(0, '127.0.0.1');
  plainOrigin = await createOrigin({ root: dir, logger: false, processMetrics: false });
  plainOriginUrl = await plainOrigin.listen(0, '127.0.0.1');
  tlsOrigin = await createOrigin({ root: dir, logger: false, processMetrics: false, tls: await tlsFor() });
  tlsOriginUrl = await tlsOrigin.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await tlsEdge?.close();
  await plainEdge?.close();
  await plainOrigin?.close();
  await tlsOrigin?.close();
  await up?.close();
  for (const t of tlsHandles) t.close();
  rmSync(dir, { recursive: true, force: true });
});

interface RawAnswer {
  status: number;
  head: string;
  body: string;
  /** The server closed the connection after the answer. */
  closed: boolean;
}

/** Writes `request` as is and reads until the server closes (every case here closes). */
function raw(baseUrl: string, request: string): Promise<RawAnswer> {
  const u = new URL(baseUrl);
  const port = Number(u.port);
  return new Promise((resolve, reject) => {
    const sock: Socket =
      u.protocol === 'https:'
        ? tlsConnect({ host: u.hostname, port, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] })
        : netConnect(port, u.hostname);
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end === -1 ? text : text.slice(0, end);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, head, body: end === -1 ? '' : text.slice(end + 4), closed: true });
    });
    sock.write(request);
  });
}

const servers = (): Array<[string, string]> => [
  ['the edge (plain)', plainEdge.url],
  ['the edge (TLS, HTTP/1.1)', tlsEdgeUrl],
  ['the origin (plain)', plainOriginUrl],
  ['the origin (TLS, HTTP/1.1)', tlsOriginUrl],
];

describe('request framing node:http lets through', () => {
  it('answers two Host fields with 400 and forwards nothing, even for an object in the RAM tier', async () => {
    const path = '/vod/framing/seg-1.m4s';
    // the object is cached first (a fresh RAM hit for a well-formed request)
    const good = await raw(plainEdge.url, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    expect(good.status).toBe(200);
    expect(good.body).toContain(`body of ${path}`);
    const seen = up.total();
    for (const [name, url] of servers()) {
      const a = await raw(url, `GET ${path} HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n`);
      expect(a.status, name).toBe(400);
      expect(a.body, name).toMatch(/more than one Host/);
      expect(a.head, name).toMatch(/^connection: close$/im);
      expect(a.closed, name).toBe(true);
    }
    expect(up.total()).toBe(seen);
  });

  it('answers HTTP/2.0 in a text request line with 505 and still serves HTTP/1.0', async () => {
    const path = '/vod/framing/seg-2.m4s';
    for (const [name, url] of servers()) {
      const a = await raw(url, `GET ${path} HTTP/2.0\r\nHost: a\r\n\r\n`);
      expect(a.status, name).toBe(505);
      expect(a.body, name).toMatch(/HTTP\/2\.0 in an HTTP\/1 request line/);
    }
    const old = await raw(plainEdge.url, `GET ${path} HTTP/1.0\r\n\r\n`);
    expect(old.status).toBe(200);
    expect(old.body).toContain(`body of ${path}`);
  });

  it('answers CONNECT with 501 over HTTP/1.1 instead of dropping the connection', async () => {
    for (const [name, url] of servers()) {
      const a = await raw(url, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      expect(a.status, name).toBe(501);
      expect(a.body, name).toMatch(/CONNECT is not supported/);
    }
  });

  it('answers CONNECT with 501 over HTTP/2, on the edge and the origin', async () => {
    for (const url of [tlsEdgeUrl, tlsOriginUrl]) {
      const session: ClientHttp2Session = await h2Session(url, ca, { servername: 'localhost' });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const req = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' });
          req.on('response', (h) => resolve(Number(h[':status'])));
          req.on('error', reject);
        });
        expect(status, url).toBe(501);
      } finally {
        session.close();
      }
    }
  });
});
