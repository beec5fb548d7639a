/**
 * Low-latency live: hold the latency behind the live edge near a target by nudging the playback
 * rate, within 1 ± maxDelta. Too far behind (and enough buffer) → play slightly faster; too close
 * to the edge, or the buffer about to run dry → play slightly slower. The rate follows a tanh of
 * the latency error, so it is smooth and never leaves its bounds.
 */
export interface LatencyControlOptions {
  targetLatencySec: number;
  latencyToleranceSec: number;
  maxPlaybackRateDelta: number;
  catchUpGain: number;
  minCatchUpBufferSec: number;
}

export function catchUpPlaybackRate(
  state: { latencySec: number; bufferSec: number },
  o: LatencyControlOptions,
): number {
  const { latencySec, bufferSec } = state;
  if (!Number.isFinite(latencySec) || !Number.isFinite(bufferSec)) return 1;
  const max = o.maxPlaybackRateDelta;
  // nearly out of buffer: slow down in proportion to how little is left, whatever the latency
  if (bufferSec < o.minCatchUpBufferSec) {
    const short = 1 - Math.max(0, bufferSec) / o.minCatchUpBufferSec;
    return 1 - max * short;
  }
  const error = latencySec - o.targetLatencySec;
  if (Math.abs(error) <= o.latencyToleranceSec) return 1;
  const beyond = error - Math.sign(error) * o.latencyToleranceSec;
  let rate = 1 + max * Math.tanh(beyond * o.catchUpGain);
  // speeding up must not eat the last of the buffer
  if (rate > 1 && bufferSec < o.minCatchUpBufferSec * 2) rate = 1;
  return Math.min(1 + max, Math.max(1 - max, rate));
}

/** How far above the hold-back the latency control aims, and its no-correction band either side. */
const HOLD_BACK_MARGIN_SEC = 0.15;
const HOLD_BACK_TOLERANCE_SEC = 0.1;
/**
 * Gain of the hold-back steering (1/s inside the tanh). At 8, with the ± 0.1 bound below, the rate
 * reaches 1.02 about 0.025 s beyond the band, so a playback that runs 2 % slow (a loaded machine's
 * renderer: in bench/abr-qoe the latency crept up 0.012 s/s at rate 1.008) stays at the band's
 * edge; at the default gain of 1 it settles 0.2 s above it.
 */
const HOLD_BACK_CATCH_UP_GAIN = 8;

/**
 * Largest playback-rate change of the hold-back steering: 1 ± 0.1, Shaka Player's live-sync bound
 * (liveSyncMaxPlaybackRate 1.1; Chromium keeps the pitch). With ± 0.05 a session on the loaded
 * bench machine sat at 1.045 on average and still 0.4 s above the band.
 */
const HOLD_BACK_MAX_RATE_DELTA = 0.1;

/**
 * Low-latency live: the latency settings that hold the playhead just above the playlist's hold-back
 * (PART-HOLD-BACK, or HOLD-BACK), measured from the live edge as RFC 8216bis defines it (the end of
 * the playlist: see live-edge.ts). The band's lower end (hold-back + 0.05 s) is the floor: below it
 * the rate drops under 1, so the control never settles below the hold-back.
 */
export function holdBackSteering(
  holdBackSec: number,
): Pick<LatencyControlOptions, 'targetLatencySec' | 'latencyToleranceSec' | 'catchUpGain' | 'maxPlaybackRateDelta'> {
  return {
    maxPlaybackRateDelta: HOLD_BACK_MAX_RATE_DELTA,
    targetLatencySec: holdBackSec + HOLD_BACK_MARGIN_SEC,
    latencyToleranceSec: HOLD_BACK_TOLERANCE_SEC,
    catchUpGain: HOLD_BACK_CATCH_UP_GAIN,
  };
}
