/**
 * Ladder planning: which renditions to encode for a source. A preset (by name) or a JSON file
 * lists candidate rungs by their short side (the "p" number); the plan keeps the source frame
 * rate and display aspect ratio, uses even dimensions, and never upscales.
 *
 * JSON ladder file:
 *   { "video": [ { "height": 360, "bitrate": "800k", "id"?: "360p", "maxrate"?: ..., "bufsize"?: ...,
 *                  "profile"?: "main", "hevcBitrate"?: "560k" } ],
 *     "videoCodecs"?: ["h264", "hevc"],
 *     "audio"?: { "bitrate": "96k", "surroundBitrate"?: "384k" | false,
 *                 "surroundCodec"?: "aac" | "eac3" | "ac3" | ["eac3", "aac", ...] } | false }
 *
 * "videoCodecs" (default ["h264"]; `package --video-codecs` overrides it) encodes the whole ladder
 * once per codec, in that order: H.264 rungs keep their ids ("720p"), HEVC ones are "720p-hevc"
 * (Main profile, 8-bit, closed GOPs, `hvc1` sample entries as Apple's players need), at
 * "hevcBitrate", by default 70 % of the H.264 rung's (the published saving is 30-50 % on natural
 * pictures with slow presets; bench/hevc-bench.ts measured 70 % slightly below H.264's SSIM on the
 * synthetic fixture at veryfast). Players that can decode HEVC pick those, the others the H.264
 * ones.
 *
 * A source audio track of 5.1 or more channels is encoded twice: stereo AAC at "bitrate" and 5.1
 * at "surroundBitrate" (default 384k; false: stereo only) in "surroundCodec": AAC (the default:
 * every browser's MSE plays it), or Dolby Digital Plus (E-AC-3) or Dolby Digital (AC-3), the
 * multichannel codecs Apple's devices and living-room players expect; the stereo AAC stays for the
 * players that cannot use them. A list of codecs makes one 5.1 twin in each (e.g. E-AC-3 for the
 * living room and AAC for browsers), each in its own HLS audio group and DASH AdaptationSet.
 */
import { readFileSync } from 'node:fs';
import { StreamedgeError } from '../src/errors.js';
import type { SourceInfo } from './probe.js';

export type H264Profile = 'high' | 'main' | 'baseline';

/** Video codecs a ladder is encoded in (ffmpeg's libx264 and libx265). */
export type VideoCodec = 'h264' | 'hevc';
export const VIDEO_CODECS: readonly VideoCodec[] = ['h264', 'hevc'];

/** An HEVC rung's bit rate, as a share of the H.264 rung's, when the ladder does not give one. */
const HEVC_BITRATE_SHARE = 0.7;

export interface VideoRung {
  /** Folder name, e.g. '720p' ('720p-hevc' for an HEVC rung). */
  id: string;
  codec: VideoCodec;
  width: number;
  height: number;
  /** Target average bit rate, bits/s. */
  bitrate: number;
  maxrate: number;
  bufsize: number;
  /** H.264 profile; HEVC rungs are Main (8-bit 4:2:0), or Main 10 when HDR (`range`), whatever this says. */
  profile: H264Profile;
  /** H.264 level, e.g. '3.1' (the smallest level that fits size, frame rate and maxrate); libx265 sets HEVC's. */
  level?: string;
  /**
   * HEVC of an HDR source: the source's high dynamic range kept (Main 10, BT.2020, PQ or HLG)
   * instead of tone-mapped to SDR as every H.264 rung is. Absent: SDR.
   */
  range?: 'pq' | 'hlg';
}

export interface AudioRung {
  /** Rendition id of the single-track case (several languages get their own ids). */
  id: 'audio';
  bitrate: number;
  sampleRate: number;
  channels: number;
  /** Bit rate of the 5.1 twin of a multichannel source track; absent: stereo only. */
  surroundBitrate?: number;
  /** The 5.1 twins' codecs (ffmpeg encoder names), one twin each, in the ladder's order; absent: aac alone. */
  surroundCodecs?: SurroundCodec[];
}

/** Codecs of the 5.1 twin, by ffmpeg encoder name: AAC, E-AC-3 (Dolby Digital Plus), AC-3 (Dolby Digital). */
export type SurroundCodec = 'aac' | 'eac3' | 'ac3';

/** Highest bit rate each surround codec allows (AC-3: 640 kbit/s, ATSC A/52 Table 5.18; E-AC-3: 6,144 kbit/s). */
const SURROUND_MAX_BITRATE: Record<SurroundCodec, number> = { aac: 2_000_000, eac3: 6_144_000, ac3: 640_000 };

export interface LadderPlan {
  video: VideoRung[];
  audio?: AudioRung;
  frameRate: [number, number];
}

/** A rung as a preset or ladder file describes it, before it meets a source. */
export interface RungSpec {
  /** Short side in pixels (height for landscape sources). */
  height: number;
  bitrate: number;
  id?: string;
  maxrate?: number;
  bufsize?: number;
  profile?: H264Profile;
  /** The HEVC rung's bit rate (default 70 % of `bitrate`). */
  hevcBitrate?: number;
}

export interface LadderSpec {
  video: RungSpec[];
  /** The codecs the ladder is encoded in, in order (default: H.264 alone). */
  videoCodecs?: VideoCodec[];
  /** Audio bit rate (bits/s), the 5.1 twin's (false: none) and its codecs; false to drop audio. */
  audio?: { bitrate: number; surroundBitrate?: number | false; surroundCodecs?: SurroundCodec[] } | false;
}

/** Bit rates follow the spirit of Apple's HLS authoring table (30 fps; 1.5x above 30 fps). */
export const PRESETS: Record<string, LadderSpec> = {
  default: {
    video: [
      { height: 1080, bitrate: 6_000_000, profile: 'high' },
      { height: 720, bitrate: 3_000_000, profile: 'high' },
      { height: 540, bitrate: 2_000_000, profile: 'high' },
      { height: 360, bitrate: 800_000, profile: 'main' },
      { height: 240, bitrate: 400_000, profile: 'main' },
    ],
    audio: { bitrate: 128_000 },
  },
  /** Two small rungs: quick to encode (tests, demos). */
  small: {
    video: [
      { height: 360, bitrate: 600_000, profile: 'main' },
      { height: 240, bitrate: 300_000, profile: 'main' },
    ],
    audio: { bitrate: 96_000 },
  },
};

const DEFAULT_AUDIO_BITRATE = 128_000;
/** AAC 5.1 (six channels): 64 kbit/s a channel, as the stereo default is per pair at 128k. */
const DEFAULT_SURROUND_BITRATE = 384_000;

/** "800k", "1.5M", "800000" or a number → bits/s. */
export function parseBitrate(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return Math.round(value);
  if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM])?\s*(?:bps|b\/s)?\s*$/.exec(value);
    if (m) {
      const mult = m[2] ? (m[2].toLowerCase() === 'k' ? 1e3 : 1e6) : 1;
      const n = Math.round(Number(m[1]) * mult);
      if (n > 0) return n;
    }
  }
  throw new StreamedgeError(
    'BAD_LADDER',
    `${what}: not a bit rate: ${JSON.stringify(value)} (use e.g. 800000 or "800k")`,
  );
}

function badLadder(source: string, why: string): StreamedgeError {
  return new StreamedgeError('BAD_LADDER', `ladder ${source}: ${why}`);
}

/** Validates a parsed ladder JSON document. */
export function parseLadderSpec(doc: unknown, source: string): LadderSpec {
  const obj = (Array.isArray(doc) ? { video: doc } : doc) as {
    video?: unknown;
    audio?: unknown;
    videoCodecs?: unknown;
  } | null;
  if (!obj || typeof obj !== 'object' || !Array.isArray(obj.video) || obj.video.length === 0) {
    throw badLadder(source, 'expected {"video": [{"height": 360, "bitrate": "800k"}, ...]}');
  }
  const video = obj.video.map((r: unknown, i): RungSpec => {
    const rung = r as Record<string, unknown> | null;
    if (!rung || typeof rung !== 'object') throw badLadder(source, `video[${i}] is not an object`);
    const height = Number(rung.height);
    if (!Number.isInteger(height) || height < 16 || height > 4320) {
      throw badLadder(source, `video[${i}].height must be an integer between 16 and 4320`);
    }
    const spec: RungSpec = { height, bitrate: parseBitrate(rung.bitrate, `ladder ${source} video[${i}].bitrate`) };
    if (rung.id !== undefined) {
      if (
        typeof rung.id !== 'string' ||
        !/^[A-Za-z0-9_-]{1,32}$/.test(rung.id) ||
        rung.id === 'audio' ||
        /^v[0-9]+$/.test(rung.id)
      ) {
        throw badLadder(
          source,
          `video[${i}].id must be URL-safe letters, digits, _ or - (and not "audio" or a version name like "v2")`,
        );
      }
      spec.id = rung.id;
    }
    if (rung.maxrate !== undefined) spec.maxrate = parseBitrate(rung.maxrate, `ladder ${source} video[${i}].maxrate`);
    if (rung.bufsize !== undefined) spec.bufsize = parseBitrate(rung.bufsize, `ladder ${source} video[${i}].bufsize`);
    if (rung.hevcBitrate !== undefined) {
      spec.hevcBitrate = parseBitrate(rung.hevcBitrate, `ladder ${source} video[${i}].hevcBitrate`);
    }
    if (rung.profile !== undefined) {
      if (rung.profile !== 'high' && rung.profile !== 'main' && rung.profile !== 'baseline') {
        throw badLadder(source, `video[${i}].profile must be high, main or baseline`);
      }
      spec.profile = rung.profile;
    }
    return spec;
  });
  let audio: LadderSpec['audio'];
  if (obj.audio === false) audio = false;
  else if (obj.audio !== undefined) {
    const a = obj.audio as Record<string, unknown> | null;
    if (!a || typeof a !== 'object') throw badLadder(source, 'audio must be {"bitrate": "128k"} or false');
    audio = { bitrate: parseBitrate(a.bitrate, `ladder ${source} audio.bitrate`) };
    if (a.surroundBitrate === false) audio.surroundBitrate = false;
    else if (a.surroundBitrate !== undefined) {
      audio.surroundBitrate = parseBitrate(a.surroundBitrate, `ladder ${source} audio.surroundBitrate`);
    }
    if (a.surroundCodec !== undefined) {
      audio.surroundCodecs = surroundCodecs(a.surroundCodec, source);
      for (const codec of audio.surroundCodecs) {
        const max = SURROUND_MAX_BITRATE[codec];
        if ((audio.surroundBitrate || DEFAULT_SURROUND_BITRATE) > max) {
          throw badLadder(source, `audio.surroundBitrate is above ${max / 1000}k, the most ${codec} allows`);
        }
      }
    }
  }
  const out: LadderSpec = { video, audio };
  if (obj.videoCodecs !== undefined)
    out.videoCodecs = parseVideoCodecs(obj.videoCodecs, `ladder ${source} videoCodecs`);
  return out;
}

/** A list of video codecs ("h264", "hevc"; a comma-separated string or an array), each at most once. */
export function parseVideoCodecs(value: unknown, what: string): VideoCodec[] {
  const list = typeof value === 'string' ? value.split(',').map((c) => c.trim().toLowerCase()) : value;
  const valid = (c: unknown): c is VideoCodec => VIDEO_CODECS.includes(c as VideoCodec);
  if (!Array.isArray(list) || list.length === 0 || !list.every(valid)) {
    throw new StreamedgeError(
      'BAD_LADDER',
      `${what}: ${JSON.stringify(value)} is not a list of video codecs: name h264, hevc or both (e.g. h264,hevc)`,
    );
  }
  if (new Set(list).size !== list.length) {
    throw new StreamedgeError('BAD_LADDER', `${what} lists ${list.join(', ')}: each codec at most once`);
  }
  return list;
}

/** "surroundCodec" of a ladder file: one codec, or a list of distinct codecs (a twin each). */
function surroundCodecs(value: unknown, source: string): SurroundCodec[] {
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  const valid = (c: unknown): c is SurroundCodec => c === 'aac' || c === 'eac3' || c === 'ac3';
  if (list.length === 0 || !list.every(valid)) {
    throw badLadder(
      source,
      `audio.surroundCodec must be "aac", "eac3" (Dolby Digital Plus) or "ac3" (Dolby Digital), or a list of them`,
    );
  }
  if (new Set(list).size !== list.length) {
    throw badLadder(source, `audio.surroundCodec lists ${list.join(', ')}: each codec at most once`);
  }
  return list;
}

/** A preset name or a path to a JSON ladder file. */
export function loadLadderSpec(ladder: string | undefined): LadderSpec {
  const name = ladder ?? 'default';
  const preset = PRESETS[name];
  if (preset) return preset;
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch {
    throw new StreamedgeError(
      'BAD_LADDER',
      `--ladder ${name}: neither a preset (${Object.keys(PRESETS).join(', ')}) nor a readable JSON file`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw badLadder(name, `not valid JSON (${(e as Error).message})`);
  }
  return parseLadderSpec(doc, name);
}

/** [level, max macroblocks/s, max frame size in macroblocks, max bit rate (kbit/s, Baseline/Main)] — ITU-T H.264 Table A-1. */
const H264_LEVELS: [string, number, number, number][] = [
  ['1', 1485, 99, 64],
  ['1.1', 3000, 396, 192],
  ['1.2', 6000, 396, 384],
  ['1.3', 11880, 396, 768],
  ['2', 11880, 396, 2000],
  ['2.1', 19800, 792, 4000],
  ['2.2', 20250, 1620, 4000],
  ['3', 40500, 1620, 10000],
  ['3.1', 108000, 3600, 14000],
  ['3.2', 216000, 5120, 20000],
  ['4', 245760, 8192, 20000],
  ['4.1', 245760, 8192, 50000],
  ['4.2', 522240, 8704, 50000],
  ['5', 589824, 22080, 135000],
  ['5.1', 983040, 36864, 240000],
  ['5.2', 2073600, 36864, 240000],
];

/** The smallest H.264 level whose limits hold this size, frame rate and peak bit rate. */
export function h264Level(
  width: number,
  height: number,
  fps: number,
  maxrate: number,
  profile: H264Profile,
): string | undefined {
  const frameMbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const mbps = frameMbs * fps;
  const brFactor = profile === 'high' ? 1250 : 1000;
  for (const [level, maxMbps, maxFs, maxBr] of H264_LEVELS) {
    if (
      frameMbs <= maxFs &&
      mbps <= maxMbps &&
      maxrate <= maxBr * brFactor &&
      width <= Math.sqrt(8 * maxFs) * 16 &&
      height <= Math.sqrt(8 * maxFs) * 16
    ) {
      return level;
    }
  }
  return undefined;
}

/** The HEVC rung of an H.264 one: same picture, `hevcBitrate` (or 70 %), peak and buffer scaled alike. */
function hevcTwin(r: VideoRung, spec: RungSpec, fpsFactor: number): VideoRung {
  const bitrate =
    spec.hevcBitrate !== undefined
      ? Math.round(spec.hevcBitrate * fpsFactor)
      : Math.round(r.bitrate * HEVC_BITRATE_SHARE);
  const scale = bitrate / r.bitrate;
  return {
    id: `${r.id}-hevc`,
    codec: 'hevc',
    width: r.width,
    height: r.height,
    bitrate,
    maxrate: Math.round(r.maxrate * scale),
    bufsize: Math.round(r.bufsize * scale),
    profile: 'main',
  };
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

/** Plans the renditions for a source. Never upscales; keeps fps and display aspect; even dimensions. */
export function planLadder(source: SourceInfo, ladder?: string | LadderSpec): LadderPlan {
  const v = source.video;
  if (!v) throw new StreamedgeError('SOURCE_NO_VIDEO', 'the source has no video stream to build a ladder from');
  const spec = typeof ladder === 'object' ? ladder : loadLadderSpec(ladder);
  const [sarN, sarD] = v.sar ?? [1, 1];
  const displayW = (v.width * sarN) / sarD;
  const displayH = v.height;
  const landscape = displayW >= displayH;
  const shortSide = Math.min(displayW, displayH);
  const aspect = landscape ? displayW / displayH : displayH / displayW; // long / short
  const fps = v.frameRate[0] / v.frameRate[1];
  const fpsFactor = fps > 31 ? 1.5 : 1;

  const sized = [...spec.video].sort((a, b) => b.height - a.height);
  let chosen = sized.filter((r) => r.height <= shortSide + 1);
  if (chosen.length === 0) {
    // The source is smaller than every rung: one rung at the source size, bit rate scaled by area.
    const smallest = sized[sized.length - 1];
    const scale = (shortSide * shortSide) / (smallest.height * smallest.height);
    chosen = [
      {
        ...smallest,
        id: undefined,
        height: even(shortSide),
        bitrate: Math.max(64_000, Math.round(smallest.bitrate * scale)),
        hevcBitrate:
          smallest.hevcBitrate !== undefined ? Math.max(64_000, Math.round(smallest.hevcBitrate * scale)) : undefined,
        maxrate: undefined,
        bufsize: undefined,
      },
    ];
  }

  const seen = new Set<string>();
  const h264: VideoRung[] = [];
  const specOf = new Map<VideoRung, RungSpec>();
  for (const r of chosen) {
    const short = even(Math.min(r.height, shortSide));
    const long = even(short * aspect);
    const width = landscape ? long : short;
    const height = landscape ? short : long;
    const id = r.id ?? `${short}p`;
    if (seen.has(id)) continue;
    seen.add(id);
    const bitrate = Math.round(r.bitrate * fpsFactor);
    const maxrate = r.maxrate ?? Math.round(bitrate * 1.2);
    const bufsize = r.bufsize ?? 2 * bitrate;
    const profile = r.profile ?? 'high';
    const rung: VideoRung = { id, codec: 'h264', width, height, bitrate, maxrate, bufsize, profile };
    const level = h264Level(width, height, fps, maxrate, profile);
    if (level) rung.level = level;
    h264.push(rung);
    specOf.set(rung, r);
  }
  const video = (spec.videoCodecs ?? ['h264']).flatMap((codec) =>
    codec === 'h264' ? h264 : h264.map((r) => hevcTwin(r, specOf.get(r)!, fpsFactor)),
  );

  const plan: LadderPlan = { video, frameRate: v.frameRate };
  if (source.audio && spec.audio !== false) {
    plan.audio = {
      id: 'audio',
      bitrate: spec.audio?.bitrate ?? DEFAULT_AUDIO_BITRATE,
      sampleRate: source.audio.sampleRate === 44100 ? 44100 : 48000,
      channels: Math.min(2, Math.max(1, source.audio.channels)),
    };
    const surround = spec.audio?.surroundBitrate;
    if (surround !== false) {
      plan.audio.surroundBitrate = surround ?? DEFAULT_SURROUND_BITRATE;
      const codecs = spec.audio?.surroundCodecs;
      if (codecs !== undefined && (codecs.length > 1 || codecs[0] !== 'aac')) plan.audio.surroundCodecs = codecs;
    }
  }
  return plan;
}

/**
 * An HDR source's HEVC rungs keep its dynamic range (Main 10, BT.2020, PQ or HLG: Apple's HDR
 * variants), while the H.264 rungs are tone-mapped to SDR: one ladder for HDR screens, one for
 * the rest, told apart by VIDEO-RANGE and the MPD's colour properties. VOD and live alike.
 */
export function keepHdrInHevc(plan: LadderPlan, source: SourceInfo): LadderPlan {
  const hdr = source.video?.hdr;
  if (!hdr) return plan;
  return { ...plan, video: plan.video.map((r) => (r.codec === 'hevc' ? { ...r, range: hdr } : r)) };
}

/** A rung's range as HLS VIDEO-RANGE names it (Rendition.videoRange). */
export function videoRangeOf(range: 'pq' | 'hlg'): 'PQ' | 'HLG' {
  return range === 'pq' ? 'PQ' : 'HLG';
}
