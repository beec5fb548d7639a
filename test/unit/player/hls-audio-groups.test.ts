/**
 * The extra (multichannel) audio tracks our HLS player can offer, read from multivariant
 * playlists the packager writes: the 5.1 twin of group audio-6ch, and with twins in two codecs
 * one per codec group, each with its codec; a stereo rendition repeated in a 5.1 group is not
 * offered twice.
 */
import { describe, expect, it } from 'vitest';
import { Parser } from 'm3u8-parser';
import { writeMultivariantPlaylist } from '../../../src/hls/multivariant.js';
import { extraAudioRenditions, multichannelName } from '../../../player-demo/player/hls-audio-groups.js';
import { audio, vodPresentation } from '../hls/fixture-presentations.js';

function variantsOf(text: string): { attributes?: { AUDIO?: string; CODECS?: string } }[] {
  const p = new Parser();
  p.push(text);
  p.end();
  return (p.manifest as { playlists: { attributes?: { AUDIO?: string; CODECS?: string } }[] }).playlists;
}

describe('extraAudioRenditions', () => {
  const vod = vodPresentation();
  const en = vod.timelines.find((t) => t.rendition.kind === 'audio')!;
  const stereo = { ...en, rendition: { ...en.rendition, name: 'English', default: true } };
  const fr = { rendition: { ...audio, id: 'audio-fr', language: 'fr', name: 'French' }, segments: en.segments };
  const twin = (id: string, codecs: string) => ({
    rendition: { ...audio, id, codecs, channels: 6, name: 'English', default: true },
    segments: en.segments,
  });
  const others = vod.timelines.filter((t) => t !== en);

  it('one AAC twin: offered once, its codec the stereo one; the French stereo repeated in audio-6ch is not', () => {
    const text = writeMultivariantPlaylist({
      ...vod,
      timelines: [...others, stereo, fr, twin('audio-5.1', 'mp4a.40.2')],
    });
    expect(extraAudioRenditions(text, variantsOf(text))).toEqual([
      {
        uri: 'audio-5.1/index.m3u8',
        groupId: 'audio-6ch',
        name: 'English',
        language: 'en',
        channels: 6,
        codec: 'mp4a.40.2',
        default: true,
      },
    ]);
  });

  it('twins in E-AC-3 and AAC: each from its own group, each with its own codec', () => {
    const text = writeMultivariantPlaylist({
      ...vod,
      timelines: [...others, stereo, fr, twin('audio-5.1-eac3', 'ec-3'), twin('audio-5.1-aac', 'mp4a.40.2')],
    });
    expect(extraAudioRenditions(text, variantsOf(text)).map((r) => [r.uri, r.groupId, r.codec])).toEqual([
      ['audio-5.1-eac3/index.m3u8', 'audio-6ch-ec-3', 'ec-3'],
      ['audio-5.1-aac/index.m3u8', 'audio-6ch-aac', 'mp4a.40.2'],
    ]);
  });

  it('stereo only: nothing extra', () => {
    const text = writeMultivariantPlaylist({ ...vod, timelines: [...others, stereo, fr] });
    expect(extraAudioRenditions(text, variantsOf(text))).toEqual([]);
  });

  it('names a layout as the MPD Label does: 5.1, 7.1, else a channel count', () => {
    expect(multichannelName('English', 6)).toBe('English (5.1)');
    expect(multichannelName('English', 8)).toBe('English (7.1)');
    expect(multichannelName('English', 4)).toBe('English (4 channels)');
    expect(multichannelName('English', 2)).toBe('English');
  });
});
