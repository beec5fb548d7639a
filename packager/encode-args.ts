/**
 * The ffmpeg command line for a ladder: ONE run decodes the source once, converts to 4:2:0 8-bit,
 * splits and scales per rung, encodes H.264 with key frames forced on segment boundaries (no
 * scene-cut key frames, closed GOP, no B-frames: deterministic and low latency), and writes each
 * rendition as fragmented MP4 (one fragment per part) to its own pipe. Audio is encoded once
 * (AAC) into its own output shared by every video rendition.
 *
 * Works with the 2018 static ffmpeg that npm brings: only `frag_keyframe+empty_moov+default_base_moof`
 * and `-frag_duration` are used (no `-movflags cmaf`). Used by VOD and live jobs alike.
 */
import { join } from 'node:path';
import { thumbnailSheetName } from '../src/media/presentation.js';
import type { AudioRung, LadderPlan, SurroundCodec, VideoRung } from './ladder.js';
import type { HdrStaticMetadata } from './hdr-metadata.js';

export interface EncodeOutput {
  renditionId: string;
  kind: 'video' | 'audio';
  /** Child file descriptor the output is written to (3, 4, 5, ...). */
  fd: number;
}

export interface EncodeInput {
  /** Input arguments, e.g. ['-i', path] or ['-re', '-f', 'lavfi', '-i', 'testsrc2=...']. */
  args: string[];
  /** Stream specifier of the video input (default '0:v:0'). */
  videoMap?: string;
  /** Stream specifier of the audio input (default '0:a:0'); e.g. '1:a:0' for a second lavfi input. */
  audioMap?: string;
  /**
   * Several audio tracks (languages): each is encoded alike (the plan's audio settings) to its own
   * output. Default: one track, `plan.audio.id` from `audioMap`.
   */
  audioTracks?: { id: string; map: string; channels?: number; codec?: SurroundCodec }[];
  /**
   * Deinterlace before scaling (HLS and DASH renditions are progressive; a scaled interlaced
   * frame mixes its two fields into combs): `all` frames, for a source probed as interlaced;
   * `flagged`, only frames the decoder marks interlaced, for a live network source that cannot
   * be probed ahead (progressive frames pass through, one frame later). Default: none.
   */
  deinterlace?: 'all' | 'flagged';
  /**
   * The source is HDR (PQ or HLG, BT.2020): tone-map it to SDR BT.709 before scaling and say so
   * in every video output's colour tags. The renditions are 8-bit H.264 that playlists list as
   * VIDEO-RANGE=SDR; passed through, the PQ/BT.2020 tags of the source came out on 8-bit SDR
   * pictures, which players show with wrong colours. Rungs with a `range` (HEVC) are the
   * exception: they branch off before the tone-mapping and stay HDR, 10-bit.
   */
  toneMap?: boolean;
  /** HDR10 static metadata of a PQ source, written into the SEI of its HDR HEVC rungs. */
  hdrMetadata?: HdrStaticMetadata;
}

export interface EncodeOptions {
  /** Target segment duration, seconds: key frames are forced at every multiple. */
  segmentDuration: number;
  /** Target part (fragment) duration, seconds. */
  partDuration: number;
  /** Live: flush every packet, zero-latency tuning. */
  live?: boolean;
  /** x264 preset (default 'veryfast'). */
  preset?: string;
  /**
   * Make every audio output exactly this many seconds (VOD: the video length): shorter audio is
   * padded with silence, longer audio is cut, so audio never adds or lacks a tail segment.
   */
  audioDurationSec?: number;
  /** VOD: also write thumbnail sheets (JPEG) into this plan's folder, from the same decode. */
  thumbnails?: ThumbnailSheetsPlan;
  /**
   * VOD with ad cues: key frames at exactly these seconds (the segment grid and the splice
   * points, packager/ad-cues.ts cutTimes) instead of every segmentDuration.
   */
  keyFrameTimesSec?: readonly number[];
}

/** What the encoder writes for a thumbnail track: sheets `<dir>/tile-<n>.jpg`, n from 1. */
export interface ThumbnailSheetsPlan {
  dir: string;
  intervalSec: number;
  /** One picture's size. */
  width: number;
  height: number;
  columns: number;
  rows: number;
}

/** First file descriptor used for outputs (0-2 are stdin/stdout/stderr). */
export const FIRST_OUTPUT_FD = 3;

function fmtNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(6).replace(/0+$/, '');
}

/**
 * The fragmented-MP4 muxer options (pipe-friendly, no trailer). `delayMoov`: the init segment
 * waits for the first fragment (ffmpeg builds the dec3/dac3 box of E-AC-3 and AC-3 from the
 * frames, so it cannot write an empty moov up front).
 */
function fmp4MuxerArgs(kind: 'video' | 'audio', partDuration: number, live: boolean, delayMoov = false): string[] {
  const flags = [delayMoov ? 'delay_moov' : 'empty_moov', 'default_base_moof', 'skip_trailer'];
  if (kind === 'video') flags.unshift('frag_keyframe');
  return [
    '-f',
    'mp4',
    '-movflags',
    `+${flags.join('+')}`,
    '-frag_duration',
    String(Math.round(partDuration * 1e6)),
    ...(live ? ['-flush_packets', '1'] : []),
  ];
}

export function buildEncodeArgs(
  input: EncodeInput,
  plan: LadderPlan,
  opts: EncodeOptions,
): { args: string[]; outputs: EncodeOutput[] } {
  const live = opts.live ?? false;
  const preset = opts.preset ?? 'veryfast';
  const videoMap = input.videoMap ?? '0:v:0';
  const audioMap = input.audioMap ?? '0:a:0';
  const [fpsNum, fpsDen] = plan.frameRate;
  const fps = fpsNum / fpsDen;
  const segFrames = Math.ceil(fps * opts.segmentDuration);
  const keyint = Math.max(2, segFrames * 2); // never reached: forced key frames decide every GOP
  const seg = fmtNumber(opts.segmentDuration);
  // a list of times is matched against each frame's time: the first frame at or after each is a key frame
  const forcedKeyFrames = opts.keyFrameTimesSec
    ? ['0', ...opts.keyFrameTimesSec.filter((t) => t > 0).map((t) => fmtNumber(t))].join(',')
    : `expr:gte(t,n_forced*${seg})`;

  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', '-progress', 'pipe:1', ...input.args];
  const outputs: EncodeOutput[] = [];
  let fd = FIRST_OUTPUT_FD;

  const n = plan.video.length;
  const graph: string[] = [];
  // bwdif in send_frame mode keeps the frame rate (50i → 25p), field parity from the stream
  const deint = input.deinterlace
    ? `bwdif=mode=send_frame:parity=auto:deint=${input.deinterlace === 'all' ? 'all' : 'interlaced'},`
    : '';
  // HDR → SDR: to linear light, BT.709 primaries, Hable's curve, then BT.709 transfer and matrix
  const toSdr = input.toneMap
    ? 'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,'
    : '';
  const thumbs = opts.thumbnails;
  // HDR rungs (HEVC of an HDR source) branch off before the tone-mapping, at 10 bits
  const hdr = input.toneMap ? plan.video.filter((r) => r.range) : [];
  const sdrBranches = n - hdr.length + (thumbs ? 1 : 0);
  const labels = (prefix: string, count: number): string =>
    Array.from({ length: count }, (_, i) => `[${prefix}${i}]`).join('');
  const fanOut = (prefix: string, count: number): string =>
    count > 1 ? `,split=${count}${labels(prefix, count)}` : `[${prefix}0]`;
  if (hdr.length > 0 && sdrBranches > 0) {
    graph.push(`[${videoMap}]${deint}split=2[sdr][hdr]`);
    graph.push(`[hdr]format=yuv420p10le${fanOut('h', hdr.length)}`);
    graph.push(`[sdr]${toSdr}format=yuv420p${fanOut('s', sdrBranches)}`);
  } else if (hdr.length > 0) {
    graph.push(`[${videoMap}]${deint}format=yuv420p10le${fanOut('h', hdr.length)}`);
  } else {
    graph.push(`[${videoMap}]${deint}${toSdr}format=yuv420p${fanOut('s', sdrBranches)}`);
  }
  let sdrAt = 0;
  plan.video.forEach((r, i) => {
    const from = hdr.includes(r) ? `[h${hdr.indexOf(r)}]` : `[s${sdrAt++}]`;
    graph.push(`${from}scale=w=${r.width}:h=${r.height}:flags=bicubic,setsar=1[v${i}]`);
  });
  if (thumbs) graph.push(`[s${sdrAt}]${thumbnailFilter(thumbs)}[th]`);
  args.push('-filter_complex', graph.join(';'));

  plan.video.forEach((r, i) => {
    args.push(
      '-map',
      `[v${i}]`,
      '-an',
      '-sn',
      '-dn',
      '-map_metadata',
      '-1',
      '-map_chapters',
      '-1',
      '-r',
      `${fpsNum}/${fpsDen}`,
      ...(input.toneMap ? colourTags(hdr.includes(r) ? r.range : undefined) : []),
      ...(r.codec === 'hevc'
        ? hevcCodecArgs(preset, live, hdr.includes(r) ? r.range : undefined, input.hdrMetadata)
        : h264CodecArgs(r, preset, live)),
      '-b:v',
      String(r.bitrate),
      '-maxrate',
      String(r.maxrate),
      '-bufsize',
      String(r.bufsize),
      '-g',
      String(keyint),
      '-keyint_min',
      String(keyint),
      '-sc_threshold',
      '0',
      '-bf',
      '0',
      '-forced-idr',
      '1',
      '-force_key_frames',
      forcedKeyFrames,
      '-max_muxing_queue_size',
      '4096',
      ...fmp4MuxerArgs('video', opts.partDuration, live),
      `pipe:${fd}`,
    );
    outputs.push({ renditionId: r.id, kind: 'video', fd });
    fd++;
  });

  if (thumbs) args.push(...thumbnailOutputArgs(thumbs));

  if (plan.audio) {
    const a = plan.audio;
    for (const track of input.audioTracks ?? [{ id: a.id, map: audioMap }]) {
      const rung =
        track.channels !== undefined && track.channels > a.channels
          ? { ...a, channels: track.channels, bitrate: a.surroundBitrate ?? a.bitrate, codec: track.codec ?? 'aac' }
          : { ...a, codec: 'aac' as const };
      args.push(...audioOutputArgs(rung, track.map, opts, live), `pipe:${fd}`);
      outputs.push({ renditionId: track.id, kind: 'audio', fd });
      fd++;
    }
  }
  return { args, outputs };
}

function h264CodecArgs(r: VideoRung, preset: string, live: boolean): string[] {
  return [
    '-c:v',
    'libx264',
    '-preset',
    preset,
    ...(live ? ['-tune', 'zerolatency'] : []),
    '-profile:v',
    r.profile,
    ...(r.level ? ['-level:v', r.level] : []),
  ];
}

/** The colour tags of an output of an HDR source: BT.709 for the tone-mapped SDR rungs, BT.2020 with the source's transfer for HDR ones. */
function colourTags(range: VideoRung['range']): string[] {
  if (!range) return ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709'];
  return ['-color_primaries', 'bt2020', '-color_trc', TRANSFER[range], '-colorspace', 'bt2020nc'];
}

/** ffmpeg's and x265's names of the HDR transfer functions. */
const TRANSFER = { pq: 'smpte2084', hlg: 'arib-std-b67' } as const;

/**
 * HEVC with libx265: `hvc1` sample entries (parameter sets in the init segment only, what Apple's
 * players require of HEVC in fMP4), closed GOPs (x265 opens them by default, and a CRA segment
 * start is not independent), no scene-cut key frames (the forced ones put a key frame at every
 * segment start, aligned with the H.264 rungs). The level is libx265's choice. Main (8-bit), or
 * for HDR (`range`) Main 10 with the BT.2020 colour description in the SPS's VUI and, for PQ,
 * x265's HDR10 rate-control tuning (`hdr10-opt`: chroma QP offsets for PQ pictures) and the
 * source's HDR10 static metadata in SEI messages (`master-display`, `max-cll`) when it has them.
 * Live, x265's zerolatency tuning (no B-frames, no look-ahead, one frame thread), as for x264: a
 * part leaves the encoder as soon as its frames went in.
 */
function hevcCodecArgs(preset: string, live: boolean, range?: VideoRung['range'], meta?: HdrStaticMetadata): string[] {
  const pq = range === 'pq';
  const hdrParams = range
    ? `:colorprim=bt2020:transfer=${TRANSFER[range]}:colormatrix=bt2020nc${pq ? ':hdr10-opt=1' : ''}` +
      (pq && meta?.masterDisplay ? `:master-display=${meta.masterDisplay}` : '') +
      (pq && meta?.maxCll ? `:max-cll=${meta.maxCll}` : '')
    : '';
  return [
    '-c:v',
    'libx265',
    '-preset',
    preset,
    ...(live ? ['-tune', 'zerolatency'] : []),
    '-tag:v',
    'hvc1',
    ...(range ? ['-pix_fmt', 'yuv420p10le'] : []),
    '-profile:v',
    range ? 'main10' : 'main',
    '-x265-params',
    `open-gop=0:scenecut=0:repeat-headers=0:log-level=error${hdrParams}`,
  ];
}

/**
 * The thumbnail branch: one picture every `intervalSec` (fps with `round=up` takes the frame at
 * k×interval, or the last one before it: where a seek to that time lands), scaled, laid out in
 * sheets. The tile filter flushes a partly filled last sheet at the end of the stream, its
 * empty cells black.
 */
function thumbnailFilter(t: ThumbnailSheetsPlan): string {
  const ms = Math.round(t.intervalSec * 1000);
  return `fps=fps=1000/${ms}:round=up,scale=w=${t.width}:h=${t.height}:flags=bicubic,setsar=1,tile=${t.columns}x${t.rows}`;
}

function thumbnailOutputArgs(t: ThumbnailSheetsPlan): string[] {
  return [
    '-map',
    '[th]',
    '-an',
    '-sn',
    '-dn',
    '-map_metadata',
    '-1',
    '-c:v',
    'mjpeg',
    '-q:v',
    '5',
    '-f',
    'image2',
    '-start_number',
    '1',
    join(t.dir, thumbnailSheetName('%d')),
  ];
}

/**
 * One audio output (before its pipe): every audio track is encoded to AAC with the plan's
 * settings, a 5.1 twin with six channels at the plan's surround bit rate in its surround codec.
 */
function audioOutputArgs(
  a: AudioRung & { codec: SurroundCodec },
  map: string,
  opts: EncodeOptions,
  live: boolean,
): string[] {
  return [
    '-map',
    map,
    '-vn',
    '-sn',
    '-dn',
    '-map_metadata',
    '-1',
    '-map_chapters',
    '-1',
    '-c:a',
    a.codec,
    '-b:a',
    String(a.bitrate),
    '-ar',
    String(a.sampleRate),
    '-ac',
    String(a.channels),
    ...(opts.audioDurationSec !== undefined ? ['-af', 'apad', '-t', fmtNumber(opts.audioDurationSec)] : []),
    '-max_muxing_queue_size',
    '4096',
    ...fmp4MuxerArgs('audio', opts.partDuration, live, a.codec !== 'aac'),
  ];
}
