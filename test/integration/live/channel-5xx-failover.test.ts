/**
 * A 503 for one live channel moves that channel alone to the backup origin, not the whole origin.
 * Two real origins on loopback behind one edge: on origin A the channel's source is missing (its
 * manifests answer 503, the channel `failed`), and A alone has a VOD file; on origin B the channel
 * runs (real ffmpeg). The viewer gets B's playlist; the edge's health names the channel held back
 * on A, A stays current and healthy, and A still answers the VOD path. Until session 47 the 503
 * marked A down: its VOD went to B (404 there) until A's back-off passed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdge, type Edge } from '../../../edge/server.js';
import {
  completeSegments,
  startLiveOrigin,
  TEST_SOURCE,
  until,
  writeTinyLadder,
  type LiveOrigin,
} from './live-helpers.js';
import { get } from '../edge/helpers.js';

let dir: string;
const origins: LiveOrigin[] = [];
let edge: Edge;
let edgeUrl: string;
const ONLY_A = '#EXTM3U\n#EXT-X-VERSION:7\n';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-channel-5xx-'));
  for (const name of ['a', 'b']) {
    const root = join(dir, name);
    mkdirSync(root);
    if (name === 'a') {
      mkdirSync(join(root, 'only-a'));
      writeFileSync(join(root, 'only-a', 'master.m3u8'), ONLY_A);
    }
    const source = name === 'a' ? join(dir, 'missing-source.mp4') : TEST_SOURCE;
    origins.push(
      await startLiveOrigin(root, [
        { id: 'ch', source, segmentDuration: 2, partDuration: 0.5, dvrWindow: 30, ladder: writeTinyLadder(root) },
      ]),
    );
  }
  await until(async () => (await completeSegments(origins[1], 'ch', '180p')) >= 1, 60_000, 'a segment on B');
  await until(
    async () => (JSON.parse((await origins[0].get('/health')).text) as { status: string }).status === 'degraded',
    30_000,
    "A's channel failed",
  );
  edge = createEdge({
    upstream: `${origins[0].base},${origins[1].base}`,
    name: 'edge-5xx',
    logLevel: 'silent',
    upstreamRetryMs: 60_000, // no trial back to A during the test
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
}, 120_000);

afterAll(async () => {
  await edge?.close();
  for (const o of origins) await o.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('an origin answering 503 for one live channel, an edge with a backup', () => {
  it('the channel moves to B; A stays current for everything else', async () => {
    expect((await origins[0].get('/live/ch/180p/index.m3u8')).status).toBe(503);
    const r = await get(`${edgeUrl}/live/ch/180p/index.m3u8`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toContain('#EXT-X-PART:');
    const health = JSON.parse((await get(`${edgeUrl}/_edge/health`)).body.toString()) as { upstreams: unknown };
    expect(health.upstreams).toEqual([
      { role: 'primary', healthy: true, current: true, channelsDown: ['/live/ch/'] },
      { role: 'backup', healthy: true, current: false },
    ]);
    // the channel's next request goes straight to B; a VOD file only A has still comes from A
    expect((await get(`${edgeUrl}/live/ch/master.m3u8`)).status).toBe(200);
    const vod = await get(`${edgeUrl}/vod/only-a/master.m3u8`);
    expect([vod.status, vod.body.toString()]).toEqual([200, ONLY_A]);
    const failovers = (await edge.metrics.upstreamFailovers.get()).values;
    expect(failovers.filter((x) => x.labels.reason === '5xx').reduce((a, x) => a + x.value, 0)).toBe(1);
  }, 60_000);
});
