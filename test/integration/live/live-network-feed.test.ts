/**
 * A live channel fed over the network: an ffmpeg sender pushes MPEG-TS (640x360, 25 frames a
 * second, H.264 + AAC in English and French) over UDP on loopback, as a contribution encoder does, and the origin's
 * channel reads `udp://127.0.0.1:<port>`. The channel probes the feed before planning its ladder:
 * the renditions keep the feed's 25 frames a second (FRAME-RATE=25.000, 50 frames in a 2 s
 * segment) and no rung is larger than the feed (the ladder's 720p rung is left out). Before,
 * a network feed was planned as an assumed 1080p30: a 25 fps feed was converted to 30 and the
 * 720p rung upscaled from 360p, and only the feed's first audio track was kept (its two languages
 * are now one rendition each). The channel waits for a feed that is not up yet, and a feed that
 * is not media fails with ffprobe's reason. Real ffmpeg on both sides, real UDP on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceInput } from '../../../packager/live/channel-config.js';
import { probeFeed } from '../../../packager/probe.js';
import { ffmpegPath, ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { run } from '../packager/verify-package.js';
import {
  completeSegments,
  contributionEncoderArgs,
  feedVariantAsSent,
  freeUdpPort,
  type LiveOrigin,
  parseM3u8,
  processesNaming,
  restartEncoder,
  startFeedOrigin,
  until,
  expectEnglishAndFrench,
} from './live-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'se-live-feed-'));
let o: LiveOrigin | undefined;
let sender: ChildProcess | undefined;
let port = 0;

function startSender(): ChildProcess {
  const child = spawn(
    ffmpegPath(),
    contributionEncoderArgs('mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`, ['eng', 'fre']),
    { stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  return child;
}

beforeAll(async () => {
  port = await freeUdpPort();
  o = await startFeedOrigin(dir, `udp://127.0.0.1:${port}`);
}, 30_000);

afterAll(async () => {
  sender?.kill('SIGKILL');
  await o?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel fed over UDP', () => {
  it('waits for the feed, keeps its frame rate and audio languages, never upscales it, and rejoins it after a restart', async () => {
    // no feed yet: the channel is probing it, nothing is published
    const health = JSON.parse((await o!.get('/health')).text) as { channels: { id: string; state: string }[] };
    expect(health.channels.find((c) => c.id === 'feed')?.state).toBe('starting');
    expect((await o!.get('/live/feed/master.m3u8')).status).not.toBe(200);

    sender = startSender();
    await until(async () => (await completeSegments(o!, 'feed', '360p')) >= 2, 45_000, 'two segments of 360p');

    const master = await feedVariantAsSent(o!);
    expect((await o!.get('/live/feed/manifest.mpd')).text).toMatch(/frameRate="25"/);
    // the feed's two audio languages, one rendition each
    expectEnglishAndFrench(master);

    // a whole segment is 2 s of the feed's frames: 50 of them, a frame every 40 ms
    const media = parseM3u8((await o!.get('/live/feed/360p/index.m3u8')).text);
    const seg = media.segments[media.segments.length - 1];
    const init = await o!.get('/live/feed/360p/init.mp4');
    const body = await o!.get(`/live/feed/360p/${seg.uri}`);
    expect(body.status).toBe(200);
    const file = join(dir, 'seg.mp4');
    writeFileSync(file, Buffer.concat([init.body, body.body]));
    const r = await run(ffprobePath(), [
      ...['-v', 'error', '-count_packets', '-select_streams', 'v:0'],
      ...['-show_entries', 'stream=nb_read_packets,avg_frame_rate', '-of', 'json', file],
    ]);
    const stream = (JSON.parse(r.stdout) as { streams: { nb_read_packets: string; avg_frame_rate: string }[] })
      .streams[0];
    expect(Number(stream.nb_read_packets)).toBe(50);
    expect(stream.avg_frame_rate).toBe('25/1');

    // an encoder restart joins the feed again (it analyses 1 s of it: the feed was probed)
    await restartEncoder(o!, 'feed', '360p');
  }, 120_000);

  it('stops probing a feed that never came when the origin closes (no ffmpeg left waiting on it)', async () => {
    const silentDir = mkdtempSync(join(tmpdir(), 'se-live-feed-silent-'));
    const silent = `udp://127.0.0.1:${await freeUdpPort()}`;
    const origin = await startFeedOrigin(silentDir, silent);
    try {
      // the probe's ffmpeg is waiting on the silent port
      await until(() => processesNaming(silent).length > 0, 10_000, 'the probe of the silent feed');
      expect(origin.origin.channels.get('feed')!.status().state).toBe('starting');
    } finally {
      await origin.close();
      rmSync(silentDir, { recursive: true, force: true });
    }
    expect(processesNaming(silent)).toEqual([]);
  });

  it('says why a feed that is not media cannot be probed', async () => {
    const server: Server = createServer((_req, res) => res.writeHead(404).end('no such stream'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port: httpPort } = server.address() as { port: number };
    try {
      await expect(probeFeed(`http://127.0.0.1:${httpPort}/live.ts`)).rejects.toMatchObject({
        code: 'LIVE_SOURCE',
        message: expect.stringMatching(/cannot probe the feed http:\/\/127\.0\.0\.1:\d+\/live\.ts: .*404/),
      });
    } finally {
      server.close();
    }
  });

  it('probes only feeds a second reader does not disturb; relays those with one connection to keep, and MPEG-TS over UDP and RTP', () => {
    for (const pulled of ['http://cam.example/live.ts']) {
      expect(sourceInput(pulled), pulled).toMatchObject({ kind: 'url', probeable: true });
      expect(sourceInput(pulled).relayed, pulled).toBeUndefined();
    }
    // the feed connects to a listener, or a sender takes one caller: a probe would take its one
    // connection (live-rtmp-feed.test.ts, live-srt-feed.test.ts)
    for (const relayed of [
      'rtmp://0.0.0.0:1935/live/key',
      'srt://0.0.0.0:9000?mode=listener',
      'srt://10.0.0.1:9000?latency=200',
      'tcp://10.0.0.1:9000',
      'tcp://0.0.0.0:9000?listen',
      'tcp://0.0.0.0:9000?listen=1',
      // a plant's MPEG-TS over UDP or RTP: relayed so its SCTE 35 cues are read (live-feed-cues.test.ts)
      'udp://127.0.0.1:5000',
      'rtp://239.0.0.1:5004',
    ]) {
      expect(sourceInput(relayed), relayed).toMatchObject({ kind: 'url', relayed: true });
      // SCTE 35 travels in MPEG-TS, not in RTMP's FLV
      expect(sourceInput(relayed).carriesScte35, relayed).toBe(relayed.startsWith('rtmp') ? undefined : true);
      expect(sourceInput(relayed).probeable, relayed).toBeUndefined();
    }
    expect(sourceInput('lavfi').probeable).toBeUndefined();
  });
});
