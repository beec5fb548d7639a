/**
 * `streamFirst` on the HTTPS + HTTP/2 server (src/tls/secure-http-server.ts): every HTTP/2 stream
 * is offered to it before node:http2's compatibility layer; what it answers never reaches the
 * request handler (no 'request' event), what it leaves does, whole: a GET, a POST with its body,
 * CONNECT's 501, and HTTP/1.1 after ALPN fallback (never offered).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ClientHttp2Session, Http2SecureServer } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { closeHttp2Sessions, createSecureHttpServer, streamsIntercepted } from '../../../src/tls/secure-http-server.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { h2Get, h2Session } from '../../support/h2-client.js';

const run = promisify(execFile);
let dir: string;
let server: Http2SecureServer;
let url: string;
let ca: Buffer;
let session: ClientHttp2Session;
const offered: string[] = [];
const handled: string[] = [];
let requestEvents = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'stream-first-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(files.certFile);
  server = createSecureHttpServer(
    await ReloadingTls.open(files),
    (req, res) => {
      handled.push(`${req.method} ${req.url} ${req.httpVersion}`);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`handler ${req.url}${body ? ` ${body}` : ''}`);
      });
    },
    {
      streamFirst: (stream, headers) => {
        offered.push(`${String(headers[':method'])} ${String(headers[':path'])}`);
        if (headers[':path'] !== '/fast') return false;
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end('first');
        return true;
      },
    },
  );
  server.on('request', () => requestEvents++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  session = await h2Session(url, ca);
});

afterAll(async () => {
  session.destroy();
  closeHttp2Sessions(server);
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('HTTP/2 streams offered before the compatibility layer', () => {
  it('is on with this Node', () => {
    expect(streamsIntercepted(server)).toBe(true);
  });

  it('answers what it takes without a request event, and hands on the rest whole', async () => {
    const events = requestEvents;
    const fast = await h2Get(session, '/fast');
    expect(fast.status).toBe(200);
    expect(fast.body.toString()).toBe('first');
    expect(requestEvents).toBe(events);
    const slow = await h2Get(session, '/slow?q=1');
    expect(slow.body.toString()).toBe('handler /slow?q=1');
    expect(requestEvents).toBe(events + 1);
    expect(offered.slice(-2)).toEqual(['GET /fast', 'GET /slow?q=1']);
    expect(handled.at(-1)).toBe('GET /slow?q=1 2.0');
  });

  it('hands on a POST with its body', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/post' });
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => resolve(text));
      req.on('error', reject);
      req.end('payload');
    });
    expect(body).toBe('handler /post payload');
  });

  it('still answers CONNECT with 501 through the compatibility layer', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':method': 'CONNECT', ':authority': 'example.test:443' });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', reject);
    });
    expect(status).toBe(501);
  });

  it('never offers HTTP/1.1 requests on the same port', async () => {
    const before = offered.length;
    const { stdout } = await run('curl', ['-s', '--http1.1', '--cacert', join(dir, 'tls', 'cert.pem'), `${url}/fast`]);
    expect(stdout).toBe('handler /fast');
    expect(offered.length).toBe(before);
    expect(handled.at(-1)).toBe('GET /fast 1.1');
  });
});
