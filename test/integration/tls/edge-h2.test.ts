/**
 * A TLS edge (HTTP/2 + HTTP/1.1 on one port) in front of a TLS origin (the edge verifies it with
 * --upstream-ca and speaks h2 to it): curl with --http2 and --http1.1 gets the protocol it asks
 * for with identical bodies and Cache-Status; blocking reloads held and answered over h2 (curl,
 * and 200 streams on one node:http2 connection); a client resetting its stream mid-fill breaks
 * nothing for the other waiters and the store keeps the object; Timing-Allow-Origin, purge and
 * metrics over h2; answers that end on their body's last DATA frame, not on an empty one, with
 * the status and byte count in the access log; HEAD and a 416 as a head alone, a Range as its
 * slice. Real sockets on loopback, a live channel driven by
 * a fake encoder.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import type { ClientHttp2Session } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { FakeEncoder, until } from '../../unit/origin/fake-encoder.js';
import { h2Get, h2Session } from '../../support/h2-client.js';
import { END_STREAM, type FramedAnswer, FrameType, h2Frames } from '../../support/h2-frames.js';

const run = promisify(execFile);
const TOKEN = 'edge-h2-admin-token';
let dir: string;
let origin: Origin;
let edge: Edge;
let originTls: ReloadingTls;
let edgeTls: ReloadingTls;
let edgeUrl: string;
let certFile: string;
let ca: Buffer;
let session: ClientHttp2Session;
const enc = new FakeEncoder();
/** The edge's access log ('request' lines). */
const accessLog: { reqId: string; url: string; status: number; bytes: number; aborted?: boolean }[] = [];

async function curl(args: string[]): Promise<{ version: string; status: number; headers: string; body: string }> {
  const out = join(dir, `curl-${Math.random().toString(36).slice(2)}`);
  const { stdout } = await run('curl', [
    '-sS',
    '--cacert',
    certFile,
    '-D',
    `${out}.h`,
    '-o',
    `${out}.b`,
    '-w',
    '%{http_version} %{http_code}',
    ...args,
  ]);
  const [version, status] = stdout.split(' ');
  return {
    version: version,
    status: Number(status),
    headers: readFileSync(`${out}.h`, 'latin1'),
    body: readFileSync(`${out}.b`, 'latin1'),
  };
}

function headerOf(raw: string, name: string): string | undefined {
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(raw);
  return m?.[1]?.trim();
}

async function held(kind: 'playlist' | 'part' | 'segment'): Promise<number> {
  const g = await origin.metrics.held.get();
  return g.values.filter((v) => v.labels.kind === kind).reduce((a, v) => a + v.value, 0);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-edge-h2-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  certFile = files.certFile;
  ca = readFileSync(certFile);
  originTls = await ReloadingTls.open(files);
  edgeTls = await ReloadingTls.open(files);
  origin = await createOrigin({
    root: dir,
    logger: false,
    processMetrics: false,
    tls: originTls,
    live: [{ id: 'ch', source: 'fake', segmentDuration: 60, partDuration: 0.5, dvrWindow: 600 }],
    channelOptions: { stallTimeoutMs: 600_000 },
    startRun: enc.start,
  });
  const originUrl = await origin.listen(0, '127.0.0.1');
  await enc.runStarted(1);
  enc.init();
  enc.segments(0, 2);
  edge = createEdge({
    upstream: originUrl,
    upstreamCa: ca,
    tls: edgeTls,
    adminToken: TOKEN,
    logger: pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          for (const line of chunk.toString().split('\n')) {
            const o = line === '' ? undefined : (JSON.parse(line) as { msg?: string });
            if (o?.msg === 'request') accessLog.push(o as never);
          }
          cb();
        },
      }),
    ),
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  session = await h2Session(edgeUrl, ca);
});

afterAll(async () => {
  session?.close();
  await edge?.close();
  await origin?.close();
  originTls?.close();
  edgeTls?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('edge over TLS in front of a TLS origin', () => {
  it('answers curl --http2 and --http1.1 with the protocol asked, identical bodies and Cache-Status', async () => {
    expect(edgeUrl).toMatch(/^https:/);
    const url = `${edgeUrl}/live/ch/v/seg-1.m4s`;
    const first = await curl(['--http2', url]); // the fill
    expect(first.version).toBe('2');
    expect(first.status).toBe(200);
    const h2 = await curl(['--http2', url]);
    const h1 = await curl(['--http1.1', url]);
    expect(h2.version).toBe('2');
    expect(h1.version).toBe('1.1');
    expect(h2.body).toBe(enc.bytesOf('v', 1).toString('latin1'));
    expect(h1.body).toBe(h2.body);
    expect(headerOf(h2.headers, 'cache-status')).toMatch(/streamedge; hit/);
    expect(headerOf(h1.headers, 'cache-status')).toBe(headerOf(h2.headers, 'cache-status'));
    expect(headerOf(h2.headers, 'timing-allow-origin')).toBe('*');
  });

  it('holds a blocking reload and answers it over h2 (curl)', async () => {
    const before = await held('playlist');
    const child = spawn(
      'curl',
      [
        '-sS',
        '--http2',
        '--cacert',
        certFile,
        '-w',
        '\n%{http_version} %{http_code}',
        `${edgeUrl}/live/ch/v/index.m3u8?_HLS_msn=3&_HLS_part=0`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await until(async () => (await held('playlist')) > before, 10_000, 'reload held at the origin');
    enc.part(3, 0);
    expect(await exited).toBe(0);
    expect(out).toContain('seg-3.0.m4s');
    expect(out.trim().split('\n').pop()).toBe('2 200');
  });

  it('answers 200 concurrent held reloads on ONE h2 connection after the next part', async () => {
    const n = 200;
    const before = await held('playlist');
    const answers = Array.from({ length: n }, () => h2Get(session, '/live/ch/v/index.m3u8?_HLS_msn=3&_HLS_part=1'));
    // the edge coalesces them into one upstream blocking reload, held at the origin
    await until(async () => (await held('playlist')) > before, 10_000, 'reload held at the origin');
    enc.part(3, 1);
    const got = await Promise.all(answers);
    expect(got.every((r) => r.status === 200)).toBe(true);
    expect(got.every((r) => r.body.toString().includes('seg-3.1.m4s'))).toBe(true);
    expect(new Set(got.map((r) => r.body.toString())).size).toBe(1);
  });

  it('keeps a shared fill going when one client resets its stream mid-body', async () => {
    // seg-3 is in progress at the origin: the fill streams it part by part to every waiter.
    const other = await h2Session(edgeUrl, ca);
    try {
      const quitter = session.request({ ':path': '/live/ch/v/seg-3.m4s' });
      let quitterBytes = 0;
      const firstBytes = new Promise<void>((r) =>
        quitter.on('data', (c: Buffer) => {
          quitterBytes += c.length;
          r();
        }),
      );
      quitter.on('error', () => undefined);
      const stayer = h2Get(other, '/live/ch/v/seg-3.m4s');
      await firstBytes;
      quitter.close(8); // RST_STREAM CANCEL mid-fill
      await until(() => quitter.closed, 5000, 'stream reset');
      enc.part(3, 2);
      enc.part(3, 3);
      enc.segment(3);
      const r = await stayer;
      expect(quitterBytes).toBeGreaterThan(0);
      expect(r.status).toBe(200);
      expect(r.body.equals(enc.bytesOf('v', 3))).toBe(true);
      await edge.whenIdle();
      const again = await h2Get(other, '/live/ch/v/seg-3.m4s');
      expect(String(again.headers['cache-status'])).toMatch(/streamedge; hit/);
      expect(again.body.equals(enc.bytesOf('v', 3))).toBe(true);
    } finally {
      other.close();
    }
  });

  it('purges over h2 and reports requests by protocol in /_edge/metrics', async () => {
    const req = session.request({
      ':method': 'POST',
      ':path': '/_edge/purge',
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
    });
    req.end(JSON.stringify({ url: '/live/ch/v/seg-1.m4s' }));
    const status = await new Promise<number>((r) => req.on('response', (h) => r(Number(h[':status']))));
    req.resume();
    expect(status).toBe(200);
    const after = await h2Get(session, '/live/ch/v/seg-1.m4s');
    expect(String(after.headers['cache-status'])).not.toMatch(/; hit/);
    const metrics = (await h2Get(session, '/_edge/metrics')).body.toString();
    expect(metrics).toMatch(/edge_requests_by_protocol_total\{protocol="h2"\} [1-9]/);
    expect(metrics).toMatch(/edge_requests_by_protocol_total\{protocol="h1"\} [1-9]/);
    expect((await h2Get(session, '/_edge/health')).status).toBe(200);
  });

  it('fetches from the TLS origin over h2 (undici allowH2, verified with the given CA)', async () => {
    const v = (await origin.metrics.requestsByProtocol.get()).values;
    expect(v.find((x) => x.labels.protocol === 'h2')?.value ?? 0).toBeGreaterThan(0);
  });

  it('ends each answer on its last DATA frame, not an empty one, and logs its status and bytes', async () => {
    // the first answers come from fills (prepared group answers, one of them a 404 from the origin),
    // then from the store through the full lookup (a request Cache-Control skips the RAM hit path)
    const paths = ['/live/ch/a/seg-0.m4s', '/live/ch/a/seg-1.m4s', '/live/ch/a/seg-99999.m4s'];
    const fills = await h2Frames(edgeUrl, ca, paths);
    await edge.whenIdle();
    const stored = await h2Frames(edgeUrl, ca, paths.slice(0, 2), { 'cache-control': 'max-age=60' });
    // a held blocking reload, answered when the part appears
    const before = await held('playlist');
    const reload = h2Frames(edgeUrl, ca, ['/live/ch/a/index.m3u8?_HLS_msn=4&_HLS_part=0']);
    await until(async () => (await held('playlist')) > before, 10_000, 'reload held at the origin');
    enc.part(4, 0);
    const [playlist] = await reload;

    const endsOnItsBody = (a: FramedAnswer) => {
      expect(a.reset).toBeUndefined();
      const data = a.frames.filter((f) => f.type === FrameType.Data);
      expect(data.length).toBeGreaterThan(0);
      expect(data.every((f) => f.length > 0)).toBe(true); // no empty frame just to end the stream
      expect(data[data.length - 1].flags & END_STREAM).toBe(END_STREAM);
      expect(a.frames[a.frames.length - 1].type).toBe(FrameType.Data);
      expect(a.fields['timing-allow-origin']).toBe('*'); // set on res by the listener, sent with it
      expect(a.fields['date']).toMatch(/GMT$/);
      expect(Number(a.fields['content-length'])).toBe(a.body.length);
    };
    for (const [i, n] of [0, 1].entries()) {
      for (const a of [fills[i], stored[i]]) {
        endsOnItsBody(a);
        expect(a.fields[':status']).toBe('200');
        expect(a.body.equals(enc.bytesOf('a', n))).toBe(true);
      }
      expect(fills[i].fields['cache-status']).toMatch(/streamedge; fwd=uri-miss/);
      expect(stored[i].fields['cache-status']).toMatch(/streamedge; hit/);
    }
    endsOnItsBody(fills[2]);
    expect(fills[2].fields[':status']).toBe('404');
    endsOnItsBody(playlist);
    expect(playlist.fields[':status']).toBe('200');
    expect(playlist.body.toString()).toContain('seg-4.0.m4s');

    // the access log has each answer's status and byte count, none aborted
    for (const a of [...fills, ...stored, playlist]) {
      const line = accessLog.find((l) => l.reqId === a.fields['x-request-id']);
      expect(line, a.path).toBeDefined();
      expect(line!.status).toBe(Number(a.fields[':status']));
      expect(line!.bytes).toBe(a.body.length);
      expect(line!.aborted).toBeUndefined();
    }
  });

  it('answers HEAD, an unsatisfiable Range and a Range on the stream: head only, 416, the slice', async () => {
    const path = '/live/ch/v/seg-0.m4s';
    const whole = enc.bytesOf('v', 0);
    const [first] = await h2Frames(edgeUrl, ca, [path]);
    expect(first.body.equals(whole)).toBe(true);
    await edge.whenIdle();
    // live objects carry no validators (no 304 here): the 416 is the other answer without a body
    const [head, unsatisfiable, range] = await h2Frames(edgeUrl, ca, [
      { path, method: 'HEAD' },
      { path, headers: { range: `bytes=${whole.length + 10}-` } },
      { path, headers: { range: 'bytes=2-5' } },
    ]);
    for (const a of [head, unsatisfiable]) {
      expect(a.reset).toBeUndefined();
      expect(a.body.length).toBe(0);
      expect(a.frames.filter((f) => f.type === FrameType.Data && f.length > 0)).toEqual([]);
      expect(a.frames[a.frames.length - 1].flags & END_STREAM).toBe(END_STREAM);
    }
    expect(head.fields[':status']).toBe('200');
    expect(Number(head.fields['content-length'])).toBe(whole.length);
    expect(unsatisfiable.fields[':status']).toBe('416');
    expect(unsatisfiable.fields['content-range']).toBe(`bytes */${whole.length}`);
    expect(range.fields[':status']).toBe('206');
    expect(range.fields['content-range']).toBe(`bytes 2-5/${whole.length}`);
    expect(range.body.equals(whole.subarray(2, 6))).toBe(true);
    const data = range.frames.filter((f) => f.type === FrameType.Data);
    expect(data.every((f) => f.length > 0)).toBe(true);
    expect(data[data.length - 1].flags & END_STREAM).toBe(END_STREAM);
  });
});
