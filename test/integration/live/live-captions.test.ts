/**
 * A live channel whose source carries CEA-608 captions (the `captioned` fixture looped in real
 * time, as a file source is): the channel's master playlist and MPD announce them, as VOD's do,
 * and its segments still carry them (ffmpeg's 608 decoder reads "HELLO" back out of 4 s of one
 * rendition). A channel of a source without captions (lavfi) says CLOSED-CAPTIONS=NONE. The
 * channel announced is the one a caption appears on (read from the parts as they are made: a
 * source captioned on CC3 is announced as CC3), and `streamedge origin --live-captions` names
 * language and name. Real ffmpeg, real origin on loopback, the real CLI.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTION_TEXT, fixture } from '../../../media-fixtures/generate.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from '../packager/verify-package.js';
import { TEST_SOURCE, startLiveOrigin, until, writeTinyLadder, type LiveOrigin } from './live-helpers.js';
import { startOriginCli } from '../packager/cli-run.js';

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
    { id: 'second', source: await fixture('captionedCc3'), ...common },
    { id: 'atsc', source: await fixture('captioned708'), ...common },
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

  it('announces the channel a caption appears on: CC3 for a source captioned on field 2', async () => {
    const captionLines = async () =>
      (await o.get('/live/second/master.m3u8')).text.split('\n').filter((l) => l.includes('TYPE=CLOSED-CAPTIONS'));
    // (until the first caption is read, the probe's finding is announced as CC1)
    await until(
      async () => (await captionLines()).some((l) => l.includes('INSTREAM-ID="CC3"')),
      40_000,
      'CC3 announced',
    );
    expect(await captionLines()).toEqual([
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC3",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC3"',
    ]);
    expect((await o.get('/live/second/manifest.mpd')).text).toContain(
      '<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC3"/>',
    );
  }, 60_000);

  it('announces a CEA-708 service beside the 608 channel once its caption appears (SERVICE1, the 708 descriptor)', async () => {
    const captionLines = async () =>
      (await o.get('/live/atsc/master.m3u8')).text.split('\n').filter((l) => l.includes('TYPE=CLOSED-CAPTIONS'));
    await until(
      async () => (await captionLines()).some((l) => l.includes('INSTREAM-ID="SERVICE1"')),
      40_000,
      'SERVICE1 announced',
    );
    expect(await captionLines()).toEqual([
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
      '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="SERVICE1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"',
    ]);
    const mpd = (await o.get('/live/atsc/manifest.mpd')).text;
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"/>');
    expect(mpd).toContain('<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1=lang:und"/>');
  }, 60_000);

  it('streamedge origin --live-captions names the language and the name', async () => {
    const root = join(dir, 'cli-root');
    mkdirSync(root);
    const origin = await startOriginCli([
      ...['origin', '--root', root, '--port', '0', '--live', `ch=${await fixture('captioned')}`],
      ...['--live-ladder', writeTinyLadder(dir), '--log-level', 'warn', '--live-captions', 'CC1=en:English'],
    ]);
    try {
      const master = await until(
        async () => {
          const r = await fetch(`${origin.url}/live/ch/master.m3u8`);
          const text = r.ok ? await r.text() : '';
          // (a channel's master can list its audio alone for a moment, before its video's first part)
          return /#EXT-X-STREAM-INF:[^\n]*RESOLUTION=/.test(text) && text;
        },
        30_000,
        'the channel’s master playlist',
      );
      expect(master).toContain(
        '#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"',
      );
      expect(await (await fetch(`${origin.url}/live/ch/manifest.mpd`)).text()).toContain(
        '<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1=en"/>',
      );
    } finally {
      await origin.stop();
    }
  }, 60_000);
});
