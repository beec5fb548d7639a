/** Shared pieces of the live integration suites: a tiny ladder, a real origin, HTTP helpers. */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { expect } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { Parser } from 'm3u8-parser';
import { createOrigin, type ChannelConfig, type Origin, type OriginOptions } from '../../../packager/origin/server.js';
import { decodedTone } from '../../support/decoded-tone.js';
import { surroundToneGraph } from '../../../media-fixtures/generate.js';

/** A 320x180 test signal with a 180p rung + audio: two renditions, cheap enough for a shared 2-core box. */
export const TEST_SOURCE = 'lavfi:testsrc2=size=320x180:rate=30';

export function writeTinyLadder(dir: string): string {
  const file = join(dir, 'ladder.json');
  writeFileSync(
    file,
    JSON.stringify({
      video: [{ height: 180, bitrate: '200k', profile: 'main', id: '180p' }],
      audio: { bitrate: '64k' },
    }),
  );
  return file;
}

export interface LiveOrigin {
  origin: Origin;
  pool: Pool;
  base: string;
  get(
    path: string,
  ): Promise<{ status: number; headers: Record<string, string | undefined>; body: Buffer; text: string }>;
  close(): Promise<void>;
}

export async function startLiveOrigin(
  root: string,
  live: ChannelConfig[],
  channelOptions = {},
  /** More origin options (e.g. the ad-break API's credential). */
  more: Partial<OriginOptions> = {},
): Promise<LiveOrigin> {
  const origin = await createOrigin({ root, live, logger: false, processMetrics: false, channelOptions, ...more });
  const base = await origin.listen(0, '127.0.0.1');
  const pool = new Pool(base, { connections: 16 });
  return {
    origin,
    pool,
    base,
    async get(path) {
      const res = await pool.request({ path, method: 'GET' });
      const body = Buffer.from(await res.body.arrayBuffer());
      return {
        status: res.statusCode,
        headers: res.headers as Record<string, string | undefined>,
        body,
        text: body.toString(),
      };
    },
    async close() {
      await pool.close();
      await origin.close();
    },
  };
}

export interface M3u8Part {
  uri: string;
  duration: number;
}

export interface M3u8Segment {
  uri: string;
  duration: number;
  discontinuity?: boolean;
  programDateTime?: number;
  /** Set instead of programDateTime on the preload segment (m3u8-parser leaves its PDT unparsed). */
  dateTimeString?: string;
  parts?: M3u8Part[];
}

/**
 * What the live suites read from an m3u8-parser manifest. Required fields are the ones every
 * LL-HLS media playlist of the live origin carries (the suites assert on them).
 */
export interface M3u8Manifest {
  /** Multivariant playlists only. */
  playlists?: { uri: string }[];
  mediaSequence: number;
  segments: M3u8Segment[];
  partInf: { partTarget: number };
  serverControl: { canBlockReload?: boolean; partHoldBack?: number };
  /** The segment in progress: its parts so far and the hint for the next one. */
  preloadSegment?: Partial<M3u8Segment> & { preloadHints: { type: string; uri: string }[] };
  renditionReports: unknown[];
}

export function parseM3u8(text: string): M3u8Manifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest as M3u8Manifest;
}

/** What the live suites read from an mpd-parser manifest. */
export interface MpdSegment {
  uri: string;
  resolvedUri: string;
  number: number;
  presentationTime: number;
  duration: number;
  map: { resolvedUri: string };
}

export interface MpdManifest {
  playlists: { segments: MpdSegment[] }[];
  mediaGroups: { AUDIO: Record<string, Record<string, { playlists: { segments: MpdSegment[] }[] }>> };
}

/** Polls a real condition until true (bounded). */
export async function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Number of complete segments in a rendition's playlist. */
export async function completeSegments(o: LiveOrigin, channel: string, rendition: string): Promise<number> {
  const r = await o.get(`/live/${channel}/${rendition}/index.m3u8`);
  if (r.status !== 200) return 0;
  return parseM3u8(r.text).segments.length;
}

/**
 * Channel `ch`: TEST_SOURCE on the tiny ladder (written into `dir`), 2 s segments of 0.5 s parts,
 * a 30 s window; `channel` overrides and adds.
 */
export function testChannelConfig(
  dir: string,
  channel: Omit<Partial<ChannelConfig>, 'id' | 'source' | 'ladder'> = {},
): ChannelConfig {
  return {
    id: 'ch',
    source: TEST_SOURCE,
    segmentDuration: 2,
    partDuration: 0.5,
    dvrWindow: 30,
    ladder: writeTinyLadder(dir),
    ...channel,
  };
}

/** A temp folder with one lavfi channel `ch` on the tiny ladder, served by a real origin. */
export interface TestChannel {
  dir: string;
  o: LiveOrigin;
  close(): Promise<void>;
}

/**
 * Starts channel `ch` (TEST_SOURCE, tiny ladder; `channel` overrides the segment/part/window figures
 * and adds options; `more` adds origin options) in a fresh temp folder named after `prefix`, and waits until each rendition in
 * `waitFor` ([rendition, segments]) has that many complete segments.
 */
export async function startTestChannel(
  prefix: string,
  channel: Omit<Partial<ChannelConfig>, 'id' | 'source' | 'ladder'>,
  waitFor: [string, number][],
  /** More origin options (e.g. the content keys of an encrypted channel). */
  more: Partial<OriginOptions> = {},
): Promise<TestChannel> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const root = join(dir, 'root');
  mkdirSync(root);
  const o = await startLiveOrigin(root, [testChannelConfig(dir, channel)], {}, more);
  const close = async () => {
    await o.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(
      async () => {
        for (const [rendition, n] of waitFor) if ((await completeSegments(o, 'ch', rendition)) < n) return false;
        return true;
      },
      40_000,
      `complete segments on ${waitFor.map(([r, n]) => `${r} (${n})`).join(', ')}`,
    );
  } catch (e) {
    await close();
    throw e;
  }
  return { dir, o, close };
}

/**
 * A contribution encoder's command line: ffmpeg sends a 640x360 test signal at 25 frames a second
 * (H.264, key frame every second) with one AAC tone per language (440, 660, ... Hz; tagged when
 * more than one) to `url` as `format` (mpegts over UDP, flv over RTMP; hls writes a live media
 * playlist of 2 s segments, the newest 6 listed, to the path `url`), until killed. `surround`:
 * one AAC 5.1 track instead, each channel its own tone (media-fixtures' `SURROUND_TONES`).
 */
export function contributionEncoderArgs(
  format: 'mpegts' | 'flv' | 'hls',
  url: string,
  languages: string[] = [],
  o: { surround?: boolean } = {},
): string[] {
  const tones = Math.max(1, languages.length);
  const audioInputs = o.surround
    ? ['-re', '-f', 'lavfi', '-i', surroundToneGraph()]
    : Array.from({ length: tones }, (_, n) => [
        ...['-re', '-f', 'lavfi', '-i', `sine=frequency=${440 + 220 * n}:sample_rate=48000`],
      ]).flat();
  const audioTracks = o.surround ? 1 : tones;
  return [
    ...['-hide_banner', '-nostdin', '-v', 'error', '-re'],
    ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25'],
    ...audioInputs,
    ...['-map', '0:v', ...Array.from({ length: audioTracks }, (_, n) => ['-map', `${n + 1}:a`]).flat()],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p'],
    ...['-c:a', 'aac', '-b:a', o.surround ? '256k' : '64k'],
    ...(languages.length > 1 ? languages.flatMap((l, n) => [`-metadata:s:a:${n}`, `language=${l}`]) : []),
    ...(format === 'hls' ? ['-hls_time', '2', '-hls_list_size', '6', '-hls_flags', 'delete_segments'] : []),
    ...['-f', format, url],
  ];
}

/**
 * An origin in `dir` with one channel `feed` reading `source` on a 720p + 360p ladder (a 360p
 * feed must come out as 360p alone: 720p would be an upscale), 2 s segments, 0.5 s parts.
 */
export async function startFeedOrigin(dir: string, source: string, channelOptions = {}): Promise<LiveOrigin> {
  const root = join(dir, 'root');
  mkdirSync(root);
  const ladder = join(dir, 'ladder.json');
  writeFileSync(
    ladder,
    JSON.stringify({
      video: [
        { height: 720, bitrate: '1500k', id: '720p' },
        { height: 360, bitrate: '500k', id: '360p' },
      ],
      audio: { bitrate: '64k' },
    }),
  );
  return startLiveOrigin(
    root,
    [{ id: 'feed', source, segmentDuration: 2, partDuration: 0.5, dvrWindow: 30, ladder }],
    channelOptions,
  );
}

/** Processes on this machine whose command line names `text` (read from /proc). */
export function processesNaming(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return found;
}

/**
 * Kills the channel's encoder and waits until the run that replaces it has completed two
 * segments of `rendition`: two whole segments after the newest EXT-X-DISCONTINUITY, dated after
 * the kill. (Counting segments alone is not enough: the parts the old run had made but the
 * channel had not yet published, held to their PDT, go on being published after the kill.)
 */
export async function restartEncoder(o: LiveOrigin, channelId: string, rendition: string): Promise<void> {
  const channel = o.origin.channels.get(channelId)!;
  const before = channel.status();
  const killedAt = Date.now();
  channel.killSource();
  await until(
    async () => {
      if (channel.status().restarts <= before.restarts) return false;
      const res = await o.get(`/live/${channelId}/${rendition}/index.m3u8`);
      if (res.status !== 200) return false;
      const segments = parseM3u8(res.text).segments;
      const from = segments.findLastIndex((s) => s.discontinuity);
      return from >= 0 && (segments[from].programDateTime ?? 0) > killedAt && segments.length - from >= 2;
    },
    45_000,
    'two segments of the run after the restart',
  );
}

/** A UDP port free on loopback a moment ago (a sender sends to it, or an SRT listener binds it). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const p = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return p;
}

/**
 * This process's encoder runs that read a feed relay (MPEG-TS on their stdin): children of this
 * test process only, so a relayed channel of a suite running beside it does not count.
 */
export function encodersReadingRelay(): number[] {
  return processesNaming('pipe:0').filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // the parent pid is the second field after the command name (which may hold spaces)
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('mpegts');
    } catch {
      return false;
    }
  });
}

/** A TCP port free on loopback a moment ago (an RTMP or TCP listener binds it). */
export async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * The multivariant playlist of the channel `feed` of startFeedOrigin, checked to hold the
 * 640x360, 25 fps contribution feed as it came: one variant (720p would be an upscale of it) at
 * its size and frame rate (30 would be a conversion). Returns the playlist.
 */
export async function feedVariantAsSent(o: LiveOrigin): Promise<string> {
  const master = (await o.get('/live/feed/master.m3u8')).text;
  const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  expect(variants, master).toHaveLength(1);
  expect(variants[0], master).toContain('RESOLUTION=640x360');
  expect(variants[0], master).toContain('FRAME-RATE=25.000');
  return master;
}

/**
 * The tone of live audio segment `n` of `rendition` (Hz): init + segment decoded to mono PCM
 * (files in `dir`), zero crossings per second / 2, the first 50 ms left out.
 */
export async function toneOf(
  o: LiveOrigin,
  dir: string,
  channel: string,
  rendition: string,
  n: number,
): Promise<number> {
  return (await decodedTone(await segmentFile(o, dir, channel, rendition, n))).hz;
}

/** init + segment `n` of a live rendition, written to one playable file in `dir`; its path. */
export async function segmentFile(
  o: LiveOrigin,
  dir: string,
  channel: string,
  rendition: string,
  n: number,
): Promise<string> {
  const init = await o.get(`/live/${channel}/${rendition}/init.mp4`);
  const seg = await o.get(`/live/${channel}/${rendition}/seg-${n}.m4s`);
  expect(seg.status).toBe(200);
  const file = join(dir, `${channel}-${rendition}-${n}.mp4`);
  writeFileSync(file, Buffer.concat([init.body, seg.body]));
  return file;
}

/** The multivariant playlist's audio renditions are the feed's English (the default) and French. */
export function expectEnglishAndFrench(master: string): void {
  expect(
    master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO')),
    master,
  ).toEqual([
    expect.stringContaining('NAME="English",LANGUAGE="en",DEFAULT=YES'),
    expect.stringContaining('NAME="French",LANGUAGE="fr",DEFAULT=NO'),
  ]);
}
