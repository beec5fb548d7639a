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
