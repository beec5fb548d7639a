/**
 * Source probing: ffprobe for the streams, then a one-frame decode with the ffmpeg we will encode
 * with (ffprobe may know codecs that ffmpeg cannot decode). Every failure becomes a
 * StreamedgeError with a stable code and one line the user can act on.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamedgeError } from '../src/errors.js';
import { ffmpegPath, ffprobePath } from '../src/media/ffmpeg-binaries.js';
import { type FrameRateVerdict, judgeFrameRate } from './frame-rate.js';
import { hdrStaticMetadata, type HdrStaticMetadata, type ProbeSideData } from './hdr-metadata.js';

export interface SourceInfo {
  durationSec?: number;
  video?: {
    width: number;
    height: number;
    frameRate: [number, number];
    codec: string;
    pixFmt: string;
    bitDepth?: number;
    /** Sample aspect ratio of the source pixels (1:1 when unknown). */
    sar?: [number, number];
    /**
     * The turn the source asks players to apply, in degrees (0, 90, 180, 270), from its display
     * matrix or `rotate` tag as ffprobe reports it (a phone's portrait clip: a quarter turn; the
     * sign convention differs between ffprobe versions, and only whether it is a quarter turn
     * matters here). ffmpeg turns the frames the same way as it decodes them, so width, height
     * and sar above are already those of the turned picture, what the ladder plans for.
     */
    rotation?: number;
    /** The stream is coded as interlaced fields (ffprobe's field_order tt, bb, tb or bt). */
    interlaced?: boolean;
    /** High dynamic range by its transfer function: PQ (SMPTE ST 2084, HDR10) or HLG (ARIB STD-B67). */
    hdr?: 'pq' | 'hlg';
    /** PQ: the HDR10 static metadata the source carries (its stream's or first frame's side data), for the HDR HEVC rungs. */
    hdrMetadata?: HdrStaticMetadata;
    /**
     * The source's frames come at a variable rate (a phone's recording): frameRate above is its
     * full rate, which the ladder is encoded at, and this is its average over the first 20 s.
     */
    variableFrameRate?: { averageFps: number };
    /** Duration of the video stream alone, when the container says. */
    durationSec?: number;
    /**
     * The stream carries closed captions (CEA-608/708 in ATSC A/53 user data), seen in its first
     * 2 s of pictures. ffmpeg keeps them through the encode (libx264 writes what the decoder
     * found), so every rendition has them and the manifests say so.
     */
    closedCaptions?: boolean;
    /**
     * Position of this stream among the source's video streams (the ffmpeg specifier is
     * `0:v:<index>`): the largest picture when there are several, such as the variants of a
     * multivariant HLS feed, which may list its smallest first. Absent: the first (0).
     */
    index?: number;
  };
  audio?: { codec: string; sampleRate: number; channels: number };
  /** Every audio stream, in order (`0:a:<index>`), with its container tags. */
  audioTracks?: AudioStreamInfo[];
  formatName: string;
  /**
   * The container's first timestamp (seconds): what ffmpeg takes off every stream's times, so
   * the packaged media starts near 0 (an MPEG-TS recording's PTS start anywhere).
   */
  startSec?: number;
}

/** One audio stream of a file as ffprobe sees it. */
export interface AudioStreamInfo {
  /** Position among the file's audio streams: the ffmpeg specifier is `<input>:a:<index>`. */
  index: number;
  codec: string;
  sampleRate: number;
  channels: number;
  /** `tags.language` as written in the container (often ISO 639-2, e.g. "eng"); absent or "und" when untagged. */
  language?: string;
  /** `tags.title`, e.g. "Director's commentary". */
  title?: string;
  durationSec?: number;
}

interface ProbeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  sample_aspect_ratio?: string;
  bits_per_raw_sample?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  bit_rate?: string;
  disposition?: { attached_pic?: number };
  tags?: Record<string, string>;
  side_data_list?: (ProbeSideData & { side_data_type?: string; rotation?: number })[];
  field_order?: string;
  color_transfer?: string;
}

interface ProbeJson {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string; start_time?: string };
}

interface RunResult {
  code: number | null;
  /** The signal that ended it (a crash, or our kill when timedOut). */
  signal: NodeJS.Signals | null;
  /** Killed for taking longer than its time limit. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Runs a probe command; killed after timeoutMs, or at once when `signal` aborts. */
function run(bin: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onAbort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    child.on('close', () => signal?.removeEventListener('abort', onAbort));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new StreamedgeError('FFMPEG_MISSING', `cannot run ${bin}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}

/** "30000/1001" → [30000, 1001]; undefined for "0/0" or garbage. */
export function parseRational(text: string | undefined): [number, number] | undefined {
  if (!text) return undefined;
  const m = /^(\d+)[/:](\d+)$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const d = Number(m[2]);
  if (!n || !d) return undefined;
  return [n, d];
}

function bitDepthOf(pixFmt: string, raw?: string): number | undefined {
  const m = /p(9|10|12|14|16)(le|be)?$/.exec(pixFmt);
  if (m) return Number(m[1]);
  const n = Number(raw);
  if (Number.isFinite(n) && n > 0) return n;
  return /^(yuv|yuvj|nv|gray)/.test(pixFmt) ? 8 : undefined;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** The rate the container states: avg_frame_rate when plausible, else r_frame_rate. */
function statedFrameRate(s: ProbeStream): [number, number] | undefined {
  for (const candidate of [parseRational(s.avg_frame_rate), parseRational(s.r_frame_rate)]) {
    if (candidate) {
      const fps = candidate[0] / candidate[1];
      if (fps >= 1 && fps <= 120) return candidate;
    }
  }
  return undefined;
}

/** How long of the source's start is read for its frame timestamps (demuxed, not decoded). */
const TIMESTAMP_SCAN_SEC = 20;

/**
 * The frame rate to encode at, from the stream's first frame timestamps (see frame-rate.ts);
 * the stated rate when ffprobe cannot list them.
 */
async function frameRateOf(input: string, s: ProbeStream): Promise<FrameRateVerdict> {
  const stated = statedFrameRate(s);
  const r = await run(
    ffprobePath(),
    [
      '-v',
      'error',
      ...['-select_streams', String(s.index ?? 'v:0')],
      ...['-read_intervals', `%+${TIMESTAMP_SCAN_SEC}`],
      ...['-show_entries', 'packet=pts_time', '-of', 'csv=p=0'],
      input,
    ],
    30_000,
  );
  if (r.code !== 0) return { frameRate: stated ?? [30, 1] };
  const pts = r.stdout
    .split('\n')
    .map((line) => Number.parseFloat(line))
    .filter((t) => Number.isFinite(t));
  return judgeFrameRate(pts, stated);
}

function firstLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]+\]\s*/, '').trim())
    .filter(Boolean);
  return lines[lines.length - 1] ?? 'no details';
}

/** Decides why ffprobe refused the file, from its message and the file's first bytes. */
async function classifyProbeFailure(input: string, stderr: string): Promise<StreamedgeError> {
  const head = Buffer.alloc(12);
  let got: number;
  try {
    const fh = await open(input, 'r');
    try {
      got = (await fh.read(head, 0, 12, 0)).bytesRead;
    } finally {
      await fh.close();
    }
  } catch (e) {
    return new StreamedgeError('SOURCE_MISSING', `cannot read ${input}: ${(e as Error).message}`, { cause: e });
  }
  const boxType = got >= 8 ? head.toString('latin1', 4, 8) : '';
  const looksIsoBmff = ['ftyp', 'moov', 'mdat', 'free', 'wide', 'skip', 'styp'].includes(boxType);
  if (looksIsoBmff && /moov atom not found|partial file|end of file/i.test(stderr)) {
    return new StreamedgeError(
      'SOURCE_TRUNCATED',
      `${input} is a truncated MP4 (its moov index is missing; was the copy or the recording cut short?)`,
    );
  }
  return new StreamedgeError(
    'SOURCE_NOT_MEDIA',
    `${input} is not a media file ffprobe can read (${firstLine(stderr)})`,
  );
}

function tag(s: ProbeStream, key: string): string | undefined {
  if (!s.tags) return undefined;
  const found = Object.entries(s.tags).find(([k]) => k.toLowerCase() === key);
  const value = found?.[1].trim();
  return value ? value : undefined;
}

/**
 * The video stream to encode from: not a cover picture; the largest picture, then the highest
 * variant or stream bit rate. A multivariant HLS feed is one stream per variant (ffmpeg tags each
 * with its variant's `variant_bitrate`), and a master playlist often lists its smallest first.
 */
function mainVideoOf(streams: ProbeStream[]): { stream: ProbeStream; index: number } | undefined {
  let best: { stream: ProbeStream; index: number } | undefined;
  const rate = (s: ProbeStream) => Number(tag(s, 'variant_bitrate') ?? s.bit_rate) || 0;
  const area = (s: ProbeStream) => (s.width ?? 0) * (s.height ?? 0);
  streams
    .filter((s) => s.codec_type === 'video')
    .forEach((stream, index) => {
      if (stream.disposition?.attached_pic) return;
      if (
        !best ||
        area(stream) > area(best.stream) ||
        (area(stream) === area(best.stream) && rate(stream) > rate(best.stream))
      ) {
        best = { stream, index };
      }
    });
  return best;
}

/**
 * The audio streams, each with its position among all of them (`0:a:<index>`). With `video`
 * given, the audio of other HLS variants than the video's is left out: each variant of a
 * multivariant feed carries its own copy of the same sound (tagged with the variant's
 * `variant_bitrate`); alternative renditions shared by the variants carry no such tag and stay.
 */
function audioStreamsOf(streams: ProbeStream[], video?: ProbeStream): AudioStreamInfo[] {
  const variant = video ? tag(video, 'variant_bitrate') : undefined;
  return streams
    .filter((s) => s.codec_type === 'audio')
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => {
      const own = tag(s, 'variant_bitrate');
      return variant === undefined || own === undefined || own === variant;
    })
    .map(({ s, index }): AudioStreamInfo => {
      const info: AudioStreamInfo = {
        index,
        codec: s.codec_name ?? 'unknown',
        sampleRate: Number(s.sample_rate) || 48000,
        channels: s.channels ?? 2,
      };
      const language = tag(s, 'language');
      if (language) info.language = language;
      const title = tag(s, 'title');
      if (title) info.title = title;
      const duration = positive(s.duration);
      if (duration) info.durationSec = duration;
      return info;
    });
}

/** ffprobe's format and streams of a file ({} when ffprobe printed no JSON), and how ffprobe ended. */
async function ffprobeJson(input: string): Promise<{ probe: RunResult; json: ProbeJson }> {
  const probe = await run(
    ffprobePath(),
    ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', input],
    30_000,
  );
  try {
    return { probe, json: JSON.parse(probe.stdout) as ProbeJson };
  } catch {
    return { probe, json: {} };
  }
}

/**
 * The audio streams of a file that only contributes audio (`--audio <lang>=<file>`): no video
 * needed. Rejects SOURCE_MISSING / SOURCE_NOT_MEDIA, or BAD_AUDIO when it has no audio stream.
 */
export async function probeAudioFile(input: string, what: string): Promise<AudioStreamInfo[]> {
  try {
    const st = await stat(input);
    if (!st.isFile()) throw new StreamedgeError('SOURCE_MISSING', `${what}: ${input} is not a file`);
    if (st.size === 0) throw new StreamedgeError('SOURCE_NOT_MEDIA', `${what}: ${input} is empty (0 bytes)`);
  } catch (e) {
    if (e instanceof StreamedgeError) throw e;
    throw new StreamedgeError('SOURCE_MISSING', `${what}: file not found: ${input}`, { cause: e });
  }
  const { probe, json } = await ffprobeJson(input);
  if (probe.signal && !probe.timedOut) {
    return probeThroughCopy(input, probe.signal, (copy) => probeAudioFile(copy, what));
  }
  if (probe.code !== 0 || !json.format) {
    const why = await classifyProbeFailure(input, probe.stderr);
    throw new StreamedgeError(why.code, `${what}: ${why.message}`);
  }
  const tracks = audioStreamsOf(json.streams ?? []);
  if (tracks.length === 0) {
    throw new StreamedgeError('BAD_AUDIO', `${what}: ${input} has no audio stream`);
  }
  const fileDuration = positive(json.format.duration);
  for (const t of tracks) t.durationSec ??= fileDuration;
  return tracks;
}

/** Probes a source file; rejects with SOURCE_MISSING, SOURCE_NOT_MEDIA, SOURCE_TRUNCATED, SOURCE_NO_VIDEO or SOURCE_UNSUPPORTED. */
export async function probeSource(input: string): Promise<SourceInfo> {
  let size: number;
  try {
    const st = await stat(input);
    if (!st.isFile()) throw new StreamedgeError('SOURCE_MISSING', `${input} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof StreamedgeError) throw e;
    throw new StreamedgeError('SOURCE_MISSING', `source not found: ${input}`, { cause: e });
  }
  if (size === 0) throw new StreamedgeError('SOURCE_NOT_MEDIA', `${input} is empty (0 bytes)`);

  const { probe, json } = await ffprobeJson(input);
  if (probe.signal && !probe.timedOut) {
    return probeThroughCopy(input, probe.signal, async (copy) => {
      const info = await probeSource(copy);
      return { ...info, formatName: `${info.formatName} (a copy: ffprobe crashed on the source)` };
    });
  }
  if (probe.code !== 0 || !json.format) throw await classifyProbeFailure(input, probe.stderr);

  const info = await sourceInfoOf(input, json, (v) => frameRateOf(input, v));
  await checkDecodable(input, info);
  if (info.video && (await carriesCaptions(input, info.video.index ?? 0))) info.video.closedCaptions = true;
  if (info.video?.hdr === 'pq') {
    const stream = (json.streams ?? []).find((s) => s.index === mainStreamIndex(json, info));
    const meta = hdrStaticMetadata([
      ...(stream?.side_data_list ?? []),
      ...(await firstFrameSideData(input, info.video.index ?? 0)),
    ]);
    if (meta.masterDisplay || meta.maxCll) info.video.hdrMetadata = meta;
  }
  return info;
}

/** The container index of the video stream `info` describes (its `index` counts video streams only). */
function mainStreamIndex(json: ProbeJson, info: SourceInfo): number | undefined {
  return (json.streams ?? []).filter((s) => s.codec_type === 'video')[info.video?.index ?? 0]?.index;
}

/** The side data of the `index`th video stream's first frame (HEVC carries HDR10 metadata in SEI there). */
async function firstFrameSideData(input: string, index: number): Promise<ProbeSideData[]> {
  const r = await run(
    ffprobePath(),
    [
      ...['-v', 'error', '-select_streams', `v:${index}`, '-read_intervals', '%+#1'],
      ...['-show_entries', 'frame=side_data_list:side_data', '-of', 'json'],
      input,
    ],
    30_000,
  );
  if (r.code !== 0) return [];
  type Entry = { type?: string; side_data_list?: ProbeSideData[] };
  try {
    // naming the side data's fields makes ffprobe list packets and frames together
    const j = JSON.parse(r.stdout) as { packets_and_frames?: Entry[]; frames?: Entry[] };
    const frame = (j.packets_and_frames ?? j.frames ?? []).find((e) => e.type !== 'packet');
    return frame?.side_data_list ?? [];
  } catch {
    return [];
  }
}

/** How far into the video closed captions are looked for (broadcast encoders send cc_data with every picture). */
const CAPTION_SCAN_SEC = 2;

/** Whether the `index`th video stream's first pictures carry A/53 closed captions (decoded by ffprobe). */
async function carriesCaptions(input: string, index: number): Promise<boolean> {
  const r = await run(
    ffprobePath(),
    [
      '-v',
      'error',
      ...['-select_streams', `v:${index}`],
      ...['-read_intervals', `%+${CAPTION_SCAN_SEC}`],
      ...['-show_entries', 'frame=side_data_list:side_data=side_data_type', '-of', 'compact'],
      input,
    ],
    30_000,
  );
  return r.code === 0 && r.stdout.includes('ATSC A53 Part 4 Closed Captions');
}

/** How long copying a whole source for a crashed ffprobe may take. */
const COPY_PROBE_MS = 30 * 60_000;

/**
 * ffprobe crashed on the source (the static ffprobe from npm does on every MPEG-TS file, a
 * broadcast recording's usual container): the encoding ffmpeg copies its audio and video (not
 * re-encoded) into a Matroska file, which is probed instead; the encode still reads the source.
 * Costs a copy of the source in the temp folder for as long as the probe takes.
 */
async function probeThroughCopy<T>(input: string, signal: string, probeCopy: (copy: string) => Promise<T>): Promise<T> {
  return withMatroskaCopy(input, { timeoutMs: COPY_PROBE_MS }, async (copy) => {
    if (copy.run.code !== 0) {
      throw new StreamedgeError(
        'SOURCE_UNSUPPORTED',
        `ffprobe crashed (${signal}) reading ${input}, and ffmpeg could not copy it for a second look (${firstLine(copy.run.stderr)}); install the system's ffmpeg (apt-get install ffmpeg) or set FFPROBE_PATH`,
      );
    }
    return probeCopy(copy.file);
  });
}

/**
 * Has the encoding ffmpeg copy `input`'s audio and video (not re-encoded; the first `seconds`
 * only, when given) into a Matroska file in a temp folder, hands `use` that file and how the copy
 * went, and removes the folder once `use` is done. The one way a source or feed ffprobe must not
 * (or cannot) read itself is looked at.
 */
async function withMatroskaCopy<T>(
  input: string,
  o: { timeoutMs: number; inputArgs?: string[]; seconds?: number; signal?: AbortSignal },
  use: (copy: { file: string; run: RunResult }) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'streamedge-copy-'));
  try {
    const file = join(dir, 'copy.mkv');
    const r = await run(
      ffmpegPath(),
      [
        ...['-hide_banner', '-nostdin', '-v', 'error', ...(o.inputArgs ?? []), '-i', input],
        ...['-map', '0:v?', '-map', '0:a?', '-c', 'copy'],
        ...(o.seconds === undefined ? [] : ['-t', String(o.seconds)]),
        ...['-f', 'matroska', file],
      ],
      o.timeoutMs,
      o.signal,
    );
    return await use({ file, run: r });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How long the probe waits for a network feed's first seconds before it gives up. */
const FEED_PROBE_MS = 10_000;
/** Seconds of a network feed copied for the probe. */
const FEED_SAMPLE_SEC = 2;

/**
 * Probes a live network feed (a URL ffmpeg reads: udp://, srt:// as caller, http(s)://, ...) as
 * the encoder will see it: the encoding ffmpeg copies its first seconds (audio and video, not
 * re-encoded) into a Matroska file, which is probed as a source file is (frame rate from the
 * frame timestamps, interlacing, HDR, rotation). Going through a file also keeps ffprobe off the
 * network and off MPEG-TS, which the static npm ffprobe build crashes on.
 * Rejects LIVE_SOURCE when nothing came within FEED_PROBE_MS (the feed is not up yet), when
 * ffmpeg cannot read the feed (with its reason), or when the feed has no usable video.
 * Only for feeds a second reader does not disturb: a feed that connects to a listening encoder
 * (rtmp://, srt:// as listener) cannot be probed ahead. `signal` stops it (the channel closing:
 * ffmpeg would otherwise wait on a silent feed after the origin is gone).
 */
export async function probeFeed(url: string, inputArgs: string[] = [], signal?: AbortSignal): Promise<SourceInfo> {
  return withMatroskaCopy(
    url,
    { timeoutMs: FEED_PROBE_MS, inputArgs, seconds: FEED_SAMPLE_SEC, signal },
    async ({ file, run: copy }) => {
      if (signal?.aborted) throw new StreamedgeError('ABORTED', `probing the feed ${url} was stopped`);
      if (copy.timedOut) {
        throw new StreamedgeError(
          'LIVE_SOURCE',
          `cannot probe the feed ${url}: nothing within ${FEED_PROBE_MS / 1000} s`,
        );
      }
      if (copy.code !== 0) {
        throw new StreamedgeError('LIVE_SOURCE', `cannot probe the feed ${url}: ${firstLine(copy.stderr)}`);
      }
      return probeAsFeed(url, file);
    },
  );
}

/**
 * Probes the first seconds of a feed held in memory (MPEG-TS, as a feed relay copies it): written
 * to a temp file and probed as a source file is. Rejects LIVE_SOURCE with what was wrong.
 */
export async function probeFeedSample(url: string, sample: Buffer): Promise<SourceInfo> {
  if (sample.length === 0) throw new StreamedgeError('LIVE_SOURCE', `the feed ${url} sent nothing before it left`);
  const dir = await mkdtemp(join(tmpdir(), 'streamedge-feed-sample-'));
  try {
    const file = join(dir, 'sample.ts');
    await writeFile(file, sample);
    return await probeAsFeed(url, file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Probes a file holding a feed's first seconds; its failures are the feed's (LIVE_SOURCE). */
async function probeAsFeed(url: string, file: string): Promise<SourceInfo> {
  try {
    return await probeSource(file);
  } catch (e) {
    const why = (e as Error).message.replaceAll(file, 'the feed');
    throw new StreamedgeError('LIVE_SOURCE', `${url}: ${why}`, { cause: e });
  }
}

/** SourceInfo from ffprobe's streams; rejects SOURCE_NO_VIDEO or SOURCE_UNSUPPORTED. */
async function sourceInfoOf(
  input: string,
  json: ProbeJson,
  judgeRate: (v: ProbeStream) => Promise<FrameRateVerdict>,
): Promise<SourceInfo> {
  const streams = json.streams ?? [];
  const main = mainVideoOf(streams);
  const v = main?.stream;
  const audioTracks = audioStreamsOf(streams, v);
  const a = streams.filter((s) => s.codec_type === 'audio')[audioTracks[0]?.index ?? 0];
  const info: SourceInfo = {
    formatName: json.format?.format_name ?? 'unknown',
    durationSec: positive(json.format?.duration),
    audioTracks,
  };
  const start = Number(json.format?.start_time);
  if (json.format?.start_time !== undefined && Number.isFinite(start)) info.startSec = start;
  if (a) {
    info.audio = {
      codec: a.codec_name ?? 'unknown',
      sampleRate: Number(a.sample_rate) || 48000,
      channels: a.channels ?? 2,
    };
  }
  if (!v || !main) {
    throw new StreamedgeError(
      'SOURCE_NO_VIDEO',
      `${input} has no video stream (${a ? 'audio only' : 'no audio/video streams'}); streamedge packages video sources`,
    );
  }
  if (!v.width || !v.height || !v.codec_name || v.codec_name === 'none') {
    throw new StreamedgeError(
      'SOURCE_UNSUPPORTED',
      `${input}: the video stream's codec is unknown to ffprobe (${v.codec_name ?? 'no codec'})`,
    );
  }
  const pixFmt = v.pix_fmt ?? 'unknown';
  const rotation = rotationOf(v);
  const sar = parseRational(v.sample_aspect_ratio) ?? [1, 1];
  // a quarter turn swaps the sides (and the pixel aspect) of what the encoder is given
  const turned = rotation === 90 || rotation === 270;
  const rate = await judgeRate(v);
  info.video = {
    width: turned ? v.height : v.width,
    height: turned ? v.width : v.height,
    frameRate: rate.frameRate,
    ...(rate.variable ? { variableFrameRate: { averageFps: round3(rate.variable.averageFps) } } : {}),
    codec: v.codec_name,
    pixFmt,
    bitDepth: bitDepthOf(pixFmt, v.bits_per_raw_sample),
    sar: turned ? [sar[1], sar[0]] : sar,
    durationSec: positive(v.duration),
    ...(rotation !== 0 ? { rotation } : {}),
    ...(INTERLACED_FIELD_ORDERS.has(v.field_order ?? '') ? { interlaced: true } : {}),
    ...(v.color_transfer === 'smpte2084' ? { hdr: 'pq' as const } : {}),
    ...(v.color_transfer === 'arib-std-b67' ? { hdr: 'hlg' as const } : {}),
    index: main.index,
  };

  return info;
}

/** ffprobe field orders of interlaced video (top or bottom field first, coded and displayed). */
const INTERLACED_FIELD_ORDERS = new Set(['tt', 'bb', 'tb', 'bt']);

/**
 * The turn a player applies to the stream, in degrees (0, 90, 180 or 270): from its display
 * matrix (ffprobe's `rotation`) or the older `rotate` tag.
 */
export function rotationOf(v: Pick<ProbeStream, 'side_data_list' | 'tags'>): number {
  const matrix = v.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  const degrees = matrix ?? Number(v.tags?.rotate ?? 0);
  if (!Number.isFinite(degrees)) return 0;
  const quarter = Math.round(degrees / 90) * 90;
  return ((quarter % 360) + 360) % 360;
}

/** Decodes the first video frame with the encoding ffmpeg: proves it has a decoder for the source. */
async function checkDecodable(input: string, info: SourceInfo): Promise<void> {
  const r = await run(
    ffmpegPath(),
    [
      ...['-hide_banner', '-nostdin', '-v', 'error', '-i', input],
      ...['-map', `0:v:${info.video?.index ?? 0}`, '-frames:v', '1', '-f', 'null', '-'],
    ],
    60_000,
  );
  if (r.code === 0) return;
  const codec = info.video?.codec ?? 'unknown';
  if (/decoder .*not found|unsupported codec|no decoder/i.test(r.stderr)) {
    throw new StreamedgeError(
      'SOURCE_UNSUPPORTED',
      `${input}: this ffmpeg cannot decode ${codec} video (set FFMPEG_PATH to a newer ffmpeg, or transcode the source first)`,
    );
  }
  if (/moov atom not found|partial file|end of file/i.test(r.stderr)) {
    throw new StreamedgeError('SOURCE_TRUNCATED', `${input} is truncated (${firstLine(r.stderr)})`);
  }
  throw new StreamedgeError(
    'SOURCE_UNSUPPORTED',
    `${input}: ffmpeg cannot decode its ${codec} video (${firstLine(r.stderr)})`,
  );
}
