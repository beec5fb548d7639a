/**
 * Hand-built presentations for the manifest writer tests (also used by test/unit/dash).
 * Realistic numbers: video at timescale 15360 (30 fps = 512 units a frame), AAC audio at
 * 48000 (1024-sample frames), so segment durations jitter by a frame the way real ones do.
 */
import type {
  IFrameRef,
  Part,
  Presentation,
  Rendition,
  RenditionTimeline,
  Segment,
} from '../../../src/media/presentation.js';

export const VIDEO_TS = 15360;
export const AUDIO_TS = 48000;
export const AAC_FRAME = 1024;

export const ladder: Rendition[] = [
  video('1080p', 'avc1.640028', 1920, 1080, 6_200_000, 5_000_000),
  video('720p', 'avc1.64001f', 1280, 720, 3_100_000, 2_500_000),
  video('360p', 'avc1.64001e', 640, 360, 900_000, 700_000),
];
export const audio: Rendition = {
  id: 'audio',
  kind: 'audio',
  codecs: 'mp4a.40.2',
  bandwidth: 132_000,
  averageBandwidth: 128_000,
  timescale: AUDIO_TS,
  sampleRate: 48000,
  channels: 2,
  language: 'en',
};

function video(id: string, codecs: string, width: number, height: number, peak: number, avg: number): Rendition {
  return {
    id,
    kind: 'video',
    codecs,
    bandwidth: peak,
    averageBandwidth: avg,
    timescale: VIDEO_TS,
    width,
    height,
    frameRate: [30, 1],
    sar: '1:1',
  };
}

/** VOD video segment durations (4 s target): one-frame jitter both ways, short last segment. */
export const vodVideoDurations = [61440, 61440, 61952, 60928, 61440, 61440, 61440, 30720];
/** VOD audio: 4 s is 187.5 AAC frames, so segments alternate 188 and 187 frames; short last one. */
export const vodAudioDurations = [188, 187, 188, 187, 188, 187, 188, 94].map((f) => f * AAC_FRAME);

function segmentsFrom(
  durations: number[],
  firstNumber: number,
  firstStart: number,
  extra?: (i: number, s: Segment) => void,
): Segment[] {
  let start = firstStart;
  return durations.map((duration, i) => {
    const s: Segment = { number: firstNumber + i, start, duration, bytes: 0, parts: [], complete: true };
    start += duration;
    extra?.(i, s);
    return s;
  });
}

/** Key frames every 2 s (GOP 60; a segment's last GOP absorbs its jitter): offsets/lengths into the segment file. */
function iframesFor(s: Segment, rendition: Rendition): IFrameRef[] {
  const gop = 2 * VIDEO_TS;
  const scale = rendition.bandwidth / 1_000_000;
  const count = Math.max(1, Math.round(s.duration / gop));
  return Array.from({ length: count }, (_, k) => ({
    offset: k * Math.round(250_000 * scale),
    length: Math.round((40_000 + 1_000 * k) * scale),
    duration: k === count - 1 ? s.duration - k * gop : gop,
  }));
}

export function vodPresentation(
  opts: { videoOnly?: boolean; audioOnly?: boolean; iframes?: boolean } = {},
): Presentation {
  const timelines: RenditionTimeline[] = [];
  if (!opts.audioOnly) {
    for (const r of ladder) {
      timelines.push({
        rendition: r,
        segments: segmentsFrom(vodVideoDurations, 1, 0, (_i, s) => {
          s.bytes = Math.round((r.averageBandwidth / 8) * (s.duration / VIDEO_TS));
          if (opts.iframes !== false) s.iframes = iframesFor(s, r);
        }),
      });
    }
  }
  if (!opts.videoOnly) {
    timelines.push({
      rendition: audio,
      segments: segmentsFrom(vodAudioDurations, 1, 0, (_i, s) => {
        s.bytes = Math.round((audio.averageBandwidth / 8) * (s.duration / AUDIO_TS));
      }),
    });
  }
  return { id: 'asset1', type: 'vod', segmentDuration: 4, partDuration: 0, timelines, duration: 30 };
}

/** 2023-11-14T22:13:20.123Z: a millisecond part so PDT formatting is visible. */
export const AST = 1_700_000_000_123;
export const LIVE_FIRST = 100;
export const LIVE_COMPLETE = 10; // segments 100..109 complete, 110 in progress
export const DISCONTINUITY_AT = 105;

/** Video parts: 4 x 0.5 s per 2 s segment. */
function videoParts(n: number): Part[] {
  return Array.from({ length: n }, (_, i) => ({ index: i, duration: 7680, bytes: 20_000, independent: i === 0 }));
}
/** Audio parts: 0.5 s is 23.4375 AAC frames, so parts are 24 or 23 frames (0.512 s / 0.4907 s). */
function audioParts(frames: number[]): Part[] {
  return frames.map((f, i) => ({ index: i, duration: f * AAC_FRAME, bytes: 8_000, independent: true }));
}

export function livePresentation(
  opts: { lowLatency?: boolean; targetLatency?: number; inProgressParts?: number } = {},
): Presentation {
  const lowLatency = opts.lowLatency ?? true;
  const inProgressParts = opts.inProgressParts ?? 2;
  const segDur = 2;
  const liveSegments = (r: Rendition): Segment[] => {
    const video = r.kind === 'video';
    const ts = r.timescale;
    const segs: Segment[] = [];
    let start = LIVE_FIRST * segDur * ts; // media time continues across the discontinuity
    for (let i = 0; i <= LIVE_COMPLETE; i++) {
      const number = LIVE_FIRST + i;
      const inProgress = i === LIVE_COMPLETE;
      // audio: 2 s is 93.75 AAC frames; alternate 94/93 frames
      const frames = number % 2 === 0 ? [24, 23, 24, 23] : [23, 24, 23, 23];
      let parts = video ? videoParts(4) : audioParts(frames);
      if (inProgress) parts = parts.slice(0, inProgressParts);
      const duration = parts.reduce((sum, p) => sum + p.duration, 0);
      segs.push({
        number,
        start,
        duration,
        bytes: parts.reduce((sum, p) => sum + p.bytes, 0),
        parts: lowLatency ? parts : [],
        programDateTime: AST + (start / ts) * 1000,
        discontinuity: number === DISCONTINUITY_AT,
        complete: !inProgress,
      });
      start += duration;
    }
    return segs;
  };
  const renditions = [ladder[1], ladder[2], audio];
  return {
    id: 'channel1',
    type: 'live',
    segmentDuration: segDur,
    partDuration: 0.5,
    timelines: renditions.map((r) => ({ rendition: r, segments: liveSegments(r) })),
    live: {
      availabilityStartTime: AST,
      publishTime: AST + 222_000,
      dvrWindow: 20,
      targetLatency: opts.targetLatency ?? 1.5,
      utcTimingPath: '/time',
      lowLatency,
    },
  };
}
