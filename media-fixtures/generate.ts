/**
 * Deterministic test media, generated on demand with ffmpeg's lavfi sources (testsrc2 + sine)
 * into media-fixtures/.cache (git-ignored). Each fixture is written to a temporary name and
 * renamed into place, so concurrent test workers never see a half-written file.
 *
 *   node bin/run-ts.js media-fixtures/generate.ts            # all (except the long bench source)
 *   node bin/run-ts.js media-fixtures/generate.ts small odd  # some
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import { withCaption, type Cea708Caption } from './a53-captions.js';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '.cache');

interface Spec {
  file: string;
  /** ffmpeg arguments after the global ones, ending with the output (written to `out`). */
  args?: (out: string) => string[];
  /** Or: produce the file some other way. */
  make?: (out: string) => Promise<void> | void;
  about: string;
}

const X264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-threads', '1', '-bf', '0'];
const AAC = ['-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000'];
/** The `captioned` fixture's one caption (CC1). */
export const CAPTION_TEXT = 'HELLO';
/** The `captioned708` fixture's CEA-708 caption (service 1), beside CAPTION_TEXT on CC1. */
export const CAPTION_708_TEXT = 'WORLD';
/** The `surround` fixture's tone per channel, in 5.1 order (L R C LFE Ls Rs), Hz. */
export const SURROUND_TONES = [440, 550, 660, 110, 770, 880];

/** The lavfi graph of a 5.1 signal with SURROUND_TONES, one per channel (for `seconds`, else endless). */
export function surroundToneGraph(seconds?: number): string {
  const sines = SURROUND_TONES.map((hz) => `0.5*sin(${hz}*2*PI*t)`).join('|');
  return `aevalsrc=${sines}:c=5.1:s=48000${seconds === undefined ? '' : `:d=${seconds}`}`;
}

function av(size: string, rate: string, seconds: number, extra: string[] = []): (out: string) => string[] {
  return (out) => [
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    ...X264,
    '-pix_fmt',
    'yuv420p',
    '-g',
    '60',
    ...AAC,
    ...extra,
    '-shortest',
    '-movflags',
    '+faststart',
    out,
  ];
}

/** 426x240 with two AAC tracks, English ("eng", 440 Hz) and French ("fre", 880 Hz), `seconds` long. */
function bilingualArgs(seconds: number, out: string): string[] {
  return [
    ...['-f', 'lavfi', '-i', `testsrc2=size=426x240:rate=30:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=880:sample_rate=48000:duration=${seconds}`],
    ...['-map', '0:v', '-map', '1:a', '-map', '2:a'],
    ...X264,
    ...['-pix_fmt', 'yuv420p', '-g', '60'],
    ...AAC,
    ...['-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fre'],
    ...['-movflags', '+faststart', out],
  ];
}

/** Video alone from a lavfi graph, encoded with x264 and the given output options. */
function videoOnly(graph: string, extra: string[]): (out: string) => string[] {
  return (out) => ['-f', 'lavfi', '-i', graph, ...X264, ...extra, out];
}

export const FIXTURES = {
  /** 8 s of 1280x720 at 30 fps with stereo AAC: the demo sample and the ladder tests. */
  sample: { file: 'sample-720p30.mp4', args: av('1280x720', '30', 8), about: '8 s 1280x720 30 fps + AAC' },
  /** 60 s of 1280x720 at 30 fps with AAC: what `npm start` packages (long enough to watch ABR switch down and up). */
  demo: { file: 'demo-720p30-60s.mp4', args: av('1280x720', '30', 60), about: '60 s 1280x720 30 fps + AAC' },
  /** 180 s of the demo's signal: the ABR bench's long sessions (`--long-sample`), where a full buffer counts. */
  demoLong: { file: 'demo-720p30-180s.mp4', args: av('1280x720', '30', 180), about: '180 s 1280x720 30 fps + AAC' },
  /** 4 s of 640x360 at 30 fps with AAC: the small, fast default for integration tests. */
  small: { file: 'small-360p30.mp4', args: av('640x360', '30', 4), about: '4 s 640x360 30 fps + AAC' },
  fps25: { file: 'fps25-360p.mp4', args: av('640x360', '25', 4), about: '4 s 640x360 25 fps + AAC' },
  fps2997: { file: 'fps2997-360p.mp4', args: av('640x360', '30000/1001', 4), about: '4 s 640x360 29.97 fps + AAC' },
  odd: { file: 'odd-642x362.mp4', args: av('642x362', '30', 4), about: '4 s 642x362 (odd-ish, not mod 4) + AAC' },
  videoOnly: {
    file: 'video-only.mp4',
    args: videoOnly('testsrc2=size=640x360:rate=30:duration=4', ['-pix_fmt', 'yuv420p']),
    about: '4 s 640x360 without audio',
  },
  audioOnly: {
    file: 'audio-only.mp4',
    args: (out) => ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4', ...AAC, out],
    about: '4 s AAC without video',
  },
  /**
   * 8 s of 426x240 with TWO audio streams: English (language "eng", 440 Hz) and French ("fre",
   * 880 Hz): the several-languages tests tell the tracks apart by their tone.
   */
  bilingual: {
    file: 'bilingual-240p-8s.mp4',
    args: (out) => bilingualArgs(8, out),
    about: '8 s 426x240 + AAC eng 440 Hz + AAC fre 880 Hz',
  },
  /**
   * The same, 20 s long: the browser's audio-switch test, which must still have content to play
   * after the first tone, the switch and the segment of the old language a player keeps, even when
   * a loaded machine makes each of those slow.
   */
  bilingualLong: {
    file: 'bilingual-240p-20s.mp4',
    args: (out) => bilingualArgs(20, out),
    about: '20 s 426x240 + AAC eng 440 Hz + AAC fre 880 Hz',
  },
  /**
   * 8 s 426x240 with 5.1 AAC, a tone of its own on each channel (L 440, R 550, C 660, LFE 110,
   * Ls 770, Rs 880 Hz): the packager's 5.1 twin must keep them apart.
   */
  surround: {
    file: 'surround-240p-8s.mp4',
    args: (out) => [
      ...['-f', 'lavfi', '-i', 'testsrc2=size=426x240:rate=30:duration=8'],
      ...['-f', 'lavfi', '-i', surroundToneGraph(8)],
      ...X264,
      ...['-pix_fmt', 'yuv420p', '-g', '60'],
      ...['-c:a', 'aac', '-b:a', '384k', '-ar', '48000'],
      ...['-movflags', '+faststart', out],
    ],
    about: '8 s 426x240 + AAC 5.1, one tone per channel (L 440, R 550, C 660, LFE 110, Ls 770, Rs 880 Hz)',
  },
  /** 3 s of AAC at 660 Hz, no video: an `--audio de=<file>` dub, shorter than `bilingual`. */
  dubShort: {
    file: 'dub-660hz-3s.m4a',
    args: (out) => ['-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=48000:duration=3', ...AAC, out],
    about: '3 s AAC 660 Hz without video',
  },
  yuv444: {
    file: 'yuv444.mp4',
    args: (out) => [
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=640x360:rate=30:duration=3',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000:duration=3',
      ...X264,
      '-pix_fmt',
      'yuv444p',
      '-profile:v',
      'high444',
      ...AAC,
      '-shortest',
      out,
    ],
    about: 'H.264 High 4:4:4 (the ladder must convert it to 4:2:0)',
  },
  /**
   * 3 s of 640x360 + AAC stored with a quarter-turn display matrix, as a phone stores a portrait
   * clip: players (and ffmpeg when it decodes) show it 360x640.
   */
  rotated: {
    file: 'rotated-640x360-quarter-turn.mp4',
    make: async (out) => {
      const plain = `${out}.plain.mp4`;
      await runFfmpeg(av('640x360', '30', 3)(plain));
      try {
        // ffmpeg 6 and later: a display matrix given on the input, copied into the output
        await runFfmpeg(['-display_rotation', '90', '-i', plain, '-c', 'copy', '-f', 'mp4', out]);
      } catch {
        // before ffmpeg 6 the mp4 muxer writes the display matrix from the `rotate` tag
        await runFfmpeg(['-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', '-f', 'mp4', out]);
      } finally {
        rmSync(plain, { force: true });
      }
    },
    about: '3 s 640x360 + AAC with a quarter-turn display matrix (shown 360x640)',
  },
  /**
   * 3 s of 720x576 interlaced, top field first, 25 frames (50 fields) a second, as a broadcast
   * SD feed: the two fields of a frame show different moments of the moving pattern.
   */
  interlaced: {
    file: 'interlaced-576i25.mp4',
    args: videoOnly('testsrc2=size=720x576:rate=50:duration=3,tinterlace=interleave_top,fieldorder=tff', [
      ...['-pix_fmt', 'yuv420p', '-flags', '+ildct+ilme', '-x264opts', 'tff=1'],
    ]),
    about: '3 s 720x576 interlaced (TFF, 25 frames/s), no audio',
  },
  /**
   * 4 s of 640x360 at a variable frame rate, as a phone records: 1 s at 30 frames a second, 1 s
   * at 15 (every other frame dropped), 2 s at 30; 105 frames, an average of 26.25 a second.
   */
  vfr: {
    file: 'vfr-360p-30-15-30.mp4',
    args: videoOnly("testsrc2=size=640x360:rate=30:duration=4,select='lt(n\\,30)+gte(n\\,60)+not(mod(n\\,2))'", [
      ...['-pix_fmt', 'yuv420p', '-vsync', 'vfr'],
    ]),
    about: '4 s 640x360 variable frame rate (30, 15, 30 fps; average 26.25), no audio',
  },
  /** 2 s of 640x360 10-bit H.264 tagged HDR10 (PQ transfer, BT.2020 primaries and matrix), no audio. */
  hdrPq: {
    file: 'hdr-pq-360p.mp4',
    args: videoOnly('testsrc2=size=640x360:rate=30:duration=2', [
      '-pix_fmt',
      'yuv420p10le',
      '-color_primaries',
      'bt2020',
      '-color_trc',
      'smpte2084',
      '-colorspace',
      'bt2020nc',
    ]),
    about: '2 s 640x360 10-bit, tagged PQ / BT.2020 (HDR10), no audio',
  },
  /** 2 s of 640x360 10-bit H.264 tagged HLG (ARIB STD-B67 transfer, BT.2020), no audio: broadcast HDR. */
  hdrHlg: {
    file: 'hdr-hlg-360p.mp4',
    args: videoOnly('testsrc2=size=640x360:rate=30:duration=2', [
      ...['-pix_fmt', 'yuv420p10le', '-color_primaries', 'bt2020'],
      ...['-color_trc', 'arib-std-b67', '-colorspace', 'bt2020nc'],
    ]),
    about: '2 s 640x360 10-bit, tagged HLG / BT.2020, no audio',
  },
  /**
   * The same picture as HDR10 in HEVC Main 10, as HDR masters come: PQ / BT.2020, with mastering
   * display colour volume (P3 primaries, D65, 1000 / 0.0001 cd/m²) and content light level
   * (MaxCLL 1000, MaxFALL 400) in SEI messages, which the HDR HEVC renditions must carry on.
   */
  hdrPqHevc: {
    file: 'hdr-pq-hevc-360p.mp4',
    args: (out: string) => [
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=2'],
      ...['-c:v', 'libx265', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p10le', '-tag:v', 'hvc1'],
      ...['-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc'],
      '-x265-params',
      'log-level=error:frame-threads=1:pools=none:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:' +
        'master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400',
      out,
    ],
    about: '2 s 640x360 HEVC Main 10, HDR10 with mastering display and MaxCLL/MaxFALL SEI, no audio',
  },
  /**
   * 4 s of 640x360 at 30 fps with AAC and CEA-608 closed captions in the H.264 (A/53 SEI), as
   * broadcast sources carry them: on CC1, "HELLO" shown from 0.23 s to 2 s.
   */
  captioned: {
    file: 'captioned-360p30.mp4',
    make: (out) => makeCaptioned(out, 1),
    about: '4 s 640x360 30 fps + AAC + CEA-608 captions (CC1 "HELLO", 0.23-2 s)',
  },
  /** The same on CC3 (field 2), as a second-language service is carried. */
  captionedCc3: {
    file: 'captioned-cc3-360p30.mp4',
    make: (out) => makeCaptioned(out, 2),
    about: '4 s 640x360 30 fps + AAC + CEA-608 captions (CC3 "HELLO", 0.23-2 s)',
  },
  /**
   * CC1's "HELLO" and, as an ATSC encoder sends both, a CEA-708 caption on service 1: "WORLD" shown
   * from 0.23 s to 3 s.
   */
  captioned708: {
    file: 'captioned-708-360p30.mp4',
    make: (out) => makeCaptioned(out, 1, { text: CAPTION_708_TEXT, eraseAtFrame: 90 }),
    about: '4 s 640x360 30 fps + AAC + CEA-608 CC1 "HELLO" (0.23-2 s) and CEA-708 service 1 "WORLD" (0.23-3 s)',
  },
  zero: { file: 'broken-zero.mp4', make: (out) => writeFileSync(out, Buffer.alloc(0)), about: 'zero bytes' },
  text: {
    file: 'broken-text.mp4',
    make: (out) => writeFileSync(out, 'This is not a video file, only text with an .mp4 name.\n'),
    about: 'a text file named .mp4',
  },
  truncated: {
    file: 'broken-truncated.mp4',
    make: async (out) => {
      // moov at the end (no faststart), then cut the file in half: the moov is gone.
      const whole = `${out}.whole.mp4`;
      await runFfmpeg(av('640x360', '30', 3, [])(whole).filter((a) => a !== '+faststart' && a !== '-movflags'));
      const bytes = readFileSync(whole);
      writeFileSync(out, bytes.subarray(0, Math.floor(bytes.length / 2)));
      rmSync(whole, { force: true });
    },
    about: 'an MP4 whose moov box was cut off',
  },
  /** 60 s of 1920x1080 at 30 fps: the packaging benchmark source (not generated by default). */
  long1080: { file: 'long-1080p30.mp4', args: av('1920x1080', '30', 60), about: '60 s 1920x1080 30 fps + AAC' },
} satisfies Record<string, Spec>;

export type FixtureName = keyof typeof FIXTURES;

/**
 * 4 s with AAC and the caption CAPTION_TEXT written into the H.264 on CC1 (field 1) or CC3
 * (field 2), and `cea708`'s caption on service 1 when given.
 */
async function makeCaptioned(out: string, field: 1 | 2, cea708?: Cea708Caption): Promise<void> {
  const raw = `${out}.h264`;
  const cc = `${out}.cc.h264`;
  try {
    await runFfmpeg([
      ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30:duration=4'],
      ...X264,
      ...['-pix_fmt', 'yuv420p', '-g', '60', '-f', 'h264', raw],
    ]);
    writeFileSync(cc, withCaption(readFileSync(raw), CAPTION_TEXT, 60, field, cea708));
    await runFfmpeg([
      ...['-framerate', '30', '-f', 'h264', '-i', cc],
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4'],
      ...['-c:v', 'copy', ...AAC, '-shortest', '-movflags', '+faststart', '-f', 'mp4', out],
    ]);
  } finally {
    rmSync(raw, { force: true });
    rmSync(cc, { force: true });
  }
}

function runFfmpeg(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`ffmpeg failed (${code}): ${stderr.trim().slice(-500)}`)),
    );
  });
}

const pending = new Map<FixtureName, Promise<string>>();

/** Path of a fixture, generating it first if it is not cached yet. */
export function fixture(name: FixtureName): Promise<string> {
  let p = pending.get(name);
  if (!p) {
    p = generate(name);
    pending.set(name, p);
    p.catch(() => pending.delete(name));
  }
  return p;
}

async function generate(name: FixtureName): Promise<string> {
  const spec: Spec = FIXTURES[name];
  const out = join(FIXTURE_DIR, spec.file);
  if (existsSync(out)) return out;
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const tmp = join(FIXTURE_DIR, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}-${spec.file}`);
  try {
    if (spec.make) await spec.make(tmp);
    else await runFfmpeg(spec.args!(tmp));
    renameSync(tmp, out);
  } finally {
    rmSync(tmp, { force: true });
  }
  return out;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const wanted = (process.argv.slice(2) as FixtureName[]).filter(Boolean);
  const names = wanted.length
    ? wanted
    : (Object.keys(FIXTURES) as FixtureName[]).filter((n) => n !== 'long1080' && n !== 'demoLong');
  for (const n of names) {
    if (!(n in FIXTURES)) {
      process.stderr.write(`unknown fixture "${n}"; known: ${Object.keys(FIXTURES).join(', ')}\n`);
      process.exit(2);
    }
    const t0 = Date.now();
    const p = await fixture(n);
    process.stdout.write(`${n.padEnd(10)} ${FIXTURES[n].about.padEnd(50)} ${p} (${Date.now() - t0} ms)\n`);
  }
}
