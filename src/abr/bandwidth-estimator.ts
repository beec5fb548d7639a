/**
 * Throughput estimation from segment and part downloads.
 *
 * Two exponentially weighted moving averages of throughput, weighted by transfer time, with
 * different half-lives; the estimate is the lower of the two, so it drops fast and rises slowly.
 * (The idea is the one hls.js and Shaka use; this is our own implementation.)
 *
 * - TTFB-aware: the time before the first byte (request latency, server hold time of a blocking
 *   request) is not transfer time, so it never deflates the throughput. It is tracked separately.
 * - Tiny downloads say more about timers than about the link: a download below `minSampleBytes`
 *   is pooled with the following small ones (LL-HLS parts) and becomes one sample once the pool
 *   reaches the minimum.
 * - Weight: a sample counts for its transfer time, but a whole segment for at least the media
 *   seconds it carried. On a fast link a segment arrives in a fraction of its duration; weighted
 *   by transfer time alone, such samples were nearly weightless, and after a trough (a cascade
 *   back up from 0.8 to 6 Mbit/s) the estimate took dozens of segments to climb back. Slow
 *   downloads still weigh their (longer) transfer time, so drops are seen as fast as before.
 *   (Parts keep the transfer-time weight: the low-latency half-lives are tuned for it.)
 * - Media-paced parts: a part streamed while it is being produced arrives at the media rate, not
 *   the link rate, so its download time is mostly the encoder's, not the link's. When the caller
 *   measured the bursts (the bytes that arrived back-to-back, and the time they took, leaving out
 *   the idle gaps between the encoder's chunks), those are the sample: that is the link's speed,
 *   and it rises again when the link recovers. Without burst data, a part that kept up with real
 *   time and reads below the current estimate only proves the link is at least that fast, so it
 *   is not a sample.
 */
export interface DownloadSample {
  bytes: number;
  /** Request start to last byte, milliseconds. */
  durationMs: number;
  /** Request start to first byte, milliseconds (≤ durationMs). */
  ttfbMs: number;
  /** Media seconds carried by the download (0 if not media). */
  mediaDurationSec?: number;
  isPart?: boolean;
  /** Bytes that arrived in bursts (back-to-back after the first chunk of each burst), if measured. */
  burstBytes?: number;
  /** Time those burst bytes took, milliseconds. */
  burstMs?: number;
}

/**
 * A whole segment whose transfer took more than this many times its media duration restarts
 * the averages (see sample()).
 */
const SLOWER_THAN_REAL_TIME = 2;

/** Below this many burst bytes a part says nothing about the link (one TCP window or so). */
const MIN_BURST_BYTES = 2_000;

export class Ewma {
  private readonly alpha: number;
  private value = 0;
  private weight = 0;

  constructor(halfLife: number) {
    // after `halfLife` units of weight, an old value keeps half its influence
    this.alpha = halfLife > 0 ? Math.pow(0.5, 1 / halfLife) : 0;
  }

  add(weight: number, value: number): void {
    const keep = Math.pow(this.alpha, weight);
    this.value = keep * this.value + (1 - keep) * value;
    this.weight += weight;
  }

  get totalWeight(): number {
    return this.weight;
  }

  /** The average, corrected for the bias of having started from zero. */
  get estimate(): number {
    const filled = 1 - Math.pow(this.alpha, this.weight);
    return filled > 0 ? this.value / filled : this.value;
  }
}

export interface BandwidthEstimatorOptions {
  fastHalfLifeSec: number;
  slowHalfLifeSec: number;
  defaultEstimateBps: number;
  minSampleBytes: number;
  minTransferMs: number;
  defaultTtfbMs?: number;
  /**
   * Seconds of download time the default estimate counts for once real samples arrive (0: none,
   * the first sample replaces it). For an informed default (the browser's own link estimate), so
   * one slow first download (connection warm-up) does not stand for the link alone.
   */
  priorWeightSec?: number;
}

export class BandwidthEstimator {
  private fast: Ewma;
  private slow: Ewma;
  private ttfb: Ewma;
  private pooledBytes = 0;
  private pooledMs = 0;
  private pooledMediaSec = 0;
  private samples = 0;
  private readonly opts: Required<BandwidthEstimatorOptions>;

  constructor(opts: BandwidthEstimatorOptions) {
    this.opts = { defaultTtfbMs: 100, priorWeightSec: 0, ...opts };
    this.fast = new Ewma(opts.fastHalfLifeSec);
    this.slow = new Ewma(opts.slowHalfLifeSec);
    if (this.opts.priorWeightSec > 0) {
      this.fast.add(this.opts.priorWeightSec, opts.defaultEstimateBps);
      this.slow.add(this.opts.priorWeightSec, opts.defaultEstimateBps);
    }
    this.ttfb = new Ewma(opts.slowHalfLifeSec);
  }

  /** Feed one finished (or abandoned, partially loaded) download. Returns true if it became a sample. */
  sample(s: DownloadSample): boolean {
    if (!(s.bytes > 0) || !(s.durationMs >= 0)) return false;
    const ttfb = Math.min(Math.max(0, s.ttfbMs), s.durationMs);
    this.sampleTtfb(ttfb);
    let transferMs = s.durationMs - ttfb;
    let sampleBytes = s.bytes;

    const paced = s.isPart && s.mediaDurationSec && transferMs >= s.mediaDurationSec * 1000 * 0.5;
    if (paced && s.burstBytes !== undefined && s.burstMs !== undefined && s.burstBytes >= MIN_BURST_BYTES) {
      // the link's own speed, from the bytes that flowed back-to-back
      sampleBytes = s.burstBytes;
      transferMs = s.burstMs;
    } else if (s.isPart && this.canEstimate && s.mediaDurationSec && s.mediaDurationSec > 0) {
      const rate = (s.bytes * 8 * 1000) / Math.max(transferMs, this.opts.minTransferMs);
      const keptUp = transferMs <= s.mediaDurationSec * 1000;
      const looksPaced = transferMs >= s.mediaDurationSec * 1000 * 0.5;
      if (keptUp && looksPaced && rate < this.estimateBps) return false;
    }

    if (!s.isPart && s.mediaDurationSec && transferMs > s.mediaDurationSec * 1000 * SLOWER_THAN_REAL_TIME) {
      // The link carried this segment at under half its media rate, for longer than twice its
      // duration: not a dip but a link that is now this slow. Start the averages again from it.
      this.restart();
    }
    this.pooledBytes += sampleBytes;
    this.pooledMs += transferMs;
    // a whole segment counts for at least the media it carried (see the class comment)
    if (!s.isPart && s.mediaDurationSec) this.pooledMediaSec += s.mediaDurationSec;
    if (this.pooledBytes < this.opts.minSampleBytes) return false;
    const bytes = this.pooledBytes;
    const ms = Math.max(this.pooledMs, this.opts.minTransferMs);
    const weightSec = Math.max(ms / 1000, this.pooledMediaSec);
    this.pooledBytes = 0;
    this.pooledMs = 0;
    this.pooledMediaSec = 0;
    const bps = (bytes * 8 * 1000) / ms;
    this.fast.add(weightSec, bps);
    this.slow.add(weightSec, bps);
    this.samples++;
    return true;
  }

  /** Forgets the throughput history (not the TTFB's): the next sample is the estimate. */
  private restart(): void {
    this.fast = new Ewma(this.opts.fastHalfLifeSec);
    this.slow = new Ewma(this.opts.slowHalfLifeSec);
    this.pooledBytes = 0;
    this.pooledMs = 0;
    this.pooledMediaSec = 0;
  }

  sampleTtfb(ms: number): void {
    // long waits (blocking reloads) carry less weight than ordinary round trips
    const sec = ms / 1000;
    this.ttfb.add(Math.exp(-(sec * sec) / 2), Math.max(ms, 1));
  }

  get canEstimate(): boolean {
    return this.samples > 0;
  }

  get sampleCount(): number {
    return this.samples;
  }

  get estimateBps(): number {
    if (!this.canEstimate) return this.opts.defaultEstimateBps;
    return Math.min(this.fast.estimate, this.slow.estimate);
  }

  get fastEstimateBps(): number {
    return this.canEstimate ? this.fast.estimate : this.opts.defaultEstimateBps;
  }

  get ttfbEstimateMs(): number {
    return this.ttfb.totalWeight > 0 ? this.ttfb.estimate : this.opts.defaultTtfbMs;
  }
}
