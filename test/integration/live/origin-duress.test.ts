/**
 * CMSD duress between tiers (CTA-5006 `du`), with real ffmpeg encoders on loopback: two origins
 * each run the lavfi channel, an edge has them as primary and backup. While origin A's encoder
 * keeps up, A's answers carry no CMSD-Dynamic and the edge stays on A. Once A's encoder is
 * stopped (SIGSTOP) and A falls more than a segment and two parts behind real time, A's answers
 * on that channel say `du`; the edge uses that answer, then takes the channel's new requests to B
 * (the failover counted with reason "duress") while everything else stays on A, and its clients
 * never see A's CMSD-Dynamic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Edge } from '../../../edge/server.js';
import { completeSegments, TEST_SOURCE, until, type LiveOrigin } from './live-helpers.js';
import { edgeOverPair, failovers as failoversOf, ONLY_A, publicUpstreams, startOriginPair } from './origin-pair.js';
import { get } from '../edge/helpers.js';

let dir: string;
let origins: LiveOrigin[] = [];
let edge: Edge;
let edgeUrl: string;
let stopped: number | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-origin-duress-'));
  origins = await startOriginPair(dir, { a: TEST_SOURCE, b: TEST_SOURCE });
  await until(
    async () =>
      (await completeSegments(origins[0], 'ch', '180p')) >= 1 &&
      (await completeSegments(origins[1], 'ch', '180p')) >= 1,
    60_000,
    'a complete segment on both origins',
  );
  // no trial back to A during the test
  ({ edge, url: edgeUrl } = await edgeOverPair(origins, dir, 'edge-a'));
}, 120_000);

afterAll(async () => {
  if (stopped !== undefined) {
    try {
      process.kill(stopped, 'SIGCONT');
    } catch {
      /* already replaced by the channel's restart */
    }
  }
  await edge?.close();
  for (const o of origins) await o.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const upstreams = (): Promise<unknown> => publicUpstreams(edgeUrl);
const failovers = (reason: string): Promise<number> => failoversOf(edge, reason);

describe('an origin under duress, an edge with a backup', () => {
  it('A says du once its encoder falls behind; the edge moves that channel to B and nothing else', async () => {
    const a = origins[0];
    // a distinct query on each request: a new key, so each goes upstream
    let n = 0;
    const viaEdge = () => get(`${edgeUrl}/live/ch/180p/index.m3u8?probe=${n++}`);
    // keeping up (a loaded box may lag a moment at start): no CMSD-Dynamic
    await until(
      async () => (await a.get('/live/ch/180p/index.m3u8')).headers['cmsd-dynamic'] === undefined,
      20_000,
      'origin A keeping up with real time',
    );
    expect((await viaEdge()).status).toBe(200);
    expect(await upstreams()).toEqual([
      { role: 'primary', healthy: true, current: true },
      { role: 'backup', healthy: true, current: false },
    ]);
    // nothing but the channel's own answers would say du (VOD, health)
    expect((await a.get('/health')).headers['cmsd-dynamic']).toBeUndefined();

    const channel = a.origin.channels.get('ch')!;
    stopped = channel.status().pid!;
    process.kill(stopped, 'SIGSTOP');
    await until(
      async () => (await a.get('/live/ch/180p/index.m3u8')).headers['cmsd-dynamic'] === '"streamedge-origin";du',
      10_000,
      "origin A's answers under duress",
    );
    expect(channel.lagMs()!).toBeGreaterThan(3000);
    // the origin's health says why
    const health = JSON.parse((await a.get('/health')).text) as {
      channels: { lagMs?: number; duress?: boolean; duressLagMs: number }[];
    };
    expect(health.channels[0].duress).toBe(true);
    expect(health.channels[0].duressLagMs).toBe(3000); // a segment and two parts
    expect(health.channels[0].lagMs).toBeGreaterThan(3000);
    // the edge's next upstream request meets A's du: that answer is served, new ones go to B
    await until(
      async () => {
        const r = await viaEdge();
        expect(r.status).toBe(200);
        expect(r.headers['cmsd-dynamic']).toBeUndefined(); // A's hop-to-hop advice stays at the edge
        return (await failovers('duress')) >= 1;
      },
      10_000,
      'a failover for duress',
    );
    // the channel alone moved: the primary stays current for everything else
    expect(await upstreams()).toEqual([
      { role: 'primary', healthy: true, current: true, duress: ['/live/ch/'] },
      { role: 'backup', healthy: true, current: false },
    ]);
    // the channel's playlist now comes from B, whose encoder runs on past A's last segment
    const newest = (playlist: string) =>
      Math.max(...[...playlist.matchAll(/seg-(\d+)\.m4s/g)].map((m) => Number(m[1])));
    const stuckAt = newest((await a.get('/live/ch/180p/index.m3u8')).text);
    await until(
      async () => newest((await origins[1].get('/live/ch/180p/index.m3u8')).text) > stuckAt,
      20_000,
      "origin B past A's last segment",
    );
    const moved = await viaEdge();
    expect(moved.status).toBe(200);
    expect(newest(moved.body.toString())).toBeGreaterThan(stuckAt);
    // a path outside the channel still goes to A: a VOD file only A has
    const vod = await get(`${edgeUrl}/vod/only-a/master.m3u8`);
    expect([vod.status, vod.body.toString()]).toEqual([200, ONLY_A]);
    expect(await failovers('duress')).toBe(1);
  }, 60_000);
});
