/**
 * The load tester against the real chain: our origin (packager/origin.ts) serving a VOD asset
 * published on disk the way the packager lays it out (manifests from our writers, filler media
 * bytes), and our edge (edge/server.ts) in front. Viewers play through the edge without stalls,
 * and the report's edge section, scraped from /_edge/metrics, shows the cache absorbing them.
 * Behind a second edge started with a CMSD cap (CMSD-Dynamic mb), the viewers' ABR keeps to it,
 * through the load tester's own lean HTTP/1.1 client, and the report says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { formatReport } from '../../../bench/loadtest/report.js';
import { renderHtmlReport } from '../../../bench/loadtest/html-report.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { writeFakeVodAsset } from './fake-stream-server.js';

let dir: string;
let origin: Origin;
let edge: Edge;
let edgeUrl: string;
let capped: Edge;
let cappedUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loadtest-chain-'));
  const root = join(dir, 'root');
  writeFakeVodAsset(root, 8);
  origin = await createOrigin({ root, logger: false, processMetrics: false });
  const originUrl = await origin.listen(0, '127.0.0.1');
  edge = createEdge({
    upstream: originUrl,
    logLevel: 'silent',
    store: { dir: join(dir, 'store'), capacityBytes: 256 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  capped = createEdge({
    upstream: originUrl,
    logLevel: 'silent',
    name: 'capped',
    cmsdMaxBitrateKbps: 1500,
    store: { dir: join(dir, 'store-capped'), capacityBytes: 256 * 1024 * 1024 },
  });
  cappedUrl = await capped.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await capped?.close();
  await edge?.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('loadtest through our origin and edge', () => {
  it('plays VOD through the edge without stalls; the edge section shows hits and few upstream requests', async () => {
    const r = await runLoadTest({ url: `${edgeUrl}/vod/asset/master.m3u8`, viewers: 4, rampSec: 0.5, durationSec: 3 });
    expect(r.viewers).toMatchObject({ started: 4, ended: 4, failed: 0 });
    expect(r.errors).toEqual({});
    expect(r.stalls).toBe(0);
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(4 * 3);
    expect(r.edge).not.toBeNull();
    expect(r.edge!.requests).toBeGreaterThanOrEqual(r.requests.total);
    expect(r.edge!.hits).toBeGreaterThan(0);
    expect(r.edge!.hitRatio).toBeGreaterThan(0);
    // four viewers of one asset: the origin sees each object about once, not once per viewer
    expect(r.edge!.upstreamRequests).toBeLessThan(r.requests.total);
    expect(r.edge!.cmcd).toEqual({ requests: 0, starvations: 0 }); // the edge counts CMCD; none was sent
  });

  it('with --cmcd, the edge section says how many requests carried CMCD and how many signalled starvation', async () => {
    const r = await runLoadTest({
      url: `${edgeUrl}/vod/asset/master.m3u8`,
      viewers: 3,
      rampSec: 0,
      durationSec: 2,
      cmcd: 'query',
    });
    expect(r.viewers.failed).toBe(0);
    expect(r.stalls).toBe(0);
    // every request of every viewer named its session, so the edge counted each one (and any a
    // viewer still had in flight when the run stopped: at most a few per viewer)
    const cmcd = r.edge!.cmcd!;
    expect(cmcd.requests).toBeGreaterThanOrEqual(r.requests.total);
    expect(cmcd.requests).toBeLessThanOrEqual(r.requests.total + 3 * 3);
    expect(cmcd.starvations).toBe(0);
    expect(formatReport(r)).toContain(
      `edge CMCD     ${cmcd.requests} requests with CMCD, 0 buffer-starvation signals (the viewers counted 0 stalls)`,
    );
    expect(renderHtmlReport(r)).toContain(
      `<tr><th>edge CMCD</th><td>${cmcd.requests} requests with CMCD, 0 buffer-starvation signals`,
    );
  });

  it("keeps to an edge's CMSD cap: 360p only behind the capped edge, 720p behind the other", async () => {
    const run = (url: string) =>
      runLoadTest({ url: `${url}/vod/asset/master.m3u8`, viewers: 3, rampSec: 0, durationSec: 4 });
    const [under, open] = [await run(cappedUrl), await run(edgeUrl)];
    expect(under.viewers.failed).toBe(0);
    expect(under.stalls).toBe(0);
    // the 360p variant is 0.928 Mbit/s, the 720p one 2.528: only 360p fits in 1,500 kbit/s
    expect(under.averageBitrateBps).toBe(928_000);
    expect(under.cmsdCappedDownloads).toBeGreaterThanOrEqual(3);
    expect(formatReport(under)).toContain(`capped by the edge (CMSD mb) on ${under.cmsdCappedDownloads} downloads`);
    expect(renderHtmlReport(under)).toContain(`capped by the edge (CMSD mb) on ${under.cmsdCappedDownloads} downloads`);
    expect(open.averageBitrateBps).toBeGreaterThan(928_000);
    expect(open.cmsdCappedDownloads).toBe(0);
  });
});
