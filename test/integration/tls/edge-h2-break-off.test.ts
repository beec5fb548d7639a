/**
 * An upstream that dies mid-body, under a TLS edge, seen by an HTTP/2 client frame by frame: a
 * response already half-sent (a 200 KiB segment of known length, and one of unknown length) is
 * reset with RST_STREAM INTERNAL_ERROR, never ended with END_STREAM or reset with NO_ERROR (which
 * a client may take for a complete response), and nothing is cached: the next request goes
 * upstream again. Real sockets on loopback.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge, type Edge } from '../../../edge/server.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { END_STREAM, FrameType, h2Frames } from '../../support/h2-frames.js';

const SIZE = 200 * 1024;
let dir: string;
let upstream: Server;
let edge: Edge;
let tls: ReloadingTls;
let edgeUrl: string;
let ca: Buffer;
const asked: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-h2-break-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(files.certFile);
  tls = await ReloadingTls.open(files);
  // half the body, then the connection dies
  upstream = createServer((req, res) => {
    asked.push(req.url ?? '');
    const known = req.url?.includes('/sized/') === true;
    res.writeHead(200, {
      'content-type': 'video/iso.segment',
      'cache-control': 'public, max-age=60',
      ...(known ? { 'content-length': String(SIZE) } : {}),
    });
    res.write(Buffer.alloc(SIZE / 2, 7), () => setTimeout(() => res.socket?.destroy(), 20));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const { port } = upstream.address() as { port: number };
  edge = createEdge({ upstream: `http://127.0.0.1:${port}`, tls, logLevel: 'silent' });
  edgeUrl = await edge.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await edge?.close();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  tls?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an upstream dying mid-body, over HTTP/2', () => {
  it('resets the half-sent stream with INTERNAL_ERROR, known length or not, and caches nothing', async () => {
    const paths = ['/vod/a/sized/seg-1.m4s', '/vod/a/chunked/seg-1.m4s'];
    const answers = await h2Frames(edgeUrl, ca, paths);
    expect(answers.map((a) => a.fields['content-length'])).toEqual([String(SIZE), undefined]);
    for (const a of answers) {
      expect(a.fields[':status'], a.path).toBe('200');
      expect(a.body.length, a.path).toBeGreaterThan(0);
      expect(a.body.length, a.path).toBeLessThan(SIZE);
      expect(
        a.frames.some((f) => f.type === FrameType.Data && f.flags & END_STREAM),
        a.path,
      ).toBe(false);
      expect(a.reset, a.path).toBe(constants.NGHTTP2_INTERNAL_ERROR);
    }
    await edge.whenIdle();
    const before = asked.length;
    const again = await h2Frames(edgeUrl, ca, paths);
    expect(asked.length - before).toBe(2); // both went upstream again: nothing was cached
    for (const a of again) expect(a.reset, a.path).toBe(constants.NGHTTP2_INTERNAL_ERROR);
  });
});
