/**
 * A live channel whose source carries CEA-608 captions (the `captioned` fixture looped in real
 * time, as a file source is): the channel's master playlist and MPD announce them, as VOD's do,
 * and its segments still carry them (ffmpeg's 608 decoder reads "HELLO" back out of 4 s of one
 * rendition). A channel of a source without captions (lavfi) says CLOSED-CAPTIONS=NONE.
 * Real ffmpeg, real origin on loopback.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTION_TEXT, fixture } from '../../../media-fixtures/generate.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from '../packager/verify-package.js';
import { TEST_SOURCE, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';

let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-captions-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const common = { segmentDuration: 2, partDuration: 0.5, dvrWindow: 30, ladder: writeTinyLadder(dir) };
  o = await startLiveOrigin(root, [
    { id: 'news', source: await fixture('captioned'), ...common },
    { id: 'bars', source: TEST_SOURCE, ...common },
  ]);
}, 60_000);

afterAll(async () => {
  await o?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The channel's 180p playlist once it lists `n` complete segments. */
function segmentsListed(channel: string, n: number): Promise<string[]> {
  return until(
    async () => {
      const r = await o.get(`/live/${channel}/180p/index.m3u8`);
      const segs = r.status === 200 ? [...r.text.matchAll(/^(seg-\d+\.m4s)$/gm)].map((m) => m[1]) : [];
      return segs.length >= n && segs;
    },
    40_000,
    `${n} segments of ${channel}`,
  );
}

describe('a live channel of a captioned source', () => {
  it('announces the captions in its master playlist and MPD, and its segments carry them', async () => {
    const segs = await segmentsListed('news', 2);
    const master = (await o.get('/live/news/master.m3u8')).text;
    expect(master).toContain(
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
    );
    expect(master).toMatch(/#EXT-X-STREAM-INF:[^\n]*CLOSED-CAPTIONS="cc"/);
    expect((await o.get('/live/news/manifest.mpd')).text).toContain(
      '<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>',
    );
    // two 2 s segments: 4 s, one whole loop of the source, so one caption
    const file = join(dir, 'news-180p.mp4');
    const bodies = await Promise.all(['init.mp4', ...segs.slice(0, 2)].map((f) => o.get(`/live/news/180p/${f}`)));
    writeFileSync(file, Buffer.concat(bodies.map((b) => b.body)));
    const r = await run(ffmpegPath(), [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `movie=${file}[out0+subcc]`,
      '-map',
      '0:1',
      `${file}.srt`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(`${file}.srt`, 'utf8')).toContain(CAPTION_TEXT);
  }, 60_000);

  it('a channel of a source without captions says CLOSED-CAPTIONS=NONE', async () => {
    await segmentsListed('bars', 1);
    const master = (await o.get('/live/bars/master.m3u8')).text;
    expect(master).toContain('CLOSED-CAPTIONS=NONE');
    expect(master).not.toContain('TYPE=CLOSED-CAPTIONS');
  }, 60_000);
});
