/**
 * A ladder in H.264 and HEVC (`package --video-codecs h264,hevc`): every rung twice, the HEVC twins
 * in `<id>-hevc` folders as Apple's players need them (hvc1 sample entries, Main profile, each
 * segment opening on an IDR picture, so it decodes from its own init segment alone), listed in the
 * master playlist after the H.264 variants with their own CODECS and I-frame playlists, and in
 * the MPD as a video AdaptationSet of their own (a player switches within a codec, not across).
 * What HEVC cannot do yet is refused before anything is encoded. Real ffmpeg (libx265), ffprobe,
 * our segmenter and the CLI.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { ffprobePath } from '../../../src/media/ffmpeg-binaries.js';
import { validateMpd } from '../../support/xml-validate.js';
import { run } from './verify-package.js';
import { listing, runCli, type Result } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-hevc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface ProbedFrame {
  key_frame: number;
  pict_type: string;
}

/** ffprobe of a rendition's init segment followed by one media segment: the stream and its frames. */
async function probeSegment(dir: string, segment: string) {
  const file = join(root, `${dir.replace(/[^a-z0-9]/gi, '_')}-${segment}.mp4`);
  writeFileSync(file, Buffer.concat([readFileSync(join(dir, 'init.mp4')), readFileSync(join(dir, segment))]));
  const r = await run(ffprobePath(), [
    ...['-v', 'error', '-print_format', 'json', '-select_streams', 'v:0'],
    ...['-show_streams', '-show_frames', '-show_entries', 'frame=key_frame,pict_type', file],
  ]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as {
    streams: { codec_name: string; codec_tag_string: string; profile: string; width: number; height: number }[];
    frames: ProbedFrame[];
  };
}

describe('package --video-codecs h264,hevc', () => {
  let out: string;
  let cli: Result;

  beforeAll(async () => {
    out = join(root, 'out');
    const input = await fixture('small');
    cli = await runCli([
      ...['package', input, '--out', out, '--id', 'hv', '--ladder', 'small'],
      ...['--video-codecs', 'h264,hevc', '--segment', '2', '--part', '0.5'],
    ]);
  }, 180_000);

  it('encodes every rung twice, the HEVC twins at 70 % of the bit rate, and says so', () => {
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain(
      '360p 640x360 600 kb/s, 240p 426x240 300 kb/s, 360p-hevc 640x360 420 kb/s, 240p-hevc 426x240 210 kb/s',
    );
    expect(cli.stdout).toMatch(/^ {2}360p-hevc 640x360 +hvc1\.1\.6\.L\d+\.\w+ +peak /m);
    const folders = readdirSync(join(out, 'hv', 'v1'), { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(folders.map((e) => e.name).sort()).toEqual(['240p', '240p-hevc', '360p', '360p-hevc', 'audio']);
  });

  it('HEVC renditions: hvc1, Main, the rung size, every segment an IDR picture first that decodes from the init alone', async () => {
    for (const [rung, width, height] of [
      ['360p-hevc', 640, 360],
      ['240p-hevc', 426, 240],
    ] as const) {
      const dir = join(out, 'hv', 'v1', rung);
      const segments = readdirSync(dir).filter((f) => f.endsWith('.m4s'));
      expect(segments).toEqual(['seg-1.m4s', 'seg-2.m4s']);
      for (const segment of segments) {
        const p = await probeSegment(dir, segment);
        expect(p.streams[0]).toMatchObject({
          codec_name: 'hevc',
          codec_tag_string: 'hvc1',
          profile: 'Main',
          width,
          height,
        });
        expect(p.frames.length).toBeGreaterThanOrEqual(58); // 2 s at 30 fps, give or take the edges
        expect(p.frames[0]).toMatchObject({ key_frame: 1, pict_type: 'I' });
        // one key frame per segment: no scene-cut or periodic key frames between the forced ones
        expect(p.frames.filter((f) => f.key_frame === 1)).toHaveLength(1);
      }
    }
  });

  it('the H.264 renditions are as before', async () => {
    const p = await probeSegment(join(out, 'hv', 'v1', '360p'), 'seg-2.m4s');
    expect(p.streams[0]).toMatchObject({ codec_name: 'h264', codec_tag_string: 'avc1', width: 640, height: 360 });
    expect(p.frames[0]).toMatchObject({ key_frame: 1, pict_type: 'I' });
  });

  it('master playlist: the H.264 variants first, then the HEVC ones with their CODECS, an I-frame playlist each', () => {
    const master = readFileSync(join(out, 'hv', 'master.m3u8'), 'utf8');
    const uris = master.split('\n').filter((l) => l.endsWith('index.m3u8') && !l.startsWith('#'));
    expect(uris).toEqual([
      'v1/360p/index.m3u8',
      'v1/240p/index.m3u8',
      'v1/360p-hevc/index.m3u8',
      'v1/240p-hevc/index.m3u8',
    ]);
    const hevc = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:') && l.includes('hvc1.'));
    expect(hevc).toHaveLength(2);
    for (const line of hevc) expect(line).toMatch(/CODECS="hvc1\.1\.6\.L\d+\.\w+,mp4a\.40\.2"/);
    expect(master).toMatch(/#EXT-X-I-FRAME-STREAM-INF:.*CODECS="hvc1\.[^"]+".*URI="v1\/360p-hevc\/iframes\.m3u8"/);
    const media = readFileSync(join(out, 'hv', 'v1', '360p-hevc', 'index.m3u8'), 'utf8');
    expect(media).toContain('#EXT-X-MAP:URI="init.mp4"');
  });

  it('MPD: a video AdaptationSet per codec, schema-valid', async () => {
    const mpd = readFileSync(join(out, 'hv', 'manifest.mpd'), 'utf8');
    const sets = [...mpd.matchAll(/<AdaptationSet [^>]*contentType="video"[^>]*>([\s\S]*?)<\/AdaptationSet>/g)].map(
      (m) => [...m[1].matchAll(/<Representation id="([^"]+)"[^>]*codecs="([^"]+)"/g)].map((r) => `${r[1]} ${r[2]}`),
    );
    expect(sets).toHaveLength(2);
    expect(sets[0]).toEqual([expect.stringMatching(/^360p avc1\./), expect.stringMatching(/^240p avc1\./)]);
    expect(sets[1]).toEqual([expect.stringMatching(/^360p-hevc hvc1\./), expect.stringMatching(/^240p-hevc hvc1\./)]);
    expect((await validateMpd(mpd)).errors).toBe('');
  });
});

describe('what HEVC renditions refuse, before encoding anything', () => {
  it('an unknown codec, --encrypt, and a captioned source without --captions-webvtt or --captions none', async () => {
    const small = await fixture('small');
    const captioned = await fixture('captioned');
    const keys = join(root, 'keys.json');
    writeFileSync(
      keys,
      JSON.stringify({ keys: [{ kid: '0123456789abcdef0123456789abcdef', key: 'fedcba9876543210fedcba9876543210' }] }),
    );
    const cases: [string[], RegExp][] = [
      [
        [small, '--video-codecs', 'h264,av1'],
        /--video-codecs: "h264,av1" is not a list of video codecs: name h264, hevc or both/,
      ],
      [[small, '--video-codecs', 'hevc,hevc'], /--video-codecs lists hevc, hevc: each codec at most once/],
      [
        [small, '--video-codecs', 'h264,hevc', '--encrypt', 'cbcs', '--content-keys', keys],
        /--encrypt with HEVC renditions: Common Encryption is done for H\.264 only/,
      ],
      [
        [captioned, '--video-codecs', 'h264,hevc'],
        /HEVC renditions cannot carry the CEA-608 captions of .*: add --captions-webvtt .* or --captions none/,
      ],
      [
        [captioned, '--video-codecs', 'hevc', '--captions-webvtt'],
        /--captions-webvtt reads the captions from an H\.264 rendition, and --video-codecs hevc makes none: add h264/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args], i) =>
        runCli(['package', ...args, '--out', join(root, `refused-${i}`), '--id', 'x', '--ladder', 'small']),
      ),
    );
    for (const [i, [, message]] of cases.entries()) {
      const r = results[i];
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(listing(join(root, `refused-${i}`))).toEqual([]);
    }
  });

  it('a captioned source with --captions-webvtt: the captions as WebVTT for every variant, none announced in-band', async () => {
    const dir = join(root, 'captioned');
    const r = await runCli([
      ...['package', await fixture('captioned'), '--out', dir, '--id', 'cc', '--ladder', 'small'],
      ...['--video-codecs', 'h264,hevc', '--captions-webvtt', '--segment', '2'],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const master = readFileSync(join(dir, 'cc', 'master.m3u8'), 'utf8');
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    expect(variants).toHaveLength(4);
    for (const v of variants) expect(v).toContain('CLOSED-CAPTIONS=NONE');
    for (const v of variants) expect(v).toContain('SUBTITLES="subs"');
    expect(master).not.toContain('TYPE=CLOSED-CAPTIONS');
    expect(master).toMatch(/#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="CC1",.*URI="v1\/cc1\/index\.m3u8"/);
    const vtt = readFileSync(join(dir, 'cc', 'v1', 'cc1', 'subtitles.vtt'), 'utf8');
    expect(vtt).toContain('HELLO');
    const mpd = readFileSync(join(dir, 'cc', 'manifest.mpd'), 'utf8');
    expect(mpd).not.toContain('urn:scte:dash:cc:cea-608:2015');
    expect((await validateMpd(mpd)).errors).toBe('');
  });
});
