/**
 * A live channel that calls a contribution feed which takes one caller (the origin as caller), as
 * a media team takes a venue's encoder or an SRT gateway: an ffmpeg sender listens on loopback,
 * for SRT (`srt://host:port`) or plain TCP (`tcp://host:port`), and sends 640x360 at 25 frames a
 * second to the one caller it takes. The channel's relay ffmpeg holds that one connection: its
 * first seconds are probed (25 fps kept, no upscale), and an encoder restart reads on from the
 * same connection (before, the probe called first and took the sender's one connection, so the
 * encoder could not get in: no segment in 60 s, checked for SRT; and every encoder restart would
 * have called again). While the sender is not up, the channel says why (ffmpeg's reason) instead of waiting
 * in silence. Closing the origin leaves no ffmpeg behind.
 * Real ffmpeg on both sides, real SRT and TCP on loopback (Debian's ffmpeg has libsrt).
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
  freeUdpPort,
  type LiveOrigin,
  processesNaming,
  restartEncoder,
  startFeedOrigin,
  until,
} from './live-helpers.js';

for (const feed of [
  { scheme: 'srt', port: freeUdpPort, listen: '?mode=listener' },
  { scheme: 'tcp', port: freeTcpPort, listen: '?listen=1' },
]) {
  describe(`a live channel calling a ${feed.scheme.toUpperCase()} feed`, () => {
    const dir = mkdtempSync(join(tmpdir(), `se-live-${feed.scheme}-`));
    let o: LiveOrigin | undefined;
    let sender: ChildProcess | undefined;
    let url = '';

    beforeAll(async () => {
      url = `${feed.scheme}://127.0.0.1:${await feed.port()}`;
      o = await startFeedOrigin(dir, url, { backoffMaxMs: 2000 });
    }, 30_000);

    afterAll(async () => {
      sender?.kill('SIGKILL');
      await o?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('says why while the feed is down, then keeps the one connection through an encoder restart', async () => {
      const channel = o!.origin.channels.get('feed')!;
      // nobody listens yet: the channel fails its starts with ffmpeg's reason, and retries
      await until(
        () => /could not be received/.test(channel.status().lastError ?? ''),
        30_000,
        'the reason the feed is not there',
      );
      expect(channel.status().state).toBe('failed');
      expect(channel.status().lastError).toContain(url);

      // the sender listens for one caller and sends to it until that caller leaves
      sender = spawn(ffmpegPath(), contributionEncoderArgs('mpegts', `${url}${feed.listen}`), { stdio: 'ignore' });
      sender.on('error', () => undefined);
      await until(async () => (await completeSegments(o!, 'feed', '360p')) >= 2, 60_000, 'two segments of 360p');
      await feedVariantAsSent(o!);
      expect(encodersReadingRelay()).toHaveLength(1);

      // the encoder dies; the connection is the relay's, and the sender keeps sending on it
      await restartEncoder(o!, 'feed', '360p');
      expect(sender.exitCode).toBeNull();
      expect(sender.signalCode).toBeNull();
      expect(encodersReadingRelay()).toHaveLength(1);
    }, 150_000);

    it('leaves no ffmpeg calling the feed once the origin is closed', async () => {
      expect(processesNaming(url).length).toBeGreaterThan(0); // the relay (and the sender)
      await o!.close();
      o = undefined;
      sender?.kill('SIGKILL');
      await until(() => processesNaming(url).length === 0, 10_000, 'no process naming the feed');
    });
  });
}
