/**
 * The throughput rule (startup and live): the highest level the estimate sustains, with a
 * hysteresis band. A level is kept while estimate × safetyFactor covers it; going up needs
 * estimate × upFactor (a smaller factor) to cover the new level. A steady link whose estimate
 * wobbles inside the band never flips between two levels.
 */
export interface ThroughputRuleOptions {
  safetyFactor: number;
  upFactor: number;
}

/** Highest rank whose bitrate ≤ budget (rank 0 if none fits). `bitrates` ascending. */
export function highestFitting(bitrates: readonly number[], budgetBps: number): number {
  let rank = 0;
  for (let i = 0; i < bitrates.length; i++) if (bitrates[i] <= budgetBps) rank = i;
  return rank;
}

/**
 * @param current rank being played, or -1 at startup
 * @param allowUp false while an up-switch is on hold (just switched down)
 */
export function throughputRank(
  bitrates: readonly number[],
  estimateBps: number,
  current: number,
  opts: ThroughputRuleOptions,
  allowUp = true,
): number {
  const sustain = highestFitting(bitrates, estimateBps * opts.safetyFactor);
  if (current < 0) return sustain;
  const up = highestFitting(bitrates, estimateBps * opts.upFactor);
  if (up > current) return allowUp ? up : current;
  if (sustain >= current) return current;
  return sustain;
}
