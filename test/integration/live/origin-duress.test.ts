/**
 * CMSD duress between tiers (CTA-5006 `du`), with real ffmpeg encoders on loopback: two origins
 * each run the lavfi channel, an edge has them as primary and backup. While origin A's encoder
 * keeps up, A's answers carry no CMSD-Dynamic and the edge stays on A. Once A's encoder is
 * stopped (SIGSTOP) and A falls more than a segment and two parts behind real time, A's answers
 * say `du`; the edge uses that answer, then takes new requests to B (the failover counted with
 * reason "duress"), and its clients never see A's CMSD-Dynamic.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
let stopped: number | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-origin-duress-'));
  for (const name of ['a', 'b']) {
    const root = join(dir, name);
    mkdirSync(root);
    origins.push(
      await startLiveOrigin(root, [
        {
          id: 'ch',
          source: TEST_SOURCE,
          segmentDuration: 2,
          partDuration: 0.5,
          dvrWindow: 30,
          ladder: writeTinyLadder(root),
        },
      ]),
    );
  }
  await until(
    async () =>
      (await completeSegments(origins[0], 'ch', '180p')) >= 1 &&
      (await completeSegments(origins[1], 'ch', '180p')) >= 1,
    60_000,
    'a complete segment on both origins',
  );
  edge = createEdge({
    upstream: `${origins[0].base},${origins[1].base}`,
    name: 'edge-a',
    logLevel: 'silent',
    // no trial back to A during the test
    upstreamRetryMs: 60_000,
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
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

/** The edge's upstreams as its public health report shows them. */
async function upstreams(): Promise<unknown> {
  return (JSON.parse((await get(`${edgeUrl}/_edge/health`)).body.toString()) as { upstreams: unknown }).upstreams;
}

async function failovers(reason: string): Promise<number> {
  const v = await edge.metrics.upstreamFailovers.get();
  return v.values.filter((x) => x.labels.reason === reason).reduce((a, x) => a + x.value, 0);
}

describe('an origin under duress, an edge with a backup', () => {
  it('A says du once its encoder falls behind; the edge moves to B', async () => {
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
    const health = JSON.parse((await a.get('/health')).text) as { channels: { lagMs?: number; duress?: boolean }[] };
    expect(health.channels[0].duress).toBe(true);
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
    expect(await upstreams()).toEqual([
      { role: 'primary', healthy: false, current: false },
      { role: 'backup', healthy: true, current: true },
    ]);
    expect((await viaEdge()).status).toBe(200);
    expect(await failovers('duress')).toBe(1);
  }, 60_000);
});
