/**
 * A live channel whose feed connects to it, as a contribution encoder (OBS, a hardware encoder)
 * publishes over RTMP: the channel's relay ffmpeg listens on `rtmp://127.0.0.1:<port>/live/key`
 * and an ffmpeg publisher sends 640x360 at 25 frames a second. The relay's first seconds are
 * probed: the renditions keep 25 frames a second and no rung is larger than the feed (before,
 * a listening encoder assumed 1080p30: 25 fps converted to 30, the 720p rung upscaled). An
 * encoder restart no longer drops the publisher: the publisher stays connected and the channel
 * comes back from the same connection (before, the encoder itself was the RTMP server, and its
 * restart cut the publisher off). A publisher that leaves and comes back is taken again, and
 * closing the origin leaves no ffmpeg behind.
 * While nobody publishes, the channel gives up run starts (its start timeout) and retries; none
 * of those leaves an encoder behind once the publisher comes.
 * Real ffmpeg on both sides, real RTMP on loopback.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import {
  completeSegments,
  contributionEncoderArgs,
  feedVariantAsSent,
  encodersReadingRelay,
  freeTcpPort,
  type LiveOrigin,
  processesNaming,
  restartEncoder,
  startFeedOrigin,
  until,
} from './live-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'se-live-rtmp-'));
let o: LiveOrigin | undefined;
let publisher: ChildProcess | undefined;
let url = '';

/** An ffmpeg publishing the test signal to `url` until killed; resolves once it has stayed up 2 s. */
async function publish(): Promise<ChildProcess> {
  // the relay may not listen yet: a publisher refused at once is started again (bounded)
  for (let attempt = 0; attempt < 40; attempt++) {
    const child = spawn(ffmpegPath(), contributionEncoderArgs('flv', url), { stdio: 'ignore' });
    const exited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!exited) return child;
  }
  throw new Error(`no RTMP listener at ${url}`);
}

beforeAll(async () => {
  url = `rtmp://127.0.0.1:${await freeTcpPort()}/live/key`;
  // a short start timeout: the channel gives up run starts while no publisher is there
  o = await startFeedOrigin(dir, url, { startTimeoutMs: 8000, backoffMaxMs: 1000 });
}, 30_000);

afterAll(async () => {
  publisher?.kill('SIGKILL');
  await o?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel fed over RTMP', () => {
  it('plans its ladder from the published feed and keeps the publisher through an encoder restart', async () => {
    // nobody publishes yet: the relay listens while the channel gives up run starts and retries
    const channel = o!.origin.channels.get('feed')!;
    await until(() => channel.status().restarts >= 1, 30_000, 'a run start given up');
    expect(channel.status().state).toBe('failed');

    publisher = await publish();
    await until(async () => (await completeSegments(o!, 'feed', '360p')) >= 2, 45_000, 'two segments of 360p');
    // the starts given up meanwhile left no encoder behind: one reads the relay
    expect(encodersReadingRelay()).toHaveLength(1);

    await feedVariantAsSent(o!);

    // the encoder dies; the publisher's connection is the relay's, and stays
    await restartEncoder(o!, 'feed', '360p');
    expect(publisher.exitCode).toBeNull();
    expect(publisher.signalCode).toBeNull();
  }, 120_000);

  it('takes the publisher again after it left', async () => {
    const channel = o!.origin.channels.get('feed')!;
    const gone = new Promise((resolve) => publisher!.once('exit', resolve));
    publisher!.kill('SIGKILL');
    await gone;
    // the relay's ffmpeg ends with the connection: the run ends as the source's end
    await until(() => channel.status().state !== 'running', 30_000, 'the channel to notice the publisher left');
    const before = channel.status().lastSegment ?? 0;
    publisher = await publish();
    await until(
      () => channel.status().state === 'running' && (channel.status().lastSegment ?? 0) >= before + 2,
      45_000,
      'the channel running again from the new connection',
    );
    const variants = (await o!.get('/live/feed/master.m3u8')).text
      .split('\n')
      .filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants).toEqual([expect.stringContaining('FRAME-RATE=25.000')]);
  }, 120_000);

  it('leaves no ffmpeg behind when the origin closes', async () => {
    if (publisher && publisher.exitCode === null && publisher.signalCode === null) {
      const gone = new Promise((resolve) => publisher!.once('exit', resolve));
      publisher.kill('SIGKILL');
      await gone;
    }
    await o!.close();
    o = undefined;
    expect(processesNaming(url)).toEqual([]);
  }, 30_000);
});
