/**
 * `--http2` and `--ca`: LL-HLS viewers over HTTP/2 against the instant live stub served over TLS
 * (self-signed certificate, ALPN h2 + http/1.1, real sockets on loopback). With the certificate
 * trusted they play over h2 (the stub counts h2 requests), one connection per viewer; without it
 * every viewer fails on the TLS handshake, and the report says so; a target without h2 in ALPN
 * fails every viewer with a named error rather than falling back to HTTP/1.1.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { startStubServer, type StubServer } from '../../../bench/loadtest/stub-live-server.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';

let dir: string;
let stub: StubServer;
let ca: string;
let key: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-loadtest-h2-'));
  const files = await createSelfSignedCertificate(join(dir, 'tls'));
  ca = readFileSync(files.certFile, 'utf8');
  key = readFileSync(files.keyFile, 'utf8');
  stub = await startStubServer(0, { cert: ca, key });
});

afterAll(async () => {
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('loadtest over HTTP/2', () => {
  it('plays LL-HLS over one h2 connection per viewer when the CA is trusted', async () => {
    const seen = () => ['playlist', 'part', 'segment', 'init', 'other'].reduce((a, k) => a + stub.counts[k], 0);
    const h2Before = stub.counts.h2;
    const seenBefore = seen();
    const connBefore = stub.counts.connections;
    const r = await runLoadTest({ url: stub.url, viewers: 5, rampSec: 1, durationSec: 4, workers: 0, http2: true, ca });
    expect(r.viewers.started).toBe(5);
    expect(r.viewers.failed).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.startupMs.count).toBe(5);
    expect(r.byObject.part?.count).toBeGreaterThan(5 * 4);
    expect(r.config.http2).toBe(true);
    // every request the stub saw was an h2 stream (some were still held when the run ended, so
    // the stub saw more than the tester completed), and each viewer multiplexed them on one connection
    expect(stub.counts.h2 - h2Before).toBe(seen() - seenBefore);
    expect(stub.counts.h2 - h2Before).toBeGreaterThanOrEqual(r.requests.total);
    expect(stub.counts.connections - connBefore).toBe(5);
  });

  it('a target that does not offer h2 fails every viewer with a named error (no silent fallback)', async () => {
    const h1only = createHttpsServer({ cert: ca, key }, (_req, res) => res.end('#EXTM3U\n'));
    await new Promise<void>((resolve) => h1only.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = h1only.address() as AddressInfo;
      const r = await runLoadTest({
        url: `https://127.0.0.1:${port}/live/master.m3u8`,
        viewers: 2,
        rampSec: 0,
        durationSec: 1,
        workers: 0,
        http2: true,
        ca,
      });
      expect(r.viewers.failed).toBe(2);
      expect(r.requests.total).toBe(0);
      expect(Object.keys(r.errors).join(',')).toMatch(/NO_APPLICATION_PROTOCOL|ALPN_NO_H2/);
    } finally {
      await new Promise<void>((resolve) => h1only.close(() => resolve()));
    }
  });

  it('refuses --http2 with a plain http target before the run', async () => {
    await expect(
      runLoadTest({ url: 'http://127.0.0.1:9/live/master.m3u8', viewers: 1, rampSec: 0, durationSec: 1, http2: true }),
    ).rejects.toThrow(/--http2 needs an https:\/\/ target/);
  });

  it('without the CA every viewer fails the TLS handshake, and the report counts it', async () => {
    const r = await runLoadTest({ url: stub.url, viewers: 2, rampSec: 0, durationSec: 2, workers: 0, http2: true });
    expect(r.viewers.failed).toBe(2);
    expect(r.startupMs.count).toBe(0);
    expect(Object.keys(r.errors).join(',')).toMatch(/CERT|SELF_SIGNED|certificate/i);
  });
});
