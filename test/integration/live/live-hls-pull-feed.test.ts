/**
 * A live channel that pulls another service's live HLS (`http://…/index.m3u8`), as a media team
 * re-packages a partner's or a cloud encoder's stream: an ffmpeg sender writes a live media
 * playlist of 2 s MPEG-TS segments (640x360, 25 frames a second, H.264 + AAC), served over HTTP on
 * loopback, and the origin's channel reads that URL. The channel probes it like any pulled feed
 * (the renditions keep its 25 frames a second, no rung is larger than it), its parts are dated no
 * later than the wall clock (ffmpeg's HLS reader starts three segments back and reads them at
 * once: the encoder must not publish media from the future), and an encoder restart joins the
 * feed again. From a multivariant playlist it takes the largest variant, whatever the listing
 * order, with one copy of its sound, or the alternative audio renditions (English and French)
 * the variants share, each with its own tone. Real ffmpeg on both sides, real HTTP on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import {
  completeSegments,
  contributionEncoderArgs,
  feedVariantAsSent,
  type LiveOrigin,
  parseM3u8,
  restartEncoder,
  startFeedOrigin,
  toneOf,
  until,
  expectEnglishAndFrench,
} from './live-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'se-live-hls-pull-'));
const feedDir = join(dir, 'feed');
let o: LiveOrigin | undefined;
let sender: ChildProcess | undefined;
let server: Server | undefined;
let variantsSender: ChildProcess | undefined;
let variantsOrigin: LiveOrigin | undefined;
let sharedSender: ChildProcess | undefined;
let sharedOrigin: LiveOrigin | undefined;

/** Serves the sender's playlists and segments from `feedDir`; anything not (yet) written is a 404. */
async function serveFeed(): Promise<string> {
  server = createServer((req, res) => {
    const name = (req.url ?? '').split('?')[0].replace(/^\/+/, '');
    if (!/^[\w.-]+$/.test(name)) return void res.writeHead(400).end();
    readFile(join(feedDir, name)).then(
      (body) =>
        res
          .writeHead(200, {
            'content-type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t',
            'cache-control': 'no-cache',
          })
          .end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/**
 * An ffmpeg HLS sender of a two-variant master `<name>.m3u8` in `feedDir`: 320x180 listed first,
 * 640x360 second; `audio` are the audio inputs mapped after the two pictures (`1:a` is a 440 Hz
 * tone in English, `2:a` a 660 Hz one in French), `streamMap` ffmpeg's -var_stream_map.
 */
function spawnVariantsSender(name: string, audio: string[], streamMap: string): ChildProcess {
  const child = spawn(
    ffmpegPath(),
    [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...['-re', '-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000'],
      ...['-filter_complex', '[0:v]split=2[a][b];[a]scale=320:180[lo];[b]null[hi]'],
      ...['-map', '[lo]', '-map', '[hi]', ...audio.flatMap((a) => ['-map', a])],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p'],
      ...['-b:v:0', '200k', '-b:v:1', '800k', '-c:a', 'aac', '-b:a', '64k'],
      ...['-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre'],
      ...['-f', 'hls', '-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'delete_segments+temp_file'],
      ...['-master_pl_name', `${name}.m3u8`, '-var_stream_map', streamMap],
      join(feedDir, `${name}_%v.m3u8`),
    ],
    { stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  return child;
}

let base = '';

beforeAll(async () => {
  mkdirSync(feedDir);
  base = await serveFeed();
  o = await startFeedOrigin(dir, `${base}/index.m3u8`);
  const args = contributionEncoderArgs('hls', join(feedDir, 'index.m3u8'));
  // segments appear whole (written aside, then renamed), as a real HLS packager publishes them
  args.splice(args.indexOf('delete_segments'), 1, 'delete_segments+temp_file');
  sender = spawn(ffmpegPath(), args, { stdio: 'ignore' });
  sender.on('error', () => undefined);
}, 30_000);

afterAll(async () => {
  sender?.kill('SIGKILL');
  variantsSender?.kill('SIGKILL');
  sharedSender?.kill('SIGKILL');
  await o?.close();
  await variantsOrigin?.close();
  await sharedOrigin?.close();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel pulling HLS over HTTP', () => {
  it('keeps the feed frame rate and size, dates no part ahead of the wall clock, and rejoins after a restart', async () => {
    await until(async () => (await completeSegments(o!, 'feed', '360p')) >= 3, 60_000, 'three segments of 360p');

    const master = await feedVariantAsSent(o!);
    expect(master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toHaveLength(1);

    // every part listed has ended by the time the playlist says so: none is dated in the future
    const text = (await o!.get('/live/feed/360p/index.m3u8')).text;
    const now = Date.now();
    const media = parseM3u8(text);
    const last = media.segments[media.segments.length - 1];
    expect(last.programDateTime, text).toBeDefined();
    const lastEnd = last.programDateTime! + last.duration * 1000;
    expect(lastEnd, text).toBeLessThanOrEqual(now + 500);

    await restartEncoder(o!, 'feed', '360p');
    expect((await o!.get('/live/feed/360p/index.m3u8')).status).toBe(200);
  }, 150_000);

  it('takes the largest variant of a multivariant playlist that lists its smallest first, and one copy of its sound', async () => {
    // 320x180 listed first, 640x360 second, each variant with its own copy of the sound (muxed)
    variantsSender = spawnVariantsSender('variants', ['1:a', '1:a'], 'v:0,a:0 v:1,a:1');
    const variantsDir = join(dir, 'variants');
    mkdirSync(variantsDir);
    variantsOrigin = await startFeedOrigin(variantsDir, `${base}/variants.m3u8`);
    await until(
      async () => (await completeSegments(variantsOrigin!, 'feed', '360p')) >= 2,
      60_000,
      'two segments of 360p from the variants',
    );
    // planned and encoded from the 640x360 variant: before, from the first listed (320x180)
    const master = await feedVariantAsSent(variantsOrigin);
    // the other variant's copy of the sound is not a second audio rendition
    expect(
      master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')),
      master,
    ).toHaveLength(1);
    const init = await variantsOrigin.get('/live/feed/360p/init.mp4');
    expect(init.status).toBe(200);
  }, 120_000);

  it('keeps the alternative audio renditions (EXT-X-MEDIA, English and French) the variants share, each with its own sound', async () => {
    // the previous case's sender and origin are done: the box has two cores
    variantsSender?.kill('SIGKILL');
    await variantsOrigin?.close();
    variantsOrigin = undefined;
    sharedSender = spawnVariantsSender(
      'shared',
      ['1:a', '2:a'],
      'v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud,language:eng,name:English,default:yes a:1,agroup:aud,language:fre,name:French',
    );
    const sharedDir = join(dir, 'shared');
    mkdirSync(sharedDir);
    sharedOrigin = await startFeedOrigin(sharedDir, `${base}/shared.m3u8`);
    await until(
      async () => (await completeSegments(sharedOrigin!, 'feed', '360p')) >= 2,
      60_000,
      'two segments of 360p from the shared-audio variants',
    );
    const master = await feedVariantAsSent(sharedOrigin);
    expectEnglishAndFrench(master);
    // each language carries its own tone (English 440 Hz, French 660 Hz), not the other's
    const pl = parseM3u8((await sharedOrigin.get('/live/feed/audio-fr/index.m3u8')).text);
    const n = Number(/seg-(\d+)\.m4s/.exec(pl.segments[pl.segments.length - 1].uri)?.[1]);
    expect(Math.abs((await toneOf(sharedOrigin, sharedDir, 'feed', 'audio-en', n)) - 440)).toBeLessThan(15);
    expect(Math.abs((await toneOf(sharedOrigin, sharedDir, 'feed', 'audio-fr', n)) - 660)).toBeLessThan(20);
  }, 120_000);
});
