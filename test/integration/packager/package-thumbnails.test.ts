/**
 * `package --thumbnails` through the real CLI and ffmpeg: the sheets hold the right pictures in
 * the right cells (a source whose brightness encodes the frame number, so each cell says which
 * frame it shows), the manifests name them, the origin serves them as immutable JPEG (signed
 * URLs carried into the image playlist and the MPD template), the edge caches them, and bad
 * options or a source without video are refused before anything is published.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { createOrigin, type Origin } from '../../../packager/origin/server.js';
import { createVerifier, hmacKeys, issueToken } from '../../../src/signing/index.js';
import { parseCacheStatus } from '../../../src/http/cache-status.js';
import { startEdge } from '../edge/helpers.js';
import { validateMpd } from '../../support/xml-validate.js';
import { listing, runCli } from './cli-run.js';

const run = promisify(execFile);
const FPS = 10;
const SECONDS = 6;
let dir = '';
let root = '';
let origin: Origin;
let base = '';
let stdout = '';

/** The frame-n luma of the source: 16 + 3n (video range), so a cell's grey level names its frame. */
const lumaOfFrame = (n: number) => 16 + 3 * n;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'streamedge-thumbs-'));
  root = join(dir, 'root');
  const source = join(dir, 'ramp.mp4');
  await run(ffmpegPath(), [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi'],
    ...['-i', `nullsrc=s=320x180:r=${FPS},geq=lum='16+3*N':cb=128:cr=128`],
    ...['-t', String(SECONDS), '-c:v', 'libx264', '-qp', '0', '-pix_fmt', 'yuv420p', source],
  ]);
  const r = await runCli([
    'package',
    source,
    ...['--out', root, '--id', 'ramp', '--ladder', 'small', '--segment', '2'],
    ...['--thumbnails', '--thumbnail-interval', '1', '--thumbnail-width', '64', '--thumbnail-layout', '2x2'],
  ]);
  expect(r.code, r.stderr).toBe(0);
  stdout = r.stdout;
  origin = await createOrigin({ root, logger: false, processMetrics: false });
  base = await origin.listen(0, '127.0.0.1');
}, 180_000);

afterAll(async () => {
  await origin?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A JPEG decoded to full-range grey by ffmpeg: its size and pixels. */
async function decodeGrey(jpeg: string): Promise<{ width: number; height: number; pixels: Buffer }> {
  const probe = await run(ffmpegPath(), ['-hide_banner', '-i', jpeg], { encoding: 'utf8' }).catch(
    (e: { stderr: string }) => e,
  );
  const size = /, (\d+)x(\d+)/.exec(probe.stderr)!;
  const { stdout: pixels } = await run(
    ffmpegPath(),
    ['-hide_banner', '-loglevel', 'error', '-i', jpeg, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    { encoding: 'buffer', maxBuffer: 1 << 24 },
  );
  return { width: Number(size[1]), height: Number(size[2]), pixels };
}

/** Mean grey of the 8×8 block at a cell's centre. */
function cellGrey(img: { width: number; pixels: Buffer }, col: number, row: number, w: number, h: number): number {
  let sum = 0;
  const cx = col * w + w / 2 - 4;
  const cy = row * h + h / 2 - 4;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) sum += img.pixels[(cy + y) * img.width + cx + x];
  return sum / 64;
}

describe('the sheets', () => {
  it('picture k shows the frame at k seconds, row by row, in sheets of 2×2; past the end, black', async () => {
    expect(stdout).toMatch(/thumbs\s+64x36\s+every 1 s, 2x2 per sheet, 2 sheets/);
    const folder = join(root, 'ramp', 'v1', 'thumbnails');
    expect(listing(folder)).toEqual(['index.m3u8', 'thumbnails.vtt', 'tile-1.jpg', 'tile-2.jpg']);
    const greys: number[] = [];
    for (const n of [1, 2]) {
      const img = await decodeGrey(join(folder, `tile-${n}.jpg`));
      expect([img.width, img.height]).toEqual([128, 72]);
      for (let cell = 0; cell < 4; cell++) greys.push(cellGrey(img, cell % 2, Math.floor(cell / 2), 64, 36));
    }
    // full-range grey of the frame at k s (frame 10k), as the JPEG's range conversion makes it
    const expected = [0, 1, 2, 3, 4, 5].map((k) => ((lumaOfFrame(FPS * k) - 16) * 255) / 219);
    greys.slice(0, 6).forEach((g, k) => expect(Math.abs(g - expected[k]), `picture ${k}: ${g}`).toBeLessThan(2.5));
    // one frame apart is 3.5 grey levels: the tolerance above tells frame 10k from its neighbours
    expect(greys.slice(6)).toEqual([0, 0]);
  });
});

describe('served', () => {
  it('HLS: the image stream and its playlist; the WebVTT index; DASH: the image AdaptationSet, schema-valid', async () => {
    const master = await (await fetch(`${base}/vod/ramp/master.m3u8`)).text();
    expect(master).toContain('#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=');
    expect(master).toMatch(/RESOLUTION=64x36,CODECS="jpeg",URI="v1\/thumbnails\/index\.m3u8"$/m);
    const images = await (await fetch(`${base}/vod/ramp/v1/thumbnails/index.m3u8`)).text();
    expect(
      images.match(/#EXT-X-TILES:RESOLUTION=64x36,LAYOUT=2x2,DURATION=1\.000\n#EXTINF:(\S+),\ntile-\d\.jpg/g),
    ).toEqual([
      '#EXT-X-TILES:RESOLUTION=64x36,LAYOUT=2x2,DURATION=1.000\n#EXTINF:4.00000,\ntile-1.jpg',
      '#EXT-X-TILES:RESOLUTION=64x36,LAYOUT=2x2,DURATION=1.000\n#EXTINF:2.00000,\ntile-2.jpg',
    ]);
    const index = await fetch(`${base}/vod/ramp/v1/thumbnails/thumbnails.vtt`);
    expect(index.headers.get('content-type')).toBe('text/vtt');
    const cues = (await index.text()).split('\n\n').filter((c) => c.includes('-->'));
    expect(cues.map((c) => c.trim())).toEqual([
      '00:00:00.000 --> 00:00:01.000\ntile-1.jpg#xywh=0,0,64,36',
      '00:00:01.000 --> 00:00:02.000\ntile-1.jpg#xywh=64,0,64,36',
      '00:00:02.000 --> 00:00:03.000\ntile-1.jpg#xywh=0,36,64,36',
      '00:00:03.000 --> 00:00:04.000\ntile-1.jpg#xywh=64,36,64,36',
      '00:00:04.000 --> 00:00:05.000\ntile-2.jpg#xywh=0,0,64,36',
      '00:00:05.000 --> 00:00:06.000\ntile-2.jpg#xywh=64,0,64,36',
    ]);
    const mpd = await (await fetch(`${base}/vod/ramp/manifest.mpd`)).text();
    expect((await validateMpd(mpd)).errors).toBe('');
    expect(mpd).toContain('<SegmentTemplate media="thumbnails/tile-$Number$.jpg" timescale="1000" duration="4000"');
    expect(mpd).toMatch(/<Representation id="thumbnails" bandwidth="\d+" width="128" height="72">/);
  });

  it('a sheet is image/jpeg and immutable at the origin, and a hit at the edge the second time', async () => {
    const path = '/vod/ramp/v1/thumbnails/tile-1.jpg';
    const r = await fetch(`${base}${path}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('image/jpeg');
    expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const bytes = Buffer.from(await r.arrayBuffer());
    expect(bytes.equals(readFileSync(join(root, 'ramp', 'v1', 'thumbnails', 'tile-1.jpg')))).toBe(true);
    const edge = await startEdge({ upstream: base });
    try {
      const first = await fetch(`${edge.url}${path}`);
      expect(Buffer.from(await first.arrayBuffer()).equals(bytes)).toBe(true);
      const second = await fetch(`${edge.url}${path}`);
      expect(second.headers.get('content-type')).toBe('image/jpeg');
      expect(Buffer.from(await second.arrayBuffer()).equals(bytes)).toBe(true);
      expect(parseCacheStatus(second.headers.get('cache-status') ?? '')[0]?.hit).toBe(true);
    } finally {
      await edge.close();
    }
  });

  it('signed URLs: the token reaches the image playlist, its sheets, the WebVTT index and the MPD template; none gets 403', async () => {
    const { signing, verification } = await hmacKeys(randomBytes(48));
    const signed = await createOrigin({
      root,
      logger: false,
      processMetrics: false,
      signing: { verifier: createVerifier({ keys: [verification] }) },
    });
    try {
      const url = await signed.listen(0, '127.0.0.1');
      const token = await issueToken({ scope: '/vod/ramp/', ttlSec: 600, key: signing });
      const master = await (await fetch(`${url}/vod/ramp/master.m3u8?token=${token}`)).text();
      const uri = /#EXT-X-IMAGE-STREAM-INF:.*URI="([^"]+)"/.exec(master)![1];
      expect(uri).toBe(`v1/thumbnails/index.m3u8?token=${token}`);
      const images = await (await fetch(`${url}/vod/ramp/${uri}`)).text();
      const sheet = images.split('\n').find((l) => l.startsWith('tile-1.jpg'))!;
      expect(sheet).toBe(`tile-1.jpg?token=${token}`);
      expect((await fetch(`${url}/vod/ramp/v1/thumbnails/${sheet}`)).status).toBe(200);
      expect((await fetch(`${url}/vod/ramp/v1/thumbnails/tile-1.jpg`)).status).toBe(403);
      // the WebVTT index too, before each cell's fragment
      const index = await (await fetch(`${url}/vod/ramp/v1/thumbnails/thumbnails.vtt?token=${token}`)).text();
      expect(index).toContain(`\ntile-2.jpg?token=${token}#xywh=64,0,64,36\n`);
      expect(index).not.toMatch(/\.jpg#/);
      const mpd = await (await fetch(`${url}/vod/ramp/manifest.mpd?token=${token}`)).text();
      expect(mpd).toContain(`media="thumbnails/tile-$Number$.jpg?token=${token}"`);
    } finally {
      await signed.close();
    }
  });
});

describe('refused before anything is published', () => {
  // every rule of the options: test/unit/packager/thumbnail-track.test.ts
  it.each([
    [['--thumbnail-layout', '3'], /--thumbnail-layout 3: use <columns>x<rows>/],
    [['--thumbnail-width', '480', '--thumbnail-layout', '10x2'], /sheets of 4800x\d+ pixels; keep them within 4096/],
  ])('%j', async (args, message) => {
    const out = join(dir, `refused-${randomBytes(4).toString('hex')}`);
    const r = await runCli(['package', await fixture('small'), '--out', out, '--ladder', 'small', ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(listing(out)).toEqual([]);
  });
});
