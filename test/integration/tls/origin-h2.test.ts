/**
 * The origin over TLS with HTTP/2 and HTTP/1.1 on one port (ALPN), plain HTTP beside it: the
 * same LL-HLS semantics on every listener, held blocking reloads as streams of one connection,
 * in-progress segments as DATA frames, metrics by protocol. Real sockets on loopback, real
 * clients (node:http2, undici over https, curl).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { FakeEncoder, until } from '../../unit/origin/fake-encoder.js';
import { h2Get, h2Session } from '../../support/h2-client.js';

const run = promisify(execFile);
let dir: string;
let origin: Origin;
let tls: ReloadingTls;
let base: string;
let plain: string;
let ca: Buffer;
let session: ClientHttp2Session;
const enc = new FakeEncoder();

async function held(kind: 'playlist' | 'part' | 'segment'): Promise<number> {
  const g = await origin.metrics.held.get();
  return g.values.filter((v) => v.labels.kind === kind).reduce((a, v) => a + v.value, 0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-origin-h2-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(files.certFile);
  tls = await ReloadingTls.open(files);
  origin = await createOrigin({
    root: dir,
    logger: false,
    processMetrics: false,
    tls,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 60, partDuration: 0.5, dvrWindow: 600 }],
    channelOptions: { stallTimeoutMs: 600_000 },
    startRun: enc.start,
  });
  base = await origin.listen(0, '127.0.0.1');
  plain = await origin.listenPlain(0, '127.0.0.1');
  await enc.runStarted(1);
  enc.init();
  enc.segments(0, 2);
  session = await h2Session(base, ca);
});

afterAll(async () => {
  session?.close();
  await origin?.close();
  tls?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('origin over TLS', () => {
  it('serves https URLs and the same playlist over h2, HTTPS/1.1 and plain HTTP', async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(plain).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const path = '/live/ch/v/index.m3u8';
    const h2 = await h2Get(session, path);
    const h1 = await request(base + path, { dispatcher: new Agent({ connect: { ca } }) });
    const h1Body = Buffer.from(await h1.body.arrayBuffer());
    const p = await request(plain + path);
    const pBody = Buffer.from(await p.body.arrayBuffer());
    expect(h2.status).toBe(200);
    expect(h1.statusCode).toBe(200);
    expect(p.statusCode).toBe(200);
    expect(h2.body.toString()).toContain('#EXT-X-SERVER-CONTROL');
    expect(h2.body.equals(h1Body)).toBe(true);
    expect(h2.body.equals(pBody)).toBe(true);
    expect(h2.headers['surrogate-key']).toBe('ch');
  });

  it('negotiates the protocol curl asks for (ALPN h2 and http/1.1 on one port)', async () => {
    const cert = join(dir, 'tls', 'cert.pem');
    for (const [flag, want] of [
      ['--http2', '2'],
      ['--http1.1', '1.1'],
    ] as const) {
      const { stdout } = await run('curl', [
        '-sS',
        '--cacert',
        cert,
        flag,
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code}',
        `${base}/live/ch/v/index.m3u8`,
      ]);
      expect(stdout).toBe(`${want} 200`);
    }
  });

  it('holds 200 blocking reloads as streams of ONE connection and answers all after the next part', async () => {
    const before = await held('playlist');
    const n = 200;
    const answers = Array.from({ length: n }, () =>
      h2Get(session, '/live/ch/v/index.m3u8?_HLS_msn=3&_HLS_part=0', { 'accept-encoding': 'br' }),
    );
    await until(async () => (await held('playlist')) - before === n, 10_000, `${n} held`);
    enc.part(3, 0);
    const got = await Promise.all(answers);
    for (const r of got) {
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBe('br');
    }
    // one shared answer: identical bytes for all
    const first = got[0].body;
    expect(got.every((r) => r.body.equals(first))).toBe(true);
    const text = (await h2Get(session, '/live/ch/v/index.m3u8?_HLS_msn=3&_HLS_part=0')).body.toString();
    expect(text).toContain('seg-3.0.m4s');
    expect(await held('playlist')).toBe(before);
  });

  it('holds a hinted part over h2 and answers it with its bytes', async () => {
    const p = h2Get(session, '/live/ch/v/seg-3.1.m4s');
    await until(async () => (await held('part')) === 1, 5000, 'part held');
    enc.part(3, 1);
    const r = await p;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(enc.parts.get('v:3')![1].toString());
  });

  it('streams an in-progress segment as DATA frames until it completes', async () => {
    const p = h2Get(session, '/live/ch/v/seg-3.m4s');
    enc.part(3, 2);
    enc.segment(3);
    const r = await p;
    expect(r.status).toBe(200);
    expect(r.body.equals(enc.bytesOf('v', 3))).toBe(true);
  });

  it('drops a held stream the client resets, and keeps the others', async () => {
    const before = await held('playlist');
    const keep = h2Get(session, '/live/ch/v/index.m3u8?_HLS_msn=4&_HLS_part=0');
    const cancelled = session.request({ ':path': '/live/ch/v/index.m3u8?_HLS_msn=4&_HLS_part=0' });
    cancelled.on('error', () => undefined);
    await until(async () => (await held('playlist')) - before === 2, 5000, 'two held');
    cancelled.close(8); // NGHTTP2_CANCEL
    await until(async () => (await held('playlist')) - before === 1, 5000, 'reset stream released');
    enc.part(4, 0);
    expect((await keep).status).toBe(200);
  });

  it('answers held HEAD blocking reloads (h2 and HTTP/1.1) with the GET headers and no body, woken with GETs', async () => {
    const before = await held('playlist');
    const path = '/live/ch/v/index.m3u8?_HLS_msn=4&_HLS_part=1';
    const get = h2Get(session, path);
    const head = h2Get(session, path, { ':method': 'HEAD' });
    const head1 = request(plain + path, { method: 'HEAD' });
    await until(async () => (await held('playlist')) - before === 3, 5000, 'three held');
    enc.part(4, 1);
    const [g, h, h1] = await Promise.all([get, head, head1]);
    expect(g.status).toBe(200);
    expect(g.body.toString()).toContain('seg-4.1.m4s');
    expect(h.status).toBe(200);
    expect(h.body.length).toBe(0);
    expect(h.headers['content-type']).toBe(g.headers['content-type']);
    expect(h.headers['content-length']).toBe(String(g.body.length));
    expect(h1.statusCode).toBe(200);
    expect(Buffer.from(await h1.body.arrayBuffer()).length).toBe(0);
    expect(h1.headers['content-length']).toBe(String(g.body.length));
    // the session is still usable after the HEAD stream
    expect((await h2Get(session, '/health')).status).toBe(200);
    expect(await held('playlist')).toBe(before);
  });

  it('counts requests by protocol', async () => {
    const m = (await origin.metrics.requestsByProtocol.get()).values;
    const of = (p: string) => m.find((v) => v.labels.protocol === p)?.value ?? 0;
    expect(of('h2')).toBeGreaterThan(0);
    expect(of('h1')).toBeGreaterThan(0);
    const text = (await h2Get(session, '/metrics')).body.toString();
    expect(text).toMatch(/streamedge_origin_requests_by_protocol_total\{protocol="h2"\} \d+/);
  });

  it('counts a failed TLS handshake', async () => {
    // a client that does not trust the self-signed certificate aborts the handshake
    await expect(request(base + '/health')).rejects.toThrow();
    await until(
      async () => {
        const v = (await origin.metrics.tlsHandshakeFailures.get()).values;
        return v.reduce((a, x) => a + x.value, 0) > 0;
      },
      5000,
      'handshake failure counted',
    );
  });
});
