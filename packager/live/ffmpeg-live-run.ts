/**
 * The default live encoder run: one ffmpeg per channel encodes the ladder from the source
 * (packager/encode-args.ts with live tuning), each rendition's fragmented MP4 goes through the
 * tfdt shift into a Segmenter, whose init/part/segment events feed the channel's windows the
 * moment each fragment arrives.
 */
import { TrackProtector } from '../../src/cenc/track-protector.js';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Rendition } from '../../src/media/presentation.js';
import type { TrackInfo } from '../../src/cmaf/init-segment.js';
import { asError, StreamedgeError } from '../../src/errors.js';
import { buildEncodeArgs } from '../encode-args.js';
import { runEncoder } from '../ffmpeg-run.js';
import { keepHdrInHevc, planLadder, videoRangeOf, type LadderPlan } from '../ladder.js';
import { probeFeed, probeFeedSample, probeSource, type SourceInfo } from '../probe.js';
import { FeedRelay } from './feed-relay.js';
import { Segmenter } from '../segmenter.js';
import { channelLadder, sourceInput, type ResolvedChannelConfig, type SourceInput } from './channel-config.js';
import { planAudioTracks, SURROUND_CHANNELS, withSurroundTwins, type AudioTrackPlan } from '../audio-tracks.js';
import type { RunHandle, RunRequest, RunSink } from './live-channel.js';
import { TimelineShift } from './timeline-shift.js';
import type { HdrStaticMetadata } from '../hdr-metadata.js';

/** x264 preset for live: real time on two small cores matters more than compression. */
const LIVE_PRESET = 'veryfast';

function renditionOf(id: string, track: TrackInfo, plan: LadderPlan, audioTracks: AudioTrackPlan[]): Rendition {
  const rung = plan.video.find((r) => r.id === id);
  if (rung) {
    return {
      id,
      kind: 'video',
      codecs: track.codec,
      bandwidth: rung.maxrate,
      averageBandwidth: rung.bitrate,
      timescale: track.timescale,
      width: track.width ?? rung.width,
      height: track.height ?? rung.height,
      frameRate: plan.frameRate,
      sar: '1:1',
      ...(rung.range ? { videoRange: videoRangeOf(rung.range) } : {}),
    };
  }
  const a = plan.audio;
  const lang = audioTracks.find((t) => t.id === id);
  // the 5.1 twin at the ladder's surround bit rate
  const bitrate = (lang?.channels === SURROUND_CHANNELS ? a?.surroundBitrate : a?.bitrate) ?? a?.bitrate ?? 128_000;
  return {
    id,
    kind: 'audio',
    codecs: track.codec,
    bandwidth: Math.round(bitrate * 1.1),
    averageBandwidth: bitrate,
    timescale: track.timescale,
    sampleRate: track.sampleRate ?? a?.sampleRate,
    channels: track.channels ?? a?.channels,
    ...(track.channelMask !== undefined ? { channelMask: track.channelMask } : {}),
    ...(lang ? { name: lang.name, default: lang.default, ...(lang.language ? { language: lang.language } : {}) } : {}),
  };
}

/**
 * What a channel's network feed carries, probed before its first run and kept for the channel's
 * later runs: the ladder, frame rate and renditions stay those the channel started with (a
 * restarted feed that comes back in another format is converted to them).
 */
const feeds = new WeakMap<ResolvedChannelConfig, SourceInfo>();

/** The relay of each channel whose feed connects to us (created at its first run). */
const relays = new Map<ResolvedChannelConfig, FeedRelay>();

function relayFor(config: ResolvedChannelConfig, input: SourceInput, logDir: string): FeedRelay {
  let relay = relays.get(config);
  if (!relay) {
    relay = new FeedRelay({
      url: config.source,
      inputArgs: inputOptions(input),
      logFile: join(logDir, 'ingest.log'),
      readCues: input.carriesScte35 === true,
    });
    relays.set(config, relay);
    relay.start();
  }
  return relay;
}

/** Stops the channel's feed probe and feed relay, if it has them (the origin closing the channel). */
export async function closeFeed(config: ResolvedChannelConfig): Promise<void> {
  probeAborts.get(config)?.abort();
  probeAborts.delete(config);
  const relay = relays.get(config);
  relays.delete(config);
  await relay?.close();
  await probing.get(config)?.catch(() => undefined);
}

/** Stops a channel's feed probe when the channel closes (its ffmpeg may wait on a silent feed). */
const probeAborts = new Map<ResolvedChannelConfig, AbortController>();

/** A feed's input options (e.g. -fflags +genpts, -listen 1) without its `-i <url>`. */
function inputOptions(input: SourceInput): string[] {
  return input.args.slice(0, input.args.lastIndexOf('-i'));
}

function probeAbortFor(config: ResolvedChannelConfig): AbortSignal {
  let c = probeAborts.get(config);
  if (!c) probeAborts.set(config, (c = new AbortController()));
  return c.signal;
}

/** Probes in progress, one per channel: every run start waiting for the feed shares it. */
const probing = new Map<ResolvedChannelConfig, Promise<SourceInfo>>();

async function feedInfo(
  config: ResolvedChannelConfig,
  input: SourceInput,
  relay: FeedRelay | undefined,
  signal: AbortSignal | undefined,
): Promise<SourceInfo> {
  const known = feeds.get(config);
  if (known) return known;
  let pending = probing.get(config);
  if (!pending) {
    pending = (async () => {
      try {
        const info = relay
          ? await probeFeedSample(config.source, await relay.sample())
          : await probeFeed(config.source, inputOptions(input), probeAbortFor(config));
        feeds.set(config, info);
        return info;
      } finally {
        probing.delete(config);
      }
    })();
    probing.set(config, pending);
  }
  return untilAborted(pending, signal);
}

/** `p`, or ABORTED as soon as `signal` is (the run start was given up: the channel moved on). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  const aborted = () => new StreamedgeError('ABORTED', 'run start given up');
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * How long an encoder analyses a feed it joins: the feed was probed already, so 1 s, not ffmpeg's
 * 5 s (MPEG-TS may add streams later, so ffmpeg reads all of its analyse time there): an encoder
 * (re)start joins the feed that much sooner.
 */
const FEED_ANALYZE = ['-analyzeduration', '1000000'];

/** What the encoder reads from a relay: MPEG-TS on its stdin. */
const RELAYED_INPUT = ['-f', 'mpegts', ...FEED_ANALYZE, '-fflags', '+genpts', '-i', 'pipe:0'];

/** A pulled feed's input, analysed for FEED_ANALYZE only. */
function probedFeedInput(input: SourceInput): string[] {
  return [...inputOptions(input), ...FEED_ANALYZE, ...input.args.slice(input.args.lastIndexOf('-i'))];
}

async function planFor(
  config: ResolvedChannelConfig,
  logDir: string,
  signal: AbortSignal | undefined,
): Promise<{
  plan: LadderPlan;
  input: SourceInput;
  relay?: FeedRelay;
  audioTracks: AudioTrackPlan[];
  videoMap: string;
  deinterlace?: 'all' | 'flagged';
  toneMap?: boolean;
  hdrMetadata?: HdrStaticMetadata;
  closedCaptions?: boolean;
}> {
  let input = sourceInput(config.source, config.audioLanguages);
  let info = input.assumed;
  let audioTracks = input.audioTracks ?? [];
  let relay: FeedRelay | undefined;
  if (input.kind === 'file') {
    // A file brings its own audio tracks (container language tags): one rendition each.
    info = await probeSource(input.path!);
    audioTracks = await planAudioTracks(input.path!, info, []);
  } else if (input.kind === 'url') {
    // A probed feed brings its audio tracks too (a broadcast feed's languages): one rendition each.
    if (input.relayed) relay = relayFor(config, input, logDir);
    info = await feedInfo(config, input, relay, signal);
    audioTracks = await planAudioTracks(config.source, info, []);
    input = { ...input, args: relay ? RELAYED_INPUT : probedFeedInput(input) };
  }
  if (!info) throw new StreamedgeError('LIVE_SOURCE', `cannot plan a ladder for source "${config.source}"`);
  // an HDR source's HEVC rungs stay HDR (the H.264 ones are tone-mapped), as in VOD
  const plan = keepHdrInHevc(planLadder(info, channelLadder(config)), info);
  // a feed may switch to interlaced (or be 1080i and not probed ahead): frames marked so are deinterlaced
  const deinterlace = info.video?.interlaced
    ? ('all' as const)
    : input.kind === 'url'
      ? ('flagged' as const)
      : undefined;
  return {
    plan,
    input,
    ...(relay ? { relay } : {}),
    // a 5.1 twin beside each multichannel track (a file's or a feed's), unless the ladder says stereo only
    audioTracks: !plan.audio
      ? []
      : plan.audio.surroundBitrate !== undefined
        ? withSurroundTwins(audioTracks, plan.audio.surroundCodecs)
        : audioTracks,
    videoMap: `0:v:${info.video?.index ?? 0}`,
    ...(deinterlace ? { deinterlace } : {}),
    ...(info.video?.hdr ? { toneMap: true } : {}),
    ...(info.video?.hdrMetadata ? { hdrMetadata: info.video.hdrMetadata } : {}),
    ...(info.video?.closedCaptions ? { closedCaptions: true } : {}),
  };
}

/**
 * Pipes one rendition's bytes through the tfdt shift into its segmenter. The segmenter is made
 * once the shift knows the run's media offset (at the first fragment), so its segment grid starts
 * there too.
 */
function feed(
  stream: Readable,
  shift: TimelineShift,
  make: (offsetSec: number) => Segmenter,
  fail: (e: unknown) => void,
): Promise<void> {
  let broken = false;
  let seg: Segmenter | undefined;
  const deliver = (boxes: Buffer[]): void => {
    if (boxes.length === 0) return;
    seg ??= make(shift.offsetSec!);
    for (const b of boxes) seg.push(b);
  };
  stream.on('data', (chunk: Buffer) => {
    if (broken) return;
    try {
      deliver(shift.push(chunk));
    } catch (e) {
      broken = true;
      fail(e);
    }
  });
  return once(stream, 'end').then(
    () => {
      if (broken) return;
      try {
        deliver(shift.finish());
        seg?.end();
      } catch {
        /* a killed encoder stops mid-box: the window closes the segment with the parts it has */
      }
    },
    () => undefined,
  );
}

export async function startFfmpegLiveRun(req: RunRequest): Promise<RunHandle> {
  const { config } = req;
  const { plan, input, relay, audioTracks, videoMap, deinterlace, toneMap, hdrMetadata, closedCaptions } =
    await planFor(config, dirname(req.logFile), req.signal);
  // given up while it planned (a feed that took longer than the start timeout): start nothing
  if (req.signal?.aborted) throw new StreamedgeError('ABORTED', 'run start given up');
  const encodeInput = {
    args: input.args,
    audioMap: input.audioMap,
    videoMap,
    ...(audioTracks.length > 0 ? { audioTracks } : {}),
    ...(deinterlace ? { deinterlace } : {}),
    ...(toneMap ? { toneMap } : {}),
    ...(hdrMetadata ? { hdrMetadata } : {}),
  };
  const { args, outputs } = buildEncodeArgs(encodeInput, plan, {
    segmentDuration: config.segmentDuration,
    partDuration: config.partDuration,
    live: true,
    preset: LIVE_PRESET,
  });
  let detach: (() => void) | undefined;
  const run = runEncoder(args, outputs, {
    logFile: req.logFile,
    ...(relay ? { stdin: (sink: Writable) => (detach = relay.attach(sink, (c) => req.sink.cue?.(c))) } : {}),
  });
  let failure: Error | undefined;
  const fail = (e: unknown): void => {
    failure ??= asError(e);
    run.kill();
  };
  const sink: RunSink = req.sink;
  const fed = outputs.map((o) => {
    const make = (offset: number) =>
      new Segmenter({
        renditionId: o.renditionId,
        kind: o.kind,
        segmentDuration: config.segmentDuration,
        partDuration: config.partDuration,
        firstSegmentNumber: req.anchor.segmentNumber ?? req.firstSegmentNumber,
        firstSequenceNumber: req.firstFragmentSequence(o.renditionId),
        originSec: offset,
        live: true,
        ...(config.protection
          ? {
              protector: new TrackProtector(
                config.protection.scheme,
                config.protection.key,
                `rendition ${o.renditionId}`,
              ),
            }
          : {}),
        listener: {
          init: (bytes, track, clear) =>
            sink.init(o.renditionId, bytes, renditionOf(o.renditionId, track, plan, audioTracks), clear),
          part: (n, part, bytes, clear) => sink.part(o.renditionId, n, part, bytes, clear),
          segment: (s) => sink.segment(o.renditionId, s),
        },
      });
    // Hold the run's first segment (less half a part) while the anchor observes its fragments.
    const holdSec = Math.max(0, config.segmentDuration - config.partDuration / 2);
    return feed(run.streams.get(o.renditionId)!, new TimelineShift(req.anchor, holdSec), make, fail);
  });
  const done = (async () => {
    let err: Error | undefined;
    await run.done.catch((e: unknown) => {
      err = asError(e);
    });
    detach?.();
    await Promise.all(fed);
    if (failure) throw failure;
    if (err) throw err;
  })();
  done.catch(() => undefined);
  return {
    done,
    kill: () => run.kill(),
    pid: run.pid,
    renditions: outputs.map((o) => o.renditionId),
    ...(closedCaptions ? { closedCaptions } : {}),
  };
}
