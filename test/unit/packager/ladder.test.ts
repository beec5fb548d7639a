import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { h264Level, parseBitrate, parseLadderSpec, parseVideoCodecs, planLadder } from '../../../packager/ladder.js';
import type { SourceInfo } from '../../../packager/probe.js';

const dir = mkdtempSync(join(tmpdir(), 'se-ladder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function source(
  width: number,
  height: number,
  opts: { fps?: [number, number]; sar?: [number, number]; audio?: boolean } = {},
): SourceInfo {
  return {
    formatName: 'mov,mp4',
    durationSec: 10,
    video: {
      width,
      height,
      frameRate: opts.fps ?? [30, 1],
      codec: 'h264',
      pixFmt: 'yuv420p',
      bitDepth: 8,
      sar: opts.sar ?? [1, 1],
    },
    audio: opts.audio === false ? undefined : { codec: 'aac', sampleRate: 48000, channels: 2 },
  };
}

describe('planLadder', () => {
  it('default preset on 1080p: five rungs, 16:9 even sizes, AAC 128k, source fps', () => {
    const p = planLadder(source(1920, 1080, { fps: [30000, 1001] }));
    expect(p.video.map((r) => [r.id, r.width, r.height])).toEqual([
      ['1080p', 1920, 1080],
      ['720p', 1280, 720],
      ['540p', 960, 540],
      ['360p', 640, 360],
      ['240p', 426, 240],
    ]);
    expect(p.frameRate).toEqual([30000, 1001]);
    expect(p.audio).toEqual({
      id: 'audio',
      bitrate: 128_000,
      sampleRate: 48000,
      channels: 2,
      surroundBitrate: 384_000,
    });
    for (const r of p.video) {
      expect(r.maxrate).toBeGreaterThan(r.bitrate);
      expect(r.bufsize).toBeGreaterThanOrEqual(r.maxrate);
      expect(r.level).toBeDefined();
    }
    expect(p.video[0].level).toBe('4');
    expect(p.video[1].level).toBe('3.1');
    expect(p.video[0].bitrate).toBeGreaterThan(p.video[1].bitrate);
  });

  it('never upscales: a 720p source gets no 1080p rung; a tiny source gets one rung at its own size', () => {
    expect(planLadder(source(1280, 720)).video.map((r) => r.id)).toEqual(['720p', '540p', '360p', '240p']);
    const tiny = planLadder(source(320, 180));
    expect(tiny.video.map((r) => [r.id, r.width, r.height])).toEqual([['180p', 320, 180]]);
    expect(tiny.video[0].bitrate).toBeLessThan(400_000);
  });

  it('keeps the display aspect ratio with even dimensions (odd sizes, anamorphic, portrait)', () => {
    const odd = planLadder(source(642, 362), 'small');
    expect(odd.video.map((r) => [r.width, r.height])).toEqual([
      [638, 360],
      [426, 240],
    ]);
    // 1440x1080 with 4:3 pixels displays as 1920x1080.
    const ana = planLadder(source(1440, 1080, { sar: [4, 3] }));
    expect(ana.video[0]).toMatchObject({ width: 1920, height: 1080 });
    const portrait = planLadder(source(1080, 1920));
    expect(portrait.video[0]).toMatchObject({ id: '1080p', width: 1080, height: 1920 });
    for (const r of [...odd.video, ...ana.video, ...portrait.video]) {
      expect(r.width % 2).toBe(0);
      expect(r.height % 2).toBe(0);
    }
  });

  it('raises bit rates by half above 30 fps and drops audio for silent sources', () => {
    const p60 = planLadder(source(1280, 720, { fps: [60, 1], audio: false }));
    expect(p60.video[0].bitrate).toBe(4_500_000);
    expect(p60.audio).toBeUndefined();
  });

  it('reads a JSON ladder file: ids, profiles, bit rate strings, audio false', () => {
    const f = join(dir, 'l.json');
    writeFileSync(
      f,
      JSON.stringify({
        video: [
          { height: 480, bitrate: '1.2M', profile: 'main', id: 'sd' },
          { height: 2160, bitrate: 20_000_000 },
        ],
        audio: false,
      }),
    );
    const p = planLadder(source(1920, 1080), f);
    expect(p.video).toEqual([
      expect.objectContaining({ id: 'sd', width: 854, height: 480, bitrate: 1_200_000, profile: 'main' }),
    ]);
    expect(p.audio).toBeUndefined();
  });

  it("reads the 5.1 twin's bit rate, or false for stereo only", () => {
    const spec = (audio: unknown) => parseLadderSpec({ video: [{ height: 360, bitrate: '800k' }], audio }, 'l.json');
    expect(planLadder(source(640, 360), spec({ bitrate: '96k', surroundBitrate: '256k' })).audio).toMatchObject({
      bitrate: 96_000,
      surroundBitrate: 256_000,
    });
    expect(planLadder(source(640, 360), spec({ bitrate: '96k', surroundBitrate: false })).audio?.surroundBitrate).toBe(
      undefined,
    );
    expect(() => spec({ bitrate: '96k', surroundBitrate: 'loud' })).toThrow(/audio\.surroundBitrate/);
  });

  it("reads the 5.1 twin's codecs (AAC by default, E-AC-3, AC-3 or a list) and refuses a rate a codec cannot carry", () => {
    const spec = (audio: unknown) => parseLadderSpec({ video: [{ height: 360, bitrate: '800k' }], audio }, 'l.json');
    expect(planLadder(source(640, 360), spec({ bitrate: '96k' })).audio?.surroundCodecs).toBeUndefined();
    expect(
      planLadder(source(640, 360), spec({ bitrate: '96k', surroundCodec: 'aac' })).audio?.surroundCodecs,
    ).toBeUndefined();
    expect(planLadder(source(640, 360), spec({ bitrate: '96k', surroundCodec: 'eac3' })).audio).toMatchObject({
      surroundBitrate: 384_000,
      surroundCodecs: ['eac3'],
    });
    expect(
      planLadder(source(640, 360), spec({ bitrate: '96k', surroundCodec: 'ac3', surroundBitrate: '640k' })).audio,
    ).toMatchObject({ surroundBitrate: 640_000, surroundCodecs: ['ac3'] });
    expect(
      planLadder(source(640, 360), spec({ bitrate: '96k', surroundCodec: ['eac3', 'aac'] })).audio?.surroundCodecs,
    ).toEqual(['eac3', 'aac']);
    expect(() => spec({ bitrate: '96k', surroundCodec: 'dts' })).toThrow(/surroundCodec must be "aac", "eac3"/);
    expect(() => spec({ bitrate: '96k', surroundCodec: ['eac3', 'dts'] })).toThrow(/or a list of them/);
    expect(() => spec({ bitrate: '96k', surroundCodec: [] })).toThrow(/or a list of them/);
    expect(() => spec({ bitrate: '96k', surroundCodec: ['eac3', 'eac3'] })).toThrow(/each codec at most once/);
    expect(() => spec({ bitrate: '96k', surroundCodec: 'ac3', surroundBitrate: '768k' })).toThrow(
      /above 640k, the most ac3 allows/,
    );
    expect(() => spec({ bitrate: '96k', surroundCodec: ['eac3', 'ac3'], surroundBitrate: '768k' })).toThrow(
      /above 640k, the most ac3 allows/,
    );
  });

  it('explains bad ladders', () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, JSON.stringify({ video: [{ height: 'tall', bitrate: '1M' }] }));
    expect(() => planLadder(source(640, 360), f)).toThrow(/video\[0\]\.height must be an integer/);
    // A rung id may not look like a version folder (v1, v2 …: /vod/<asset>/v<N>/ is a version's URL space).
    writeFileSync(f, JSON.stringify({ video: [{ height: 360, bitrate: '1M', id: 'v2' }] }));
    expect(() => planLadder(source(640, 360), f)).toThrow(/not "audio" or a version name like "v2"/);
    writeFileSync(f, '{not json');
    expect(() => planLadder(source(640, 360), f)).toThrow(
      expect.objectContaining({ code: 'BAD_LADDER', message: expect.stringMatching(/not valid JSON/) }),
    );
    expect(() => planLadder(source(640, 360), join(dir, 'missing.json'))).toThrow(/neither a preset/);
    expect(() => parseBitrate('fast', 'x')).toThrow(/not a bit rate/);
    expect(parseBitrate('800k', 'x')).toBe(800_000);
  });

  it('videoCodecs: every rung again in HEVC after the H.264 ones, "<id>-hevc", at 70 % or hevcBitrate, peak and buffer scaled', () => {
    const both = planLadder(source(1280, 720), {
      ...parseLadderSpec(
        {
          video: [
            { height: 720, bitrate: '3M' },
            { height: 360, bitrate: '800k', hevcBitrate: '500k', maxrate: '1M' },
          ],
        },
        'f',
      ),
      videoCodecs: ['h264', 'hevc'],
    });
    expect(both.video.map((r) => [r.id, r.codec, r.width, r.height, r.bitrate, r.maxrate, r.bufsize])).toEqual([
      ['720p', 'h264', 1280, 720, 3_000_000, 3_600_000, 6_000_000],
      ['360p', 'h264', 640, 360, 800_000, 1_000_000, 1_600_000],
      ['720p-hevc', 'hevc', 1280, 720, 2_100_000, 2_520_000, 4_200_000],
      ['360p-hevc', 'hevc', 640, 360, 500_000, 625_000, 1_000_000],
    ]);
    expect(both.video[2]).toMatchObject({ profile: 'main' });
    expect(both.video[2].level).toBeUndefined(); // libx265 sets HEVC's level
    // HEVC first, or alone; above 30 fps both scale by 1.5 as H.264 does
    const hevc = planLadder(source(640, 360, { fps: [60, 1] }), {
      ...parseLadderSpec({ video: [{ height: 360, bitrate: '800k', hevcBitrate: '500k' }] }, 'f'),
      videoCodecs: ['hevc'],
    });
    expect(hevc.video.map((r) => [r.id, r.bitrate])).toEqual([['360p-hevc', 750_000]]);
    // a source smaller than every rung: one rung at its size, both bit rates scaled by area alike
    const tiny = planLadder(source(320, 180), {
      ...parseLadderSpec({ video: [{ height: 360, bitrate: '800k', hevcBitrate: '400k' }] }, 'f'),
      videoCodecs: ['h264', 'hevc'],
    });
    expect(tiny.video.map((r) => [r.id, r.bitrate])).toEqual([
      ['180p', 200_000],
      ['180p-hevc', 100_000],
    ]);
    // from a ladder file; the default is H.264 alone
    expect(
      parseLadderSpec({ video: [{ height: 360, bitrate: '1M' }], videoCodecs: ['hevc', 'h264'] }, 'f').videoCodecs,
    ).toEqual(['hevc', 'h264']);
    expect(planLadder(source(640, 360)).video.map((r) => r.codec)).toEqual(['h264', 'h264']);
    expect(parseVideoCodecs('H264, hevc', '--video-codecs')).toEqual(['h264', 'hevc']);
    expect(() => parseVideoCodecs('h264,vp9', '--video-codecs')).toThrow(
      /"h264,vp9" is not a list of video codecs: name h264, hevc or both/,
    );
    expect(() => parseVideoCodecs([], 'x')).toThrow(/not a list of video codecs/);
    expect(() =>
      parseLadderSpec({ video: [{ height: 360, bitrate: '1M' }], videoCodecs: ['h264', 'h264'] }, 'f'),
    ).toThrow(/each codec at most once/);
    expect(() => parseLadderSpec({ video: [{ height: 360, bitrate: '1M', hevcBitrate: 'lots' }] }, 'f')).toThrow(
      /video\[0\]\.hevcBitrate: not a bit rate/,
    );
  });

  it('h264Level picks the smallest level that fits', () => {
    expect(h264Level(640, 360, 30, 1_000_000, 'main')).toBe('3');
    expect(h264Level(1920, 1080, 60, 9_000_000, 'high')).toBe('4.2');
    expect(h264Level(3840, 2160, 30, 20_000_000, 'high')).toBe('5.1');
  });
});
