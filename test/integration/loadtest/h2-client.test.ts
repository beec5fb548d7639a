/**
 * The load tester's HTTP/2 client (bench/loadtest/h2-client.ts: its own framing over TLS) against
 * a node:http2 server (nghttp2) on loopback with a self-signed certificate: bodies past the stream
 * and connection flow-control windows, shaping pauses, aborts and server resets of one stream on a
 * shared connection, the server's stream limit, GOAWAY, trailers and interim answers, and the
 * coded errors the report groups by.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, rootCertificates } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { H2Client } from '../../../bench/loadtest/h2-client.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { get, getAbortingAtFirstChunk, getPausingEachChunk } from './get-outcome.js';

/** `n` deterministic bytes (so a lost or reordered chunk shows). */
function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 10)) % 251;
  return b;
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let cert: string;
let key: string;
let ca: ReturnType<typeof createSecureContext>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-h2-client-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  cert = readFileSync(files.certFile, 'utf8');
  key = readFileSync(files.keyFile, 'utf8');
  ca = createSecureContext({ ca: [...rootCertificates, cert] });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TestServer {
  origin: string;
  sessions: () => number;
  requests: IncomingHttpHeaders[];
  server: Http2SecureServer;
  close: () => Promise<void>;
}

/** A node:http2 server over TLS; `answer` gets each stream. */
async function h2Server(
  answer: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ServerHttp2Session) => void,
  settings: { maxConcurrentStreams?: number } = {},
): Promise<TestServer> {
  let sessions = 0;
  const requests: IncomingHttpHeaders[] = [];
  const server = createSecureServer({ cert, key, settings });
  server.on('session', (s) => {
    sessions++;
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    requests.push(headers);
    stream.on('error', () => undefined);
    answer(stream, headers, stream.session as ServerHttp2Session);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const open = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions: () => sessions,
    requests,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

/** Resolves once `cond()` holds, checked on each turn of the event loop (no timed sleeps). */
function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (cond() ? resolve() : setImmediate(check));
    check();
  });
}

describe('H2Client', () => {
  it('reads bodies past the stream and connection windows, several at once, and sends path, authority and headers', async () => {
    const big = pattern(3 << 20);
    const srv = await h2Server((stream, headers) => {
      const path = String(headers[':path']);
      const body = path.startsWith('/big') ? big : Buffer.from('small');
      stream.respond({ ':status': 200, 'content-length': body.length });
      stream.end(body);
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    // 3 MiB each: past the 1 MiB stream window; together past half the 8 MiB connection window
    const [a, b, c] = await Promise.all([
      get(client, srv.origin, '/big/1?x=y', { headers: { 'CMCD-Request': 'bl=2000' } }),
      get(client, srv.origin, '/big/2'),
      get(client, srv.origin, '/small'),
    ]);
    const d = await get(client, srv.origin, '/big/3');
    for (const r of [a, b, d]) {
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.contentLength).toBe(String(big.length));
      expect(r.bytes.length).toBe(big.length);
      expect(sha(r.bytes)).toBe(sha(big));
    }
    expect(c.body).toBe('small');
    expect(srv.sessions()).toBe(1);
    const first = srv.requests.find((h) => String(h[':path']).startsWith('/big/1'))!;
    expect(first[':path']).toBe('/big/1?x=y');
    expect(first[':method']).toBe('GET');
    expect(first[':scheme']).toBe('https');
    expect(first[':authority']).toBe(new URL(srv.origin).host);
    expect(first['cmcd-request']).toBe('bl=2000');
    await client.destroy();
  });

  it('hands over CMSD-Dynamic with the Content-Length, and neither when the answer has none', async () => {
    const srv = await h2Server((stream, headers) => {
      if (String(headers[':path']) === '/capped') {
        stream.respond({ ':status': 200, 'content-length': 2, 'cmsd-dynamic': '"edge-a";mb=3000' });
      } else stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    expect(await get(client, srv.origin, '/capped')).toMatchObject({ contentLength: '2', cmsd: '"edge-a";mb=3000' });
    const plain = await get(client, srv.origin, '/plain');
    expect(plain.body).toBe('ok');
    expect(plain.cmsd).toBeUndefined();
    expect(plain.contentLength).toBeUndefined();
    await client.destroy();
  });

  it('pauses and resumes delivery (shaping) without losing or reordering bytes', async () => {
    const body = pattern(300_000);
    const srv = await h2Server((stream) => {
      stream.respond({ ':status': 200 });
      // in pieces, so that data comes while the handler is paused
      let at = 0;
      const step = () => {
        if (stream.destroyed) return;
        if (at >= body.length) return void stream.end();
        stream.write(body.subarray(at, at + 20_000));
        at += 20_000;
        setImmediate(step);
      };
      step();
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    const { outcome: r, pauses } = await getPausingEachChunk(client, srv.origin, '/s');
    expect(r.error).toBeUndefined();
    expect(r.contentLength).toBeUndefined();
    expect(sha(r.bytes)).toBe(sha(body));
    expect(pauses).toBe(r.chunks);
    await client.destroy();
  });

  it('an abort resets only its stream (the server sees CANCEL); the connection carries the next GET', async () => {
    let rstCode: number | undefined;
    const srv = await h2Server((stream, headers) => {
      if (String(headers[':path']) === '/long') {
        stream.on('close', () => (rstCode = stream.rstCode));
        stream.respond({ ':status': 200 });
        stream.write('a'.repeat(500)); // and never ends
      } else {
        stream.respond({ ':status': 200 });
        stream.end('ok');
      }
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    const aborting = await getAbortingAtFirstChunk(client, srv.origin, '/long');
    expect(aborting.settled).toBe('aborted');
    await until(() => rstCode !== undefined);
    expect(rstCode).toBe(constants.NGHTTP2_CANCEL);
    const next = await get(client, srv.origin, '/short');
    expect(next.status).toBe(200);
    expect(next.body).toBe('ok');
    expect(aborting.callbacksAfter()).toBe(0);
    expect(srv.sessions()).toBe(1);
    await client.destroy();
  });

  it('a stream the server resets fails with a coded error; another stream on the connection completes', async () => {
    const srv = await h2Server((stream, headers) => {
      if (String(headers[':path']) === '/reset') stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      else {
        stream.respond({ ':status': 404 });
        stream.end('nope');
      }
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    const [reset, other] = await Promise.all([get(client, srv.origin, '/reset'), get(client, srv.origin, '/other')]);
    expect(reset.error?.code).toBe('ERR_HTTP2_STREAM_ERROR');
    expect(reset.error?.message).toMatch(/reset \(code 2\)/);
    expect(other.status).toBe(404);
    expect(other.body).toBe('nope');
    expect(srv.sessions()).toBe(1);
    await client.destroy();
  });

  it("keeps to the server's MAX_CONCURRENT_STREAMS: the rest wait their turn", async () => {
    let open = 0;
    let most = 0;
    const held: ServerHttp2Stream[] = [];
    const srv = await h2Server(
      (stream, headers) => {
        if (headers[':path'] === '/warm') {
          stream.respond({ ':status': 200 });
          return void stream.end('x');
        }
        open++;
        most = Math.max(most, open);
        stream.on('close', () => open--);
        held.push(stream);
        // answer the held ones two at a time, once both of a pair are in
        if (held.length === 2)
          for (const s of held.splice(0)) {
            s.respond({ ':status': 200 });
            s.end('x');
          }
      },
      { maxConcurrentStreams: 2 },
    );
    closers.push(srv.close);
    const client = new H2Client(ca);
    // the first GET lets the server's SETTINGS arrive before the six
    expect((await get(client, srv.origin, '/warm')).status).toBe(200);
    const all = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => get(client, srv.origin, `/x${i}`)));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(most).toBeLessThanOrEqual(2);
    await client.destroy();
  });

  it('after a GOAWAY new requests go to a new connection', async () => {
    const srv = await h2Server((stream, headers, session) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
      if (String(headers[':path']) === '/bye') session.close();
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    expect((await get(client, srv.origin, '/bye')).status).toBe(200);
    // the GOAWAY the close sends reaches the client after the response, or with it
    const again = await get(client, srv.origin, '/again');
    expect(again.error).toBeUndefined();
    expect(again.status).toBe(200);
    expect(srv.sessions()).toBe(2);
    await client.destroy();
  });

  it('sends a stream the server did not process once more: past the last stream of a GOAWAY (new connection), or REFUSED_STREAM', async () => {
    let refusals = 0;
    const srv = await h2Server((stream, headers, session) => {
      const path = String(headers[':path']);
      if (path === '/b' && srv.sessions() === 1) {
        // stream 3 arrives: go away, keeping stream 1 only (3 is left unprocessed)
        session.goaway(constants.NGHTTP2_NO_ERROR, 1);
        return;
      }
      if (path === '/refused' && refusals++ === 0) return void stream.close(constants.NGHTTP2_REFUSED_STREAM);
      stream.respond({ ':status': 200 });
      stream.end(path);
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    const [a, b] = await Promise.all([get(client, srv.origin, '/a'), get(client, srv.origin, '/b')]);
    expect(a.error).toBeUndefined();
    expect(a.body).toBe('/a');
    expect(b.error).toBeUndefined();
    expect(b.body).toBe('/b');
    expect(srv.sessions()).toBe(2);
    expect(srv.requests.filter((h) => h[':path'] === '/b')).toHaveLength(2);
    const refused = await get(client, srv.origin, '/refused');
    expect(refused.error).toBeUndefined();
    expect(refused.body).toBe('/refused');
    expect(refusals).toBe(2);
    expect(srv.sessions()).toBe(2);
    await client.destroy();
  });

  it('reads through an interim 103 answer and ends a stream at its trailers', async () => {
    const srv = await h2Server((stream, headers) => {
      if (String(headers[':path']) === '/early')
        stream.additionalHeaders({ ':status': 103, link: '</a>; rel=preload' });
      stream.respond({ ':status': 200 }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
      stream.end('body');
    });
    closers.push(srv.close);
    const client = new H2Client(ca);
    const r = await get(client, srv.origin, '/early');
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    expect(r.body).toBe('body');
    await client.destroy();
  });

  it('fails with coded errors: silence past the headers timeout, a refused connection, an untrusted certificate', async () => {
    const srv = await h2Server(() => undefined); // never answers
    closers.push(srv.close);
    const client = new H2Client(ca);
    expect((await get(client, srv.origin, '/silent', { headersTimeout: 50 })).error?.code).toBe(
      'UND_ERR_HEADERS_TIMEOUT',
    );
    const untrusted = await get(new H2Client(undefined), srv.origin, '/x');
    expect(untrusted.error?.code).toMatch(/CERT|SELF_SIGNED/);
    const port = new URL(srv.origin).port;
    await srv.close();
    closers.pop();
    const refused = await get(new H2Client(ca), `https://127.0.0.1:${port}`, '/x');
    expect(refused.error?.code).toBe('ECONNREFUSED');
    await client.destroy();
  });
});
