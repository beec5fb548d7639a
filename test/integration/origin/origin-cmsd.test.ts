/**
 * The origin's CMSD-Static (CTA-5006) on what it serves, through real packaging (ffmpeg) and a
 * real live channel (lavfi), on loopback: manifests say `ot=m` with their format, init segments
 * `ot=i`, segments and parts their type (video or audio, read from the init), duration, encoded
 * bitrate (size over duration) and the next object (`nor`: none after a VOD's last segment);
 * `st` says VOD or live; browsers may read both CMSD headers (CORS). In front of it, an edge that
 * prefetches fetches a DASH player's next segment from that `nor` alone.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { parseCmcd } from '../../../src/http/cmcd.js';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { serveVod, type VodOrigin } from '../packager/vod-origin.js';
import { startTestChannel, type LiveOrigin, type TestChannel } from '../live/live-helpers.js';
import { get, startEdge, type TestEdge } from '../edge/helpers.js';

let dir: string;
let vod: VodOrigin;
let live: LiveOrigin;
let channel: TestChannel;
let edge: TestEdge;
let requested: string[] = [];

const cmsdOf = (h: Record<string, string | string[] | undefined>) => {
  const v = h['cmsd-static'];
  return Object.fromEntries(parseCmcd(typeof v === 'string' ? v : ''));
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-origin-cmsd-'));
  const input = await fixture('small');
  await packageVod({ input, outDir: join(dir, 'vod'), assetId: 'movie', ladder: 'small', segmentDuration: 2 });
  vod = await serveVod(join(dir, 'vod'));
  channel = await startTestChannel('se-origin-cmsd-live-', {}, [['180p', 1]]);
  live = channel.o;
}, 120_000);

afterAll(async () => {
  await edge?.close();
  await channel?.close();
  await vod?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('CMSD-Static from the origin: VOD', () => {
  it('manifests: ot=m with sf=h or sf=d, st=v', async () => {
    for (const [path, sf] of [
      ['/vod/movie/master.m3u8', 'h'],
      ['/vod/movie/v1/360p/index.m3u8', 'h'],
      ['/vod/movie/manifest.mpd', 'd'],
    ]) {
      expect(cmsdOf((await vod.get(path)).headers), path).toEqual({ ot: 'm', sf, st: 'v' });
    }
  });

  it('segments: their type, duration from the playlist, bitrate from the size, and the next segment', async () => {
    expect(cmsdOf((await vod.get('/vod/movie/v1/360p/init.mp4')).headers)).toEqual({ ot: 'i', st: 'v' });
    const playlist = (await vod.get('/vod/movie/v1/360p/index.m3u8')).text;
    const durations = [...playlist.matchAll(/#EXTINF:([\d.]+),/g)].map((m) => Math.round(Number(m[1]) * 1000));
    expect(durations.length).toBe(2);
    const first = await vod.get('/vod/movie/v1/360p/seg-1.m4s');
    const size = readFileSync(join(dir, 'vod', 'movie', 'v1', '360p', 'seg-1.m4s')).length;
    expect(cmsdOf(first.headers)).toEqual({
      br: Math.round((size * 8) / durations[0]),
      d: durations[0],
      nor: 'seg-2.m4s',
      ot: 'v',
      st: 'v',
    });
    // the last segment names no next object
    expect(cmsdOf((await vod.get('/vod/movie/v1/360p/seg-2.m4s')).headers)).toMatchObject({ d: durations[1], ot: 'v' });
    expect(cmsdOf((await vod.get('/vod/movie/v1/360p/seg-2.m4s')).headers).nor).toBeUndefined();
    expect(cmsdOf((await vod.get('/vod/movie/v1/audio/seg-1.m4s')).headers)).toMatchObject({
      ot: 'a',
      nor: 'seg-2.m4s',
    });
    // the unversioned alias of the current version says the same
    expect(cmsdOf((await vod.get('/vod/movie/360p/seg-1.m4s')).headers)).toEqual(cmsdOf(first.headers));
  });
});

describe('CMSD-Static from the origin: live', () => {
  it('playlists and the MPD: ot=m, st=l; init: ot=i, st=l', async () => {
    expect(cmsdOf((await live.get('/live/ch/master.m3u8')).headers)).toEqual({ ot: 'm', sf: 'h', st: 'l' });
    expect(cmsdOf((await live.get('/live/ch/180p/index.m3u8')).headers)).toEqual({ ot: 'm', sf: 'h', st: 'l' });
    expect(cmsdOf((await live.get('/live/ch/manifest.mpd')).headers)).toEqual({ ot: 'm', sf: 'd', st: 'l' });
    expect(cmsdOf((await live.get('/live/ch/180p/init.mp4')).headers)).toEqual({ ot: 'i', st: 'l' });
  });

  it('a complete segment and a part: duration, bitrate and the next object', async () => {
    const pl = (await live.get('/live/ch/180p/index.m3u8')).text;
    const seg = /#EXTINF:([\d.]+),\n(?:#[^\n]*\n)*seg-(\d+)\.m4s/.exec(pl)!;
    const n = Number(seg[2]);
    const s = await live.get(`/live/ch/180p/seg-${n}.m4s`);
    expect(cmsdOf(s.headers)).toEqual({
      at: expect.any(Number),
      br: Math.round((s.body.length * 8) / Math.round(Number(seg[1]) * 1000)),
      d: Math.round(Number(seg[1]) * 1000),
      nor: `seg-${n + 1}.m4s`,
      ot: 'v',
      st: 'l',
    });
    const part = /#EXT-X-PART:DURATION=([\d.]+),URI="seg-(\d+)\.(\d+)\.m4s"/.exec(pl)!;
    const p = await live.get(`/live/ch/180p/seg-${part[2]}.${part[3]}.m4s`);
    const got = cmsdOf(p.headers);
    // when the origin had it: a moment ago, never ahead of now
    expect(got.at).toBeLessThanOrEqual(Date.now());
    expect(got.at).toBeGreaterThan(Date.now() - 60_000);
    expect(got).toMatchObject({ d: Math.round(Number(part[1]) * 1000), ot: 'v', st: 'l' });
    expect(got.br).toBe(Math.round((p.body.length * 8) / (got.d as number)));
    expect([`seg-${part[2]}.${Number(part[3]) + 1}.m4s`, `seg-${Number(part[2]) + 1}.0.m4s`]).toContain(got.nor);
    const audio = await live.get(`/live/ch/audio/seg-${n}.m4s`);
    expect(cmsdOf(audio.headers)).toMatchObject({ ot: 'a', st: 'l' });
  });

  it('browsers may read CMSD-Static and CMSD-Dynamic (CORS)', async () => {
    const res = await fetch(`${live.base}/live/ch/180p/init.mp4`, { headers: { origin: 'http://player.test' } });
    await res.arrayBuffer();
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    expect(exposed).toContain('cmsd-static');
    expect(exposed).toContain('cmsd-dynamic');
  });
});

describe('an edge in front of the origin', () => {
  it("prefetches a DASH player's next segment from CMSD-Static nor, and keeps the header", async () => {
    const base = await vodBase();
    edge = await startEdge({ upstream: base, name: 'edge-a', prefetch: true });
    const first = await get(`${edge.url}/vod/movie/v1/360p/seg-1.m4s`);
    expect(cmsdOf(first.headers)).toMatchObject({ nor: 'seg-2.m4s', ot: 'v', st: 'v' });
    for (let i = 0; i < 10_000 && !(await prefetched()); i++) await new Promise<void>((r) => setImmediate(r));
    await edge.edge.whenIdle();
    const next = await get(`${edge.url}/vod/movie/v1/360p/seg-2.m4s`);
    expect(parseCacheStatus(next.headers['cache-status'])[0].hit).toBe(true);
    expect(cmsdOf(next.headers)).toMatchObject({ ot: 'v', st: 'v' });
    expect(requested.filter((u) => u === '/vod/movie/v1/360p/seg-2.m4s')).toHaveLength(1);
  });
});

/** A recording proxy in front of the VOD origin (the edge's upstream), so the test sees what it asks. */
async function vodBase(): Promise<string> {
  const { createServer, request } = await import('node:http');
  requested = [];
  const server = createServer((req, res) => {
    requested.push(req.url ?? '');
    const up = request(`${vod.url}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function prefetched(): Promise<boolean> {
  const v = await edge.edge.metrics.prefetches.get();
  return v.values.some((x) => x.labels.source === 'cmsd' && x.value > 0);
}
