/**
 * The origin as an HLS Content Steering server, on loopback: two stand-in CDNs answer
 * `/_edge/health` on 127.0.0.2 and 127.0.0.3 (one port, as CDNs reached by host name share one);
 * every multivariant playlist the origin serves (VOD files, live) names `/steering`, media
 * playlists do not; `/steering` answers a Steering Manifest whose clones put the playlist's URIs on
 * each CDN's host, and whose priority follows each CDN's health as the origin probes it (well
 * first in the configured order, then degraded, then down, "." last). hls.js steered between two
 * real edges in Chromium: test/browser/content-steering.test.ts.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Origin } from '../../../packager/origin/server.js';
import { SteeringService } from '../../../packager/origin/content-steering.js';
import { FakeEncoder, originWithFakeChannel, until } from '../../unit/origin/fake-encoder.js';
import { listenOnOnePort } from '../../support/one-port.js';
import { ENTRY_MPD } from '../../support/entry-mpd.js';
import { parseSteeringManifest } from '../../../src/hls/content-steering.js';
import { runCli } from '../packager/cli-run.js';

const MASTER = '#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n';
const PUBLISHED = Math.floor(Date.now() / 1000) * 1000 - 3600_000;
const MEDIA = '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg-1.m4s\n#EXT-X-ENDLIST\n';

let dir: string;
let origin: Origin;
let url: string;
let cdns: Server[] = [];
let port = 0;
/** What each stand-in CDN's /_edge/health answers (0: never answers). */
const health: Record<string, number> = { a: 200, b: 503, c: 200 };
const enc = new FakeEncoder();

async function get(path: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const res = await request(`${url}${path}`);
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

async function priority(): Promise<string[]> {
  return parseSteeringManifest(JSON.parse((await get('/steering')).text))['PATHWAY-PRIORITY'];
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-steering-'));
  mkdirSync(join(dir, 'movie', '360p'), { recursive: true });
  writeFileSync(join(dir, 'movie', 'master.m3u8'), MASTER);
  writeFileSync(join(dir, 'movie', '360p', 'index.m3u8'), MEDIA);
  writeFileSync(join(dir, 'movie', 'manifest.mpd'), ENTRY_MPD);
  // published an hour before steering was turned on
  for (const f of ['master.m3u8', '360p/index.m3u8']) {
    utimesSync(join(dir, 'movie', f), new Date(PUBLISHED), new Date(PUBLISHED));
  }
  const started = await listenOnOnePort<Server>(
    ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
    (host, p) =>
      new Promise((resolve, reject) => {
        const id = { '127.0.0.2': 'a', '127.0.0.3': 'b' }[host] ?? 'c';
        const s = createServer((req, res) => {
          if (req.url === '/_edge/health' && health[id] === 0) return; // held: the probe times out
          res.writeHead(req.url === '/_edge/health' ? health[id] : 404).end();
        });
        s.once('error', reject);
        s.listen(p, host, () => resolve({ server: s, port: (s.address() as { port: number }).port }));
      }),
    (s) => new Promise((r) => s.close(() => r())),
  );
  cdns = started.servers;
  port = started.port;
  ({ origin, url } = await originWithFakeChannel(enc, {
    root: dir,
    logger: false,
    // b preferred, when it is well
    steering: {
      pathways: [
        { id: 'b', url: `http://127.0.0.3:${port}` },
        { id: 'a', url: `http://127.0.0.2:${port}` },
      ],
      ttlSec: 5,
      probeMs: 50,
      probeTimeoutMs: 500,
    },
  }));
});

afterAll(async () => {
  await origin?.close();
  for (const s of cdns) await new Promise((r) => s.close(() => r(undefined)));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('content steering from the origin', () => {
  it('names /steering in every multivariant playlist (VOD and live), never in a media playlist', async () => {
    const vod = await get('/vod/movie/master.m3u8');
    expect(vod.status).toBe(200);
    expect(vod.text.split('\n').slice(0, 3)).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:4',
      '#EXT-X-CONTENT-STEERING:SERVER-URI="/steering"',
    ]);
    // the served body has its own validator (the file's, with the steering tag's digest)
    expect(vod.headers.etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+-cs[0-9a-f]{8}"$/);
    // and is modified as of when steering began: a cache's copy from before (no tag) is not current
    expect(Date.parse(String(vod.headers['last-modified']))).toBeGreaterThan(PUBLISHED);
    const older = await request(`${url}/vod/movie/master.m3u8`, {
      headers: { 'if-modified-since': new Date(PUBLISHED).toUTCString() },
    });
    expect(older.statusCode).toBe(200);
    await older.body.dump();
    // the media playlist keeps its own
    expect(Date.parse(String((await get('/vod/movie/360p/index.m3u8')).headers['last-modified']))).toBe(PUBLISHED);
    expect(Number(vod.headers['content-length'] ?? vod.text.length)).toBe(Buffer.byteLength(vod.text));
    expect((await get('/vod/movie/360p/index.m3u8')).text).toBe(MEDIA);
    await until(async () => (await get('/live/ch/master.m3u8')).status === 200, 5000, 'the live master');
    const live = (await get('/live/ch/master.m3u8')).text;
    expect(live.split('\n').filter((l) => l.startsWith('#EXT-X-CONTENT-STEERING'))).toEqual([
      '#EXT-X-CONTENT-STEERING:SERVER-URI="/steering"',
    ]);
  });

  it('DASH: every MPD (VOD and live) offers each CDN as a BaseURL with its serviceLocation and names /steering/dash, which orders them alike', async () => {
    const vod = await get('/vod/movie/manifest.mpd');
    expect(vod.status).toBe(200);
    expect(vod.text.split('\n').slice(2, 5)).toEqual([
      `  <BaseURL serviceLocation="b">http://127.0.0.3:${port}/vod/movie/v1/</BaseURL>`,
      `  <BaseURL serviceLocation="a">http://127.0.0.2:${port}/vod/movie/v1/</BaseURL>`,
      `  <ContentSteering defaultServiceLocation="b" queryBeforeStart="true">http://127.0.0.3:${port}/steering/dash</ContentSteering>`,
    ]);
    expect(vod.headers.etag).toMatch(/-cs[0-9a-f]{8}"$/);
    expect(Number(vod.headers['content-length'])).toBe(Buffer.byteLength(vod.text));
    await until(async () => (await get('/live/ch/manifest.mpd')).status === 200, 5000, 'the live MPD');
    const live = (await get('/live/ch/manifest.mpd')).text;
    expect(live.match(/<BaseURL[^>]*>[^<]*<\/BaseURL>/g)?.slice(0, 2)).toEqual([
      `<BaseURL serviceLocation="b">http://127.0.0.3:${port}/live/ch/</BaseURL>`,
      `<BaseURL serviceLocation="a">http://127.0.0.2:${port}/live/ch/</BaseURL>`,
    ]);
    expect(live).toContain(
      `<ContentSteering defaultServiceLocation="b" queryBeforeStart="true">http://127.0.0.3:${port}/steering/dash</ContentSteering>`,
    );
    // b degraded (503), a well: a first, as for HLS; no "." and no clones (each CDN is a BaseURL)
    const dash = async (q = '') => JSON.parse((await get(`/steering/dash${q}`)).text) as Record<string, unknown>;
    await until(async () => String((await dash())['PATHWAY-PRIORITY']) === 'a,b', 5000, 'a before a degraded b');
    const res = await get('/steering/dash?_DASH_pathway=%22b%22&_DASH_throughput=2000000');
    expect(res.headers['cache-control']).toBe('no-store');
    // the next manifest from a well CDN other than the one the client is sent to; none is (b is
    // degraded), so from a itself
    expect(JSON.parse(res.text)).toEqual({
      VERSION: 1,
      TTL: 5,
      'RELOAD-URI': `http://127.0.0.2:${port}/steering/dash`,
      'PATHWAY-PRIORITY': ['a', 'b'],
    });
  });

  it('answers a Steering Manifest: clones on each CDN host, ordered by their health as probed', async () => {
    // b degraded (503), a well: a first although b is preferred
    await until(async () => (await priority()).join() === 'a,b,.', 5000, 'a before a degraded b');
    const res = await get('/steering?_HLS_pathway=.&_HLS_throughput=2000000');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.text)).toEqual({
      VERSION: 1,
      TTL: 5,
      'PATHWAY-PRIORITY': ['a', 'b', '.'],
      'PATHWAY-CLONES': [
        { 'BASE-ID': '.', ID: 'b', 'URI-REPLACEMENT': { HOST: '127.0.0.3' } },
        { 'BASE-ID': '.', ID: 'a', 'URI-REPLACEMENT': { HOST: '127.0.0.2' } },
      ],
    });
    // b well again: the configured order
    health.b = 200;
    await until(async () => (await priority()).join() === 'b,a,.', 5000, 'b first once well');
    // b gone (nothing listens): last of the CDNs, and the origin's health says why
    await new Promise((r) => cdns[1].close(() => r(undefined)));
    await until(async () => (await priority()).join() === 'a,b,.', 5000, 'a first once b is down');
    const h = JSON.parse((await get('/health')).text) as { steering: { id: string; state: string; detail: string }[] };
    expect(h.steering.map((p) => [p.id, p.state])).toEqual([
      ['b', 'down'],
      ['a', 'ok'],
    ]);
    // a player on a stays on a; one still on b is moved to a
    const forPlayer = async (on: string) =>
      (JSON.parse((await get(`/steering?_HLS_pathway=${on}`)).text) as { 'PATHWAY-PRIORITY': string[] })[
        'PATHWAY-PRIORITY'
      ];
    expect(await forPlayer('a')).toEqual(['a', 'b', '.']);
    expect(await forPlayer('b')).toEqual(['a', 'b', '.']);
    expect(h.steering[0].detail).toMatch(/ECONNREFUSED/);
  });

  it('keeps a player on its CDN while well, splits new players by weight, and moves players off a CDN weighed 0', async () => {
    const log = { info: () => undefined, warn: () => undefined };
    const cdn = (id: string, host: string, weight: number) => ({ id, url: `http://${host}:${port}`, weight });
    const split = new SteeringService({ pathways: [cdn('a', '127.0.0.2', 1), cdn('c', '127.0.0.4', 3)] }, log);
    await split.probe();
    const first = (s: SteeringService, current: string | undefined, r: number) =>
      s.manifest(current, () => r)['PATHWAY-PRIORITY'];
    // a new player ("." or none): drawn by weight, 1 : 3
    expect(first(split, undefined, 0.1)).toEqual(['a', 'c', '.']);
    expect(first(split, '.', 0.5)).toEqual(['c', 'a', '.']);
    // a player already on a stays there whatever the draw
    expect(first(split, 'a', 0.99)).toEqual(['a', 'c', '.']);
    // a weighed 0: no new players, and its players move to c at their next reload; a stays for failover
    const drain = new SteeringService({ pathways: [cdn('a', '127.0.0.2', 0), cdn('c', '127.0.0.4', 1)] }, log);
    await drain.probe();
    expect(first(drain, 'a', 0)).toEqual(['c', 'a', '.']);
    expect(first(drain, undefined, 0)).toEqual(['c', 'a', '.']);
    // c not well: a, weighed 0, still beats nothing
    health.c = 503;
    await drain.probe();
    expect(first(drain, undefined, 0)).toEqual(['a', 'c', '.']);
    health.c = 200;
    await split.close();
    await drain.close();
  });

  it('a well CDN whose health answers late (or 5xx) is down only after three misses in a row; an answer resets the count', async () => {
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (_o: object, m: string) => void warnings.push(m) };
    const s = new SteeringService(
      {
        pathways: [
          { id: 'c', url: `http://127.0.0.4:${port}` },
          { id: 'a', url: `http://127.0.0.2:${port}` },
        ],
        probeTimeoutMs: 150,
      },
      log,
    );
    const c = () => s.states()[0];
    const order = () => s.manifest(undefined)['PATHWAY-PRIORITY'];
    try {
      await s.probe();
      expect(c().state).toBe('ok');
      // two late answers: still well, still first, and the log says so
      health.c = 0;
      await s.probe();
      await s.probe();
      expect(c()).toMatchObject({ state: 'ok', detail: 'no answer within 150 ms: 2 of 3 misses in a row, still ok' });
      expect(order()).toEqual(['c', 'a', '.']);
      expect(warnings.filter((w) => w.includes('pathway c missed a probe'))).toHaveLength(2);
      // an answer in between starts the count again
      health.c = 200;
      await s.probe();
      health.c = 0;
      await s.probe();
      await s.probe();
      expect(c().state).toBe('ok');
      // the third in a row: down, last of the CDNs
      await s.probe();
      expect(c()).toMatchObject({ state: 'down', detail: 'no answer within 150 ms: 3 misses in a row' });
      expect(order()).toEqual(['a', 'c', '.']);
      expect(warnings.at(-1)).toMatch(/pathway c is down/);
      // one answer brings it back at once
      health.c = 200;
      await s.probe();
      expect(c().state).toBe('ok');
      expect(order()).toEqual(['c', 'a', '.']);
      // a 500 is a miss like a late answer; a 503 is the CDN saying it is degraded, taken at once
      health.c = 500;
      await s.probe();
      expect(c()).toMatchObject({ state: 'ok', detail: 'answered 500: 1 of 3 misses in a row, still ok' });
      health.c = 503;
      await s.probe();
      expect(c().state).toBe('degraded');
      expect(order()).toEqual(['a', 'c', '.']);
    } finally {
      health.c = 200;
      await s.close();
    }
    // one miss is enough when asked (--steering-probe-misses 1)
    const strict = new SteeringService(
      { pathways: [{ id: 'c', url: `http://127.0.0.4:${port}` }], probeTimeoutMs: 150, probeMisses: 1 },
      log,
    );
    try {
      await strict.probe();
      health.c = 0;
      await strict.probe();
      expect(strict.states()[0]).toMatchObject({ state: 'down', detail: expect.stringMatching(/1 misses in a row$/) });
    } finally {
      health.c = 200;
      await strict.close();
    }
    expect(() => new SteeringService({ pathways: [{ id: 'c', url: 'http://c' }], probeMisses: 0 }, log)).toThrow(
      /--steering-probe-misses must be a whole number, at least 1/,
    );
  });

  for (const [what, args, says] of [
    [
      'CDNs that differ in port',
      ['--steering', 'a=http://a:1', '--steering', 'b=http://b:2'],
      'the CDNs must share one scheme and port',
    ],
    [
      'a miss count that is not a whole number',
      ['--steering', 'a=http://a:1', '--steering-probe-misses', '1.5'],
      '--steering-probe-misses must be a whole number, at least 1',
    ],
  ] as const) {
    it(`streamedge origin refuses ${what} with one clear line`, async () => {
      const r = await runCli(['origin', '--root', dir, '--port', '0', ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(says);
    });
  }
});
