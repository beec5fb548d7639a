/**
 * The load tester against an encrypted asset (`package --encrypt cbcs`, real ffmpeg) behind our
 * origin and edge: each HLS viewer fetches the content key once, as a player's CDM needs it
 * before the first segment plays, so a run shows the key service's load and latency (`key` in
 * the report's objects); where the key is refused, the viewers fail and the report says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { createEdge, type Edge } from '../../../edge/server.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { packageVod } from '../../../packager/vod-job.js';
import type { ContentKey } from '../../../src/cenc/content-keys.js';

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
  edge = createEdge({
    upstream: await origin.listen(0, '127.0.0.1'),
    logLevel: 'silent',
    store: { dir: join(dir, 'store'), capacityBytes: 64 * 1024 * 1024 },
  });
  edgeUrl = await edge.listen(0, '127.0.0.1');
  bare = await createOrigin({ root, logger: false, processMetrics: false });
  bareUrl = await bare.listen(0, '127.0.0.1');
}, 120_000);

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

  it('a key the origin refuses: the viewers fail, and the errors say 404', async () => {
    const r = await runLoadTest({ url: `${bareUrl}/vod/a/master.m3u8`, viewers: 3, rampSec: 0, durationSec: 2 });
    expect(r.viewers.failed).toBe(3);
    expect(Object.keys(r.errors).join(' ')).toMatch(/404/);
    expect(r.byObject.segment).toBeUndefined();
  });
});
