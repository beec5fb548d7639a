/**
 * The load tester against a small in-test HLS/DASH server (real sockets on loopback): healthy
 * streams give zero stalls, a server trickling bytes below the media rate gives stalls the
 * report counts, LL-HLS viewers use blocking reload, delta updates and preload hints, and the
 * CLI (with worker threads) writes a JSON report with every field.
 *
 * The CLI case is a child process (its own start-up plus two worker threads): it is launched in
 * beforeAll, against a server of its own, so it runs while the in-process cases play, and its
 * test then waits for it and checks what it wrote.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import type { LoadReport } from '../../../bench/loadtest/report.js';
import { FakeLiveChannel, startFakeServer, type FakeServer } from './fake-stream-server.js';

describe('loadtest against an in-test stream server', () => {
  let vod: FakeServer;
  let cliVod: FakeServer;
  let cli: { child: ChildProcess; out: string; stdout: string; stderr: string; exit: Promise<number | null> };
  let slow: FakeServer;
  let hung: FakeServer;
  let live: FakeServer;
  let legacyLive: FakeServer;
  let channel: FakeLiveChannel;
  let encoder: NodeJS.Timeout;
  let dir: string;

  beforeAll(async () => {
    vod = await startFakeServer();
    // after a fast start, far below the 800 kbit/s lowest rendition
    slow = await startFakeServer({ trickleBps: 300_000, trickleFromSegment: 2 });
    // the upper rendition's segments stop halfway from the second on
    hung = await startFakeServer({ hangRendition: '720p' });
    channel = new FakeLiveChannel(24);
    // the fake encoder: one part per part duration, on the wall clock (live latency is measured against it)
    encoder = setInterval(() => channel.advance(), channel.partMs);
    live = await startFakeServer({ live: channel });
    legacyLive = await startFakeServer({ live: channel }); // same channel, own counters (late LL requests do not leak in)
    dir = await mkdtemp(join(tmpdir(), 'loadtest-'));
    cliVod = await startFakeServer(); // the CLI's own server: its test checks the server's counters
    const out = join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [
        'bin/streamedge.js',
        'loadtest',
        `${cliVod.url}/vod/asset/master.m3u8`,
        '--viewers',
        '4',
        '--ramp',
        '500ms',
        '--duration',
        '2s',
        '--workers',
        '2',
        '--json',
        out,
      ],
      { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cli = { child, out, stdout: '', stderr: '', exit: new Promise((resolve) => child.on('close', resolve)) };
    child.stdout.on('data', (d) => (cli.stdout += d));
    child.stderr.on('data', (d) => (cli.stderr += d));
  });

  afterAll(async () => {
    clearInterval(encoder);
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGKILL');
      await cli.exit;
    }
    await Promise.all([
      vod?.close(),
      cliVod?.close(),
      slow?.close(),
      hung?.close(),
      live?.close(),
      legacyLive?.close(),
    ]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // first: it does not depend on a quiet machine (it expects stalls) while the CLI child starts up
  it('a server that slows to below the media rate after the first segment produces stalls, and the report counts them', async () => {
    // segment 1 (2 s of media) arrives fast, segment 2 takes ~5 s at 300 kbit/s: the buffer runs dry after ~2 s
    const r = await runLoadTest({ url: `${slow.url}/vod/asset/master.m3u8`, viewers: 2, rampSec: 0, durationSec: 4 });
    expect(r.viewers.failed).toBe(0);
    expect(r.stalls).toBeGreaterThan(0);
    expect(r.stallSec).toBeGreaterThan(0);
    expect(r.rebufferRatio).toBeGreaterThan(0.05);
    expect(r.stallsPerViewerHour).toBeGreaterThan(0);
    // and the viewers stayed on the lowest variant (800 kbit/s video + 128 kbit/s audio)
    expect(r.averageBitrateBps).toBe(928_000);
  });

  it('a rendition whose segments stop halfway is given up for the other, and playback goes on', async () => {
    const r = await runLoadTest({ url: `${hung.url}/vod/asset/master.m3u8`, viewers: 2, rampSec: 0, durationSec: 6 });
    // the viewers climbed to 720p and met the hang; each hung download was given up (the body
    // timeout is 30 s: without progress reports while nothing arrives, they would still be waiting)
    expect(hung.counts.hung).toBeGreaterThan(0);
    expect(r.viewers.failed).toBe(0);
    expect(r.abandons).toBeGreaterThan(0);
    expect(r.rebufferRatio).toBeLessThan(0.1);
    expect(r.errors).toEqual({});
  });

  it('healthy VOD over HLS: every viewer starts, plays, no stalls, no errors', async () => {
    const r = await runLoadTest({ url: `${vod.url}/vod/asset/master.m3u8`, viewers: 4, rampSec: 0.5, durationSec: 3 });
    expect(r.viewers).toMatchObject({ started: 4, ended: 4, failed: 0 });
    expect(r.startupMs.count).toBe(4);
    expect(r.stalls).toBe(0);
    expect(r.rebufferRatio).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.playSec).toBeGreaterThan(4 * 1); // each viewer played for about a second or more
    // real bytes: every viewer fetched segments of a real rendition
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(4 * 3);
    expect(r.averageBitrateBps).toBeGreaterThanOrEqual(800_000);
    expect(r.averageBitrateBps).toBeLessThanOrEqual(2_400_000);
    expect(r.liveLatencySec).toBeNull();
  });

  it('healthy VOD over DASH: plays without stalls', async () => {
    const r = await runLoadTest({
      url: `${vod.url}/vod/asset/manifest.mpd`,
      viewers: 2,
      rampSec: 0.2,
      durationSec: 2.5,
    });
    expect(r.viewers.failed).toBe(0);
    expect(r.stalls).toBe(0);
    expect(r.byObject.manifest.count).toBeGreaterThanOrEqual(2);
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(4);
    expect(r.errors).toEqual({});
  });

  it('live LL-HLS: blocking reload, delta updates and preload hints, latency measured, no stalls', async () => {
    const before = { ...live.counts };
    const r = await runLoadTest({ url: `${live.url}/live/chan/master.m3u8`, viewers: 3, rampSec: 0.3, durationSec: 4 });
    const delta = (k: string) => (live.counts[k] ?? 0) - (before[k] ?? 0);
    expect(r.viewers.failed).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.stalls).toBe(0);
    expect(delta('blocking')).toBeGreaterThan(3);
    expect(delta('delta')).toBeGreaterThan(0);
    expect(delta('hinted')).toBeGreaterThan(0);
    expect(r.byObject.part.count).toBeGreaterThan(3 * 4);
    expect(r.liveLatencySec).not.toBeNull();
    expect(r.liveLatencySec!.p50).toBeGreaterThan(0.3);
    expect(r.liveLatencySec!.p95).toBeLessThan(8);
  });

  it('live HLS played by viewers without LL-HLS support: whole segments and plain reloads only', async () => {
    const r = await runLoadTest({
      url: `${legacyLive.url}/live/chan/master.m3u8`,
      viewers: 2,
      rampSec: 0.2,
      durationSec: 4,
      lowLatency: false,
    });
    const delta = (k: string) => legacyLive.counts[k] ?? 0;
    expect(r.config.lowLatency).toBe(false);
    expect(r.viewers.failed).toBe(0);
    expect(r.errors).toEqual({});
    expect(r.stalls).toBe(0);
    expect(r.byObject.part).toBeUndefined();
    expect(r.byObject.segment.count).toBeGreaterThanOrEqual(2 * 2);
    expect(delta('blocking')).toBe(0);
    expect(delta('delta')).toBe(0);
    expect(delta('hinted')).toBe(0);
    expect(delta('playlist')).toBeGreaterThan(2 * 2);
    expect(r.liveLatencySec).not.toBeNull();
    expect(r.liveLatencySec!.p50).toBeGreaterThan(1); // behind by at least the segment being produced
  });

  it('CLI: two worker threads, progress lines, and a JSON report with every field', async () => {
    const code = await cli.exit; // started in beforeAll
    expect(cli.stderr).toMatch(/viewers \d+\/4 playing/);
    expect(code).toBe(0);
    expect(cli.stdout).toContain('startup');
    const r = JSON.parse(await readFile(cli.out, 'utf8')) as LoadReport;
    expect(r.config).toEqual({
      viewers: 4,
      rampSec: 0.5,
      durationSec: 2,
      profile: 'unlimited',
      latencyMs: 0,
      workers: 2,
      lowLatency: true,
      http2: false,
      cmcd: 'off',
    });
    expect(r.loadTester.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
    expect(r.loadTester.valid).toBe(r.loadTester.eventLoopDelayP99Ms < 20);
    expect(r.viewers).toMatchObject({ started: 4, ended: 4, failed: 0 });
    expect(r.viewers.peakConcurrent).toBeGreaterThanOrEqual(2);
    expect(r.startupMs.count).toBe(4);
    expect(r.startupMs.p50).toBeGreaterThan(0);
    expect(r.startupMs.p95!).toBeGreaterThanOrEqual(r.startupMs.p50!);
    expect(r.stalls).toBe(0);
    expect(r.rebufferRatio).toBe(0);
    expect(r.stallsPerViewerHour).toBe(0);
    expect(r.averageBitrateBps).toBeGreaterThanOrEqual(800_000);
    expect(r.switches).toBeGreaterThanOrEqual(0);
    expect(r.liveLatencySec).toBeNull();
    expect(r.requests.total).toBe(Object.values(r.byObject).reduce((a, o) => a + o.count, 0));
    expect(r.requests.perSec).toBeGreaterThan(0);
    expect(r.requests.bytes).toBeGreaterThan(1_000_000);
    for (const kind of ['playlist', 'init', 'segment']) {
      const o = r.byObject[kind];
      expect(o.count).toBeGreaterThan(0);
      expect(o.ttfbMs.p50).toBeGreaterThan(0);
      expect(o.ttfbMs.p99!).toBeGreaterThanOrEqual(o.ttfbMs.p50!);
      expect(o.downloadMs.p50!).toBeGreaterThanOrEqual(o.ttfbMs.p50! * 0.999);
    }
    expect(r.errors).toEqual({});
    // the fake server speaks edge metrics: first fetch of a URL is a miss
    expect(r.edge).not.toBeNull();
    // the server also saw the few requests still in flight when the run stopped
    expect(r.edge!.requests).toBeGreaterThanOrEqual(r.requests.total);
    expect(r.edge!.requests).toBeLessThanOrEqual(r.requests.total + 4 * 2);
    expect(r.edge!.hits + r.edge!.misses).toBe(r.edge!.requests);
    expect(r.edge!.hitRatio).toBeCloseTo(r.edge!.hits / r.edge!.requests, 6);
    expect(r.edge!.hitRatio).toBeGreaterThan(0.5); // four viewers of the same asset
    expect(r.edge!.upstreamRequests).toBe(r.edge!.misses);
    expect(r.loadTester.cpuUserSec).toBeGreaterThan(0);
    expect(r.loadTester.maxRssMB).toBeGreaterThan(10);
    expect(Date.parse(r.startedAt)).toBeGreaterThan(0);
  });

  it('refuses a non-loopback target unless it is allowed, with a clear error', async () => {
    await expect(
      runLoadTest({ url: 'http://192.0.2.10/live/x/master.m3u8', viewers: 1, rampSec: 0, durationSec: 1 }),
    ).rejects.toMatchObject({ code: 'LOADTEST_TARGET_REFUSED' });
    await expect(
      runLoadTest({ url: `${vod.url}/vod/asset/master.m3u8`, viewers: 0, rampSec: 0, durationSec: 1 }),
    ).rejects.toMatchObject({ code: 'BAD_OPTION' });
    await expect(
      runLoadTest({
        url: `${vod.url}/vod/asset/master.m3u8`,
        viewers: 1,
        rampSec: 0,
        durationSec: 1,
        profile: 'warp:9',
      }),
    ).rejects.toMatchObject({ code: 'BAD_OPTION' });
  });
});
