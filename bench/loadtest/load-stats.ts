/**
 * What the virtual viewers measured, aggregated: counters plus HDR histograms. Serializable
 * (histograms as compressed base64) so worker threads can send theirs to the parent to merge.
 */
import hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/** `steering`: an HLS Steering Manifest (bench/loadtest/steering.ts); `key`: an encrypted stream's content key. */
export type ObjectKind = 'playlist' | 'manifest' | 'init' | 'segment' | 'part' | 'steering' | 'key';
export const OBJECT_KINDS: ObjectKind[] = ['playlist', 'manifest', 'init', 'segment', 'part', 'steering', 'key'];

/** Values are recorded in microseconds, up to one hour. */
function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records `ms` in microseconds (1 µs to one hour); a non-finite or negative value is dropped. */
function record(h: Histogram, ms: number): void {
  if (!Number.isFinite(ms) || ms < 0) return;
  h.recordValue(Math.min(3_600_000_000, Math.max(1, Math.round(ms * 1000))));
}

export interface ViewerTotals {
  started: number;
  ended: number;
  failed: number;
  playing: number;
  stalls: number;
  stallMs: number;
  playMs: number;
  /** Σ bitrate × media seconds downloaded (video), for the time-weighted average bitrate. */
  bitrateSeconds: number;
  mediaSec: number;
  switches: number;
  abandons: number;
  /** Preload-hinted parts the server answered 404 (the hint was withdrawn): the viewer reloaded the playlist. */
  hintMisses: number;
  /** Σ live latency over its samples, and their count (for the timeline's mean latency per second). */
  latencySumSec: number;
  latencySamples: number;
  /** Most viewers playing at once (summed over workers when merged: an upper bound). */
  peakPlaying: number;
  /** Video downloads after which the viewer's ABR kept to an edge's CMSD-Dynamic cap (mb). */
  cmsdCapped: number;
}

export interface SerializedStats {
  totals: ViewerTotals;
  requests: number;
  bytes: number;
  errors: Record<string, number>;
  /** Content steering: viewers by the Pathway they were on when they ended. */
  pathways?: Record<string, number>;
  /** A ladder in several video codecs: viewers by the family they played ('avc', 'hevc'). */
  videoFamilies?: Record<string, number>;
  histograms: Record<string, string>;
  /** Event-loop delay p99 (ms) of the worst thread. */
  loopDelayP99Ms: number;
  /** The same over the hold alone (every viewer playing; the ramp's start-ups left out). */
  holdLoopDelayP99Ms?: number;
}

export class LoadStats {
  totals: ViewerTotals = {
    started: 0,
    ended: 0,
    failed: 0,
    playing: 0,
    stalls: 0,
    stallMs: 0,
    playMs: 0,
    bitrateSeconds: 0,
    mediaSec: 0,
    switches: 0,
    abandons: 0,
    hintMisses: 0,
    latencySumSec: 0,
    latencySamples: 0,
    peakPlaying: 0,
    cmsdCapped: 0,
  };
  requests = 0;
  bytes = 0;
  errors: Record<string, number> = {};
  /** Content steering: viewers by the Pathway they were on when they ended (none without steering). */
  pathways: Record<string, number> = {};
  /** A ladder in several video codecs: viewers by the family they played (none for one codec). */
  videoFamilies: Record<string, number> = {};
  /** Event-loop delay p99 (ms) of the worst thread that ran viewers (0 when not measured). */
  loopDelayP99Ms = 0;
  /** The same over the hold alone (from a second after the ramp ended); 0 when the run had none. */
  holdLoopDelayP99Ms = 0;
  private readonly histograms = new Map<string, Histogram>();

  histogram(name: string): Histogram {
    let h = this.histograms.get(name);
    if (!h) {
      h = newHistogram();
      this.histograms.set(name, h);
    }
    return h;
  }

  /** Record a duration in milliseconds (kept with microsecond resolution). */
  recordMs(name: string, ms: number): void {
    record(this.histogram(name), ms);
  }

  /**
   * The TTFB and download histograms of each object kind, looked up once: a request records into
   * them directly (no key string built and hashed per request). Created on first use, so a kind
   * never requested has no histogram (the report lists the kinds seen).
   */
  private readonly perKind = new Map<ObjectKind, { ttfb: Histogram; download: Histogram }>();

  request(kind: ObjectKind, ttfbMs: number, downloadMs: number, bytes: number): void {
    this.requests++;
    this.bytes += bytes;
    let h = this.perKind.get(kind);
    if (!h) {
      h = { ttfb: this.histogram(`ttfb.${kind}`), download: this.histogram(`download.${kind}`) };
      this.perKind.set(kind, h);
    }
    record(h.ttfb, ttfbMs);
    record(h.download, downloadMs);
  }

  viewerPlaying(): void {
    this.totals.playing++;
    if (this.totals.playing > this.totals.peakPlaying) this.totals.peakPlaying = this.totals.playing;
  }

  error(errorClass: string): void {
    this.errors[errorClass] = (this.errors[errorClass] ?? 0) + 1;
  }

  /** p-th percentile in milliseconds, or null without data. */
  percentileMs(name: string, p: number): number | null {
    const h = this.histograms.get(name);
    if (!h || h.totalCount === 0) return null;
    return h.getValueAtPercentile(p) / 1000;
  }

  count(name: string): number {
    return this.histograms.get(name)?.totalCount ?? 0;
  }

  serialize(): SerializedStats {
    const histograms: Record<string, string> = {};
    for (const [k, h] of this.histograms) histograms[k] = hdr.encodeIntoCompressedBase64(h);
    return {
      totals: { ...this.totals },
      requests: this.requests,
      bytes: this.bytes,
      errors: { ...this.errors },
      pathways: { ...this.pathways },
      videoFamilies: { ...this.videoFamilies },
      histograms,
      loopDelayP99Ms: this.loopDelayP99Ms,
      holdLoopDelayP99Ms: this.holdLoopDelayP99Ms,
    };
  }

  merge(s: SerializedStats): void {
    for (const k of Object.keys(this.totals) as (keyof ViewerTotals)[]) this.totals[k] += s.totals[k] ?? 0;
    this.requests += s.requests;
    this.bytes += s.bytes;
    this.loopDelayP99Ms = Math.max(this.loopDelayP99Ms, s.loopDelayP99Ms ?? 0);
    this.holdLoopDelayP99Ms = Math.max(this.holdLoopDelayP99Ms, s.holdLoopDelayP99Ms ?? 0);
    for (const [k, v] of Object.entries(s.errors)) this.errors[k] = (this.errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.pathways ?? {})) this.pathways[k] = (this.pathways[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.videoFamilies ?? {}))
      this.videoFamilies[k] = (this.videoFamilies[k] ?? 0) + v;
    for (const [k, enc] of Object.entries(s.histograms)) {
      const decoded = hdr.decodeFromCompressedBase64(enc);
      this.histogram(k).add(decoded);
      decoded.destroy();
    }
  }
}
