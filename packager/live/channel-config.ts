/**
 * Live channel configuration: `--live <channel>=<source>` plus the shared live options.
 *
 * Sources:
 *   lavfi                       testsrc2 1280x720 at 30 fps + a 440 Hz sine (demos, tests); with
 *                               audioLanguages (`--live-audio en,fr`) one sine per language
 *                               (440, 660, 880 Hz, ...), each its own audio rendition
 *   lavfi:<video graph>         e.g. lavfi:testsrc2=size=640x360:rate=30 (+ the sine)
 *   <file path>                 looped forever in real time (-re -stream_loop -1)
 *   srt:// rtmp:// udp:// rtp:// tcp:// (any ffmpeg URL)   read as is; rtmp:// listens for a publisher
 */
import type { ContentKey, ProtectionScheme } from '../../src/cenc/content-keys.js';
import type { ClosedCaptionService, InterstitialSource } from '../../src/media/presentation.js';
import { StreamedgeError } from '../../src/errors.js';
import { languageName, parseLanguageTag } from '../../src/media/language-tag.js';
import type { SourceInfo } from '../probe.js';
import type { AudioTrackPlan } from '../audio-tracks.js';
import { loadLadderSpec, type LadderSpec, type VideoCodec } from '../ladder.js';

export interface ChannelConfig {
  /** URL-safe channel id: `/live/<id>/...`. */
  id: string;
  source: string;
  /** Seconds (default 2). */
  segmentDuration?: number;
  /** Seconds (default 0.5). */
  partDuration?: number;
  /** DVR window, seconds (default 120). */
  dvrWindow?: number;
  /** Ladder preset name or JSON file (default 'small': 360p + 240p + audio). */
  ladder?: string;
  /** The ladder in these video codecs (`--live-video-codecs h264,hevc`); absent: the ladder's own (H.264). */
  videoCodecs?: VideoCodec[];
  /** Target latency advertised to players, seconds (default 3 parts + a segment... see resolve). */
  targetLatency?: number;
  /**
   * lavfi sources: the BCP 47 languages of the test signal's audio tracks, one sine tone each
   * (default: one untagged track). A file source maps all of its own audio tracks instead.
   */
  audioLanguages?: string[];
  /**
   * Epoch lock (`--epoch`), epoch ms: segment n covers [epoch + n·segment, epoch + (n+1)·segment)
   * of wall-clock time, whenever the origin started, so origins fed the same source with the same
   * epoch number segments, parts and PDT alike. Without it the channel's clock starts at its
   * first start (and continues across restarts).
   */
  epoch?: number;
  /**
   * Seconds behind real time (now − the PDT end of the newest part) past which the channel says
   * it is under duress (CMSD-Dynamic `du`) so that an edge with a backup origin moves it there
   * (`--duress-lag`; default a segment and two parts).
   */
  duressLag?: number;
  /** Common Encryption of every rendition with this key (`--live-encrypt`, `--content-keys`). */
  protection?: ChannelProtection;
  /** One thumbnail per segment, this many pixels wide (`--live-thumbnails`). */
  thumbnails?: { width: number };
  /** The ad breaks also as EXT-X-CUE-OUT/-CONT/-IN segment tags (`--live-cue-tags`). */
  hlsCueTags?: boolean;
  /** The ad breaks also as HLS Interstitials of these ads (`--live-interstitial…`). */
  interstitial?: InterstitialSource;
  /** The CEA-608 channels to announce, or none (`--live-captions`); absent: what the video carries. */
  captions?: ClosedCaptionService[] | 'none';
  /** The MPD in one Period (default), or a new Period at each ad break's start and return (`--live-dash-periods`). */
  dashPeriods?: 'single' | 'cues';
}

/** A channel's encryption: scheme, key, and the absolute license URL its MPD names (default: relative). */
export interface ChannelProtection {
  scheme: ProtectionScheme;
  key: ContentKey;
  licenseUrl?: string;
}

export interface ResolvedChannelConfig extends Required<
  Omit<
    ChannelConfig,
    | 'targetLatency'
    | 'epoch'
    | 'protection'
    | 'thumbnails'
    | 'hlsCueTags'
    | 'interstitial'
    | 'captions'
    | 'videoCodecs'
    | 'dashPeriods'
  >
> {
  targetLatency: number;
  videoCodecs?: VideoCodec[];
  dashPeriods?: 'cues';
  epoch?: number;
  protection?: ChannelProtection;
  thumbnails?: { width: number };
  hlsCueTags?: boolean;
  interstitial?: InterstitialSource;
  captions?: ClosedCaptionService[] | 'none';
}

export const LIVE_DEFAULTS = { segmentDuration: 2, partDuration: 0.5, dvrWindow: 120, ladder: 'small' } as const;
const CHANNEL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Parses one `--live` value: `<channel>=<source>`. */
export function parseLiveSpec(text: string): { id: string; source: string } {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    throw new StreamedgeError('BAD_OPTION', `--live "${text}": expected <channel>=<source>, e.g. news=lavfi`);
  }
  const id = text.slice(0, eq);
  if (!CHANNEL_ID.test(id)) {
    throw new StreamedgeError('BAD_OPTION', `--live "${text}": channel id must be letters, digits, _ or - (max 64)`);
  }
  return { id, source: text.slice(eq + 1) };
}

/**
 * Parses `--epoch`: unix seconds (e.g. 1767225600) or an ISO-8601 date-time with its zone
 * (e.g. 2026-01-01T00:00:00Z). Returns epoch ms. Must not be in the future (`now`, epoch ms).
 */
export function parseEpoch(text: string, now: number = Date.now()): number {
  const t = text.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(t)) ms = Number(t) * 1000;
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(t)) ms = Date.parse(t);
  else ms = Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--epoch "${text}": expected unix seconds (e.g. 1767225600) or an ISO-8601 date-time with a zone (e.g. 2026-01-01T00:00:00Z)`,
    );
  }
  if (ms > now) {
    throw new StreamedgeError('BAD_OPTION', `--epoch "${text}" is in the future (${new Date(ms).toISOString()})`);
  }
  return Math.round(ms);
}

export function resolveChannelConfig(c: ChannelConfig): ResolvedChannelConfig {
  if (!CHANNEL_ID.test(c.id))
    throw new StreamedgeError('BAD_OPTION', `live channel id "${c.id}" must be letters, digits, _ or -`);
  const segmentDuration = c.segmentDuration ?? LIVE_DEFAULTS.segmentDuration;
  const partDuration = c.partDuration ?? LIVE_DEFAULTS.partDuration;
  const dvrWindow = c.dvrWindow ?? LIVE_DEFAULTS.dvrWindow;
  if (!(segmentDuration > 0) || !(partDuration > 0) || partDuration > segmentDuration) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `channel ${c.id}: need 0 < part (${partDuration}) <= segment (${segmentDuration})`,
    );
  }
  if (!(dvrWindow > 0)) throw new StreamedgeError('BAD_OPTION', `channel ${c.id}: --dvr must be positive`);
  const duressLag = c.duressLag ?? segmentDuration + 2 * partDuration;
  if (!(duressLag >= partDuration) || !Number.isFinite(duressLag)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `channel ${c.id}: --duress-lag (${duressLag}) must be at least a part (${partDuration} s): an encoder is always about a part behind`,
    );
  }
  const audioLanguages = (c.audioLanguages ?? []).map((l) => parseLanguageTag(l, `channel ${c.id}: --live-audio`));
  if (audioLanguages.length > 0 && !isLavfi(c.source)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `channel ${c.id}: --live-audio names the lavfi test signal's tracks; a file source brings its own tagged tracks`,
    );
  }
  const twice = audioLanguages.find(
    (l, i) => audioLanguages.findIndex((x) => x.toLowerCase() === l.toLowerCase()) !== i,
  );
  if (twice) throw new StreamedgeError('BAD_OPTION', `channel ${c.id}: --live-audio names "${twice}" twice`);
  if (c.thumbnails) {
    const w = c.thumbnails.width;
    if (!Number.isInteger(w) || w < 16 || w > 1920 || w % 2 !== 0) {
      throw new StreamedgeError(
        'BAD_OPTION',
        `--live-thumbnails ${w}: use an even number of pixels between 16 and 1920`,
      );
    }
  }
  const codecs = liveLadderCodecs(c, c.ladder ?? LIVE_DEFAULTS.ladder);
  // a ladder with HEVC rungs announces no captions: the source's 608 reaches the H.264 rungs only
  const captions = codecs?.includes('hevc') ? ('none' as const) : c.captions;
  return {
    id: c.id,
    source: c.source,
    segmentDuration,
    partDuration,
    dvrWindow,
    ladder: c.ladder ?? LIVE_DEFAULTS.ladder,
    // PART-HOLD-BACK: RFC 8216bis requires ≥ 3 part targets; one more absorbs a part's jitter across edge tiers.
    targetLatency: c.targetLatency ?? 4 * partDuration,
    audioLanguages,
    duressLag,
    ...(c.epoch !== undefined ? { epoch: c.epoch } : {}),
    ...(c.protection ? { protection: c.protection } : {}),
    ...(c.thumbnails ? { thumbnails: c.thumbnails } : {}),
    ...(c.hlsCueTags ? { hlsCueTags: true } : {}),
    ...(c.interstitial ? { interstitial: c.interstitial } : {}),
    ...(captions ? { captions } : {}),
    ...(c.videoCodecs ? { videoCodecs: c.videoCodecs } : {}),
    ...(c.dashPeriods === 'cues' ? { dashPeriods: 'cues' as const } : {}),
  };
}

/** The ladder a channel's runs plan from: its preset or file, in `--live-video-codecs` when given. */
export function channelLadder(c: ResolvedChannelConfig): string | LadderSpec {
  return c.videoCodecs ? { ...loadLadderSpec(c.ladder), videoCodecs: c.videoCodecs } : c.ladder;
}

/**
 * The video codecs a live ladder names (undefined: H.264 alone, or a ladder the run will report
 * on), checked against the channel's other options when it is configured, not at its first run:
 * HEVC rungs cannot be encrypted (the packager's Common Encryption maps H.264 slices only) and
 * carry no CEA-608 (libx265 drops it, and HLS announces in-band captions for every variant or
 * none), so captions named with `--live-captions` are refused beside them.
 */
function liveLadderCodecs(c: ChannelConfig, ladder: string): readonly string[] | undefined {
  let codecs: readonly string[] | undefined = c.videoCodecs;
  try {
    codecs ??= loadLadderSpec(ladder).videoCodecs;
  } catch {
    return undefined; // an unreadable ladder is reported by the run that plans it, as before
  }
  if (!codecs?.includes('hevc')) return codecs;
  const asked = c.videoCodecs ? '--live-video-codecs' : `the live ladder ${ladder}`;
  if (c.protection) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `channel ${c.id}: ${asked} asks for HEVC, and the channel is encrypted: Common Encryption is done for H.264 only; encrypt an H.264 ladder, or carry HEVC clear`,
    );
  }
  if (Array.isArray(c.captions)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `channel ${c.id}: ${asked} asks for HEVC, which cannot carry the --live-captions channels (libx265 drops CEA-608, and HLS announces in-band captions for every variant or none): use an H.264 ladder for a captioned channel`,
    );
  }
  return codecs;
}

function isLavfi(source: string): boolean {
  return source === 'lavfi' || source.startsWith('lavfi:');
}

export interface SourceInput {
  /** ffmpeg input arguments. */
  args: string[];
  audioMap?: string;
  /** Several audio languages (lavfi with audioLanguages): one rendition each. */
  audioTracks?: AudioTrackPlan[];
  /** What the ladder planner assumes about the source (probed for files). */
  assumed?: SourceInfo;
  /**
   * Network feeds read by the encoder itself: the feed can be probed before the encoder reads it
   * (a second reader does not disturb it: http). Not for relayed feeds (below).
   */
  probeable?: boolean;
  /**
   * Network feeds held by a relay ffmpeg that the encoder runs read from (live/feed-relay.ts),
   * so neither a probe nor an encoder restart opens the feed again, and the feed's SCTE 35 cues
   * are read on the way: those with one connection to keep, that connect to us (rtmp://,
   * srt://…?mode=listener, tcp://…?listen) or that we call (a contribution encoder or gateway
   * listening for SRT or TCP takes one caller), and the MPEG-TS a plant sends over UDP or RTP
   * (udp://, rtp://, where broadcast cues travel). `args` are the relay's input options and URL.
   */
  relayed?: boolean;
  /** A relayed feed in MPEG-TS (srt, tcp, udp, rtp; not RTMP's FLV): its SCTE 35 cues are read. */
  carriesScte35?: boolean;
  kind: 'lavfi' | 'file' | 'url';
  /** Files: the path. */
  path?: string;
}

/**
 * Feeds held by a feed relay, never opened twice: over one connection, in either direction (the
 * publisher connects to us, or we call a sender that takes one caller), and MPEG-TS over UDP
 * and RTP (read once, its SCTE 35 cues with it).
 */
const RELAYED_SCHEMES = new Set(['rtmp', 'srt', 'tcp', 'udp', 'rtp']);

const SINE = 'sine=frequency=440:sample_rate=48000';
/** Tone of the n-th language of the test signal: 440, 660, 880, ... Hz (tells the tracks apart by ear). */
const sine = (n: number): string => `sine=frequency=${440 + 220 * n}:sample_rate=48000`;
const DEFAULT_LAVFI = 'testsrc2=size=1280x720:rate=30';

function lavfiInfo(graph: string): SourceInfo {
  const size = /size=(\d+)x(\d+)/.exec(graph);
  const rate = /rate=(\d+)(?:\/(\d+))?/.exec(graph);
  return {
    formatName: 'lavfi',
    video: {
      width: size ? Number(size[1]) : 320,
      height: size ? Number(size[2]) : 240,
      frameRate: rate ? [Number(rate[1]), Number(rate[2] ?? 1)] : [25, 1],
      codec: 'rawvideo',
      pixFmt: 'yuv420p',
    },
    audio: { codec: 'pcm_s16le', sampleRate: 48000, channels: 2 },
  };
}

/**
 * What the ladder assumes of a network feed that cannot be probed before it starts (one that
 * connects to the listening encoder: rtmp://, srt:// as listener): 1080p30 with audio.
 */
export const ASSUMED_NETWORK_SOURCE: SourceInfo = {
  formatName: 'network',
  video: { width: 1920, height: 1080, frameRate: [30, 1], codec: 'h264', pixFmt: 'yuv420p' },
  audio: { codec: 'aac', sampleRate: 48000, channels: 2 },
};

/** ffmpeg input arguments for a source string (lavfi: one sine input per audio language). */
export function sourceInput(source: string, audioLanguages: string[] = []): SourceInput {
  if (isLavfi(source)) {
    const graph = source === 'lavfi' ? DEFAULT_LAVFI : source.slice('lavfi:'.length) || DEFAULT_LAVFI;
    const video = graph.includes('=') ? graph : `${graph}=size=1280x720:rate=30`;
    if (audioLanguages.length > 0) {
      return {
        kind: 'lavfi',
        args: [
          '-re',
          '-f',
          'lavfi',
          '-i',
          video,
          ...audioLanguages.flatMap((_, n) => ['-re', '-f', 'lavfi', '-i', sine(n)]),
        ],
        audioTracks: audioLanguages.map((language, n) => ({
          id: audioLanguages.length > 1 ? `audio-${language}` : 'audio',
          map: `${n + 1}:a:0`,
          language,
          name: languageName(language) ?? language,
          default: n === 0,
          origin: `lavfi tone ${n + 1}`,
        })),
        assumed: lavfiInfo(video),
      };
    }
    return {
      kind: 'lavfi',
      args: ['-re', '-f', 'lavfi', '-i', video, '-re', '-f', 'lavfi', '-i', SINE],
      audioMap: '1:a:0',
      assumed: lavfiInfo(video),
    };
  }
  const url = /^([a-z][a-z0-9+.-]*):\/\//i.exec(source);
  if (url && url[1].toLowerCase() !== 'file') {
    const scheme = url[1].toLowerCase();
    const listen = scheme === 'rtmp' ? ['-listen', '1'] : [];
    return {
      kind: 'url',
      args: [...listen, '-fflags', '+genpts', '-i', source],
      assumed: ASSUMED_NETWORK_SOURCE,
      ...(RELAYED_SCHEMES.has(scheme)
        ? { relayed: true, ...(scheme !== 'rtmp' ? { carriesScte35: true } : {}) }
        : { probeable: true }),
    };
  }
  const path = source.startsWith('file://') ? source.slice('file://'.length) : source;
  // A missing file is not fatal for the origin: the channel reports it (state failed).
  return { kind: 'file', args: ['-re', '-stream_loop', '-1', '-i', path], path };
}
