/**
 * Planning the audio languages of a package (no ffmpeg: the source is described as ffprobe would):
 * container tags become BCP 47, ids and names are derived, the first track is the default, and
 * bad input (a tag that is not BCP 47, two tracks with the same language and name) is refused.
 * Also the ffmpeg mapping: one AAC output per track, padded/cut to the video's length on VOD,
 * and the live lavfi signal's one tone per language.
 */
import { describe, expect, it } from 'vitest';
import {
  audioFitNote,
  containerLanguage,
  parseAudioOption,
  planAudioTracks,
  withSurroundTwins,
} from '../../../packager/audio-tracks.js';
import { buildEncodeArgs } from '../../../packager/encode-args.js';
import type { LadderPlan } from '../../../packager/ladder.js';
import type { AudioStreamInfo, SourceInfo } from '../../../packager/probe.js';
import { resolveChannelConfig, sourceInput } from '../../../packager/live/channel-config.js';

function source(tracks: Partial<AudioStreamInfo>[]): SourceInfo {
  return {
    formatName: 'mov,mp4',
    audioTracks: tracks.map((t, index) => ({ index, codec: 'aac', sampleRate: 48000, channels: 2, ...t })),
  };
}

describe('audio track planning', () => {
  it('container tags: ISO 639-2 becomes the 2-letter tag, "und" is untagged, a non-BCP 47 tag is refused', () => {
    expect(containerLanguage('eng', 'x')).toBe('en');
    expect(containerLanguage('fre', 'x')).toBe('fr');
    expect(containerLanguage('pt-br', 'x')).toBe('pt-BR');
    expect(containerLanguage('und', 'x')).toBeUndefined();
    expect(containerLanguage(undefined, 'x')).toBeUndefined();
    expect(() => containerLanguage('english', 'in.mkv: audio stream 2 language tag')).toThrow(
      /in\.mkv: audio stream 2 language tag: "english" is not a BCP 47 language tag/,
    );
  });

  it('one track keeps the id "audio"; several get audio-<lang>, the first is the default', async () => {
    expect(await planAudioTracks('in.mp4', source([{ language: 'eng' }]), [])).toEqual([
      {
        id: 'audio',
        map: '0:a:0',
        language: 'en',
        name: 'English',
        default: true,
        origin: 'source audio 1',
        sourceChannels: 2,
      },
    ]);
    const two = await planAudioTracks('in.mp4', source([{ language: 'eng' }, { language: 'fre', durationSec: 7 }]), []);
    expect(two.map((t) => [t.id, t.map, t.language, t.name, t.default])).toEqual([
      ['audio-en', '0:a:0', 'en', 'English', true],
      ['audio-fr', '0:a:1', 'fr', 'French', false],
    ]);
  });

  it('a track of 5.1 or more channels gets a 5.1 twin after it: same stream, language and name', async () => {
    const tracks = await planAudioTracks('in.mp4', source([{ language: 'eng', channels: 6 }, { language: 'fre' }]), []);
    const twins = withSurroundTwins(tracks);
    expect(twins.map((t) => [t.id, t.map, t.language, t.name, t.default, t.channels])).toEqual([
      ['audio-en', '0:a:0', 'en', 'English', true, undefined],
      ['audio-en-5.1', '0:a:0', 'en', 'English', true, 6],
      ['audio-fr', '0:a:1', 'fr', 'French', false, undefined],
    ]);
    // 7.1 is mixed down to a 5.1 twin; stereo and mono get none
    const one = await planAudioTracks('in.mp4', source([{ channels: 8 }]), []);
    expect(withSurroundTwins(one).map((t) => [t.id, t.channels])).toEqual([
      ['audio', undefined],
      ['audio-5.1', 6],
    ]);
    const mono = await planAudioTracks('in.mp4', source([{ channels: 1 }]), []);
    expect(withSurroundTwins(mono)).toEqual(mono);
  });

  it('titles tell two tracks of one language apart; untagged tracks are numbered', async () => {
    const commentary = await planAudioTracks(
      'in.mp4',
      source([{ language: 'eng' }, { language: 'eng', title: 'Commentary' }]),
      [],
    );
    expect(commentary.map((t) => [t.id, t.name])).toEqual([
      ['audio-en', 'English'],
      ['audio-en-2', 'Commentary'],
    ]);
    const untagged = await planAudioTracks('in.mp4', source([{}, {}]), []);
    expect(untagged.map((t) => [t.id, t.name, t.language])).toEqual([
      ['audio-1', 'Audio 1', undefined],
      ['audio-2', 'Audio 2', undefined],
    ]);
  });

  it('two tracks with the same language and name, or a bad source tag, are refused with one line', async () => {
    await expect(planAudioTracks('in.mp4', source([{ language: 'eng' }, { language: 'en' }]), [])).rejects.toThrow(
      /two audio tracks with language "en" and name "English" \(source audio 1 and source audio 2\)/,
    );
    await expect(planAudioTracks('in.mkv', source([{ language: 'english' }]), [])).rejects.toThrow(
      /in\.mkv: audio stream 1 language tag: "english" is not a BCP 47 language tag/,
    );
  });

  it('--audio <lang>=<file> parsing, and the padded/trimmed note', () => {
    expect(parseAudioOption('pt-BR=dub.m4a')).toEqual({ language: 'pt-BR', file: 'dub.m4a' });
    expect(() => parseAudioOption('dub.m4a')).toThrow(/expected <lang>=<file>/);
    const t = { id: 'audio-de', map: '1:a:0', name: 'German', default: false, origin: '--audio de=d.m4a' };
    expect(audioFitNote({ ...t, durationSec: 3 }, 8)).toBe(
      'audio-de (--audio de=d.m4a) is 5.00 s shorter than the video: padded with silence',
    );
    expect(audioFitNote({ ...t, durationSec: 9.5 }, 8)).toBe(
      'audio-de (--audio de=d.m4a) is 1.50 s longer than the video: trimmed to 8.00 s',
    );
    expect(audioFitNote({ ...t, durationSec: 8.05 }, 8)).toBeUndefined();
  });
});

const plan: LadderPlan = {
  frameRate: [30, 1],
  video: [
    {
      id: '240p',
      codec: 'h264',
      width: 426,
      height: 240,
      bitrate: 300_000,
      maxrate: 360_000,
      bufsize: 600_000,
      profile: 'main',
    },
  ],
  audio: { id: 'audio', bitrate: 96_000, sampleRate: 48000, channels: 2 },
};

describe('ffmpeg mapping of several audio tracks', () => {
  it('VOD: one AAC output per track, each padded with silence and cut to the video length', () => {
    const { args, outputs } = buildEncodeArgs(
      {
        args: ['-i', 'in.mp4', '-i', 'de.m4a'],
        audioTracks: [
          { id: 'audio-en', map: '0:a:0' },
          { id: 'audio-de', map: '1:a:0' },
        ],
      },
      plan,
      { segmentDuration: 2, partDuration: 1, audioDurationSec: 8 },
    );
    expect(outputs).toEqual([
      { renditionId: '240p', kind: 'video', fd: 3 },
      { renditionId: 'audio-en', kind: 'audio', fd: 4 },
      { renditionId: 'audio-de', kind: 'audio', fd: 5 },
    ]);
    const maps = args.flatMap((a, i) => (a === '-map' ? [args[i + 1]] : []));
    expect(maps).toEqual(['[v0]', '0:a:0', '1:a:0']);
    expect(args.join(' ')).toContain('-af apad -t 8 -max_muxing_queue_size 4096 -f mp4');
    expect(args.filter((a) => a === 'apad')).toHaveLength(2);
  });

  it('a 5.1 twin: the same stream to six channels at the surround bit rate, stereo beside it', () => {
    const { args, outputs } = buildEncodeArgs(
      {
        args: ['-i', 'in.mp4'],
        audioTracks: [
          { id: 'audio', map: '0:a:0' },
          { id: 'audio-5.1', map: '0:a:0', channels: 6 },
        ],
      },
      { ...plan, audio: { ...plan.audio!, surroundBitrate: 384_000 } },
      { segmentDuration: 2, partDuration: 1 },
    );
    expect(outputs.map((o) => o.renditionId)).toEqual(['240p', 'audio', 'audio-5.1']);
    const outputOf = (n: number) => args.join(' ').split(' pipe:')[n + 1]; // after -progress pipe:1
    expect(outputOf(1)).toContain('-map 0:a:0');
    expect(outputOf(1)).toContain('-b:a 96000 -ar 48000 -ac 2');
    expect(outputOf(2)).toContain('-map 0:a:0');
    expect(outputOf(2)).toContain('-b:a 384000 -ar 48000 -ac 6');
    expect(outputOf(1)).toContain('-c:a aac');
    expect(outputOf(2)).toContain('-c:a aac');
  });

  it('a 5.1 twin in E-AC-3: the twin alone changes codec, and its init waits for its first frames', () => {
    const { args } = buildEncodeArgs(
      {
        args: ['-i', 'in.mp4'],
        audioTracks: [
          { id: 'audio', map: '0:a:0' },
          { id: 'audio-5.1', map: '0:a:0', channels: 6, codec: 'eac3' },
        ],
      },
      { ...plan, audio: { ...plan.audio!, surroundBitrate: 384_000, surroundCodecs: ['eac3'] } },
      { segmentDuration: 2, partDuration: 1 },
    );
    const outputOf = (n: number) => args.join(' ').split(' pipe:')[n + 1];
    expect(outputOf(1)).toContain('-c:a aac');
    expect(outputOf(1)).toContain('+empty_moov');
    expect(outputOf(2)).toContain('-c:a eac3 -b:a 384000 -ar 48000 -ac 6');
    expect(outputOf(2)).toContain('+delay_moov');
    expect(outputOf(2)).not.toContain('empty_moov');
  });

  it('several surround codecs: a twin per codec after each multichannel track, "<id>-5.1-<codec>", each encoded in its codec', () => {
    const tracks = withSurroundTwins(
      [
        {
          id: 'audio-en',
          map: '0:a:0',
          language: 'en',
          name: 'English',
          default: true,
          origin: 'source audio 1',
          sourceChannels: 6,
        },
        {
          id: 'audio-fr',
          map: '0:a:1',
          language: 'fr',
          name: 'French',
          default: false,
          origin: 'source audio 2',
          sourceChannels: 2,
        },
      ],
      ['eac3', 'aac'],
    );
    expect(tracks.map((t) => [t.id, t.channels, t.codec, t.origin])).toEqual([
      ['audio-en', undefined, undefined, 'source audio 1'],
      ['audio-en-5.1-eac3', 6, 'eac3', 'source audio 1 (5.1 eac3)'],
      ['audio-en-5.1-aac', 6, 'aac', 'source audio 1 (5.1 aac)'],
      ['audio-fr', undefined, undefined, 'source audio 2'],
    ]);
    expect(tracks[1]).toMatchObject({ language: 'en', name: 'English', default: true });
    const { args, outputs } = buildEncodeArgs(
      { args: ['-i', 'in.mp4'], audioTracks: tracks },
      { ...plan, audio: { ...plan.audio!, surroundBitrate: 384_000, surroundCodecs: ['eac3', 'aac'] } },
      { segmentDuration: 2, partDuration: 1 },
    );
    expect(outputs.map((o) => o.renditionId)).toEqual([
      '240p',
      'audio-en',
      'audio-en-5.1-eac3',
      'audio-en-5.1-aac',
      'audio-fr',
    ]);
    const outputOf = (n: number) => args.join(' ').split(' pipe:')[n + 1];
    expect(outputOf(1)).toContain('-map 0:a:0 -vn');
    expect(outputOf(1)).toContain('-c:a aac -b:a 96000 -ar 48000 -ac 2');
    expect(outputOf(2)).toContain('-c:a eac3 -b:a 384000 -ar 48000 -ac 6');
    expect(outputOf(3)).toContain('-c:a aac -b:a 384000 -ar 48000 -ac 6');
    expect(outputOf(4)).toContain('-map 0:a:1 -vn');
    expect(outputOf(4)).toContain('-c:a aac -b:a 96000 -ar 48000 -ac 2');
  });

  it('live lavfi: one sine input per language (440, 660 Hz), each mapped to its own rendition', () => {
    const input = sourceInput('lavfi:testsrc2=size=320x180:rate=30', ['en', 'fr']);
    expect(input.args.filter((a) => a.startsWith('sine='))).toEqual([
      'sine=frequency=440:sample_rate=48000',
      'sine=frequency=660:sample_rate=48000',
    ]);
    expect(input.audioTracks?.map((t) => [t.id, t.map, t.language, t.name, t.default])).toEqual([
      ['audio-en', '1:a:0', 'en', 'English', true],
      ['audio-fr', '2:a:0', 'fr', 'French', false],
    ]);
    expect(() => resolveChannelConfig({ id: 'c', source: 'movie.mp4', audioLanguages: ['en'] })).toThrow(
      /--live-audio names the lavfi test signal's tracks/,
    );
    expect(() => resolveChannelConfig({ id: 'c', source: 'lavfi', audioLanguages: ['en', 'EN'] })).toThrow(
      /names "en" twice/,
    );
    expect(() => resolveChannelConfig({ id: 'c', source: 'lavfi', audioLanguages: ['english'] })).toThrow(
      /"english" is not a BCP 47 language tag/,
    );
    expect(resolveChannelConfig({ id: 'c', source: 'lavfi', audioLanguages: ['pt-br'] }).audioLanguages).toEqual([
      'pt-BR',
    ]);
  });
});
