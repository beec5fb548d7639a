/**
 * QoE figures from one session's snapshots and download log. Engine-independent where it can be:
 * stalls and startup from the video element (the page's PlaybackWatch), the rendition actually
 * played from which segment downloads completed, latency from EXT-X-PROGRAM-DATE-TIME. The
 * engines' own figures (their current level, switch counter, latency) are kept beside them.
 */
import type { ProbeFetch } from './page-probe.js';
import { classifyUrl, type PresentationMap } from './playlist-map.js';
import type { LiveClock } from './live-clock.js';
import { wallClockLatencySec } from './live-clock.js';
import type { RunSample, SessionRecord } from './session-run.js';

interface EngineStatsView {
  levels?: { id: string; bitrate: number; height?: number }[];
  currentLevel?: number;
  estimateBps?: number;
  latencySec?: number | null;
  playbackRate?: number;
  switches?: number;
  startupMs?: number | null;
  stalls?: number;
  stallMs?: number;
  pageErrors?: string[];
}

const view = (s: RunSample): EngineStatsView => s.stats ?? {};
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export interface CommonQoe {
  engine: string;
  sessionSec: number;
  startupMs: number | null;
  stalls: number;
  stallMs: number;
  /** stall time / (session time after startup). */
  rebufferRatio: number | null;
  /** Time the playhead stood still while not paused after startup (cross-check for stalls). */
  frozenMs: number;
  /**
   * Time the playhead moved (after startup, not paused) while no new video frame came out
   * (getVideoPlaybackQuality().totalVideoFrames stood still between two samples): when video
   * alone runs out, Chromium plays on with the audio for up to 3 s before it stalls, and no
   * `waiting` fires meanwhile, so neither `stalls` nor `frozenMs` sees the picture freeze.
   */
  videoFreezeMs: number;
  /** The engine's own switch counter. */
  engineSwitches: number;
  /** Time-weighted bitrate of the level the engine reports as current (ours: the level it loads; hls.js: the level playing). */
  engineAvgBitrateBps: number | null;
  droppedFrames: number;
  totalFrames: number;
  videoBytes: number;
  abortedVideoDownloads: number;
  pageErrors: string[];
  /** Responses with status >= 400 (path and status). */
  failedRequests: string[];
  /** 1-minute load average of the machine when the session started (2 cores are shared). */
  loadAvg1: number;
  /**
   * Time-weighted (wall time while the playhead moves) BANDWIDTH of the rendition on screen, told by
   * video.videoHeight (every rung has its own height): the same evidence for every engine, whatever
   * it loads with (dash.js loads VOD with XHR, which the probe's fetch log does not see).
   */
  displayedAvgBitrateBps: number | null;
  /** Changes of the rendition on screen. */
  displayedSwitches: number;
  /** Share of that time on the top rung. */
  displayedTopShare: number | null;
}

export interface VodQoe extends CommonQoe {
  /** Time-weighted (media time) BANDWIDTH of the rendition whose segment was playing, from the download log. */
  playedAvgBitrateBps: number | null;
  /** Share of played media time on the top rendition. */
  playedTopShare: number | null;
  /** Rendition changes between consecutive played segments. */
  playedSwitches: number;
  /** Played rendition (height) per segment, in play order. */
  playedLadder: (number | null)[];
  mediaPlayedSec: number;
  /** Segments downloaded more than once (replaced) and downloads never played. */
  redundantSegmentDownloads: number;
  /** Every video segment download: segment, rendition height, start (s after load), duration, size, largest read, outcome. */
  videoDownloads: {
    seg: number;
    height: number | null;
    atSec: number;
    ms: number;
    kB: number;
    maxReadKB: number;
    outcome: string;
  }[];
  /** One row a second: limit, buffer, estimate, engine level bitrate, played bitrate. */
  series: {
    t: number;
    limitMbps: number;
    bufferSec: number;
    estimateMbps: number;
    engineMbps: number | null;
    playedMbps: number | null;
    currentTime: number;
  }[];
}

export interface LiveQoe extends CommonQoe {
  /** The engine's own latency figure (ours: PDT-based; hls.js: distance to the playlist edge). */
  engineLatencyP50: number | null;
  engineLatencyP95: number | null;
  /** now − PDT(playhead), the same computation for both engines. */
  wallClockLatencyP50: number | null;
  wallClockLatencyP95: number | null;
  wallClockLatencyMax: number | null;
  /** Wall-clock latency at the first snapshot after playback started: where the engine chose to start. */
  wallClockLatencyAtStart: number | null;
  latencySamples: number;
  /** The edge delay this session's behindEdge figures subtract (s; measured during the session). */
  edgeDelaySec: number | null;
  /** Latency behind the playlist's end (wall-clock latency − the edge delay the bench measured), p50. */
  behindEdgeP50: number | null;
  /** Share of samples whose latency behind the playlist's end is below PART-HOLD-BACK (else HOLD-BACK). */
  belowHoldBackShare: number | null;
  /** What our player's latency control logged (joins, hold-back events); empty for the other engines. */
  latencyNotes: string[];
  avgPlaybackRate: number | null;
  series: {
    t: number;
    bufferSec: number;
    estimateMbps: number;
    engineLatency: number | null;
    wallClockLatency: number | null;
    playbackRate: number;
    engineMbps: number | null;
  }[];
}

function levelBitrate(s: RunSample): number | null {
  const v = view(s);
  const l = v.levels?.[v.currentLevel ?? -1];
  return l ? l.bitrate : null;
}

/** No new video frame between two samples (a browser that counts frames at all). */
function pictureStill(a: { totalFrames: number }, b: { totalFrames: number }): boolean {
  return b.totalFrames > 0 && b.totalFrames === a.totalFrames;
}

function startedAt(rec: SessionRecord): number | null {
  const last = rec.samples[rec.samples.length - 1];
  const ms = last ? view(last).startupMs : null;
  return typeof ms === 'number' ? ms / 1000 : null;
}

function common(rec: SessionRecord, map: PresentationMap): CommonQoe {
  const samples = rec.samples;
  const last = samples[samples.length - 1];
  const lv = view(last);
  const startSec = startedAt(rec);
  const sessionSec = last.tSec;
  let frozenMs = 0;
  let videoFreezeMs = 0;
  let weighted = 0;
  let weight = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    if (startSec === null || a.tSec < startSec || b.paused || b.ended) continue;
    const dWall = (b.perfNow - a.perfNow) / 1000;
    const dMedia = b.currentTime - a.currentTime;
    if (dMedia < 0.1 * dWall) frozenMs += dWall * 1000;
    else if (pictureStill(a, b)) videoFreezeMs += dWall * 1000;
    const br = levelBitrate(b);
    if (br !== null && dMedia > 0) {
      weighted += br * dWall;
      weight += dWall;
    }
  }
  let videoBytes = 0;
  let aborted = 0;
  for (const f of rec.fetches) {
    const k = classifyUrl(map, f.url);
    if (k.kind !== 'video-segment' && k.kind !== 'video-media') continue;
    videoBytes += f.bytes;
    if (f.outcome !== 'ok') aborted += 1;
  }
  const shown = displayed(rec, map, startSec);
  const stallMs = lv.stallMs ?? 0;
  const watchSec = startSec === null ? null : sessionSec - startSec;
  return {
    engine: rec.engine,
    sessionSec: round(sessionSec, 2),
    startupMs: typeof lv.startupMs === 'number' ? Math.round(lv.startupMs) : null,
    stalls: lv.stalls ?? 0,
    stallMs: Math.round(stallMs),
    rebufferRatio: watchSec && watchSec > 0 ? round(stallMs / 1000 / watchSec, 4) : null,
    frozenMs: Math.round(frozenMs),
    videoFreezeMs: Math.round(videoFreezeMs),
    engineSwitches: lv.switches ?? 0,
    engineAvgBitrateBps: weight > 0 ? Math.round(weighted / weight) : null,
    droppedFrames: last.droppedFrames,
    totalFrames: last.totalFrames,
    videoBytes,
    abortedVideoDownloads: aborted,
    pageErrors: [...new Set([...(lv.pageErrors ?? []), ...rec.consoleErrors])].slice(0, 20),
    loadAvg1: rec.loadAvg1,
    failedRequests: [...new Set(rec.failedResponses.map((r) => `${r.status} ${new URL(r.url).pathname}`))].slice(0, 20),
    ...shown,
  };
}

/** The rendition on screen over the session, from videoHeight (see CommonQoe.displayedAvgBitrateBps). */
function displayed(
  rec: SessionRecord,
  map: PresentationMap,
  startSec: number | null,
): Pick<CommonQoe, 'displayedAvgBitrateBps' | 'displayedSwitches' | 'displayedTopShare'> {
  const byHeight = new Map<number, number>();
  for (const v of map.variants) if (v.height) byHeight.set(v.height, v.bandwidth);
  const top = Math.max(...map.variants.map((v) => v.bandwidth));
  let weighted = 0;
  let weight = 0;
  let topTime = 0;
  let switches = 0;
  let last: number | undefined;
  const samples = rec.samples;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1];
    const b = samples[i];
    const bw = byHeight.get(b.videoHeight);
    if (bw === undefined) continue;
    if (last !== undefined && bw !== last) switches += 1;
    last = bw;
    if (startSec === null || a.tSec < startSec || b.paused || b.ended) continue;
    const dWall = (b.perfNow - a.perfNow) / 1000;
    if (b.currentTime - a.currentTime < 0.1 * dWall) continue; // stalled: nothing shown moves
    if (pictureStill(a, b)) continue; // the clock runs on the audio, the picture is frozen
    weighted += bw * dWall;
    weight += dWall;
    if (bw === top) topTime += dWall;
  }
  return {
    displayedAvgBitrateBps: weight > 0 ? Math.round(weighted / weight) : null,
    displayedSwitches: switches,
    displayedTopShare: weight > 0 ? round(topTime / weight, 3) : null,
  };
}

export function vodQoe(rec: SessionRecord, map: PresentationMap): VodQoe {
  const base = common(rec, map);
  const segFetches: { f: ProbeFetch; variant: number; segment: number }[] = [];
  const seen = new Map<number, number>();
  const videoDownloads: VodQoe['videoDownloads'] = [];
  for (const f of rec.fetches) {
    const k = classifyUrl(map, f.url);
    if (k.kind !== 'video-segment') continue;
    videoDownloads.push({
      seg: k.segment,
      height: map.variants[k.variant].height ?? null,
      atSec: round((f.t0 - rec.loadPerf) / 1000, 2),
      ms: Math.round(f.t1 - f.t0),
      kB: Math.round(f.bytes / 1024),
      maxReadKB: Math.round(f.maxChunk / 1024),
      outcome: f.outcome,
    });
    if (f.outcome !== 'ok') continue;
    segFetches.push({ f, variant: k.variant, segment: k.segment });
    seen.set(k.segment, (seen.get(k.segment) ?? 0) + 1);
  }
  const top = Math.max(...map.variants.map((v) => v.bandwidth));
  const segmentAt = (t: number) =>
    map.segments.find((s) => t >= s.start - 1e-6 && t < s.start + s.duration) ?? map.segments[map.segments.length - 1];
  /** The variant whose download of the segment completed last before `perfNow`. */
  const variantPlaying = (segment: number, perfNow: number): number | null => {
    let best: { t1: number; variant: number } | null = null;
    for (const x of segFetches) {
      if (x.segment !== segment || x.f.t1 > perfNow) continue;
      if (!best || x.f.t1 > best.t1) best = { t1: x.f.t1, variant: x.variant };
    }
    return best?.variant ?? null;
  };
  let weighted = 0;
  let weight = 0;
  let topTime = 0;
  const playedBySegment = new Map<number, number | null>();
  const order: number[] = [];
  const perSample: (number | null)[] = [];
  for (let i = 0; i < rec.samples.length; i++) {
    const b = rec.samples[i];
    const a = rec.samples[i - 1];
    const mid = a ? (a.currentTime + b.currentTime) / 2 : b.currentTime;
    const seg = segmentAt(mid - b.videoTimestampOffset);
    const variant = seg ? variantPlaying(seg.index, b.perfNow) : null;
    perSample.push(variant === null ? null : map.variants[variant].bandwidth);
    if (!a || !seg) continue;
    const d = b.currentTime - a.currentTime;
    if (d <= 0 || d > 5) continue;
    if (!playedBySegment.has(seg.index)) {
      playedBySegment.set(seg.index, variant);
      order.push(seg.index);
    }
    if (variant === null) continue;
    const bw = map.variants[variant].bandwidth;
    weighted += bw * d;
    weight += d;
    if (bw === top) topTime += d;
  }
  let switches = 0;
  for (let i = 1; i < order.length; i++) {
    const p = playedBySegment.get(order[i - 1]);
    const c = playedBySegment.get(order[i]);
    if (p != null && c != null && p !== c) switches += 1;
  }
  const playedSegments = new Set(order);
  let redundant = 0;
  for (const [segment, n] of seen) redundant += playedSegments.has(segment) ? n - 1 : 0;
  const series: VodQoe['series'] = [];
  rec.samples.forEach((s, i) => {
    if (!onSecond(rec.samples, i)) return;
    const v = view(s);
    const eng = levelBitrate(s);
    const played = perSample[i];
    series.push({
      t: round(s.tSec, 2),
      limitMbps: s.limitMbps,
      bufferSec: round(bufferOf(s), 2),
      estimateMbps: round((v.estimateBps ?? 0) / 1e6, 2),
      engineMbps: eng === null ? null : round(eng / 1e6, 2),
      playedMbps: played == null ? null : round(played / 1e6, 2),
      currentTime: round(s.currentTime, 2),
    });
  });
  return {
    ...base,
    playedAvgBitrateBps: weight > 0 ? Math.round(weighted / weight) : null,
    playedTopShare: weight > 0 ? round(topTime / weight, 3) : null,
    playedSwitches: switches,
    playedLadder: order.map((k) => {
      const v = playedBySegment.get(k);
      return v == null ? null : (map.variants[v].height ?? map.variants[v].bandwidth);
    }),
    mediaPlayedSec: round(weight, 2),
    redundantSegmentDownloads: redundant,
    videoDownloads: videoDownloads.sort((a, b) => a.atSec - b.atSec),
    series,
  };
}

/** The first snapshot of each whole second (keeps the series at ~1 row a second whatever the sampling jitter). */
function onSecond(samples: RunSample[], i: number): boolean {
  const prev = samples[i - 1];
  return !prev || Math.floor(samples[i].tSec) !== Math.floor(prev.tSec);
}

function bufferOf(s: RunSample): number {
  const b = (s.stats as { bufferSec?: number } | null)?.bufferSec;
  return typeof b === 'number' ? b : 0;
}

export function liveQoe(rec: SessionRecord, map: PresentationMap, clock: LiveClock): LiveQoe {
  const base = common(rec, map);
  const startSec = startedAt(rec);
  const engineLat: number[] = [];
  const wallLat: number[] = [];
  let rateSum = 0;
  let rateN = 0;
  const series: LiveQoe['series'] = [];
  rec.samples.forEach((s, i) => {
    const v = view(s);
    const playing = startSec !== null && s.tSec >= startSec && !s.paused;
    const wall = playing ? wallClockLatencySec(clock, s.dateNow, s.currentTime, s.videoTimestampOffset) : null;
    if (playing) {
      if (typeof v.latencySec === 'number') engineLat.push(v.latencySec);
      if (wall !== null) wallLat.push(wall);
      rateSum += v.playbackRate ?? 1;
      rateN += 1;
    }
    if (onSecond(rec.samples, i)) {
      const eng = levelBitrate(s);
      series.push({
        t: round(s.tSec, 2),
        bufferSec: round(bufferOf(s), 2),
        estimateMbps: round((v.estimateBps ?? 0) / 1e6, 2),
        engineLatency: typeof v.latencySec === 'number' ? round(v.latencySec, 2) : null,
        wallClockLatency: wall === null ? null : round(wall, 2),
        playbackRate: round(v.playbackRate ?? 1, 3),
        engineMbps: eng === null ? null : round(eng / 1e6, 2),
      });
    }
  });
  const r = (x: number | null) => (x === null ? null : round(x, 3));
  const holdBack = clock.partHoldBackSec ?? clock.holdBackSec;
  const behind = clock.edgeDelaySec !== undefined ? wallLat.map((x) => x - clock.edgeDelaySec!) : [];
  return {
    ...base,
    engineLatencyP50: r(percentile(engineLat, 50)),
    engineLatencyP95: r(percentile(engineLat, 95)),
    wallClockLatencyP50: r(percentile(wallLat, 50)),
    wallClockLatencyP95: r(percentile(wallLat, 95)),
    wallClockLatencyMax: r(wallLat.length ? Math.max(...wallLat) : null),
    wallClockLatencyAtStart: r(wallLat[0] ?? null),
    latencySamples: wallLat.length,
    edgeDelaySec: clock.edgeDelaySec ?? null,
    behindEdgeP50: r(behind.length ? percentile(behind, 50) : null),
    belowHoldBackShare:
      holdBack !== undefined && behind.length
        ? round(behind.filter((x) => x < holdBack - 0.02).length / behind.length, 3)
        : null,
    latencyNotes: notesOf(rec),
    avgPlaybackRate: rateN ? round(rateSum / rateN, 4) : null,
    series,
  };
}

function notesOf(rec: SessionRecord): string[] {
  const last = rec.samples[rec.samples.length - 1];
  const notes = (last?.stats as { latencyNotes?: unknown } | null)?.latencyNotes;
  return Array.isArray(notes) ? notes.filter((n): n is string => typeof n === 'string').slice(-20) : [];
}
