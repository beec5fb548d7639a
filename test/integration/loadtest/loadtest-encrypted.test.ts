/**
 * The load tester against an encrypted asset (`package --encrypt cbcs`, real ffmpeg) behind our
 * origin and edge: each HLS viewer fetches the content key once, and each DASH viewer POSTs one
 * Clear Key license request, as a player's CDM needs its key before the first segment plays, so
 * a run shows the key service's load and latency (`key` in the report's objects); where the key
 * is refused, the viewers fail and the report says so.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { packageVod } from '../../../packager/vod-job.js';
import type { ContentKey } from '../../../src/cenc/content-keys.js';
import { ReloadingTls } from '../../../src/tls/reloading-tls.js';
import { createSelfSignedCertificate } from '../../../src/tls/self-signed.js';

const KEY: ContentKey = {
  kid: '6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d6d',
  key: Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex'),
};
let dir = '';
let origin: Origin;
let bare: Origin;
let edge: Edge;
let edgeUrl = '';
let bareUrl = '';
let originUrl = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loadtest-encrypted-'));
  const root = join(dir, 'root');
  await packageVod({
    input: await fixture('small'),
    outDir: root,
    assetId: 'a',
    ladder: 'small',
    segmentDuration: 2,
    protection: { scheme: 'cbcs', key: KEY },
  });
  origin = await createOrigin({ root, logger: false, processMetrics: false, contentKeys: [KEY] });
  originUrl = await origin.listen(0, '127.0.0.1');
  edge = createEdge({
    upstream: originUrl,
    logLevel: 'silent',
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  bare = await createOrigin({ root, logger: false, processMetrics: false });
  bareUrl = await bare.listen(0, '127.0.0.1');
}, 120_000);

/** The origin's count of Clear Key licenses answered with `status` (its /metrics). */
async function licenses(status: number): Promise<number> {
  const text = await (await fetch(`${originUrl}/metrics`)).text();
  const m = new RegExp(`streamedge_origin_requests_total\\{route="vod-license",status="${status}"\\} (\\d+)`).exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

afterAll(async () => {
  await edge?.close();
  await origin?.close();
  await bare?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('loadtest of an encrypted asset', () => {
  it('every HLS viewer fetches the key once, through the edge, and plays', async () => {
    const r = await runLoadTest({ url: `${edgeUrl}/vod/a/master.m3u8`, viewers: 5, rampSec: 0.5, durationSec: 3 });
    expect(r.viewers).toMatchObject({ started: 5, failed: 0 });
    expect(r.errors).toEqual({});
    expect(r.byObject.key.count).toBe(5);
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(5);
  });

  it("every DASH viewer POSTs one Clear Key license request for the MPD's default KID, and plays", async () => {
    const before = await licenses(200);
    const r = await runLoadTest({ url: `${edgeUrl}/vod/a/manifest.mpd`, viewers: 4, rampSec: 0.5, durationSec: 3 });
    expect(r.viewers).toMatchObject({ started: 4, failed: 0 });
    expect(r.errors).toEqual({});
    expect(r.byObject.key.count).toBe(4);
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(4);
    // the origin answered four licenses (the edge passes POSTs through)
    expect((await licenses(200)) - before).toBe(4);
  });

  it('over HTTP/2 (--http2, TLS): the license POST is a HEADERS and a DATA frame, and the origin answers it', async () => {
    const files = await createSelfSignedCertificate(join(dir, 'tls'));
    const tls = await ReloadingTls.open(files);
    const secure = await createOrigin({
      root: join(dir, 'root'),
      logger: false,
      processMetrics: false,
      contentKeys: [KEY],
      tls,
    });
    try {
      const url = await secure.listen(0, '127.0.0.1');
      const r = await runLoadTest({
        url: `${url}/vod/a/manifest.mpd`,
        viewers: 3,
        rampSec: 0,
        durationSec: 2,
        workers: 0,
        http2: true,
        ca: readFileSync(files.certFile, 'utf8'),
      });
      expect(r.errors).toEqual({});
      expect(r.viewers).toMatchObject({ started: 3, failed: 0 });
      expect(r.errors).toEqual({});
      expect(r.byObject.key.count).toBe(3);
      const metrics = await secure.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/streamedge_origin_requests_total\{route="vod-license",status="200"\} 3\b/);
      expect(metrics.body).toMatch(/streamedge_origin_requests_by_protocol_total\{protocol="h2"\}/);
    } finally {
      await secure.close();
      tls.close();
    }
  });

  it('a key the origin refuses: the viewers fail, and the errors say 404', async () => {
    const r = await runLoadTest({ url: `${bareUrl}/vod/a/master.m3u8`, viewers: 3, rampSec: 0, durationSec: 2 });
    expect(r.viewers.failed).toBe(3);
    expect(Object.keys(r.errors).join(' ')).toMatch(/404/);
    expect(r.byObject.segment).toBeUndefined();
    const dash = await runLoadTest({ url: `${bareUrl}/vod/a/manifest.mpd`, viewers: 2, rampSec: 0, durationSec: 2 });
    expect(dash.viewers.failed).toBe(2);
    expect(Object.keys(dash.errors).join(' ')).toMatch(/404/);
  });
});
