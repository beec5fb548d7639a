/**
 * A VOD packaging job: probe → plan the ladder → one ffmpeg run → a segmenter per rendition
 * writing init/segments into a staging folder → HLS + DASH manifests from one Presentation →
 * atomic publish. Any failure (ffmpeg crash, bad output, abort) removes the staging folder and
 * publishes nothing; ffmpeg's log is kept (and named in the error) when the encoder failed.
 */
import { appendFileSync, existsSync, mkdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { asError, StreamedgeError, storageWriteError } from '../src/errors.js';
import {
  paths,
  seconds,
  type ClosedCaptionService,
  type InterstitialSource,
  type Presentation,
  type Rendition,
  type RenditionTimeline,
  type Segment,
  type ThumbnailTrack,
} from '../src/media/presentation.js';
import type { TrackInfo } from '../src/cmaf/init-segment.js';
import { writeMultivariantPlaylist } from '../src/hls/multivariant.js';
import { writeMediaPlaylist } from '../src/hls/media-playlist.js';
import { writeIFramePlaylist } from '../src/hls/iframe-playlist.js';
import { writeMpd } from '../src/dash/mpd.js';
import { probeSource, type SourceInfo } from './probe.js';
import { keepHdrInHevc, loadLadderSpec, planLadder, videoRangeOf, type LadderPlan, type VideoCodec } from './ladder.js';
import { buildEncodeArgs, type EncodeOutput } from './encode-args.js';
import { runEncoder, type EncoderRun } from './ffmpeg-run.js';
import { Segmenter } from './segmenter.js';
import { writeProtectionRecord } from './protection-record.js';
import { TrackProtector } from '../src/cenc/track-protector.js';
import { CaptionChannelScan } from '../src/captions/channel-scan.js';
import type { ContentKey, ProtectionScheme } from '../src/cenc/content-keys.js';
import { measureBandwidth } from './rendition-stats.js';
import { mergeTail } from './segment-merge.js';
import {
  LOGS_DIR,
  assertCanPublish,
  createStaging,
  discardStaging,
  publishVersion,
  releaseVersion,
  reserveVersion,
  validateAssetId,
  type VersionSlot,
} from './publish.js';
import { pruneVersions, type RetentionPolicy } from './version-retention.js';
import {
  audioFitNote,
  planAudioTracks,
  withSurroundTwins,
  type AudioInput,
  type AudioTrackPlan,
} from './audio-tracks.js';
import { loadSubtitles, type LoadedSubtitles, type SubtitleInput } from './subtitle-inputs.js';
import { writeSubtitlePlaylist } from '../src/hls/subtitle-playlist.js';
import { writeImagePlaylist } from '../src/hls/image-playlist.js';
import { THUMBNAIL_INDEX, writeThumbnailVtt } from '../src/media/thumbnail-vtt.js';
import { finishThumbnails, planThumbnails, THUMBNAIL_TRACK_ID, type ThumbnailOptions } from './thumbnail-track.js';
import type { ThumbnailSheetsPlan } from './encode-args.js';
import { segmentWebVtt, writeWebVtt } from '../src/media/webvtt.js';
import { adBreaksOf, type AdCue, checkAdCues, cutTimes, splicePoints } from './ad-cues.js';
import { readSourceCues, type SourceCues } from './source-cues.js';

export interface PackageVodOptions {
  input: string;
  outDir: string;
  assetId: string;
  /** Preset name or path to a JSON ladder file (default preset 'default'). */
  ladder?: string;
  /** Seconds (default 4). */
  segmentDuration?: number;
  /** Seconds (default 1). */
  partDuration?: number;
  force?: boolean;
  /** Which old versions a re-publish keeps (default: the 2 newest, and any retired less than 24 h ago). */
  retention?: RetentionPolicy;
  /** Subtitle tracks (WebVTT or SRT files with a BCP 47 language), checked before encoding. */
  subtitles?: SubtitleInput[];
  /** More audio languages: each file's first audio stream (padded or trimmed to the video's length). */
  audio?: AudioInput[];
  /** x264 preset (default 'veryfast'). */
  preset?: string;
  /** Common Encryption of every video and audio rendition with this key (subtitles stay clear). */
  protection?: { scheme: ProtectionScheme; key: ContentKey; licenseUrl?: string };
  /** A thumbnail track (tiled JPEG sheets) for seek-bar previews, from the same decode. */
  thumbnails?: ThumbnailOptions;
  /**
   * Splice points (and breaks) for server-side ad insertion: key frames, segment starts and
   * markers there. 'source': those the source's SCTE 35 gives (an MPEG-TS file).
   */
  adCues?: AdCue[] | 'source';
  /** With ad cues: HLS Interstitials at them, playing this asset or the assets of this list. */
  interstitial?: InterstitialSource;
  /**
   * The DASH MPD's Periods: 'single' (default: one Period, the cues as SCTE 35 Events) or 'cues'
   * (with ad cues: a new Period at each splice point and return, as ad inserters stitch them).
   */
  dashPeriods?: 'single' | 'cues';
  /** With ad cues: the breaks also as EXT-X-CUE-OUT/-CONT/-IN segment tags in HLS (src/hls/cue-tags.ts). */
  hlsCueTags?: boolean;
  /**
   * The CEA-608 channels to announce (`--captions`), or 'none'. Absent: the channels a caption
   * appears on anywhere in the first video rendition (read as it is segmented), or CC1 when only
   * the probe saw caption data.
   */
  captions?: ClosedCaptionService[] | 'none';
  /**
   * Each announced caption channel also as a WebVTT subtitle track decoded from the video's 608
   * (`--captions-webvtt`), for players and devices that do not read 608, and for transcripts.
   */
  captionsWebVtt?: boolean;
  /** The codecs the ladder is encoded in (`--video-codecs`), in place of the ladder's own (default H.264). */
  videoCodecs?: VideoCodec[];
  /** Called once the source is probed and the ladder planned. */
  onPlan?: (plan: LadderPlan, source: SourceInfo) => void;
  /** Media seconds encoded so far, and the expected total when known. */
  onProgress?: (doneSec: number, totalSec: number | undefined) => void;
  signal?: AbortSignal;
}

export interface RenditionSummary {
  id: string;
  kind: 'video' | 'audio';
  language?: string;
  codecs: string;
  width?: number;
  height?: number;
  /** HDR video (PQ or HLG); absent: SDR. */
  videoRange?: 'PQ' | 'HLG';
  bandwidth: number;
  averageBandwidth: number;
  segments: number;
  bytes: number;
}

export interface VodSummary {
  assetId: string;
  /** <outDir>/<assetId>: the asset folder. */
  path: string;
  version: string;
  versionDir: string;
  /** The version that was current before (with force). */
  replaced?: string;
  /** Old versions removed by retention during this publish. */
  removedVersions: string[];
  renditions: RenditionSummary[];
  /** The thumbnail track, when asked for. */
  thumbnails?: ThumbnailTrack;
  /** Audio tracks whose length differed from the video's, and what was done (padded or trimmed). */
  audioNotes: string[];
  /** The ad cues as placed: the media seconds each starts (and ends) at, on a video key frame. */
  adCues: { atSec: number; endSec: number }[];
  /** With `adCues: 'source'`: what was read from the source and left out, and why. */
  adCueNotes: string[];
  /** An interstitial plays after the programme (`end` among the cues). */
  postRoll: boolean;
  /**
   * The closed-caption channels the manifests announce, whether `--captions` named them, and the
   * subtitle tracks `--captions-webvtt` made (id and cue count, per channel converted).
   */
  captions: { services: ClosedCaptionService[]; given: boolean; webVtt: { id: string; cues: number }[] };
  durationSec: number;
  segmentCount: number;
  segmentDuration: number;
  partDuration: number;
  totalBytes: number;
  elapsedMs: number;
  source: SourceInfo;
}

interface RenditionState {
  output: EncodeOutput;
  dir: string;
  track?: TrackInfo;
  segments: Segment[];
  pending: Buffer[];
  /** The last complete segment, kept in memory until we know whether it is a tail to fold in. */
  held?: { segment: Segment; bytes: Buffer };
  bytes: number;
}

function checkDurations(segmentDuration: number, partDuration: number): void {
  if (!(segmentDuration >= 1 && segmentDuration <= 60)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--segment ${segmentDuration}: use a segment duration between 1 and 60 seconds`,
    );
  }
  if (!(partDuration >= 0.1 && partDuration <= segmentDuration)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--part ${partDuration}: use a part duration between 0.1 s and the segment duration (${segmentDuration} s)`,
    );
  }
}

const DEFAULT_RETENTION: RetentionPolicy = { keepVersions: 2, keepForMs: 24 * 3600_000 };

function abortedError(): StreamedgeError {
  return new StreamedgeError('ABORTED', 'packaging interrupted; nothing was published');
}

export async function packageVod(opts: PackageVodOptions): Promise<VodSummary> {
  const started = Date.now();
  const segmentDuration = opts.segmentDuration ?? 4;
  const partDuration = opts.partDuration ?? 1;
  const outDir = resolve(opts.outDir);
  const force = opts.force ?? false;
  validateAssetId(opts.assetId);
  checkDurations(segmentDuration, partDuration);
  assertCanPublish(outDir, opts.assetId, force);

  const source = await probeSource(opts.input);
  const audioTracks = await planAudioTracks(opts.input, source, opts.audio ?? []);
  // Audio from --audio files alone (a silent source) still gets the ladder's audio settings.
  const ladder = loadLadderSpec(opts.ladder);
  const plan = keepHdrInHevc(
    planLadder(
      !source.audio && audioTracks.length > 0
        ? { ...source, audio: { codec: 'aac', sampleRate: 48000, channels: 2 } }
        : source,
      opts.videoCodecs ? { ...ladder, videoCodecs: opts.videoCodecs } : ladder,
    ),
    source,
  );
  checkHevcOptions(plan, source, opts);
  if (!plan.audio && (opts.audio?.length ?? 0) > 0) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--audio: the ladder ${opts.ladder ?? 'default'} has no audio ("audio": false)`,
    );
  }
  // a 5.1 twin beside each multichannel track, unless the ladder says stereo only
  const tracks = !plan.audio
    ? []
    : plan.audio.surroundBitrate !== undefined
      ? withSurroundTwins(audioTracks, plan.audio.surroundCodecs)
      : audioTracks;
  checkRenditionIds(plan, tracks, opts.thumbnails !== undefined);
  if ((opts.subtitles?.length ?? 0) > 0 && !source.video) {
    throw new StreamedgeError('BAD_SUBTITLES', `${opts.input} has no video: subtitles need one`);
  }
  const subtitles = loadSubtitles(opts.subtitles ?? [], source.video?.durationSec ?? source.durationSec);
  const { cues: allCues, notes: adCueNotes } =
    opts.adCues === 'source'
      ? await sourceAdCues(opts.input, source, partDuration)
      : { cues: opts.adCues ?? [], notes: [] };
  // a post-roll (`end`) is no splice point: only an interstitial plays there
  const adCues = allCues.filter((c) => !c.postRoll);
  const postRoll = allCues.length > adCues.length;
  if (postRoll && !opts.interstitial) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--ad-cues end (a post-roll) needs --interstitial or --interstitial-list: the end of the programme is no splice point',
    );
  }
  const cutTimesSec = adCuts(adCues, source, segmentDuration, partDuration);
  if (opts.interstitial && opts.adCues === undefined) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--interstitial and --interstitial-list need --ad-cues: the interstitials play at the cues',
    );
  }
  if (opts.hlsCueTags && opts.adCues !== 'source' && !adCues.some((c) => c.durationSec !== undefined)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--hls-cue-tags marks breaks (<seconds>+<break seconds> in --ad-cues, e.g. 60+30), and there is none: a splice point has no segments to mark',
    );
  }
  if (opts.dashPeriods === 'cues' && opts.adCues === undefined) {
    throw new StreamedgeError('BAD_OPTION', '--dash-periods cues needs --ad-cues: the Periods begin at the cues');
  }
  if (opts.captionsWebVtt && (opts.captions === 'none' || !source.video))
    throw new StreamedgeError(
      'BAD_OPTION',
      `--captions-webvtt converts the video's CEA-608 captions: ${opts.captions === 'none' ? 'with --captions none there are none' : `${opts.input} has no video`}`,
    );
  if (opts.dashPeriods === 'cues' && opts.captionsWebVtt)
    throw new StreamedgeError(
      'BAD_OPTION',
      '--dash-periods cues with --captions-webvtt: an MPD split into Periods cannot carry sidecar WebVTT (as with --subtitles); package them with --dash-periods single',
    );
  if (opts.dashPeriods === 'cues' && subtitles.length > 0) {
    throw new StreamedgeError(
      'BAD_OPTION',
      "--dash-periods cues with --subtitles: players read a Period's sidecar WebVTT on different clocks (Shaka Player from the Period's start, dash.js from the presentation's); package them with --dash-periods single",
    );
  }
  if (opts.signal?.aborted) throw abortedError();
  opts.onPlan?.(plan, source);

  // checked before anything is encoded; the folder is known once the version is reserved
  const thumbnailPlan = opts.thumbnails ? planThumbnails(opts.thumbnails, plan, segmentDuration, '') : undefined;
  const expectedSec = source.video?.durationSec ?? source.durationSec;
  const inputArgs = ['-i', opts.input, ...(opts.audio ?? []).flatMap((a) => ['-i', a.file])];
  const encodeInput = {
    args: inputArgs,
    audioTracks: tracks,
    videoMap: `0:v:${source.video?.index ?? 0}`,
    ...(source.video?.interlaced ? { deinterlace: 'all' as const } : {}),
    ...(source.video?.hdr ? { toneMap: true } : {}),
    ...(source.video?.hdrMetadata ? { hdrMetadata: source.video.hdrMetadata } : {}),
  };
  const createdOutDir = !existsSync(outDir);
  const staging = createStaging(outDir, opts.assetId);
  let slot: VersionSlot | undefined;
  const logDir = join(outDir, LOGS_DIR);
  const logFile = join(logDir, `${opts.assetId}-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
  let encoder: EncoderRun | undefined;
  let keepLog = false;
  try {
    slot = reserveVersion(outDir, opts.assetId);
    const versionRoot = join(staging, slot.name);
    let thumbnails: ThumbnailSheetsPlan | undefined;
    if (thumbnailPlan) {
      thumbnails = { ...thumbnailPlan, dir: join(versionRoot, THUMBNAIL_TRACK_ID) };
      mkdirSync(thumbnails.dir, { recursive: true });
    }
    const { args, outputs } = buildEncodeArgs(encodeInput, plan, {
      segmentDuration,
      partDuration,
      preset: opts.preset,
      // Audio never outlasts the video: no lone audio tail segment.
      audioDurationSec: source.video?.durationSec,
      ...(thumbnails ? { thumbnails } : {}),
      ...(cutTimesSec ? { keyFrameTimesSec: cutTimesSec } : {}),
    });
    const states = outputs.map((output): RenditionState => {
      const dir = join(versionRoot, output.renditionId);
      mkdirSync(dir, { recursive: true });
      return { output, dir, segments: [], pending: [], bytes: 0 };
    });
    // the channels the captions use, read from the first H.264 rendition as it is segmented (the
    // only codec ffmpeg carries the source's 608 into)
    const scanned =
      opts.captions === undefined || opts.captionsWebVtt
        ? states.find((s) => plan.video.find((r) => r.id === s.output.renditionId)?.codec === 'h264')
        : undefined;
    let captionScan: CaptionChannelScan | undefined;
    const segmenters = states.map((state) => {
      const { output } = state;
      const pr = opts.protection;
      return new Segmenter({
        renditionId: output.renditionId,
        kind: output.kind,
        segmentDuration,
        partDuration,
        firstSegmentNumber: 1,
        ...(cutTimesSec ? { cutTimesSec } : {}),
        ...(pr ? { protector: new TrackProtector(pr.scheme, pr.key, `rendition ${output.renditionId}`) } : {}),
        listener: {
          init(bytes, track) {
            state.track = track;
            writeFileSync(join(versionRoot, paths.init(output.renditionId)), bytes);
            if (state === scanned) captionScan = new CaptionChannelScan(bytes);
          },
          part(_n, _part, bytes) {
            state.pending.push(bytes);
            if (state === scanned) captionScan?.push(bytes);
          },
          segment(segment) {
            flushHeld(versionRoot, state);
            state.held = { segment, bytes: Buffer.concat(state.pending) };
            state.pending = [];
          },
        },
      });
    });

    encoder = runEncoder(args, outputs, {
      logFile,
      signal: opts.signal,
      onProgress: opts.onProgress ? (sec) => opts.onProgress!(sec, expectedSec) : undefined,
    });
    const run = encoder;
    let failure: Error | undefined;
    const fail = (e: unknown): void => {
      failure ??= asError(e);
      run.kill();
    };
    const drained = states.map((s, i) => drain(run.streams.get(s.output.renditionId)!, segmenters[i], fail));
    let encodeError: Error | undefined;
    await run.done.catch((e: unknown) => {
      encodeError = asError(e);
    });
    await Promise.all(drained);
    if (opts.signal?.aborted) throw abortedError();
    if (encodeError) {
      keepLog = (encodeError as StreamedgeError).code === 'ENCODER_FAILED';
      throw failure ?? encodeError;
    }
    if (failure) throw failure;
    finishTails(versionRoot, states, partDuration);

    const presentation = buildPresentation(opts.assetId, segmentDuration, partDuration, plan, states, tracks, logFile);
    const durationSec = presentation.duration ?? 0;
    if (expectedSec && source.video?.durationSec && durationSec < expectedSec * 0.9 - 0.5) {
      throw new StreamedgeError(
        'SOURCE_TRUNCATED',
        `${opts.input} ends early: only ${durationSec.toFixed(1)} s of its ${expectedSec.toFixed(1)} s of video could be decoded (truncated or corrupt file)`,
      );
    }
    if (adCues.length > 0 || postRoll) {
      placeAdCues(presentation, adCues, started, opts.interstitial, opts.dashPeriods === 'cues');
      if (postRoll) presentation.postRoll = true;
      if (opts.hlsCueTags) presentation.hlsCueTags = true;
    }
    if (opts.protection) {
      const { scheme, key, licenseUrl } = opts.protection;
      presentation.protection = { scheme, kid: key.kid, ...(licenseUrl ? { licenseUrl } : {}) };
      writeProtectionRecord(versionRoot, presentation.protection);
    }
    const captions = captionServicesFor(opts.captions, captionScan, source);
    // HEVC rungs carry no 608 (checkHevcOptions): in-band captions are announced for every variant or none
    if (captions.length > 0 && !hasHevc(plan)) presentation.closedCaptions = captions;
    const fromCaptions =
      opts.captionsWebVtt && captionScan ? captionSubtitles(captions, captionScan, presentation) : [];
    const allSubtitles = [...subtitles, ...fromCaptions];
    if (allSubtitles.length > 0) {
      presentation.subtitles = allSubtitles.map((s) => s.track);
      writeSubtitles(versionRoot, presentation, allSubtitles);
    }
    if (thumbnails) {
      presentation.thumbnails = finishThumbnails(thumbnails, durationSec, logFile);
      writeFileSync(join(versionRoot, paths.mediaPlaylist(THUMBNAIL_TRACK_ID)), writeImagePlaylist(presentation));
      writeFileSync(join(versionRoot, THUMBNAIL_TRACK_ID, THUMBNAIL_INDEX), writeThumbnailVtt(presentation));
    }
    writeManifests(versionRoot, presentation);
    writeEntryPoints(staging, presentation, slot.name);
    if (opts.signal?.aborted) throw abortedError();

    const published = publishVersion(outDir, opts.assetId, staging, slot, {
      force,
      renditionIds: [
        ...states.map((s) => s.output.renditionId),
        ...allSubtitles.map((s) => s.track.id),
        ...(thumbnails ? [THUMBNAIL_TRACK_ID] : []),
      ],
    });
    const removedVersions = pruneVersions(outDir, opts.assetId, opts.retention ?? DEFAULT_RETENTION);
    removeLog(logFile, logDir);
    const renditions = states.map((s): RenditionSummary => {
      const t = presentation.timelines.find((tl) => tl.rendition.id === s.output.renditionId)!;
      return {
        id: s.output.renditionId,
        kind: s.output.kind,
        ...(t.rendition.language ? { language: t.rendition.language } : {}),
        codecs: t.rendition.codecs,
        width: t.rendition.width,
        height: t.rendition.height,
        ...(t.rendition.videoRange ? { videoRange: t.rendition.videoRange } : {}),
        bandwidth: t.rendition.bandwidth,
        averageBandwidth: t.rendition.averageBandwidth,
        segments: s.segments.length,
        bytes: s.bytes,
      };
    });
    return {
      assetId: opts.assetId,
      path: published.link,
      version: published.version,
      versionDir: published.versionDir,
      replaced: published.replaced,
      removedVersions,
      renditions,
      ...(presentation.thumbnails ? { thumbnails: presentation.thumbnails } : {}),
      audioNotes: tracks
        .map((t) => audioFitNote(t, source.video?.durationSec))
        .filter((n): n is string => n !== undefined),
      adCues: (presentation.adBreaks ?? []).map((b) => ({ atSec: b.mediaStart, endSec: b.end!.mediaTime })),
      adCueNotes,
      postRoll,
      captions: {
        services: captions,
        given: Array.isArray(opts.captions),
        webVtt: fromCaptions.map((s) => ({ id: s.track.id, cues: s.vtt.cues.length })),
      },
      durationSec,
      segmentCount: renditions[0]?.segments ?? 0,
      segmentDuration,
      partDuration,
      totalBytes: renditions.reduce((n, r) => n + r.bytes, 0),
      elapsedMs: Date.now() - started,
      source,
    };
  } catch (e) {
    encoder?.kill();
    if (encoder) await encoder.done.catch(() => undefined);
    discardStaging(staging);
    if (slot) releaseVersion(slot);
    if (!keepLog) removeLog(logFile, logDir);
    if (createdOutDir) {
      try {
        rmdirSync(outDir); // only if nothing else is in it
      } catch {
        /* keep a non-empty folder */
      }
    }
    if (opts.signal?.aborted) throw abortedError();
    throw (
      storageWriteError(
        e,
        `the output in ${outDir}`,
        'nothing was published; free space there or choose another --out',
      ) ?? e
    );
  }
}

function hasHevc(plan: LadderPlan): boolean {
  return plan.video.some((r) => r.codec === 'hevc');
}

/**
 * What HEVC rungs cannot do yet, refused before anything is encoded: Common Encryption (the
 * packager maps H.264 slices to subsamples, not HEVC's), and in-band captions (ffmpeg's libx265
 * drops the source's CEA-608, and HLS announces CLOSED-CAPTIONS for every variant or for none:
 * `--captions-webvtt` offers them to every variant as WebVTT instead, decoded from an H.264 rung).
 */
function checkHevcOptions(plan: LadderPlan, source: SourceInfo, opts: PackageVodOptions): void {
  if (!hasHevc(plan)) return;
  if (opts.protection) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--encrypt with HEVC renditions: Common Encryption is done for H.264 only; package HEVC clear, or with --video-codecs h264',
    );
  }
  const captioned = Array.isArray(opts.captions) || (opts.captions === undefined && source.video?.closedCaptions);
  if (captioned && !opts.captionsWebVtt) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `HEVC renditions cannot carry ${Array.isArray(opts.captions) ? 'the --captions channels' : `the CEA-608 captions of ${opts.input}`} (libx265 drops them, and HLS announces in-band captions for every variant or none): add --captions-webvtt to offer them as WebVTT subtitles, or --captions none`,
    );
  }
  if (opts.captionsWebVtt && !plan.video.some((r) => r.codec === 'h264')) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--captions-webvtt reads the captions from an H.264 rendition, and --video-codecs hevc makes none: add h264',
    );
  }
}

/** Audio ids ("audio-en") are derived; a ladder file's video id must not take one. */
function checkRenditionIds(plan: LadderPlan, tracks: AudioTrackPlan[], thumbnails: boolean): void {
  const video = new Set(plan.video.map((r) => r.id));
  if (thumbnails && video.has(THUMBNAIL_TRACK_ID)) {
    throw new StreamedgeError(
      'BAD_LADDER',
      `the ladder's video id "${THUMBNAIL_TRACK_ID}" is the thumbnail track's folder; rename the video rung`,
    );
  }
  const clash = tracks.find((t) => video.has(t.id));
  if (clash) {
    throw new StreamedgeError(
      'BAD_LADDER',
      `the ladder's video id "${clash.id}" is also the audio rendition id of ${clash.origin}; rename the video rung`,
    );
  }
}

/**
 * The caption services to announce: `--captions` as given; else the channels a caption appeared
 * on (unnamed); else CC1 when the probe saw 608 data but no caption was decoded (data the
 * decoder cannot read is announced rather than dropped: CC1 is where captions are, as a rule).
 */
function captionServicesFor(
  given: ClosedCaptionService[] | 'none' | undefined,
  scan: CaptionChannelScan | undefined,
  source: SourceInfo,
): ClosedCaptionService[] {
  if (given === 'none') return [];
  if (given) return given;
  const found = scan?.services ?? [];
  if (found.length > 0) return found.map((id) => ({ instreamId: id, name: id }));
  return source.video?.closedCaptions ? [{ instreamId: 'CC1', name: 'CC1' }] : [];
}

/**
 * `--captions-webvtt`: each announced channel's captions as a subtitle track (`cc1`…`cc4`, marked
 * as captions), its cues placed on the 608 grid, timed from the presentation's start. A channel
 * with no caption decoded gets no track.
 */
function captionSubtitles(
  services: ClosedCaptionService[],
  scan: CaptionChannelScan,
  p: Presentation,
): LoadedSubtitles[] {
  const video = p.timelines.find((t) => t.rendition.kind === 'video');
  if (!video || video.segments.length === 0) return [];
  const zero = video.segments[0].start / video.rendition.timescale;
  return services.flatMap((service) => {
    const cues = scan.cues(service.instreamId).map((c) => ({
      start: Math.max(0, c.start - zero),
      end: Math.max(0, c.end - zero),
      settings: `line:${(10 + ((c.row - 1) * 80) / 15).toFixed(2)}% position:${(10 + (c.column * 80) / 32).toFixed(2)}% align:start`,
      text: c.text,
    }));
    if (cues.length === 0) return [];
    const id = service.instreamId.toLowerCase();
    const name = service.language ? `${service.name} (CC)` : service.name;
    return [
      {
        track: {
          id,
          language: service.language ?? 'und',
          name,
          default: false,
          autoselect: true,
          forced: false,
          captions: true,
        },
        vtt: { headerBlocks: [], cues },
      },
    ];
  });
}

function flushHeld(staging: string, state: RenditionState): void {
  if (!state.held) return;
  const { segment, bytes } = state.held;
  writeFileSync(join(staging, paths.segment(state.output.renditionId, segment.number)), bytes);
  state.segments.push(segment);
  state.bytes += segment.bytes;
  state.held = undefined;
}

function foldHeld(staging: string, state: RenditionState): void {
  const prev = state.segments[state.segments.length - 1];
  if (!state.held || !prev) return;
  const { append, merged } = mergeTail(prev, state.held.segment, state.held.bytes);
  appendFileSync(join(staging, paths.segment(state.output.renditionId, prev.number)), append);
  state.segments[state.segments.length - 1] = merged;
  state.bytes += append.length;
  state.held = undefined;
}

/**
 * Writes every rendition's last segment, folding a tail shorter than half a part into the segment
 * before it. Video decides (all video renditions cut alike); audio then folds its tail when that
 * is what keeps its segment count equal to the video's.
 */
function finishTails(staging: string, states: RenditionState[], partDuration: number): void {
  const videos = states.filter((s) => s.output.kind === 'video');
  const ref = videos[0];
  let foldVideo = false;
  if (ref?.held && ref.track && ref.segments.length > 0) {
    foldVideo = ref.held.segment.duration / ref.track.timescale < partDuration / 2;
  }
  for (const s of videos) {
    if (foldVideo) foldHeld(staging, s);
    else flushHeld(staging, s);
  }
  const videoCount = ref ? ref.segments.length : undefined;
  for (const s of states.filter((st) => st.output.kind === 'audio')) {
    const count = s.segments.length + (s.held ? 1 : 0);
    const short = s.held && s.track ? s.held.segment.duration / s.track.timescale < partDuration / 2 : false;
    if (videoCount !== undefined && count === videoCount + 1 && short) foldHeld(staging, s);
    else flushHeld(staging, s);
  }
}

/** Feeds a pipe into its segmenter; resolves at the end of the stream (errors go to `fail`). */
async function drain(stream: Readable, segmenter: Segmenter, fail: (e: unknown) => void): Promise<void> {
  let broken = false;
  stream.on('data', (chunk: Buffer) => {
    if (broken) return;
    try {
      segmenter.push(chunk);
    } catch (e) {
      broken = true;
      fail(e);
    }
  });
  try {
    await once(stream, 'end');
    if (!broken) segmenter.end();
  } catch (e) {
    if (!broken) fail(e);
  }
}

function removeLog(logFile: string, logDir: string): void {
  rmSync(logFile, { force: true });
  try {
    rmdirSync(logDir); // only when empty
  } catch {
    /* other logs remain */
  }
}

function buildPresentation(
  assetId: string,
  segmentDuration: number,
  partDuration: number,
  plan: LadderPlan,
  states: RenditionState[],
  tracks: AudioTrackPlan[],
  logFile: string,
): Presentation {
  const timelines: RenditionTimeline[] = [];
  for (const s of states) {
    const id = s.output.renditionId;
    if (!s.track || s.segments.length === 0) {
      throw new StreamedgeError('ENCODER_FAILED', `ffmpeg produced no media for rendition ${id}; full log: ${logFile}`);
    }
    const bw = measureBandwidth(s.segments, s.track.timescale);
    const rendition: Rendition = {
      id,
      kind: s.output.kind,
      codecs: s.track.codec,
      bandwidth: bw.peak,
      averageBandwidth: bw.average,
      timescale: s.track.timescale,
    };
    if (s.output.kind === 'video') {
      const rung = plan.video.find((r) => r.id === id)!;
      rendition.width = s.track.width ?? rung.width;
      rendition.height = s.track.height ?? rung.height;
      rendition.frameRate = plan.frameRate;
      rendition.sar = '1:1';
      if (rung.range) rendition.videoRange = videoRangeOf(rung.range);
    } else {
      rendition.sampleRate = s.track.sampleRate ?? plan.audio?.sampleRate;
      const audio = tracks.find((t) => t.id === id);
      // ffmpeg writes channelcount 2 in an AAC sample entry whatever the layout (the esds has it): the plan knows the twin's
      rendition.channels = audio?.channels ?? s.track.channels ?? plan.audio?.channels;
      if (s.track.channelMask !== undefined) rendition.channelMask = s.track.channelMask;
      if (audio) {
        if (audio.language) rendition.language = audio.language;
        rendition.name = audio.name;
        rendition.default = audio.default;
      }
    }
    timelines.push({ rendition, segments: s.segments });
  }
  timelines.sort((a, b) => (a.rendition.kind === b.rendition.kind ? 0 : a.rendition.kind === 'video' ? -1 : 1));

  const videoCounts = new Set(timelines.filter((t) => t.rendition.kind === 'video').map((t) => t.segments.length));
  if (videoCounts.size > 1) {
    throw new StreamedgeError(
      'SEGMENT_MISMATCH',
      `video renditions ended with different segment counts (${[...videoCounts].join(', ')}); full log: ${logFile}`,
    );
  }
  const videoDurations = timelines
    .filter((t) => t.rendition.kind === 'video')
    .map((t) =>
      seconds(
        t.segments.reduce((n, s) => n + s.duration, 0),
        t.rendition.timescale,
      ),
    );
  const allDurations = timelines.map((t) =>
    seconds(
      t.segments.reduce((n, s) => n + s.duration, 0),
      t.rendition.timescale,
    ),
  );
  const duration = Math.max(...(videoDurations.length ? videoDurations : allDurations));
  return { id: assetId, type: 'vod', segmentDuration, partDuration, timelines, duration };
}

/** `--ad-cues source`: the cues of an MPEG-TS source's SCTE 35, read before anything is encoded. */
async function sourceAdCues(input: string, source: SourceInfo, partSec: number): Promise<SourceCues> {
  if (!/mpegts/.test(source.formatName)) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--ad-cues source: ${input} is ${source.formatName}, not MPEG-TS (SCTE 35 cues are read from MPEG-TS files)`,
    );
  }
  const durationSec = source.video?.durationSec ?? source.durationSec;
  if (durationSec === undefined) {
    throw new StreamedgeError(
      'BAD_OPTION',
      '--ad-cues: the source does not say how long it is, so cues cannot be placed',
    );
  }
  const found = await readSourceCues(input, source.startSec ?? 0, durationSec, partSec);
  if (found.cues.length === 0) found.notes.push('the source carries no SCTE 35 avail to place');
  return found;
}

/** The times segments start at when there are ad cues (checked against the source), else undefined (the grid). */
function adCuts(cues: AdCue[], source: SourceInfo, segmentSec: number, partSec: number): number[] | undefined {
  if (cues.length === 0) return undefined;
  if (!source.video) throw new StreamedgeError('BAD_OPTION', '--ad-cues: the source has no video to splice');
  const durationSec = source.video.durationSec ?? source.durationSec;
  checkAdCues(cues, durationSec, partSec);
  return cutTimes(splicePoints(cues), segmentSec, partSec, durationSec!);
}

/**
 * The ad cues as markers in the manifests, at the segments every video rendition starts there
 * (each rendition checked); dated from the packaging second, which EXT-X-PROGRAM-DATE-TIME gives.
 */
function placeAdCues(
  p: Presentation,
  cues: AdCue[],
  startedMs: number,
  interstitial: InterstitialSource | undefined,
  periodsAtCues: boolean,
): void {
  const dateOrigin = Math.floor(startedMs / 1000) * 1000;
  const placed = p.timelines
    .filter((t) => t.rendition.kind === 'video')
    .map((t) => adBreaksOf(cues, t.segments, t.rendition.timescale, dateOrigin));
  p.dateOrigin = dateOrigin;
  p.adBreaks = placed[0];
  if (interstitial) p.interstitial = interstitial;
  if (periodsAtCues) {
    const end = p.duration ?? Infinity;
    const cuts = p.adBreaks.flatMap((b) => [b.mediaStart, ...(b.end ? [b.end.mediaTime] : [])]);
    p.dashPeriodStarts = [...new Set(cuts)].filter((t) => t > 0 && t < end).sort((a, b) => a - b);
  }
}

/**
 * The stable entry points `/vod/<asset>/master.m3u8` and `manifest.mpd`: the same manifests as
 * the version's own, with every URI inside `<version>/` (HLS: a path prefix; DASH: an MPD-level
 * relative BaseURL). Served short-lived, they are the only URLs a re-publish changes.
 */
function writeEntryPoints(staging: string, p: Presentation, version: string): void {
  writeFileSync(join(staging, paths.master), writeMultivariantPlaylist(p, { pathPrefix: `${version}/` }));
  writeFileSync(join(staging, paths.mpd), writeMpd(p, { baseUrl: `${version}/` }));
}

/**
 * Each subtitle track: HLS WebVTT segments cut on the video's segment boundaries (cue time 0 =
 * the first video sample, mapped by X-TIMESTAMP-MAP to the video's first decode time in 90 kHz),
 * their media playlist, and the whole file for DASH.
 */
function writeSubtitles(root: string, p: Presentation, subtitles: LoadedSubtitles[]): void {
  const video = p.timelines.find((t) => t.rendition.kind === 'video')!;
  const ts = video.rendition.timescale;
  const first = video.segments[0].start;
  const boundaries = video.segments.map((s) => (s.start - first) / ts);
  const last = video.segments[video.segments.length - 1];
  boundaries.push((last.start + last.duration - first) / ts);
  const mpegts = Math.round((first / ts) * 90000);
  for (const { track, vtt } of subtitles) {
    mkdirSync(join(root, track.id), { recursive: true });
    segmentWebVtt(vtt, boundaries, mpegts).forEach((text, i) =>
      writeFileSync(join(root, paths.subtitleSegment(track.id, video.segments[i].number)), text),
    );
    writeFileSync(join(root, paths.mediaPlaylist(track.id)), writeSubtitlePlaylist(p, track.id));
    writeFileSync(join(root, paths.subtitleFile(track.id)), writeWebVtt(vtt));
  }
}

function writeManifests(staging: string, p: Presentation): void {
  writeFileSync(join(staging, paths.master), writeMultivariantPlaylist(p));
  writeFileSync(join(staging, paths.mpd), writeMpd(p));
  for (const t of p.timelines) {
    const id = t.rendition.id;
    writeFileSync(join(staging, paths.mediaPlaylist(id)), writeMediaPlaylist(p, id));
    if (t.rendition.kind === 'video' && t.segments.some((s) => (s.iframes?.length ?? 0) > 0)) {
      writeFileSync(join(staging, paths.iframePlaylist(id)), writeIFramePlaylist(p, id));
    }
  }
}
