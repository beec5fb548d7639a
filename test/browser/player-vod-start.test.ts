/**
 * Our player in Debian's Chromium starts VOD on the first fragment of the first segment, not the
 * whole segment: until playback starts, each chunk is appended fragment by fragment as its bytes
 * arrive (our segments hold a fragment per part, 1 s by default). A server here holds every
 * first video segment after the end of its first fragment (the first mdat) until the test lets
 * it go: playback must start, and play on, while those responses are held. Before, the first
 * frame waited for the whole segment: nothing played until the release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../media-fixtures/generate.js';
import { readBoxes } from '../../src/cmaf/box.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { loopbackServer, type LoopbackServer } from '../support/loopback-server.js';

let rig: BrowserRig;
let server: LoopbackServer | undefined;
let base = '';
/** Lets the held responses finish. */
let release: () => void = () => {};
const released = new Promise<void>((resolve) => (release = resolve));
/** Paths of first video segments being held after their first fragment. */
const held: string[] = [];

/** The bytes of `file` up to the end of its first mdat (its first fragment). */
function firstFragmentEnd(bytes: Buffer): number {
  const mdat = readBoxes(bytes).find((b) => b.type === 'mdat');
  if (!mdat) throw new Error('no mdat in the segment');
  return mdat.start + mdat.size;
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-vod-start-');
  await packageSmall(rig.dir, await fixture('sample'), 'movie');
  const root = realpathSync(join(rig.dir, 'root'));
  server = await loopbackServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').replace(/\?.*$/, ''));
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(root, path.replace(/^\/vod\//, '')));
    } catch {
      res.writeHead(404, { 'access-control-allow-origin': '*' }).end();
      return;
    }
    const type = path.endsWith('.m3u8')
      ? 'application/vnd.apple.mpegurl'
      : path.endsWith('.mpd')
        ? 'application/dash+xml'
        : 'video/mp4';
    res.writeHead(200, { 'content-type': type, 'content-length': bytes.length, 'access-control-allow-origin': '*' });
    if (!/\/(240p|360p)\/seg-1\.m4s$/.test(path)) {
      res.end(bytes);
      return;
    }
    const cut = firstFragmentEnd(bytes);
    held.push(cut < bytes.length ? path : `${path}: one fragment only, nothing held`);
    res.write(bytes.subarray(0, cut));
    void released.then(() => res.end(bytes.subarray(cut)));
  });
  base = server.base;
}, 180_000);

afterAll(async () => {
  release();
  await server?.close();
  await rig?.close();
});

describe('our player starts VOD on the first fragment', () => {
  it('plays while the rest of the first video segment is held, and on to the end of it once it arrives', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${base}/vod/movie/master.m3u8`)}&engine=ours`);
      type Stats = { startupMs: number | null; currentTime: number; pageErrors: string[]; errors: string[] };
      // playing, and a half second played, with the first segment's second fragment not yet sent
      await page.waitForFunction(
        () => {
          const s = window.__streamedge.stats() as Stats;
          return s.startupMs !== null && s.currentTime >= 0.5;
        },
        undefined,
        { timeout: 30_000, polling: 100 },
      );
      expect(held.length).toBeGreaterThanOrEqual(1);
      expect(held.filter((p) => p.includes('nothing held'))).toEqual([]);
      const early = await page.evaluate(() => {
        const v = document.getElementById('video') as HTMLVideoElement;
        return { end: v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0 };
      });
      // what is buffered is the first fragment (1 s) only: the rest of segment 1 is held
      expect(early.end).toBeLessThan(1.5);
      release();
      await page.waitForFunction(() => (window.__streamedge.stats() as Stats).currentTime >= 4, undefined, {
        timeout: 30_000,
        polling: 100,
      });
      const s = (await page.evaluate(() => window.__streamedge.stats())) as Stats;
      expect(s.pageErrors).toEqual([]);
      expect(s.errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
