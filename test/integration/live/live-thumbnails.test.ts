/**
 * A live channel with `--live-thumbnails` (real ffmpeg lavfi source): each complete segment gets
 * one JPEG, the picture of the key frame that opens it (compared with that frame, decoded by
 * ffmpeg from the segment itself), listed in the image playlist and the MPD on the video's own
 * numbers, PDTs and timeline; immutable, `image/jpeg`; after the encoder restarts, the new run's
 * segments get pictures too; after the origin restarts, the restored window keeps its pictures.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { validateMpd } from '../../support/xml-validate.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseM3u8,
  restartEncoder,
  startLiveOrigin,
  startTestChannel,
  testChannelConfig,
  until,
  type LiveOrigin,
  type TestChannel,
} from './live-helpers.js';

let ch: TestChannel;
let o: LiveOrigin;

beforeAll(async () => {
  ch = await startTestChannel('se-live-thumbs-', { thumbnails: { width: 160 } }, [['180p', 3]]);
  ({ o } = ch);
}, 60_000);

afterAll(async () => {
  await ch?.close();
});

/** Full-range grey pixels of an image or of the first video frame of some media, at 160×90. */
async function grey(input: Buffer): Promise<Buffer> {
  const child = execFile(
    ffmpegPath(),
    ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-frames:v', '1'].concat([
      '-vf',
      'scale=160:90',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'gray',
      'pipe:1',
    ]),
    { encoding: 'buffer', maxBuffer: 1 << 22 },
  );
  const out = new Promise<Buffer>((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`ffmpeg ${code}`)))),
  );
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  child.stdin!.end(input);
  return out;
}

/** The video playlist's segments with their numbers (media sequence + index). */
async function videoSegments(): Promise<{ number: number; programDateTime?: number; discontinuity?: boolean }[]> {
  const m = parseM3u8((await o.get('/live/ch/180p/index.m3u8')).text);
  return m.segments.map((s, i) => ({ ...s, number: m.mediaSequence + i }));
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/** The image playlist's entries: segment number, PDT, and whether it is a gap. */
function imageEntries(text: string): { number: number; pdt: string; uri: string }[] {
  const first = Number(/^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m.exec(text)![1]);
  return text
    .split('#EXT-X-PROGRAM-DATE-TIME:')
    .slice(1)
    .map((e, i) => ({ number: first + i, pdt: e.slice(0, e.indexOf('\n')), uri: e.trim().split('\n').at(-1)! }));
}

describe('a live channel with thumbnails', () => {
  it('one picture per complete segment, on the video playlist’s numbers and PDTs; the MPD on its timeline', async () => {
    const master = (await o.get('/live/ch/master.m3u8')).text;
    expect(master).toMatch(
      /^#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=160x90,CODECS="jpeg",URI="thumbnails\/index\.m3u8"$/m,
    );
    const images = await o.get('/live/ch/thumbnails/index.m3u8');
    expect(images.status).toBe(200);
    expect(images.text).toContain('#EXT-X-IMAGES-ONLY');
    expect(images.text).not.toContain('#EXT-X-ENDLIST');
    const video = await videoSegments();
    const entries = imageEntries(images.text);
    expect(entries.length).toBeGreaterThanOrEqual(2);
    // (the video playlist was read a moment later and may have slid by a segment)
    const both = entries.filter((e) => video.some((v) => v.number === e.number));
    expect(both.length).toBeGreaterThanOrEqual(entries.length - 1);
    for (const e of both) {
      const s = video.find((v) => v.number === e.number)!;
      expect(new Date(e.pdt).getTime(), `segment ${e.number}`).toBe(s.programDateTime);
      expect(e.uri).toBe(`tile-${e.number}.jpg`);
    }
    const mpd = (await o.get('/live/ch/manifest.mpd')).text;
    expect((await validateMpd(mpd)).errors).toBe('');
    const set = /<AdaptationSet id="\d+" contentType="image" mimeType="image\/jpeg">[\s\S]*?<\/AdaptationSet>/.exec(
      mpd,
    )![0];
    expect(set).toMatch(/media="thumbnails\/tile-\$Number\$\.jpg" startNumber="\d+"/);
    expect(set).toContain('width="160" height="90"');
    expect(set).toContain('<EssentialProperty schemeIdUri="http://dashif.org/thumbnail_tile" value="1x1"/>');
  });

  it('the picture of segment n is the key frame that opens segment n', async () => {
    const entries = imageEntries((await o.get('/live/ch/thumbnails/index.m3u8')).text);
    const [a, b] = entries.slice(-2);
    const init = (await o.get('/live/ch/180p/init.mp4')).body;
    const pictures = await Promise.all([a, b].map(async (e) => (await o.get(`/live/ch/thumbnails/${e.uri}`)).body));
    const frames = await Promise.all(
      [a, b].map(async (e) => grey(Buffer.concat([init, (await o.get(`/live/ch/180p/seg-${e.number}.m4s`)).body]))),
    );
    const [pa, pb] = await Promise.all(pictures.map(grey));
    // its own segment's first frame: JPEG noise only; the other segment's: the test card moved
    const own = meanAbsDiff(pa, frames[0]);
    expect(own).toBeLessThan(3);
    expect(meanAbsDiff(pb, frames[1])).toBeLessThan(3);
    expect(meanAbsDiff(pa, frames[1])).toBeGreaterThan(own);
  });

  it('a picture is image/jpeg and immutable; an unknown one is 404; /health counts them', async () => {
    const e = imageEntries((await o.get('/live/ch/thumbnails/index.m3u8')).text)[0];
    const r = await o.get(`/live/ch/thumbnails/${e.uri}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/jpeg');
    expect(r.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(r.body.subarray(0, 2).toString('hex')).toBe('ffd8');
    expect((await o.get('/live/ch/thumbnails/tile-999999.jpg')).status).toBe(404);
    expect((await o.get('/live/ch/thumbnails/other.jpg')).status).toBe(404);
    // /health counts them, and says nothing is failing
    const health = JSON.parse((await o.get('/health')).text) as {
      channels: { thumbnails?: { pictures: number; failing?: string } }[];
    };
    expect(health.channels[0].thumbnails!.pictures).toBeGreaterThanOrEqual(2);
    expect(health.channels[0].thumbnails!.failing).toBeUndefined();
  });

  it('after the encoder restarts, the new run’s segments get pictures too', async () => {
    await restartEncoder(o, 'ch', '180p');
    const video = await videoSegments();
    const after = video[video.findLastIndex((s) => s.discontinuity)].number;
    await until(
      async () => imageEntries((await o.get('/live/ch/thumbnails/index.m3u8')).text).some((e) => e.number >= after),
      20_000,
      `a picture of segment ${after} or later`,
    );
  }, 60_000);
});

describe('an origin restart', () => {
  it('keeps the pictures of the window it restores: listed again, the same bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-live-thumbs-restart-'));
    const root = join(dir, 'root');
    mkdirSync(root);
    const channel = testChannelConfig(dir, { thumbnails: { width: 160 } });
    let origin = await startLiveOrigin(root, [channel]);
    try {
      const first = await until(
        async () => {
          const r = await origin.get('/live/ch/thumbnails/index.m3u8');
          return r.status === 200 && imageEntries(r.text)[0];
        },
        40_000,
        'a picture',
      );
      const bytes = (await origin.get(`/live/ch/thumbnails/${first.uri}`)).body;
      await origin.close();
      origin = await startLiveOrigin(root, [channel]);
      await until(
        async () => {
          const r = await origin.get('/live/ch/thumbnails/index.m3u8');
          return r.status === 200 && imageEntries(r.text).some((e) => e.number === first.number);
        },
        30_000,
        `segment ${first.number}'s picture listed after the restart`,
      );
      const again = await origin.get(`/live/ch/thumbnails/${first.uri}`);
      expect(again.status).toBe(200);
      expect(again.body.equals(bytes)).toBe(true);
    } finally {
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
