/**
 * Tier to tier: held blocking reloads never starve fills. The edge's upstream cap is 2 requests;
 * four distinct blocking reloads (two held by the upstream, two queued) must not take the slots
 * or connections a segment fill needs: they have their own pool and cap. And an https upstream is verified: without the
 * right CA the fill is refused (502), with --upstream-ca it succeeds, over h2.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2SecureServer } from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startEdge, startUpstream, type TestEdge, type Upstream } from '../edge/helpers.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { createEdge } from '../../../edge/server.js';
import { until } from '../../unit/origin/fake-encoder.js';

let dir: string;
let up: Upstream;
let e: TestEdge;
const parked: ServerResponse[] = [];

function answer(res: ServerResponse, body: string, maxAge = 60): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': `max-age=${maxAge}` });
  res.end(body);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-pools-'));
  up = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    if (req.url!.includes('_HLS_msn=')) {
      parked.push(res); // held until the test releases it
      return;
    }
    answer(res, `body of ${req.url}`);
  });
  e = await startEdge({ upstream: up.url, maxUpstreamConcurrent: 2, maxUpstreamQueued: 16 });
});

afterAll(async () => {
  for (const r of parked) if (!r.writableEnded) answer(r, 'released');
  await e?.close();
  await up?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('upstream pools', () => {
  it('serves a fill while more blocking reloads than the upstream cap are held upstream', async () => {
    const held = [1, 2, 3, 4].map((m) =>
      request(`${e.url}/live/c/v/index.m3u8?_HLS_msn=${m}&_HLS_part=0`).then(async (r) => {
        await r.body.text();
        return r.statusCode;
      }),
    );
    // the held pool's cap (2) is full upstream, two more wait in its queue
    await until(() => parked.length === 2, 10_000, 'reloads held upstream');
    const seg = await request(`${e.url}/live/c/v/seg-1.m4s`, { signal: AbortSignal.timeout(10_000) });
    expect(seg.statusCode).toBe(200);
    expect(await seg.body.text()).toBe('body of /live/c/v/seg-1.m4s');
    // released one by one, the queued reloads follow on the held pool
    let released = 0;
    while (released < 4) {
      await until(() => parked.length > released, 10_000, 'next reload upstream');
      answer(parked[released++], 'playlist');
    }
    expect(await Promise.all(held)).toEqual([200, 200, 200, 200]);
  });

  it('verifies an https upstream: refused without its CA, served over h2 with --upstream-ca', async () => {
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const protocols: string[] = [];
    const server: Http2SecureServer = createSecureServer(
      { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), allowHTTP1: true },
      (req, res) => {
        protocols.push(req.httpVersion);
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
        res.end('secure body');
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const upstream = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    const untrusting = createEdge({ upstream, logLevel: 'silent' });
    const trusting = createEdge({ upstream, upstreamCa: readFileSync(files.certFile), logLevel: 'silent' });
    try {
      const u1 = await untrusting.listen(0, '127.0.0.1');
      const refused = await request(`${u1}/a.txt`);
      expect(refused.statusCode).toBe(502);
      expect(await refused.body.text()).toMatch(/certificate|UNABLE_TO|SELF_SIGNED|DEPTH_ZERO/i);
      const u2 = await trusting.listen(0, '127.0.0.1');
      const ok = await request(`${u2}/a.txt`);
      expect(ok.statusCode).toBe(200);
      expect(await ok.body.text()).toBe('secure body');
      expect(protocols).toEqual(['2.0']);
    } finally {
      await untrusting.close();
      await trusting.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
