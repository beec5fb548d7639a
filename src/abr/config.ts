/**
 * Every default of the ABR engine in one place. Units are in the names (Sec, Ms, Bps).
 * The player and the load tester pass a Partial<AbrConfig> to override any of them.
 */
export interface AbrConfig {
  /** Estimate used before any sample has been taken (bits/s). */
  defaultEstimateBps: number;
  /** Download seconds that default counts for among the first samples (0: replaced by the first sample). */
  defaultEstimateWeightSec: number;
  /** Half-life of the fast EWMA, in seconds of download time. Reacts to drops. */
  ewmaFastHalfLifeSec: number;
  /** Half-life of the slow EWMA, in seconds of download time. Damps rises. */
  ewmaSlowHalfLifeSec: number;
  /** Low-latency mode: fast EWMA half-life (parts are short: react within a few parts). */
  lowLatencyEwmaFastHalfLifeSec: number;
  /** Low-latency mode: slow EWMA half-life. */
  lowLatencyEwmaSlowHalfLifeSec: number;
  /** Downloads smaller than this are not a sample on their own (they are pooled until they reach it). */
  minSampleBytes: number;
  /** Transfer times below this are clamped up to it (timer granularity; loopback bursts). */
  minTransferMs: number;
  /** Keep (or go down to) a level while estimate × this ≥ its bitrate. */
  bandwidthSafetyFactor: number;
  /** Switch up to a level only when estimate × this ≥ its bitrate (below safetyFactor: the hysteresis band). */
  bandwidthUpFactor: number;
  /** After a down-switch, no up-switch until this much media (seconds) has been downloaded. */
  upSwitchHoldSec: number;
  /** VOD: buffer (seconds) from which BOLA decides instead of the throughput rule. */
  bolaStartupBufferSec: number;
  /** VOD: samples needed before BOLA decides (the estimate must be real first). */
  bolaStartupSamples: number;
  /**
   * VOD: with at least bolaStartupBufferSec buffered, climb to a level while estimate × this
   * covers it, even where BOLA would wait for a fuller buffer (between bandwidthUpFactor and
   * bandwidthSafetyFactor: a level is kept down to the safety factor, so this is a band too).
   */
  bufferedUpFactor: number;
  /**
   * VOD: with at least bolaTargetBufferSec buffered, climb one level above what the link sustains
   * when the buffer can pay for at least this many seconds of it (media fetched) before BOLA would
   * leave it again. 0 turns it off. A link between two rungs is then used by long runs on the
   * upper one, funded by the buffer, instead of sitting on the lower one for good.
   */
  fundedClimbMinRunSec: number;
  /** BOLA: buffer level at which the lowest level is preferred. */
  bolaMinBufferSec: number;
  /** BOLA: buffer level at which the highest level is preferred. */
  bolaTargetBufferSec: number;
  /** Emergency rule: do not judge a download before this much time has passed. */
  abandonMinElapsedMs: number;
  /**
   * Emergency rule: nor before this share of the chunk's media duration has passed (hls.js waits
   * half of it). The first few hundred ms of a transfer (one TCP window, a throttle's first burst,
   * a short dip) say little about how the rest will go.
   */
  abandonMinElapsedShare: number;
  /** Emergency rule: keep this much buffer (seconds) in hand when predicting a stall. */
  abandonSafetySec: number;
  /**
   * Emergency rule: a download whose own frames are on screen (DownloadProgress.onScreen) is given
   * up only once no byte of it has come for this long (ms). Its replacement goes in from the chunk's
   * start, under the playhead, and Chromium froze the picture 0.5-1 s on that; a hung body is
   * still given up.
   */
  abandonOnScreenIdleMs: number;
  /** Live (non-LL): below this buffer, the throughput rule uses only the fast EWMA-safe level. */
  liveLowBufferSec: number;
  /**
   * VOD fast switching (src/abr/fast-switch.ts): buffered lower-rung media starting within this
   * of the playhead (seconds) is never replaced.
   */
  fastSwitchMinLeadSec: number;
  /** VOD fast switching: buffer that must remain ahead once a replacement has arrived (seconds). */
  fastSwitchMinBufferSec: number;
  /** VOD fast switching: replace only while estimate × this sustains the new rung (0: never replace). */
  fastSwitchSafetyFactor: number;
  /** Low-latency: live latency to hold (seconds behind the live edge). */
  targetLatencySec: number;
  /** Low-latency: no rate change while |latency − target| is within this (seconds). */
  latencyToleranceSec: number;
  /** Low-latency: playback rate stays within 1 ± this. */
  maxPlaybackRateDelta: number;
  /** Low-latency: how strongly the rate reacts to latency error (1/seconds, inside a tanh). */
  catchUpGain: number;
  /** Low-latency: never speed up with less buffer than this (seconds); slow down below it. */
  minCatchUpBufferSec: number;
}

export const DEFAULT_ABR_CONFIG: Readonly<AbrConfig> = Object.freeze({
  defaultEstimateBps: 500_000,
  defaultEstimateWeightSec: 0,
  ewmaFastHalfLifeSec: 3,
  ewmaSlowHalfLifeSec: 9,
  lowLatencyEwmaFastHalfLifeSec: 1,
  lowLatencyEwmaSlowHalfLifeSec: 4,
  minSampleBytes: 16_000,
  minTransferMs: 1,
  bandwidthSafetyFactor: 0.9,
  bandwidthUpFactor: 0.7,
  upSwitchHoldSec: 8,
  bolaStartupBufferSec: 8,
  bolaStartupSamples: 2,
  bufferedUpFactor: 0.8,
  fundedClimbMinRunSec: 40,
  bolaMinBufferSec: 4,
  bolaTargetBufferSec: 20,
  abandonMinElapsedMs: 250,
  abandonMinElapsedShare: 0.5,
  abandonSafetySec: 0.5,
  abandonOnScreenIdleMs: 1000,
  liveLowBufferSec: 2,
  fastSwitchMinLeadSec: 2,
  fastSwitchMinBufferSec: 4,
  fastSwitchSafetyFactor: 0.8,
  targetLatencySec: 2.5,
  latencyToleranceSec: 0.25,
  maxPlaybackRateDelta: 0.05,
  catchUpGain: 1,
  minCatchUpBufferSec: 0.5,
});

export function resolveAbrConfig(partial?: Partial<AbrConfig>): AbrConfig {
  const out: AbrConfig = { ...DEFAULT_ABR_CONFIG };
  if (partial) {
    for (const [k, v] of Object.entries(partial) as [keyof AbrConfig, number | undefined][]) {
      if (v !== undefined) out[k] = v;
    }
  }
  return out;
}
