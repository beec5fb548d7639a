/**
 * 5.1 audio through the real packager (ffmpeg) and origin: a source whose AAC 5.1 track has a tone
 * of its own on each channel is packaged as stereo (as before) and as a 5.1 twin that keeps the
 * six channels apart. HLS: the twin in a group of its own ("audio-6ch", CHANNELS="6"), every video
 * variant listed once per group, stereo first, the rendition rules passing. DASH: a second audio
 * AdaptationSet with AudioChannelConfiguration 6, schema-valid. A ladder with
 * "surroundBitrate": false packages stereo only. With "surroundCodec": "eac3" or "ac3" the twin is
 * Dolby Digital Plus or Dolby Digital (CODECS "ec-3"/"ac-3"; DASH signals the Dolby channel mask).
 * With a list ("surroundCodec": ["eac3", "aac"]) each codec gets its twin, its own HLS group and
 * its own DASH AdaptationSet.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, SURROUND_TONES } from '../../../media-fixtures/generate.js';
import { serveVod, type VodOrigin } from './vod-origin.js';
import { packageVod, type VodSummary } from '../../../packager/vod-job.js';
import { validateMpd } from '../../support/xml-validate.js';
import { checkRenditionRules } from '../../support/hls-rendition-rules.js';
import { audioStream, decodedTone } from '../../support/decoded-tone.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-surround-'));
const out = join(root, 'out');
let origin: VodOrigin;
let summary: VodSummary;
let bothSummary: VodSummary;

const get = (path: string) => origin.get(path);

/** init + segment `n` of a rendition as one playable file. */
function joined(asset: string, rendition: string, n: number): string {
  const dir = join(out, asset, 'v1', rendition);
  const file = join(root, `${asset}-${rendition}-${n}.mp4`);
  writeFileSync(file, Buffer.concat([readFileSync(join(dir, 'init.mp4')), readFileSync(join(dir, `seg-${n}.m4s`))]));
  return file;
}

/** The audio AdaptationSets of an asset's MPD (as text), after checking it against the schema. */
async function validAudioSets(asset: string): Promise<string[]> {
  const mpd = (await get(`/vod/${asset}/manifest.mpd`)).text;
  const v = await validateMpd(mpd);
  expect(v.valid, v.errors).toBe(true);
  return mpd
    .split('<AdaptationSet')
    .slice(1)
    .filter((s) => s.includes('contentType="audio"'));
}

beforeAll(async () => {
  const input = await fixture('surround');
  summary = await packageVod({ input, outDir: out, assetId: 'movie', ladder: 'small', segmentDuration: 2 });
  const stereoOnly = join(root, 'stereo-only.json');
  writeFileSync(
    stereoOnly,
    JSON.stringify({ video: [{ height: 240, bitrate: '300k' }], audio: { bitrate: '96k', surroundBitrate: false } }),
  );
  await packageVod({ input, outDir: out, assetId: 'stereo', ladder: stereoOnly, segmentDuration: 2 });
  for (const codec of ['eac3', 'ac3']) {
    const ladder = join(root, `${codec}.json`);
    writeFileSync(
      ladder,
      JSON.stringify({ video: [{ height: 240, bitrate: '300k' }], audio: { bitrate: '96k', surroundCodec: codec } }),
    );
    await packageVod({ input, outDir: out, assetId: codec, ladder, segmentDuration: 2 });
  }
  const both = join(root, 'both.json');
  writeFileSync(
    both,
    JSON.stringify({
      video: [{ height: 240, bitrate: '300k' }],
      audio: { bitrate: '96k', surroundCodec: ['eac3', 'aac'] },
    }),
  );
  bothSummary = await packageVod({ input, outDir: out, assetId: 'both', ladder: both, segmentDuration: 2 });
  origin = await serveVod(out);
}, 180_000);

afterAll(async () => {
  await origin?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('VOD with 5.1 audio', () => {
  it('packages stereo and a 5.1 twin from the one source track; the twin keeps its six channels apart', async () => {
    const audio = summary.renditions.filter((r) => r.kind === 'audio').map((r) => r.id);
    expect(audio).toEqual(['audio', 'audio-5.1']);
    const stereo = joined('movie', 'audio', 1);
    const surround = joined('movie', 'audio-5.1', 1);
    expect(await audioStream(stereo)).toMatchObject({ codec_name: 'aac', channels: 2 });
    expect(await audioStream(surround)).toMatchObject({ codec_name: 'aac', channels: 6, channel_layout: '5.1' });
    // L, R, C and the surrounds each carry their own tone (LFE is band-limited by AAC: not checked)
    for (const c of [0, 1, 2, 4, 5]) {
      expect(Math.abs((await decodedTone(surround, c)).hz - SURROUND_TONES[c]), `channel ${c}`).toBeLessThan(15);
    }
  });

  it('HLS: the twin in its own group with CHANNELS="6", each video variant once per group, stereo first', async () => {
    const entry = (await get('/vod/movie/master.m3u8')).text;
    expect(entry.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="v1/audio/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="v1/audio-5.1/index.m3u8"',
    ]);
    const lines = entry.split('\n');
    const variants = lines
      .map((l, i) => (l.startsWith('#EXT-X-STREAM-INF:') ? { inf: l, uri: lines[i + 1] } : undefined))
      .filter((v) => v !== undefined);
    const videos = summary.renditions.filter((r) => r.kind === 'video').length;
    expect(variants).toHaveLength(2 * videos);
    const stereo = variants.slice(0, videos);
    const surround = variants.slice(videos);
    expect(stereo.every((v) => v.inf.includes('AUDIO="audio"'))).toBe(true);
    expect(surround.every((v) => v.inf.includes('AUDIO="audio-6ch"'))).toBe(true);
    expect(surround.map((v) => v.uri)).toEqual(stereo.map((v) => v.uri));
    const bandwidth = (inf: string) => Number(/BANDWIDTH=(\d+)/.exec(inf)![1]);
    stereo.forEach((v, i) => expect(bandwidth(surround[i].inf)).toBeGreaterThan(bandwidth(v.inf) + 150_000));
    expect(checkRenditionRules(entry)).toEqual([]);
  });

  it('DASH: a second audio AdaptationSet with AudioChannelConfiguration 6; schema-valid', async () => {
    const audioSets = await validAudioSets('movie');
    expect(audioSets).toHaveLength(2);
    expect(audioSets[0]).toMatch(/AudioChannelConfiguration schemeIdUri="[^"]+" value="2"/);
    expect(audioSets[0]).toContain('value="main"');
    expect(audioSets[1]).toMatch(/AudioChannelConfiguration schemeIdUri="[^"]+" value="6"/);
    expect(audioSets[1]).toContain('value="alternate"');
    expect(audioSets[1]).toContain('<Label>Audio 1 (5.1)</Label>');
  });

  it('a ladder with "surroundBitrate": false packages stereo only', async () => {
    const entry = (await get('/vod/stereo/master.m3u8')).text;
    expect(entry).not.toContain('audio-6ch');
    expect(entry.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toHaveLength(1);
    expect(await audioStream(joined('stereo', 'audio', 1))).toMatchObject({ channels: 2 });
  });

  it('Dolby twins ("surroundCodec": "eac3" or "ac3"): six channels apart, CODECS ec-3/ac-3, DASH with the Dolby channel mask', async () => {
    for (const [asset, codec, name] of [
      ['eac3', 'ec-3', 'eac3'],
      ['ac3', 'ac-3', 'ac3'],
    ]) {
      const surround = joined(asset, 'audio-5.1', 1);
      expect(await audioStream(surround)).toMatchObject({ codec_name: name, channels: 6 });
      for (const c of [0, 1, 2, 4, 5]) {
        const tone = await decodedTone(surround, c);
        expect(Math.abs(tone.hz - SURROUND_TONES[c]), `${asset} channel ${c}`).toBeLessThan(15);
      }
      expect(await audioStream(joined(asset, 'audio', 1))).toMatchObject({ codec_name: 'aac', channels: 2 });

      const entry = (await get(`/vod/${asset}/master.m3u8`)).text;
      expect(entry).toContain(
        '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="v1/audio-5.1/index.m3u8"',
      );
      const infs = entry.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
      expect(infs).toHaveLength(2);
      expect(infs[0]).toMatch(/CODECS="avc1\.[0-9a-f]+,mp4a\.40\.2"/);
      expect(infs[1]).toMatch(new RegExp(`CODECS="avc1\\.[0-9a-f]+,${codec}"`));
      expect(infs[1]).toContain('AUDIO="audio-6ch"');
      expect(checkRenditionRules(entry)).toEqual([]);

      const audioSets = await validAudioSets(asset);
      expect(audioSets).toHaveLength(2);
      expect(audioSets[0]).toContain(
        '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="2"/>',
      );
      expect(audioSets[1]).toContain(`codecs="${codec}"`);
      expect(audioSets[1]).toContain(
        '<AudioChannelConfiguration schemeIdUri="tag:dolby.com,2014:dash:audio_channel_configuration:2011" value="F801"/>',
      );
    }
  });

  it('twins in two codecs ("surroundCodec": ["eac3", "aac"]): each decodes, its own HLS group and DASH AdaptationSet', async () => {
    const audio = bothSummary.renditions.filter((r) => r.kind === 'audio').map((r) => r.id);
    expect(audio).toEqual(['audio', 'audio-5.1-eac3', 'audio-5.1-aac']);
    for (const [id, name] of [
      ['audio-5.1-eac3', 'eac3'],
      ['audio-5.1-aac', 'aac'],
    ]) {
      const surround = joined('both', id, 1);
      expect(await audioStream(surround)).toMatchObject({ codec_name: name, channels: 6 });
      for (const c of [0, 1, 2, 4, 5]) {
        const tone = await decodedTone(surround, c);
        expect(Math.abs(tone.hz - SURROUND_TONES[c]), `${id} channel ${c}`).toBeLessThan(15);
      }
    }

    const entry = (await get('/vod/both/master.m3u8')).text;
    expect(entry.split('\n').filter((l) => l.startsWith('#EXT-X-MEDIA:TYPE=AUDIO'))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="v1/audio/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch-ec-3",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="v1/audio-5.1-eac3/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch-aac",NAME="Audio 1",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="v1/audio-5.1-aac/index.m3u8"',
    ]);
    const infs = entry.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(infs.map((l) => [/CODECS="avc1\.[0-9a-f]+,([^"]+)"/.exec(l)?.[1], /AUDIO="([^"]+)"/.exec(l)?.[1]])).toEqual([
      ['mp4a.40.2', 'audio'],
      ['ec-3', 'audio-6ch-ec-3'],
      ['mp4a.40.2', 'audio-6ch-aac'],
    ]);
    expect(checkRenditionRules(entry)).toEqual([]);

    const audioSets = await validAudioSets('both');
    expect(audioSets.map((s) => [/<Label>([^<]+)</.exec(s)?.[1], /codecs="([^"]+)"/.exec(s)?.[1]])).toEqual([
      ['Audio 1', 'mp4a.40.2'],
      ['Audio 1 (5.1, Dolby Digital Plus)', 'ec-3'],
      ['Audio 1 (5.1, AAC)', 'mp4a.40.2'],
    ]);
    expect(audioSets[1]).toContain('value="F801"');
    expect(audioSets[2]).toMatch(
      /AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="6"/,
    );
  });
});
