/**
 * The load tester follows HLS content steering, through the real chain: our origin steering two
 * real edges on 127.0.0.2 and 127.0.0.3 (one port, as a Pathway Clone needs), a VOD asset laid
 * out as the packager does (filler media). Viewers load the playlist from edge a; the Steering
 * Manifest puts b first, so their media comes from edge b; the report says where they ended
 * (`pathways`) and times the manifests (`steering`). With weights, new viewers are split
 * between the CDNs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { formatReport } from '../../../bench/loadtest/report.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import type { SteeringPathway } from '../../../packager/origin/content-steering.js';
import { writeFakeVodAsset } from './fake-stream-server.js';
import { portFreeOn } from '../../support/one-port.js';
import { until } from '../live/live-helpers.js';

const HOST_A = '127.0.0.2';
const HOST_B = '127.0.0.3';

let dir: string;
let root: string;
let port = 0;
const edges = new Map<string, Edge>();
const origins: Origin[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'loadtest-steering-'));
  root = join(dir, 'root');
  writeFakeVodAsset(root, 8, { mpd: false });
  // the edges' shared port (free now; the edges take it once the origin names it)
  port = await portFreeOn([HOST_A, HOST_B]);
});

afterAll(async () => {
  for (const e of edges.values()) await e.close();
  for (const o of origins) await o.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An origin steering b then a (with these weights), and both edges in front of it. */
async function chain(weights?: { a: number; b: number }): Promise<void> {
  for (const e of edges.values()) await e.close();
  edges.clear();
  const pathways: SteeringPathway[] = [
    { id: 'b', url: `http://${HOST_B}:${port}`, ...(weights ? { weight: weights.b } : {}) },
    { id: 'a', url: `http://${HOST_A}:${port}`, ...(weights ? { weight: weights.a } : {}) },
  ];
  const origin = await createOrigin({
    root,
    logger: false,
    processMetrics: false,
    steering: { pathways, ttlSec: 2, probeMs: 100, probeTimeoutMs: 500 },
  });
  origins.push(origin);
  const upstream = await origin.listen(0, '127.0.0.1');
  for (const [id, host] of [
    ['a', HOST_A],
    ['b', HOST_B],
  ] as const) {
    const edge = createEdge({
      upstream,
      name: `edge-${id}`,
      logLevel: 'silent',
      store: { dir: join(dir, `store-${id}-${origins.length}`), capacityBytes: 64 * 1024 * 1024 },
    });
    await edge.listen(port, host);
    edges.set(id, edge);
  }
  // both edges found well before the viewers come
  await until(
    async () =>
      ((await (await fetch(`${upstream}/health`)).json()) as { steering: { state: string }[] }).steering.every(
        (c) => c.state === 'ok',
      ),
    10_000,
    'the steering probes finding both edges well',
  );
}

/** Requests an edge answered, as its metrics count them (its admin space, which the report scrapes, aside). */
async function served(id: string): Promise<number> {
  const v = await edges.get(id)!.metrics.requests.get();
  return v.values.filter((x) => x.labels.result !== 'admin').reduce((a, x) => a + x.value, 0);
}

describe('loadtest with HLS content steering', () => {
  it('viewers load the playlist from edge a and are steered to edge b for their media', async () => {
    await chain();
    const r = await runLoadTest({
      url: `http://${HOST_A}:${port}/vod/asset/master.m3u8`,
      viewers: 6,
      rampSec: 0.5,
      durationSec: 3,
    });
    expect(r.viewers).toMatchObject({ started: 6, ended: 6, failed: 0 });
    expect(r.errors).toEqual({});
    expect(r.stalls).toBe(0);
    expect(r.pathways).toEqual({ b: 6 });
    expect(r.byObject.steering.count).toBeGreaterThanOrEqual(6);
    expect(formatReport(r)).toContain('steering      b 6 viewers on each Pathway at the end (content steering)');
    // edge a: what each viewer asks before its first manifest (the multivariant playlist, the
    // lowest rendition's playlist) and that manifest (a relative SERVER-URI); edge b: the rest,
    // media included
    const a = await served('a');
    const b = await served('b');
    expect(a).toBe(6 * 3);
    expect(b).toBeGreaterThanOrEqual(r.byObject.segment.count);
  });

  it('with weights, new viewers are split between the CDNs', async () => {
    await chain({ a: 1, b: 1 });
    const r = await runLoadTest({
      url: `http://${HOST_A}:${port}/vod/asset/master.m3u8`,
      viewers: 40,
      rampSec: 1,
      durationSec: 2,
    });
    expect(r.viewers).toMatchObject({ started: 40, ended: 40, failed: 0 });
    expect(r.errors).toEqual({});
    // 40 even draws: both CDNs get viewers (the chance one gets none is 2 in 2^40)
    expect((r.pathways?.a ?? 0) + (r.pathways?.b ?? 0)).toBe(40);
    expect(r.pathways?.a ?? 0).toBeGreaterThan(0);
    expect(r.pathways?.b ?? 0).toBeGreaterThan(0);
  });
});
