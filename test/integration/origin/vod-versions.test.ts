/**
 * Re-packaging keeps "immutable" honest, through the real packager (ffmpeg) and a real origin on
 * loopback: a player mid-playback across `--force` keeps receiving only the old version's bytes;
 * a fresh entry point leads into the new version; a stale entry point still resolves; the
 * unversioned URL forms keep working (short-lived); retention finally removes the old version.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { fixture } from '../../../media-fixtures/generate.js';
import { packageVod } from '../../../packager/vod-job.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';

let dir: string;
let out: string;
let origin: Origin;
let client: Client;
/** The entry points as a player (or a downstream cache) got them before the re-package. */
let staleMaster = '';
let staleMpd = '';

async function get(path: string, headers: Record<string, string> = {}) {
  const res = await client.request({ path, method: 'GET', headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers as Record<string, string | undefined>, body };
}

async function getOk(path: string): Promise<Buffer> {
  const r = await get(path);
  expect(r.status, path).toBe(200);
  return r.body;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** URIs of a playlist, in order: tag URIs (EXT-X-MAP, EXT-X-MEDIA, I-frame streams) and plain URI lines. */
function uris(playlist: string): string[] {
  const list: string[] = [];
  for (const line of playlist.split('\n')) {
    const map = /^#EXT-X-(?:MAP|MEDIA|I-FRAME-STREAM-INF):.*URI="([^"]+)"/.exec(line);
    if (map) list.push(map[1]);
    else if (line && !line.startsWith('#')) list.push(line.trim());
  }
  return list;
}

function resolve(base: string, uri: string): string {
  return new URL(uri, `http://x${base}`).pathname;
}

async function publish(input: Parameters<typeof fixture>[0], force: boolean, keepVersions = 2, keepForMs = 3600_000) {
  return packageVod({
    input: await fixture(input),
    outDir: out,
    assetId: 'movie',
    ladder: 'small',
    segmentDuration: 1,
    partDuration: 0.5,
    force,
    retention: { keepVersions, keepForMs },
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-vod-versions-'));
  out = join(dir, 'root');
  await publish('small', false);
  origin = await createOrigin({ root: out, logger: false, processMetrics: false });
  client = new Client(await origin.listen(0, '127.0.0.1'));
});

afterAll(async () => {
  await client?.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('VOD versions across a re-package', () => {
  it('a player mid-playback never receives bytes of two versions; a fresh master leads into the new one', async () => {
    // The player starts: entry point → media playlist → init and the first two segments.
    const master1 = await get('/vod/movie/master.m3u8');
    expect(master1.status).toBe(200);
    expect(master1.headers['cache-control']).toBe('public, max-age=30');
    expect(master1.headers['etag']).toBeTruthy();
    const variant = uris(master1.body.toString()).find((u) => u.includes('360p'))!;
    expect(variant).toBe('v1/360p/index.m3u8');
    const playlistPath = resolve('/vod/movie/master.m3u8', variant);
    const playlist = await get(playlistPath);
    expect(playlist.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const media = uris(playlist.body.toString()).map((u) => resolve(playlistPath, u));
    expect(media.length).toBe(5); // init + 4 one-second segments
    staleMaster = master1.body.toString();
    staleMpd = (await getOk('/vod/movie/manifest.mpd')).toString();
    const received = new Map<string, string>();
    for (const path of media.slice(0, 3)) received.set(path, sha(await getOk(path)));

    // Re-package with different content while the player is mid-way.
    const v2 = await publish('fps25', true);
    expect(v2).toMatchObject({ version: 'v2', replaced: 'v1' });

    // The player continues the same media playlist (reloaded, as a player may): only v1 bytes.
    const again = await get(playlistPath);
    expect(again.body.equals(playlist.body)).toBe(true);
    for (const path of media.slice(3)) received.set(path, sha(await getOk(path)));
    const v1Dir = join(out, 'movie', 'v1');
    const v2Dir = join(out, 'movie', 'v2');
    for (const [path, hash] of received) {
      const rel = path.replace('/vod/movie/v1/', '');
      expect(hash, path).toBe(sha(readFileSync(join(v1Dir, rel))));
      expect(hash, `${path} must differ from the new version`).not.toBe(sha(readFileSync(join(v2Dir, rel))));
    }

    // Revalidating the old entry point yields the new one (no 304), pointing into v2 only.
    const master2 = await get('/vod/movie/master.m3u8', { 'if-none-match': master1.headers['etag']! });
    expect(master2.status).toBe(200);
    const fresh = uris(master2.body.toString());
    expect(fresh.length).toBeGreaterThan(0);
    for (const u of fresh) expect(u).toMatch(/^v2\//);
    const freshPlaylist = resolve(
      '/vod/movie/master.m3u8',
      fresh.find((u) => u.includes('360p'))!,
    );
    for (const u of uris((await getOk(freshPlaylist)).toString())) {
      const path = resolve(freshPlaylist, u);
      const rel = path.replace('/vod/movie/v2/', '');
      expect(sha(await getOk(path))).toBe(sha(readFileSync(join(v2Dir, rel))));
    }
  });

  it('a stale entry point still resolves: every URI of the old master and MPD is served from the old version', async () => {
    expect(staleMaster).not.toBe('');
    const v1Dir = join(out, 'movie', 'v1');
    let checked = 0;
    for (const u of uris(staleMaster)) {
      const playlistPath = resolve('/vod/movie/master.m3u8', u);
      expect(playlistPath).toMatch(/^\/vod\/movie\/v1\//);
      const pl = (await getOk(playlistPath)).toString();
      for (const m of uris(pl)) {
        const path = resolve(playlistPath, m);
        expect(sha(await getOk(path))).toBe(sha(readFileSync(join(v1Dir, path.replace('/vod/movie/v1/', '')))));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20); // 360p, 240p, audio and the I-frame playlists
    // The DASH entry point names its version once, as an MPD-level BaseURL.
    expect(staleMpd).toContain('<BaseURL>v1/</BaseURL>');
    const currentMpd = (await getOk('/vod/movie/manifest.mpd')).toString();
    expect(currentMpd).toContain('<BaseURL>v2/</BaseURL>');
    const template = /media="([^"]+)"/.exec(staleMpd)![1];
    const init = /initialization="([^"]+)"/.exec(staleMpd)![1];
    for (const t of [init, template.replace('$Number$', '1')]) {
      const path = resolve('/vod/movie/v1/', t.replace('$RepresentationID$', '360p'));
      expect(sha(await getOk(path))).toBe(sha(readFileSync(join(v1Dir, path.replace('/vod/movie/v1/', '')))));
    }
  });

  it('the unversioned URL forms still work, follow the current version, and are short-lived', async () => {
    const legacy = await get('/vod/movie/360p/seg-1.m4s');
    expect(legacy.status).toBe(200);
    expect(legacy.headers['cache-control']).toBe('public, max-age=30');
    expect(sha(legacy.body)).toBe(sha(readFileSync(join(out, 'movie', 'v2', '360p', 'seg-1.m4s'))));
    const pl = await get('/vod/movie/360p/index.m3u8');
    expect(pl.status).toBe(200);
    expect(pl.headers['cache-control']).toBe('public, max-age=30');
    // Hidden bookkeeping is never served.
    expect((await get('/vod/movie/.asset.json')).status).toBe(404);
  });

  it('retention removes the old version after its grace; its URLs then 404 while the current one plays', async () => {
    const v3 = await publish('small', true, 1, 0);
    expect(v3.version).toBe('v3');
    expect(v3.removedVersions).toEqual(['v1', 'v2']);
    expect((await get('/vod/movie/v1/360p/seg-1.m4s')).status).toBe(404);
    expect((await get('/vod/movie/v2/360p/seg-1.m4s')).status).toBe(404);
    const master = (await getOk('/vod/movie/master.m3u8')).toString();
    const playlistPath = resolve('/vod/movie/master.m3u8', uris(master)[0]);
    expect(playlistPath).toMatch(/^\/vod\/movie\/v3\//);
    for (const u of uris((await getOk(playlistPath)).toString())) await getOk(resolve(playlistPath, u));
  });
});
