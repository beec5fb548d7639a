/**
 * The load tester on live LL-HLS through the real chain: our origin (packager/origin.ts) running
 * a live lavfi channel (real ffmpeg, 1 s segments of 0.5 s parts) and our edge (edge/server.ts)
 * in front. Twenty viewers play through the edge for a few seconds: they start, follow the live
 * edge on parts with blocking reloads, latency is measured, and the origin sees far fewer
 * playlist requests than the viewers sent (the edge collapses them).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { writeTinyLadder } from '../live/live-helpers.js';

const VIEWERS = 20;
let dir: string;
let origin: Origin;
let edge: Edge;
let originUrl: string;
let edgeUrl: string;

/** Origin requests answered so far for one route label (live-manifest, live-part, ...). */
async function originRequests(route: string): Promise<number> {
  const m = await origin.metrics.requests.get();
  return m.values.filter((v) => v.labels.route === route).reduce((a, v) => a + v.value, 0);
}

/** Complete segments in the origin's (not the edge's) media playlist. */
async function completeSegments(): Promise<number> {
  const res = await request(`${originUrl}/live/news/180p/index.m3u8`);
  const text = await res.body.text();
  return res.statusCode === 200 ? (text.match(/^#EXTINF:/gm) ?? []).length : 0;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loadtest-live-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  // one 180p rung + audio from a 320x180 test signal: cheap enough for a shared 2-core box
  const ladder = writeTinyLadder(dir);
  origin = await createOrigin({
    root,
    live: [
      {
        id: 'news',
        source: 'lavfi:testsrc2=size=320x180:rate=30',
        segmentDuration: 1,
        partDuration: 0.5,
        dvrWindow: 12,
        ladder,
      },
    ],
    logger: false,
    processMetrics: false,
  });
  originUrl = await origin.listen(0, '127.0.0.1');
  // the encoder needs a moment: poll the origin (bounded) until two segments are complete
  const deadline = Date.now() + 40_000;
  while ((await completeSegments()) < 2) {
    if (Date.now() > deadline)
      throw new Error(
        `live channel never produced two segments: ${JSON.stringify(origin.channels.get('news')?.status())}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  // The origin sends `Vary: Accept-Encoding` on playlists (it compresses them); the edge shares a
  // response only when every header its Vary names is part of the cache key, so accept-encoding
  // goes into the key. Without it the edge stores no live playlist and only collapses the
  // requests that arrive while a fill is in flight.
  edge = createEdge({
    upstream: originUrl,
    keyHeaders: ['accept-encoding'],
    logLevel: 'silent',
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await edge?.close();
  await origin?.close(); // stops ffmpeg
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('loadtest on live LL-HLS through our origin and edge', () => {
  it(`${VIEWERS} viewers play live on parts with few or no stalls; latency measured; the edge collapses playlist requests`, async () => {
    const manifestsBefore = await originRequests('live-manifest');
    const partsBefore = await originRequests('live-part');
    const r = await runLoadTest({
      url: `${edgeUrl}/live/news/master.m3u8`,
      viewers: VIEWERS,
      rampSec: 1,
      durationSec: 8,
    });
    const originManifests = (await originRequests('live-manifest')) - manifestsBefore;
    const originParts = (await originRequests('live-part')) - partsBefore;

    expect(r.viewers).toMatchObject({ started: VIEWERS, ended: VIEWERS, failed: 0 });
    expect(r.startupMs.count).toBe(VIEWERS);
    expect(r.errors).toEqual({});
    // few or no stalls: at most one per viewer over the run (a healthy box gives zero)
    expect(r.stalls).toBeLessThanOrEqual(VIEWERS);
    expect(r.rebufferRatio).toBeLessThan(0.1);
    // low latency: viewers followed parts (not whole segments) and their latency was measured
    expect(r.byObject.part.count).toBeGreaterThan(VIEWERS * 4);
    expect(r.liveLatencySec).not.toBeNull();
    expect(r.liveLatencySec!.count).toBeGreaterThan(VIEWERS * 4);
    expect(r.liveLatencySec!.p50).toBeGreaterThan(0);
    // behind the live edge by seconds, not stuck at the start of the 12 s window
    expect(r.liveLatencySec!.p95).toBeLessThan(10);
    // collapse: the origin saw a small fraction of the viewers' playlist and part requests
    const viewerPlaylists = r.byObject.playlist.count;
    expect(viewerPlaylists).toBeGreaterThan(VIEWERS * 4);
    expect(originManifests).toBeGreaterThan(0);
    expect(originManifests * 4).toBeLessThan(viewerPlaylists);
    expect(originParts * 4).toBeLessThan(r.byObject.part.count);
    // and the report's edge section (scraped from /_edge/metrics) agrees
    expect(r.edge).not.toBeNull();
    expect(r.edge!.requests).toBeGreaterThanOrEqual(r.requests.total);
    expect(r.edge!.upstreamRequests * 4).toBeLessThan(r.edge!.requests);
    console.log(
      `live chain: viewers ${VIEWERS}, playlist requests ${viewerPlaylists} → origin ${originManifests}; parts ${r.byObject.part.count} → origin ${originParts}; stalls ${r.stalls}; latency p50 ${r.liveLatencySec!.p50} s p95 ${r.liveLatencySec!.p95} s`,
    );
  });
});
