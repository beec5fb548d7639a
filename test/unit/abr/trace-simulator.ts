/**
 * A tiny deterministic simulator for the ABR unit tests: a link-capacity trace turns into
 * download times, downloads fill a buffer, the buffer drains in (virtual) real time.
 * No timers, no sockets: virtual time advances in fixed steps.
 */
import { AbrController, type AbrConfig, type Level } from '../../../src/abr/abr-controller.js';

export type CapacityTrace = (tSec: number) => number; // bits/s at time t

const STEP = 0.01; // seconds of virtual time per simulation step

export interface VodSimOptions {
  levels: Level[];
  capacity: CapacityTrace;
  segments: number;
  segmentSec?: number;
  rttMs?: number;
  maxBufferSec?: number;
  /** false: the "player" ignores abandon advice (to compare against). */
  honourAbandon?: boolean;
  /** false: do not tell onDownloadProgress the buffer (the controller derives it). */
  reportBuffer?: boolean;
  abr?: AbrController;
  /**
   * Fast switching as the player does it (src/abr/fast-switch.ts): before each forward fetch, a
   * buffered chunk of a lower level that the rule names is fetched again at the current level
   * (checked every 0.1 s against keepReplacing) and takes the old one's place on arrival.
   */
  fastSwitch?: boolean;
}

export interface SegmentLog {
  n: number;
  level: number;
  startSec: number;
  endSec: number;
  bufferAtStart: number;
  estimateAtStart: number;
}

export interface VodSimResult {
  log: SegmentLog[];
  /** Stalls after playback started. */
  stalls: number;
  stallSec: number;
  abandons: { n: number; from: number; to: number; atSec: number }[];
  abr: AbrController;
  endSec: number;
  /** The level on screen every 0.1 s of virtual time while playing. */
  onScreen: { t: number; level: number }[];
  /** Chunks replaced by fast switching (chunk number, old level, new level, when). */
  replacements: { n: number; from: number; to: number; atSec: number }[];
}

export function simulateVod(o: VodSimOptions): VodSimResult {
  const segSec = o.segmentSec ?? 4;
  const rtt = (o.rttMs ?? 40) / 1000;
  const maxBuffer = o.maxBufferSec ?? 30;
  const abr = o.abr ?? new AbrController(o.levels, {}, 'vod');
  const bitrateOf = new Map(o.levels.map((l) => [l.index, l.bitrate]));
  let t = 0;
  let buffer = 0;
  let playing = false;
  let started = false;
  let stalls = 0;
  let stallSec = 0;
  let current = -1;
  const log: SegmentLog[] = [];
  const abandons: VodSimResult['abandons'] = [];
  const replacements: VodSimResult['replacements'] = [];
  const onScreen: VodSimResult['onScreen'] = [];
  /** Level of each chunk appended so far (chunk n covers media [n·segSec, (n+1)·segSec)). */
  const chunkLevels: number[] = [];
  const playhead = () => chunkLevels.length * segSec - buffer;
  let nextScreenSample = 0;

  const tick = () => {
    t += STEP;
    if (playing && t >= nextScreenSample) {
      nextScreenSample = t + 0.1 - 1e-9;
      const idx = Math.min(chunkLevels.length - 1, Math.floor(playhead() / segSec + 1e-9));
      onScreen.push({ t, level: chunkLevels[idx] });
    }
    if (playing) {
      buffer -= STEP;
      if (buffer <= 0) {
        buffer = 0;
        playing = false;
        stalls++;
      }
    } else if (started) {
      stallSec += STEP;
    }
  };

  /** Chunks tried at a level (`n:level`): as in the player, never tried twice. */
  const tried = new Set<string>();
  /** One fast-switching replacement, if the rule names a chunk. */
  const replaceOne = (): 'none' | 'done' | 'gave-up' => {
    const from = Math.floor(playhead() / segSec + 1e-9);
    const chunks = chunkLevels
      .map((level, n) => ({
        startSec: n * segSec,
        endSec: (n + 1) * segSec,
        level: tried.has(`${n}:${current}`) ? current : level,
      }))
      .slice(Math.max(0, from));
    const i = abr.replacementFor({ playheadSec: playhead(), bufferSec: buffer, chunks, level: current });
    if (i < 0) return 'none';
    const n = from + i;
    tried.add(`${n}:${current}`);
    const total = Math.round((bitrateOf.get(current)! * segSec) / 8);
    const t0 = t;
    let loaded = 0;
    let firstByteAt = -1;
    let nextCheck = 0.1;
    while (loaded < total) {
      if (t - t0 >= rtt) {
        if (firstByteAt < 0) firstByteAt = t - t0;
        loaded = Math.min(total, loaded + (o.capacity(t) * STEP) / 8);
      }
      tick();
      if (t - t0 >= nextCheck) {
        nextCheck += 0.1;
        if (!abr.keepReplacing({ playheadSec: playhead(), bufferSec: buffer, chunkStartSec: n * segSec }))
          return 'gave-up';
      }
    }
    abr.onDownloadComplete({
      bytes: total,
      durationMs: (t - t0) * 1000,
      ttfbMs: firstByteAt * 1000,
      level: current,
      mediaDurationSec: segSec,
    });
    if (n * segSec > playhead()) {
      replacements.push({ n, from: chunkLevels[n], to: current, atSec: t });
      chunkLevels[n] = current;
    }
    return 'done';
  };

  for (let n = 0; n < o.segments; n++) {
    // as in the player: replacements until none is named or one is given up, then forward
    if (o.fastSwitch && current >= 0) while (replaceOne() === 'done');
    while (buffer > maxBuffer - segSec) tick();
    let level = abr.nextLevel({ bufferSec: buffer, currentLevel: current });
    const entry: SegmentLog = {
      n,
      level,
      startSec: t,
      endSec: 0,
      bufferAtStart: buffer,
      estimateAtStart: abr.estimateBps,
    };
    for (;;) {
      const total = Math.round((bitrateOf.get(level)! * segSec) / 8);
      const t0 = t;
      let loaded = 0;
      let firstByteAt = -1;
      let nextProgress = 0.1;
      let abandoned = false;
      while (loaded < total) {
        const elapsed = t - t0;
        if (elapsed >= rtt) {
          if (firstByteAt < 0) firstByteAt = elapsed;
          loaded = Math.min(total, loaded + (o.capacity(t) * STEP) / 8);
        }
        tick();
        if (loaded < total && t - t0 >= nextProgress) {
          nextProgress += 0.1;
          const advice = abr.onDownloadProgress({
            bytesLoaded: Math.floor(loaded),
            bytesTotal: total,
            elapsedMs: (t - t0) * 1000,
            ttfbMs: (firstByteAt < 0 ? t - t0 : firstByteAt) * 1000,
            level,
            mediaDurationSec: segSec,
            ...(o.reportBuffer === false ? {} : { bufferSec: buffer }),
          });
          if (advice.abandon && o.honourAbandon !== false && advice.switchTo !== undefined) {
            abandons.push({ n, from: level, to: advice.switchTo, atSec: t });
            level = advice.switchTo;
            abandoned = true;
            break;
          }
        }
      }
      if (abandoned) continue;
      abr.onDownloadComplete({
        bytes: total,
        durationMs: (t - t0) * 1000,
        ttfbMs: firstByteAt * 1000,
        level,
        mediaDurationSec: segSec,
      });
      break;
    }
    entry.level = level;
    entry.endSec = t;
    log.push(entry);
    current = level;
    chunkLevels.push(level);
    buffer += segSec;
    if (!playing && buffer >= segSec) {
      playing = true;
      started = true;
    }
  }
  return { log, stalls, stallSec, abandons, abr, endSec: t, onScreen, replacements };
}

/** Level changes between consecutive segments after segment `from`. */
export function switchesFrom(log: SegmentLog[], from: number): number {
  let n = 0;
  for (let i = Math.max(1, from + 1); i < log.length; i++) if (log[i].level !== log[i - 1].level) n++;
  return n;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LiveSimOptions {
  levels: Level[];
  capacity: CapacityTrace;
  durationSec: number;
  partSec?: number;
  rttMs?: number;
  /** Latency behind the live edge at which the viewer joins. */
  joinLatencySec: number;
  targetLatencySec: number;
  config?: Partial<AbrConfig>;
  /**
   * Parts streamed as they are produced (LL-HLS preload hint / chunked CMAF): the request for
   * part k goes out when its production starts and its bytes arrive in `chunkSec` chunks as the
   * encoder emits them, each at link speed. Default false: the part is requested and sent whole.
   */
  paced?: boolean;
  chunkSec?: number;
  /** false: do not pass the burst measurement to the controller (a player that cannot see it). */
  reportBursts?: boolean;
}

export interface LiveSample {
  t: number;
  latency: number;
  buffer: number;
  rate: number;
  level: number;
}

export interface LiveSimResult {
  samples: LiveSample[];
  stalls: number;
  levels: number[];
  abr: AbrController;
}

/**
 * Low-latency live: the encoder produces part k during [k·partSec, (k+1)·partSec); it becomes
 * available at (k+1)·partSec. A request for a part not yet available blocks until it is (the
 * wait counts as TTFB, like an LL-HLS preload hint). Media time at the live edge is t.
 */
export function simulateLowLatency(o: LiveSimOptions): LiveSimResult {
  const part = o.partSec ?? 0.5;
  const rtt = (o.rttMs ?? 20) / 1000;
  const abr = new AbrController(o.levels, { targetLatencySec: o.targetLatencySec, ...o.config }, 'low-latency');
  const bitrateOf = new Map(o.levels.map((l) => [l.index, l.bitrate]));
  const joinAt = 20;
  let t = joinAt;
  let k = Math.floor((joinAt - o.joinLatencySec) / part); // next part to fetch
  let playhead = k * part; // media time
  let bufferedEnd = playhead;
  let playing = false;
  let stalls = 0;
  let rate = 1;
  let current = -1;
  const samples: LiveSample[] = [];
  const levels: number[] = [];
  let nextSample = joinAt;

  const tick = () => {
    t += STEP;
    if (playing) {
      playhead += STEP * rate;
      if (playhead >= bufferedEnd) {
        playhead = bufferedEnd;
        playing = false;
        stalls++;
      }
      rate = abr.playbackRate({ latencySec: t - playhead, bufferSec: bufferedEnd - playhead });
    }
    if (t >= nextSample) {
      nextSample += 0.5;
      samples.push({ t, latency: t - playhead, buffer: bufferedEnd - playhead, rate, level: current });
    }
  };

  while (t < joinAt + o.durationSec) {
    const level = abr.nextLevel({
      bufferSec: bufferedEnd - playhead,
      currentLevel: current,
      latencySec: t - playhead,
      playbackRate: rate,
    });
    levels.push(level);
    const total = Math.round((bitrateOf.get(level)! * part) / 8);
    const t0 = t;
    let burstBytes = 0;
    let burstSec = 0;
    let ttfb: number;
    if (o.paced) {
      // bytes exist from the first chunk of part k on; the link moves what exists, up to its capacity
      const chunk = o.chunkSec ?? 0.1;
      const startsAt = k * part;
      const produced = (at: number) =>
        Math.min(total, Math.floor(Math.max(0, at - startsAt + 1e-9) / chunk) * ((total * chunk) / part));
      while (t < Math.max(startsAt + chunk, t0 + rtt)) tick();
      ttfb = t - t0;
      let loaded = 0;
      while (loaded < total) {
        const can = (o.capacity(t) * STEP) / 8;
        const waiting = produced(t) - loaded;
        if (waiting >= can) {
          loaded += can;
          burstBytes += can;
          burstSec += STEP;
        } else {
          loaded += Math.max(0, waiting);
        }
        tick();
      }
    } else {
      const availableAt = (k + 1) * part;
      while (t < Math.max(availableAt, t0 + rtt)) tick();
      ttfb = t - t0;
      let loaded = 0;
      while (loaded < total) {
        loaded = Math.min(total, loaded + (o.capacity(t) * STEP) / 8);
        tick();
      }
    }
    abr.onDownloadComplete({
      bytes: total,
      durationMs: (t - t0) * 1000,
      ttfbMs: ttfb * 1000,
      level,
      mediaDurationSec: part,
      isPart: true,
      ...(o.paced && o.reportBursts !== false ? { burstBytes, burstMs: burstSec * 1000 } : {}),
    });
    current = level;
    bufferedEnd += part;
    k++;
    if (!playing && bufferedEnd - playhead >= 2 * part) playing = true;
  }
  return { samples, stalls, levels, abr };
}
