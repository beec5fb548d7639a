/**
 * 5.1 audio on a live channel: a file source (looped in real time) whose AAC 5.1 track has a tone
 * of its own on each channel is encoded live as stereo and as a 5.1 twin, as VOD is; and so is a
 * network feed (MPEG-TS over UDP from a contribution encoder) carrying AAC 5.1, after its probe.
 * HLS: the twin in its own group ("audio-6ch", CHANNELS="6"), the video variant listed once per
 * group, the rendition rules passing; the twin is an LL-HLS playlist with parts and a preload
 * hint, and its segments keep the six channels apart. DASH: the live MPD has a second audio
 * AdaptationSet with AudioChannelConfiguration 6 and is schema-valid. A second channel's ladder
 * asks for twins in E-AC-3 and AAC ("surroundCodec": ["eac3", "aac"]): the E-AC-3 twin's LL-HLS
 * parts and segments are Dolby Digital Plus 5.1, CODECS "ec-3", the MPD carries the Dolby channel
 * mask; each twin has its own HLS group and DASH AdaptationSet.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, SURROUND_TONES } from '../../../media-fixtures/generate.js';
import { validateMpd } from '../../support/xml-validate.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { audioStream, decodedTone } from '../../support/decoded-tone.js';
import {
  completeSegments,
  contributionEncoderArgs,
  freeUdpPort,
  type LiveOrigin,
  parseM3u8,
  segmentFile,
  startFeedOrigin,
  startLiveOrigin,
  until,
  writeTinyLadder,
} from './live-helpers.js';

let dir: string;
let o: LiveOrigin;

beforeAll(async () => {
  const source = await fixture('surround');
  dir = mkdtempSync(join(tmpdir(), 'se-live-surround-'));
  const root = join(dir, 'root');
  mkdirSync(root);
  const dolbyLadder = join(dir, 'dolby-ladder.json');
  writeFileSync(
    dolbyLadder,
    JSON.stringify({
      video: [{ height: 180, bitrate: '200k', profile: 'main', id: '180p' }],
      audio: { bitrate: '64k', surroundBitrate: '256k', surroundCodec: ['eac3', 'aac'] },
    }),
  );
  o = await startLiveOrigin(root, [
    { id: 'ch', source, segmentDuration: 2, partDuration: 0.5, dvrWindow: 30, ladder: writeTinyLadder(dir) },
    { id: 'dolby', source, segmentDuration: 2, partDuration: 0.5, dvrWindow: 30, ladder: dolbyLadder },
  ]);
  await until(
    async () =>
      (await completeSegments(o, 'ch', '180p')) >= 1 &&
      (await completeSegments(o, 'ch', 'audio')) >= 1 &&
      (await completeSegments(o, 'ch', 'audio-5.1')) >= 1 &&
      (await completeSegments(o, 'dolby', 'audio-5.1-eac3')) >= 1 &&
      (await completeSegments(o, 'dolby', 'audio-5.1-aac')) >= 1,
    60_000,
    'a complete segment on 180p, audio and audio-5.1 (and the Dolby channel’s two twins)',
  );
}, 120_000);

afterAll(async () => {
  await o?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** init + the newest complete segment of a rendition, as one file. */
async function newestSegment(rendition: string, origin = o, channel = 'ch'): Promise<string> {
  const pl = parseM3u8((await origin.get(`/live/${channel}/${rendition}/index.m3u8`)).text);
  const n = Number(/seg-(\d+)\.m4s$/.exec(pl.segments[pl.segments.length - 1].uri)?.[1]);
  return segmentFile(origin, dir, channel, rendition, n);
}

describe('live channel with 5.1 audio', () => {
  it('HLS: stereo and the 5.1 twin in groups of their own, the variant once per group, rules passing', async () => {
    const master = (await o.get('/live/ch/master.m3u8')).text;
    const media = master.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'));
    expect(media).toEqual([
      expect.stringMatching(/GROUP-ID="audio",.*CHANNELS="2",URI="audio\/index\.m3u8"/),
      expect.stringMatching(/GROUP-ID="audio-6ch",.*CHANNELS="6",URI="audio-5\.1\/index\.m3u8"/),
    ]);
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants.map((l) => /AUDIO="([^"]+)"/.exec(l)?.[1])).toEqual(['audio', 'audio-6ch']);
    expect(checkRenditionRules(master)).toEqual([]);
    const twin = (await o.get('/live/ch/audio-5.1/index.m3u8')).text;
    expect(twin).toContain('#EXT-X-PART:');
    expect(twin).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-\d+\.\d+\.m4s"/);
  });

  it('the twin is AAC 5.1 with each channel its own tone; the stereo rendition stays stereo', async () => {
    const twin = await newestSegment('audio-5.1');
    // L, R, C and the surrounds each carry their own tone (LFE is band-limited by AAC: not checked)
    expect(await audioStream(twin)).toMatchObject({ codec_name: 'aac', channels: 6, channel_layout: '5.1' });
    for (const c of [0, 1, 2, 4, 5]) {
      expect(Math.abs((await decodedTone(twin, c)).hz - SURROUND_TONES[c]), `channel ${c}`).toBeLessThan(15);
    }
    expect(await audioStream(await newestSegment('audio'))).toMatchObject({ codec_name: 'aac', channels: 2 });
  });

  it('DASH: a second audio AdaptationSet with six channels, schema-valid', async () => {
    const mpd = (await o.get('/live/ch/manifest.mpd')).text;
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
    expect(sets.map((s) => /<AudioChannelConfiguration [^>]*value="(\d+)"/.exec(s[1])?.[1])).toEqual(['2', '6']);
  });

  it('twins in E-AC-3 and AAC ("surroundCodec": ["eac3", "aac"]): LL-HLS parts of Dolby Digital Plus 5.1, a group and an AdaptationSet per codec', async () => {
    const master = (await o.get('/live/dolby/master.m3u8')).text;
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants.map((l) => [/CODECS="[^,"]+,([^"]+)"/.exec(l)?.[1], /AUDIO="([^"]+)"/.exec(l)?.[1]])).toEqual([
      ['mp4a.40.2', 'audio'],
      ['ec-3', 'audio-6ch-ec-3'],
      ['mp4a.40.2', 'audio-6ch-aac'],
    ]);
    expect(master).toMatch(/GROUP-ID="audio-6ch-ec-3",.*CHANNELS="6",URI="audio-5\.1-eac3\/index\.m3u8"/);
    expect(master).toMatch(/GROUP-ID="audio-6ch-aac",.*CHANNELS="6",URI="audio-5\.1-aac\/index\.m3u8"/);
    expect(checkRenditionRules(master)).toEqual([]);
    const twin = (await o.get('/live/dolby/audio-5.1-eac3/index.m3u8')).text;
    expect(twin).toContain('#EXT-X-PART:');
    expect(twin).toMatch(/#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-\d+\.\d+\.m4s"/);
    const segment = await newestSegment('audio-5.1-eac3', o, 'dolby');
    expect(await audioStream(segment)).toMatchObject({ codec_name: 'eac3', channels: 6 });
    for (const c of [0, 1, 2, 4, 5]) {
      expect(Math.abs((await decodedTone(segment, c)).hz - SURROUND_TONES[c]), `channel ${c}`).toBeLessThan(15);
    }
    const aac = await newestSegment('audio-5.1-aac', o, 'dolby');
    expect(await audioStream(aac)).toMatchObject({ codec_name: 'aac', channels: 6, channel_layout: '5.1' });
    const mpd = (await o.get('/live/dolby/manifest.mpd')).text;
    expect((await validateMpd(mpd)).errors).toBe('');
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)];
    expect(sets.map((m) => /codecs="([^"]+)"/.exec(m[1])?.[1])).toEqual(['mp4a.40.2', 'ec-3', 'mp4a.40.2']);
    expect(sets[1][1]).toContain(
      '<AudioChannelConfiguration schemeIdUri="tag:dolby.com,2014:dash:audio_channel_configuration:2011" value="F801"/>',
    );
  });
});

describe('live channel fed 5.1 over the network', () => {
  let feedDir: string;
  let feedOrigin: LiveOrigin;
  let sender: ChildProcess;

  beforeAll(async () => {
    feedDir = mkdtempSync(join(tmpdir(), 'se-live-surround-feed-'));
    const port = await freeUdpPort();
    feedOrigin = await startFeedOrigin(feedDir, `udp://127.0.0.1:${port}`);
    sender = spawn(
      ffmpegPath(),
      contributionEncoderArgs('mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`, [], { surround: true }),
      { stdio: 'ignore' },
    );
    sender.on('error', () => undefined);
    await until(
      async () =>
        (await completeSegments(feedOrigin, 'feed', '360p')) >= 1 &&
        (await completeSegments(feedOrigin, 'feed', 'audio-5.1')) >= 1,
      45_000,
      'a complete segment on 360p and audio-5.1 of the feed',
    );
  }, 90_000);

  afterAll(async () => {
    sender?.kill('SIGKILL');
    await feedOrigin?.close();
    if (feedDir) rmSync(feedDir, { recursive: true, force: true });
  });

  it('the probed feed gets the twin: group audio-6ch, AAC 5.1 with each channel its own tone', async () => {
    const master = (await feedOrigin.get('/live/feed/master.m3u8')).text;
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch",.*CHANNELS="6",URI="audio-5\.1\/index\.m3u8"/);
    expect(checkRenditionRules(master)).toEqual([]);
    const twin = await newestSegment('audio-5.1', feedOrigin, 'feed');
    expect(await audioStream(twin)).toMatchObject({ codec_name: 'aac', channels: 6, channel_layout: '5.1' });
    for (const c of [0, 2, 5]) {
      expect(Math.abs((await decodedTone(twin, c)).hz - SURROUND_TONES[c]), `channel ${c}`).toBeLessThan(15);
    }
  });
});
