/**
 * Our player in Debian's Chromium starts VOD on the first fragment of the first segment, not the
 * whole segment: until playback starts, each chunk is appended fragment by fragment as its bytes
 * arrive (our segments hold a fragment per part, 1 s by default). A server here holds every
 * first video segment after the end of its first fragment (the first mdat) until the test lets
 * it go: playback must start, and play on, while those responses are held. Before, the first
 * frame waited for the whole segment: nothing played until the release.
 *
 * Such a streamed chunk can be given up like any other. A second asset, on a ladder whose lower
 * rung is a tenth of the upper one, has its upper rung's second segment stop after its first
 * fragment, for good: the player must give it up for the lower rung's and play on. Before, a
 * streamed chunk was never given up: playback stalled at the end of that fragment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
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
/** Every path asked for, in order. */
const asked: string[] = [];
/** Paths of first video segments being held after their first fragment. */
const held: string[] = [];
/** The wide-ladder asset: lets its first audio segment finish (held so that playback starts on a thin buffer). */
let releaseWideStart: () => void = () => {};
const wideStarted = new Promise<void>((resolve) => (releaseWideStart = resolve));
/** The wide asset's upper-rung segment (after the first) that stops after its first fragment. */
let stuck: { n: number; path: string } | undefined;
function stuckAt(path: string): Promise<void> | undefined {
  const m = /^\/vod\/wide\/.*\/360p\/seg-(\d+)\.m4s$/.exec(path);
  if (!m || Number(m[1]) < 2 || (stuck && stuck.path !== path)) return undefined;
  if (!stuck) onStuck(Number(m[1]));
  stuck = { n: Number(m[1]), path };
  return wideHoldOver;
}
let onStuck: (n: number) => void = () => {};
/** Its segment number, once it has been asked for. */
const stuckSeen = new Promise<number>((resolve) => (onStuck = resolve));
/** Ends the wide asset's held segment (the test is over). */
let endWideHold: () => void = () => {};
const wideHoldOver = new Promise<void>((resolve) => (endWideHold = resolve));

/** The bytes of `file` up to the end of its first mdat (its first fragment). */
function firstFragmentEnd(bytes: Buffer): number {
  const mdat = readBoxes(bytes).find((b) => b.type === 'mdat');
  if (!mdat) throw new Error('no mdat in the segment');
  return mdat.start + mdat.size;
}

beforeAll(async () => {
  rig = await startBrowserRig('se-player-vod-start-');
  const sample = await fixture('sample');
  await packageSmall(rig.dir, sample, 'movie');
  const ladder = join(rig.dir, 'wide-ladder.json');
  writeFileSync(
    ladder,
    JSON.stringify({
      video: [
        { height: 360, bitrate: '1500k' },
        { height: 240, bitrate: '150k' },
      ],
      audio: { bitrate: 64000 },
    }),
  );
  await packageSmall(rig.dir, sample, 'wide', { ladder });
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
    asked.push(path);
    const until = /^\/vod\/movie\/.*\/(240p|360p)\/seg-1\.m4s$/.test(path)
      ? released
      : /^\/vod\/wide\/.*\/audio\/seg-1\.m4s$/.test(path)
        ? wideStarted
        : stuckAt(path);
    if (!until) {
      res.end(bytes);
      return;
    }
    const cut = firstFragmentEnd(bytes);
    held.push(cut < bytes.length ? path : `${path}: one fragment only, nothing held`);
    res.write(bytes.subarray(0, cut));
    void until.then(() => res.end(bytes.subarray(cut)));
  });
  base = server.base;
}, 180_000);

afterAll(async () => {
  release();
  releaseWideStart();
  endWideHold();
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

  it('gives up a streamed chunk that stops arriving, for the lower rung, and plays on', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${base}/vod/wide/master.m3u8`)}&engine=ours`);
      type Stats = {
        startupMs: number | null;
        currentTime: number;
        stalls: number;
        pageErrors: string[];
        errors: string[];
      };
      // playing on the first fragment of the first audio segment, the rest of it held: the video
      // loop goes on meanwhile with under a segment buffered, so its chunks are streamed (their
      // fragments appended as they arrive), and it climbs to the upper rung from the second
      await page.waitForFunction(
        () => {
          const s = window.__streamedge.stats() as Stats;
          return s.startupMs !== null && s.currentTime >= 0.3;
        },
        undefined,
        { timeout: 30_000, polling: 50 },
      );
      releaseWideStart();
      // one upper-rung segment stops after its first fragment, for good
      const n = await stuckSeen;
      // played past the end of it, into the next segment, with frames there (Chromium plays on
      // audio for up to 3 s when video alone runs out, so the clock alone proves nothing)
      await page.waitForFunction(
        (until) => {
          const v = document.getElementById('video') as HTMLVideoElement;
          const b = v.buffered;
          return v.currentTime >= until && b.length > 0 && b.end(b.length - 1) > v.currentTime + 0.2;
        },
        Math.min(2 * n + 0.5, 7.5),
        { timeout: 30_000, polling: 100 },
      );
      const s = (await page.evaluate(() => window.__streamedge.stats())) as Stats;
      const video = asked.filter((p) => /^\/vod\/wide\/.*\/(240p|360p)\/seg-/.test(p));
      const upper = video.findIndex((p) => p.endsWith(`/360p/seg-${n}.m4s`));
      const lower = video.findIndex((p) => p.endsWith(`/240p/seg-${n}.m4s`));
      // given up for the lower rung's, asked for after it
      expect(upper).toBeGreaterThanOrEqual(0);
      expect(lower).toBeGreaterThan(upper);
      expect(s.pageErrors).toEqual([]);
      expect(s.errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});
