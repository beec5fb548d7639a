/**
 * A 503 for one live channel moves that channel alone to the backup origin, not the whole origin.
 * Two real origins on loopback behind one edge: on origin A the channel's source is missing (its
 * manifests answer 503, the channel `failed`), and A alone has a VOD file; on origin B the channel
 * runs (real ffmpeg). The viewer gets B's playlist; the edge's health names the channel held back
 * on A, A stays current and healthy, and A still answers the VOD path. Until session 47 the 503
 * marked A down: its VOD went to B (404 there) until A's back-off passed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Edge } from '../../../edge/server.js';
import { completeSegments, TEST_SOURCE, until, type LiveOrigin } from './live-helpers.js';
import { edgeOverPair, failovers, ONLY_A, publicUpstreams, startOriginPair } from './origin-pair.js';
import { get } from '../edge/helpers.js';

let dir: string;
let origins: LiveOrigin[] = [];
let edge: Edge;
let edgeUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-channel-5xx-'));
  origins = await startOriginPair(dir, { a: join(dir, 'missing-source.mp4'), b: TEST_SOURCE });
  await until(async () => (await completeSegments(origins[1], 'ch', '180p')) >= 1, 60_000, 'a segment on B');
  await until(
    async () => (JSON.parse((await origins[0].get('/health')).text) as { status: string }).status === 'degraded',
    30_000,
    "A's channel failed",
  );
  ({ edge, url: edgeUrl } = await edgeOverPair(origins, dir, 'edge-5xx'));
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
    expect(await publicUpstreams(edgeUrl)).toEqual([
      { role: 'primary', healthy: true, current: true, channelsDown: ['/live/ch/'] },
      { role: 'backup', healthy: true, current: false },
    ]);
    // the channel's next request goes straight to B; a VOD file only A has still comes from A
    expect((await get(`${edgeUrl}/live/ch/master.m3u8`)).status).toBe(200);
    const vod = await get(`${edgeUrl}/vod/only-a/master.m3u8`);
    expect([vod.status, vod.body.toString()]).toEqual([200, ONLY_A]);
    expect(await failovers(edge, '5xx')).toBe(1);
  }, 60_000);
});
