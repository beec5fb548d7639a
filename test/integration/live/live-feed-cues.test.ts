/**
 * A live channel's ad breaks from the SCTE 35 cues of its MPEG-TS feed, end to end: a
 * contribution feed (real ffmpeg, real time, 640x360 at 25 fps) gets SCTE 35 cues on its own PID
 * as a playout system sends them (test/support/ts-cue-injector.ts), and is served on loopback TCP
 * to the one caller it takes (the channel calls it: `tcp://`), or sent over loopback UDP in
 * datagrams of 7 packets (`udp://`, a plant's feed), or the same behind RTP headers (`rtp://`,
 * payload type 33, an IP contribution encoder's); the channel's relay reads the cues and keeps
 * them from the encoder, and the channel places each on its segments.
 *
 * Checked: the break a splice_insert asks for is in the media playlist (EXT-X-DATERANGE with the
 * feed's own section as SCTE35-OUT, its pts_adjustment moved so that its splice time is the
 * MPD Event's, PLANNED-DURATION its break_duration) at the segment boundary
 * nearest the splice time, measured against the wall clock the feed was sent on (the splice is
 * 6 s after the cue; a channel that started the break at once, or ignored the splice time, is
 * 4 s or more off); the feed's repeat of that cue changes nothing; its return cue ends the break
 * early, near its own splice time; a time_signal's placement opportunity (segmentation type
 * 0x34, with a UPID) makes the next break, its section passed on whole; the channel's status
 * counts what each cue came to. The splice's placement rests on one fact, checked too: the PTS
 * the relay saw the encoder start from is the input start ffmpeg reports.
 */
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { decodeSpliceInfo, encodeSpliceInsert, fromHexSequence } from '../../../src/scte35/splice-info.js';
import { timeSignalSection, TsCueInjector } from '../../support/ts-cue-injector.js';
import {
  completeSegments,
  contributionEncoderArgs,
  freeTcpPort,
  freeUdpPort,
  type LiveOrigin,
  startFeedOrigin,
  until,
} from './live-helpers.js';

const EVENT = 4242;
const SEGMENT_SEC = 2;

interface DateRange {
  id: string;
  attrs: Record<string, string>;
}

function dateRanges(playlist: string): DateRange[] {
  return playlist
    .split('\n')
    .filter((l) => l.startsWith('#EXT-X-DATERANGE:'))
    .map((l) => {
      const attrs: Record<string, string> = {};
      for (const m of l.slice('#EXT-X-DATERANGE:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g))
        attrs[m[1]] = m[2].replace(/^"|"$/g, '');
      return { id: attrs.ID, attrs };
    });
}

/** The feed's sender: ffmpeg encodes in real time, the cues go in on the way to the channel. */
interface Feed {
  url: string;
  injector(): TsCueInjector;
  stop(): Promise<void>;
}

function encoder(): { sender: ChildProcess; injector: TsCueInjector } {
  const sender = spawn(ffmpegPath(), contributionEncoderArgs('mpegts', 'pipe:1'), {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  sender.on('error', () => undefined);
  const injector = new TsCueInjector();
  sender.stdout.pipe(injector);
  return { sender, injector };
}

/** TCP: a listener that takes one caller (the channel's relay) and sends it the feed. */
async function tcpFeed(): Promise<Feed> {
  const port = await freeTcpPort();
  let running: ReturnType<typeof encoder> | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (running) return void socket.destroy(); // one caller at a time, as a contribution feed
    running = encoder();
    running.injector.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `tcp://127.0.0.1:${port}`,
    injector: () => running!.injector,
    async stop() {
      running?.sender.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The feed sent to the channel's port in datagrams of 7 packets, as a plant's encoder does, each
 * given to `wrap` first (UDP: as it is; RTP: behind its header).
 */
async function datagramFeed(scheme: 'udp' | 'rtp', wrap: (datagram: Buffer) => Buffer): Promise<Feed> {
  const port = await freeUdpPort();
  const running = encoder();
  const socket = createSocket('udp4');
  let pending = Buffer.alloc(0);
  let closed = false;
  running.injector.on('data', (chunk: Buffer) => {
    if (closed) return; // (the injector may still hand over what it held after stop() closed the socket)
    pending = Buffer.concat([pending, chunk]);
    for (; pending.length >= 7 * 188; pending = pending.subarray(7 * 188))
      socket.send(wrap(pending.subarray(0, 7 * 188)), port, '127.0.0.1');
  });
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    injector: () => running.injector,
    async stop() {
      running.sender.kill('SIGKILL');
      closed = true;
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

const udpFeed = () => datagramFeed('udp', (d) => d);

/**
 * RTP: the same datagrams behind a 12-byte RTP header (RFC 3550; payload type 33, MP2T, RFC 2250),
 * as an IP contribution encoder or an SMPTE 2022-2 gateway sends them.
 */
function rtpFeed(): Promise<Feed> {
  let sequence = 0;
  const started = process.hrtime.bigint();
  return datagramFeed('rtp', (d) => {
    const header = Buffer.alloc(12);
    header[0] = 0x80; // version 2, no padding, no extension, no CSRC
    header[1] = 33; // MP2T, no marker
    header.writeUInt16BE(sequence++ & 0xffff, 2);
    header.writeUInt32BE(Number(((process.hrtime.bigint() - started) * 90n) / 1_000_000n) >>> 0, 4); // 90 kHz
    header.writeUInt32BE(0x5e5e5e5e, 8); // SSRC
    return Buffer.concat([header, d]);
  });
}

const FEEDS = { tcp: tcpFeed, udp: udpFeed, rtp: rtpFeed };

for (const transport of ['tcp', 'udp', 'rtp'] as const) {
  describe(`a live channel whose MPEG-TS feed carries SCTE 35 cues (${transport.toUpperCase()})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-live-cues-'));
    let o: LiveOrigin | undefined;
    let feed: Feed | undefined;
    const injector = () => feed!.injector();

    beforeAll(async () => {
      feed = await FEEDS[transport]();
      o = await startFeedOrigin(dir, feed.url);
    }, 30_000);

    afterAll(async () => {
      await feed?.stop();
      await o?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('starts a break at the splice time the feed asked for, passes its cue on, and returns when the feed says', async () => {
      await until(async () => (await completeSegments(o!, 'feed', '360p')) >= 2, 60_000, 'two segments of 360p');
      const playlist = async () => (await o!.get('/live/feed/360p/index.m3u8')).text;
      const status = () => o!.origin.channels.get('feed')!.status();

      // out of network 6 s after the video the cue travels with, for 8 s
      let out: Uint8Array | undefined;
      const outVideoPts = await injector().cue((pts) => {
        out = encodeSpliceInsert({
          spliceEventId: EVENT,
          outOfNetwork: true,
          ptsTime: pts + 6 * 90_000,
          breakDuration: { autoReturn: true, duration: 8 * 90_000 },
          uniqueProgramId: 7,
          availNum: 1,
          availsExpected: 1,
        });
        return out;
      });
      const cuedAt = Date.now();
      const started = await until(
        async () => dateRanges(await playlist()).find((d) => d.id === `splice-${EVENT}` && d.attrs['SCTE35-OUT']),
        30_000,
        'the break in the media playlist',
      );
      // the feed's own section, passed on whole but for its pts_adjustment: its splice time is now
      // the break's start on the channel's clock, the MPD Event's presentationTime (ms)
      const passed = decodeSpliceInfo(fromHexSequence(started.attrs['SCTE35-OUT']));
      expect({ ...passed, ptsAdjustment: 0 }).toEqual(decodeSpliceInfo(out!));
      const mpd = (await o!.get('/live/feed/manifest.mpd')).text;
      const event = new RegExp(`<Event presentationTime="(\\d+)"[^>]* id="${2 * EVENT}">`).exec(mpd);
      expect(event, mpd).not.toBeNull();
      expect(((passed.spliceInsert!.ptsTime! + passed.ptsAdjustment) % 2 ** 33) / 90).toBeCloseTo(Number(event![1]), 0);
      expect(Number(started.attrs['PLANNED-DURATION'])).toBe(8);
      const startMs = Date.parse(started.attrs['START-DATE']);
      // the splice was 6 s of feed after the cue was sent: its PDT is that much after, give or take
      // half a segment (the nearest boundary) and the encoder's delay when the run was anchored
      // (a break placed at once, or on the cue's arrival, would be 4 s or more early)
      expect(Math.abs(startMs - (cuedAt + 6_000)), `START-DATE ${started.attrs['START-DATE']}`).toBeLessThan(3_000);
      const applied = status().feedCues!;
      expect(applied.applied).toBe(1);
      expect(applied.last?.outcome).toMatch(/starts with segment \d+ \((-?\d+(\.\d+)?) s from the splice\)/);
      const offset = Number(/\((-?[\d.]+) s from the splice\)/.exec(applied.last!.outcome)![1]);
      expect(Math.abs(offset)).toBeLessThanOrEqual(SEGMENT_SEC / 2 + 0.05);

      // what the placement rests on: the PTS the relay saw the encoder start from is the start
      // ffmpeg itself reports for its input (its media time 0)
      const logs = join(dir, 'root', '.live', 'feed');
      const joined = /an encoder joined at PTS \d+ \(([\d.]+) s\)/.exec(readFileSync(join(logs, 'ingest.log'), 'utf8'));
      const reported = /Duration: N\/A, start: ([\d.]+)/.exec(readFileSync(join(logs, 'ffmpeg-1.log'), 'utf8'));
      expect(joined, 'the relay logs where the encoder joined').not.toBeNull();
      expect(reported, "the encoder's input start").not.toBeNull();
      expect(Math.abs(Number(joined![1]) - Number(reported![1]))).toBeLessThan(0.001);

      // the feed repeats its cue (SCTE 67): nothing changes
      await injector().cue(() => out!);
      await until(() => status().feedCues!.repeats >= 1, 10_000, 'the repeat counted');
      expect(
        dateRanges(await playlist()).filter((d) => d.id === `splice-${EVENT}` && d.attrs['SCTE35-OUT']),
      ).toHaveLength(1);

      // back in the network 4 s of feed after the break's splice: before its planned 8 s are over
      await injector().cue(() =>
        encodeSpliceInsert({
          spliceEventId: EVENT,
          outOfNetwork: false,
          ptsTime: outVideoPts + 10 * 90_000,
          uniqueProgramId: 7,
          availNum: 1,
          availsExpected: 1,
        }),
      );
      const ended = await until(
        async () => dateRanges(await playlist()).find((d) => d.id === `splice-${EVENT}` && d.attrs['SCTE35-IN']),
        30_000,
        'the return in the media playlist',
      );
      const endMs = Date.parse(ended.attrs['END-DATE']);
      expect(Math.abs(endMs - (cuedAt + 10_000)), `END-DATE ${ended.attrs['END-DATE']}`).toBeLessThan(3_000);
      // 4 s after the start, to the nearest boundary at each end: early, not the planned 8 s
      expect(Math.abs((endMs - startMs) / 1000 - 4)).toBeLessThanOrEqual(SEGMENT_SEC);

      // a time_signal: a provider placement opportunity of 4 s with an MPU UPID, 4 s of feed after
      // the first break returned
      let placement: Uint8Array | undefined;
      await injector().cue(() => {
        placement = timeSignalSection(outVideoPts + 14 * 90_000, {
          eventId: 0x5000,
          typeId: 0x34,
          duration: 4 * 90_000,
          upid: Buffer.from('streamedge-test'),
        });
        return placement;
      });
      const opportunity = await until(
        async () => dateRanges(await playlist()).find((d) => d.id === 'splice-20480' && d.attrs['SCTE35-OUT']),
        30_000,
        'the placement opportunity in the media playlist',
      );
      const placed = decodeSpliceInfo(fromHexSequence(opportunity.attrs['SCTE35-OUT']));
      expect({ ...placed, ptsAdjustment: 0 }).toEqual(decodeSpliceInfo(Uint8Array.from(placement!))); // its UPID and all
      expect(Number(opportunity.attrs['PLANNED-DURATION'])).toBe(4);
      expect(Math.abs(Date.parse(opportunity.attrs['START-DATE']) - (cuedAt + 14_000))).toBeLessThan(3_000);
      expect(status().feedCues).toMatchObject({ received: 4, applied: 3, repeats: 1, refused: 0 });
    }, 150_000);
  });
}
