/**
 * Our player in Debian's Chromium plays byte-range HLS: the way single-file packagers write a
 * presentation (one file per rendition holding its init segment and every segment, the media
 * playlist listing EXT-X-MAP BYTERANGE and EXT-X-BYTERANGE ranges of it). Built here from an
 * asset packaged by real ffmpeg (each rendition's init.mp4 and segments concatenated into
 * all.mp4), served by the origin and the edge on loopback (both answer Range with 206), with the
 * fault proxy in front to see every request. The player plays to the end with no error, asking
 * only for ranges of all.mp4, each exactly the range the playlist lists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';

let rig: BrowserRig;
let proxy: FaultProxy;
/** Every range the byte-range playlists list: `<path under /vod/movie/> bytes=a-b`. */
const listed = new Set<string>();

/**
 * Rewrites one media playlist of `assetDir` into the byte-range form: `<rendition>/all.mp4` (its
 * init segment, then its segments in order) and `<rendition>/br.m3u8`.
 */
function toByteRange(assetDir: string, playlist: string): string {
  const rendition = playlist.slice(0, playlist.lastIndexOf('/'));
  const dir = join(assetDir, rendition);
  const lines = readFileSync(join(assetDir, playlist), 'utf8').split('\n');
  const parts: Buffer[] = [];
  let offset = 0;
  const take = (file: string): string => {
    const bytes = readFileSync(join(dir, file));
    parts.push(bytes);
    const range = `${bytes.length}@${offset}`;
    listed.add(`${rendition}/all.mp4 bytes=${offset}-${offset + bytes.length - 1}`);
    offset += bytes.length;
    return range;
  };
  const out: string[] = [];
  for (const line of lines) {
    const map = /^#EXT-X-MAP:URI="([^"]+)"$/.exec(line);
    if (map) out.push(`#EXT-X-MAP:URI="all.mp4",BYTERANGE="${take(map[1])}"`);
    else if (line && !line.startsWith('#')) out.push(`#EXT-X-BYTERANGE:${take(line)}`, 'all.mp4');
    else out.push(line);
  }
  writeFileSync(join(dir, 'all.mp4'), Buffer.concat(parts));
  writeFileSync(join(dir, 'br.m3u8'), out.join('\n'));
  return `${rendition}/br.m3u8`;
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-byte-range-');
  await packageSmall(rig.dir, await fixture('sample'), 'movie');
  // the published version's folder (movie is a link to it)
  const assetDir = realpathSync(join(rig.dir, 'root', 'movie'));
  expect(readdirSync(assetDir)).toContain('master.m3u8');
  const master = readFileSync(join(assetDir, 'master.m3u8'), 'utf8')
    .split('\n')
    // I-frame playlists are not rewritten (the player does not use them)
    .filter((l) => !l.startsWith('#EXT-X-I-FRAME-STREAM-INF'))
    .map((l) =>
      l.startsWith('#')
        ? l.replace(/URI="([^"]+\/index\.m3u8)"/, (_, uri: string) => `URI="${toByteRange(assetDir, uri)}"`)
        : l.endsWith('index.m3u8')
          ? toByteRange(assetDir, l)
          : l,
    );
  writeFileSync(join(assetDir, 'master-br.m3u8'), master.join('\n'));
  const upstream = await rig.origin({ root: join(rig.dir, 'root') });
  proxy = await startFaultProxy((await rig.edge(upstream, 'edge-byte-range')).url, []);
}, 180_000);

afterAll(async () => {
  await proxy?.close();
  await rig?.close();
});

describe('our player plays byte-range HLS', () => {
  it('one file per rendition: plays to the end with no error, asking only for the listed ranges of it', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(
        `${rig.pages.url}?src=${encodeURIComponent(`${proxy.url}/vod/movie/master-br.m3u8`)}&engine=ours`,
      );
      await page.waitForFunction(
        () => {
          const v = document.getElementById('video') as HTMLVideoElement;
          const s = window.__streamedge.stats() as { pageErrors: string[] };
          return s.pageErrors.length > 0 || v.ended || v.currentTime > 7.5;
        },
        undefined,
        { timeout: 60_000, polling: 100 },
      );
      const s = (await page.evaluate(() => window.__streamedge.stats())) as {
        pageErrors: string[];
        retries: number;
      };
      expect(s.pageErrors).toEqual([]);
      expect(s.retries).toBe(0);
      const media = proxy.log.filter((p) => !p.endsWith('.m3u8'));
      // nothing but the one file per rendition (no segment files, no init.mp4)
      expect(media.length).toBeGreaterThan(4);
      expect(media.every((p) => p.endsWith('/all.mp4'))).toBe(true);
      // every one of those a Range request, for a range a playlist lists (video and audio alike)
      const asked = proxy.ranges.map((r) => r.replace(/^\/vod\/movie\//, ''));
      expect(asked).toHaveLength(media.length);
      for (const r of asked) expect(listed).toContain(r);
      expect(asked.some((r) => /audio[^/]*\/all\.mp4/.test(r))).toBe(true);
    } finally {
      await page.close();
    }
  }, 120_000);
});
