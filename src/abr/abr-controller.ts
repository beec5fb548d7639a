/**
 * The ABR controller: one object per viewer (player or virtual viewer), fed download events,
 * asked which level to fetch next.
 *
 * - Throughput rule at startup (and always for live), from a two-speed EWMA estimate.
 * - VOD: BOLA once the buffer is established, capped by the throughput rule on the way up
 *   (BOLA-O: never climb past what the link sustains; with a healthy buffer the cap is the
 *   sustain factor, not the narrower up factor), and not allowed to leave a level the link
 *   sustains while the buffer is healthy. Result: a steady link settles and stays. Except that a
 *   full buffer pays for long runs one rung above what the link sustains (fundedClimb), so a link
 *   between two far-apart rungs is not left half unused.
 * - Emergency rule during a download: if it will not finish before the buffer runs dry and a
 *   lower level would, abandon it and switch down.
 * - Hysteresis: a wide up/keep band in the throughput rule, and no up-switch for
 *   `upSwitchHoldSec` of downloaded media after a down-switch.
 * - Low-latency: decisions per part, playback-rate catch-up toward the latency target.
 * - VOD fast switching: after an up-switch, which buffered lower-rung chunk to fetch again at the
 *   new level (src/abr/fast-switch.ts); the player appends it over the old one.
 *
 * Browser-safe: no Node built-ins, no clock (time comes from the caller's events).
 */
import { StreamedgeError } from '../errors.js';
import { BandwidthEstimator } from './bandwidth-estimator.js';
import { BolaRule } from './bola.js';
import { resolveAbrConfig, type AbrConfig } from './config.js';
import { chooseReplacement, replacementStillWorth } from './fast-switch.js';
import { catchUpPlaybackRate } from './low-latency.js';
import { highestFitting, throughputRank } from './throughput-rule.js';

export type { AbrConfig } from './config.js';

export interface Level {
  index: number;
  /** bits/s */
  bitrate: number;
  width?: number;
  height?: number;
}

export type AbrMode = 'vod' | 'live' | 'low-latency';

export interface DownloadProgress {
  bytesLoaded: number;
  bytesTotal?: number;
  elapsedMs: number;
  /** Time to first byte; pass elapsedMs (or anything ≥ it) while no byte has arrived. */
  ttfbMs: number;
  level: number;
  mediaDurationSec: number;
  /** Buffer ahead of the playhead now, if the caller knows it; else derived from the last nextLevel() call. */
  bufferSec?: number;
  /**
   * false while the buffer is not running down (playback not started yet, or paused): nothing
   * can stall, so nothing is abandoned. Omitted: assumed draining.
   */
  draining?: boolean;
  /**
   * The download's own frames are already on screen (a chunk appended fragment by fragment as it
   * arrives, with the playhead inside it). Such a chunk is given up only once its bytes have
   * stopped (`idleMs` ≥ abandonOnScreenIdleMs): its replacement would go in under the playhead.
   */
  onScreen?: boolean;
  /** Time since the last byte of the body arrived (since the request was sent, before any). */
  idleMs?: number;
}

export interface DownloadComplete {
  bytes: number;
  durationMs: number;
  ttfbMs: number;
  level: number;
  mediaDurationSec: number;
  isPart?: boolean;
  /** Bytes that arrived back-to-back (after the first chunk of each burst) and the time they took. */
  burstBytes?: number;
  burstMs?: number;
}

/** A chunk the player holds in its buffer, and the level it was fetched at. */
export interface BufferedLevelChunk {
  startSec: number;
  endSec: number;
  level: number;
}

export interface ReplacementQuery {
  playheadSec: number;
  /** Seconds buffered contiguously ahead of the playhead. */
  bufferSec: number;
  /** The buffered chunks, in media order. */
  chunks: readonly BufferedLevelChunk[];
  /** The level the player now fetches (what nextLevel() returned). */
  level: number;
}

export interface PlaybackState {
  bufferSec: number;
  /** Level index being played/fetched; -1 (or unknown) at startup. */
  currentLevel: number;
  latencySec?: number;
  playbackRate?: number;
}

export class AbrController {
  readonly config: AbrConfig;
  readonly mode: AbrMode;
  /** Levels sorted by ascending bitrate; "rank" below means a position in this array. */
  private readonly ladder: Level[];
  private readonly bitrates: number[];
  private readonly rankByIndex = new Map<number, number>();
  private readonly estimator: BandwidthEstimator;
  private readonly bola: BolaRule;
  private mediaSinceDownSwitchSec = Infinity;
  private lastDecisionBufferSec = 0;
  private switches = 0;
  private lastRank = -1;
  /** Set by an abandon: the next decision goes no higher than the level the emergency rule chose. */
  private capAfterAbandon: number | null = null;
  /** Whether any decision has seen media in the buffer (before that: start-up, nothing to stall). */
  private hadBuffer = false;
  /** The highest bitrate the server suggests (CMSD-Dynamic `mb`), bits/s; undefined: no cap. */
  private serverCapBps: number | undefined;

  constructor(levels: Level[], config?: Partial<AbrConfig>, mode: AbrMode = 'vod') {
    if (!Array.isArray(levels) || levels.length === 0) {
      throw new StreamedgeError('ABR_NO_LEVELS', 'ABR needs at least one level (rendition) to choose from');
    }
    for (const l of levels) {
      if (!Number.isFinite(l.bitrate) || l.bitrate <= 0) {
        throw new StreamedgeError(
          'ABR_BAD_LEVEL',
          `level ${l.index} has no usable bitrate (${l.bitrate}); every level needs bitrate > 0 bits/s`,
        );
      }
    }
    this.config = resolveAbrConfig(config);
    this.mode = mode;
    this.ladder = [...levels].sort((a, b) => a.bitrate - b.bitrate || a.index - b.index);
    this.bitrates = this.ladder.map((l) => l.bitrate);
    this.ladder.forEach((l, rank) => this.rankByIndex.set(l.index, rank));
    const c = this.config;
    this.estimator = new BandwidthEstimator({
      fastHalfLifeSec: mode === 'low-latency' ? c.lowLatencyEwmaFastHalfLifeSec : c.ewmaFastHalfLifeSec,
      slowHalfLifeSec: mode === 'low-latency' ? c.lowLatencyEwmaSlowHalfLifeSec : c.ewmaSlowHalfLifeSec,
      defaultEstimateBps: c.defaultEstimateBps,
      priorWeightSec: c.defaultEstimateWeightSec,
      minSampleBytes: c.minSampleBytes,
      minTransferMs: c.minTransferMs,
    });
    this.bola = new BolaRule(this.bitrates, c.bolaMinBufferSec, c.bolaTargetBufferSec);
  }

  get estimateBps(): number {
    return this.estimator.estimateBps;
  }

  get ttfbEstimateMs(): number {
    return this.estimator.ttfbEstimateMs;
  }

  /** Downloads that became throughput samples so far. */
  get sampleCount(): number {
    return this.estimator.sampleCount;
  }

  /** Level changes decided so far (startup choice excluded). */
  get switchCount(): number {
    return this.switches;
  }

  /** The server's cap (CMSD `mb`, CTA-5006) as of the latest response; undefined lifts it. */
  get serverCap(): number | undefined {
    return this.serverCapBps;
  }

  /**
   * What the latest response's CMSD-Dynamic said (src/http/cmsd.ts `cmsdAdvice`): with `mb`, no
   * decision goes above the highest level within it (the lowest level if none is), down-switching
   * at the next decision as CTA-5006 asks; a response without it lifts the cap.
   */
  onServerAdvice(advice: { maxBitrateKbps?: number }): void {
    this.serverCapBps = advice.maxBitrateKbps !== undefined ? advice.maxBitrateKbps * 1000 : undefined;
  }

  onDownloadComplete(s: DownloadComplete): void {
    this.estimator.sample({
      bytes: s.bytes,
      durationMs: s.durationMs,
      ttfbMs: s.ttfbMs,
      mediaDurationSec: s.mediaDurationSec,
      isPart: s.isPart,
      burstBytes: s.burstBytes,
      burstMs: s.burstMs,
    });
    if (s.mediaDurationSec > 0) this.mediaSinceDownSwitchSec += s.mediaDurationSec;
  }

  onDownloadProgress(p: DownloadProgress): { abandon: boolean; switchTo?: number } {
    const keep = { abandon: false };
    const rank = this.rankByIndex.get(p.level);
    if (rank === undefined || rank === 0) return keep;
    const c = this.config;
    const ttfbEstMs = this.estimator.ttfbEstimateMs;
    const judgeAfterMs = Math.max(
      c.abandonMinElapsedMs,
      ttfbEstMs,
      p.mediaDurationSec * 1000 * c.abandonMinElapsedShare,
    );
    if (p.elapsedMs < judgeAfterMs) return keep;
    // Start-up: nothing is playing yet, so there is no stall to avoid; restarting lower would
    // only throw away what arrived (and the first download is what the estimate learns from).
    if (!this.hadBuffer && !(p.bufferSec !== undefined && p.bufferSec > 0)) return keep;
    if (p.draining === false) return keep;
    if (p.onScreen === true && !(p.idleMs !== undefined && p.idleMs >= c.abandonOnScreenIdleMs)) return keep;

    const bufferSec = Math.max(0, p.bufferSec ?? this.lastDecisionBufferSec - p.elapsedMs / 1000);
    const expectedBytes = Math.max(p.bytesLoaded, p.bytesTotal ?? (this.bitrates[rank] * p.mediaDurationSec) / 8);
    const started = p.bytesLoaded > 0 && p.ttfbMs < p.elapsedMs;
    const transferMs = started ? p.elapsedMs - p.ttfbMs : 0;
    const loadRate = started && transferMs > 0 ? (p.bytesLoaded * 8 * 1000) / transferMs : 0;
    const estimate = this.estimator.estimateBps;

    if (this.mode === 'low-latency') {
      // parts arrive as they are produced: only a transfer clearly slower than the media rate is a problem
      if (!(loadRate > 0 && loadRate < this.bitrates[rank] * 0.8)) return keep;
    }

    const remainingSec =
      loadRate > 0 ? ((expectedBytes - p.bytesLoaded) * 8) / loadRate : (expectedBytes * 8) / estimate;
    const budgetSec = bufferSec - c.abandonSafetySec;
    if (remainingSec <= budgetSec) return keep;

    const bwe = loadRate > 0 ? loadRate : estimate;
    const timeFor = (r: number) => ttfbEstMs / 1000 + (this.bitrates[r] * p.mediaDurationSec) / bwe;
    let target = 0;
    for (let r = rank - 1; r >= 0; r--) {
      if (timeFor(r) < budgetSec) {
        target = r;
        break;
      }
    }
    // only worth it if starting over at the lower level finishes sooner than carrying on
    if (timeFor(target) >= remainingSec) return keep;
    // an absurd prediction (nothing loading at all yet) is no basis for a switch
    if (timeFor(target) > p.mediaDurationSec * 10) return keep;

    // What arrived is a sample like any other (weighted by its transfer time). The estimate is
    // not reset to this one reading: a dip of a second would otherwise stand for the link until
    // many fast downloads had outweighed it (the next choice is capped below, not the estimate).
    if (started) {
      this.estimator.sample({ bytes: p.bytesLoaded, durationMs: p.elapsedMs, ttfbMs: p.ttfbMs });
    }
    // The up-switch hold is for a link that fell. A transfer that sustains the level it gave up
    // (a thin buffer made it urgent: the second chunk of a start-up) is no such sign; holding the
    // next chunks on the emergency level would put seconds of it on screen for nothing.
    const sustained = loadRate * c.bandwidthSafetyFactor >= this.bitrates[rank];
    if (!sustained) this.mediaSinceDownSwitchSec = 0;
    this.capAfterAbandon = target;
    this.noteDecision(target);
    return { abandon: true, switchTo: this.ladder[target].index };
  }

  nextLevel(state: PlaybackState): number {
    const c = this.config;
    const bufferSec = Math.max(0, state.bufferSec);
    this.lastDecisionBufferSec = bufferSec;
    if (bufferSec > 0) this.hadBuffer = true;
    // The first decision is the start-up choice whatever level the caller names: nothing plays
    // yet, so there is no level to hold on to (no hysteresis band to stay in).
    const cur = this.lastRank < 0 ? -1 : (this.rankByIndex.get(state.currentLevel) ?? -1);
    const estimate = this.estimator.estimateBps;
    const allowUp = this.mediaSinceDownSwitchSec >= c.upSwitchHoldSec;
    const rule = { safetyFactor: c.bandwidthSafetyFactor, upFactor: c.bandwidthUpFactor };
    const t = throughputRank(this.bitrates, estimate, cur, rule, allowUp);
    let rank: number;

    if (this.mode === 'vod') {
      const established = bufferSec >= c.bolaStartupBufferSec && this.estimator.sampleCount >= c.bolaStartupSamples;
      if (!established || cur < 0) {
        rank = t;
      } else {
        const b = this.bola.choose(bufferSec);
        if (b > cur) {
          // With a healthy buffer the hysteresis band is not needed on the way up: a level the
          // link sustains (estimate × safetyFactor) is safe to climb to, BOLA wants it, and the
          // buffer absorbs a wrong guess. (The band stays for live and for a thin buffer.)
          const cap =
            bufferSec >= c.bolaMinBufferSec && allowUp
              ? Math.max(t, highestFitting(this.bitrates, estimate * c.bandwidthSafetyFactor))
              : t;
          rank = Math.min(b, Math.max(cur, cap));
        } else if (b < cur) {
          const sustained = estimate * c.bandwidthSafetyFactor >= this.bitrates[cur];
          rank = sustained && bufferSec >= c.bolaMinBufferSec ? cur : Math.min(cur, Math.max(b, t));
        } else {
          rank = cur;
        }
        // BOLA climbs only as the buffer nears its target: with a healthy buffer and a link that
        // carries a higher level with margin, waiting for that leaves seconds of a lower level on
        // screen for nothing (a 14 s buffer on 540p over a link that carries 720p, in the simulator)
        if (allowUp && bufferSec >= c.bolaStartupBufferSec) {
          rank = Math.max(rank, highestFitting(this.bitrates, estimate * c.bufferedUpFactor));
        }
        if (
          allowUp &&
          rank === cur &&
          bufferSec >= c.bolaTargetBufferSec &&
          this.fundedClimb(cur, bufferSec, estimate)
        ) {
          rank = cur + 1;
        }
      }
    } else {
      rank = t;
      if (bufferSec < c.liveLowBufferSec && cur >= 0) {
        // little buffer to absorb a mistake: the fast estimate alone must cover the level
        rank = Math.min(rank, highestFitting(this.bitrates, this.estimator.fastEstimateBps * c.bandwidthSafetyFactor));
      }
    }

    if (this.serverCapBps !== undefined) rank = Math.min(rank, highestFitting(this.bitrates, this.serverCapBps));
    if (this.capAfterAbandon !== null) {
      // the emergency rule abandoned a download to fetch this level instead: the caller asks
      // again for the same chunk, and must get what the rule chose, not the level it gave up
      // (whether that starts the up-switch hold was the rule's call)
      rank = Math.min(rank, this.capAfterAbandon);
      this.capAfterAbandon = null;
    } else if (cur >= 0 && rank < cur) {
      this.mediaSinceDownSwitchSec = 0;
    }
    this.noteDecision(rank);
    return this.ladder[rank].index;
  }

  /**
   * Whether a full buffer can pay for a run on the level above `cur` that the link does not
   * sustain: fetching it drains the buffer by (bitrate ÷ (estimate × safetyFactor) − 1) seconds
   * per second of media, and BOLA leaves the level once the buffer is down to its threshold for
   * it, so the run lasts (buffer − threshold) ÷ that drain. Only a run of at least
   * fundedClimbMinRunSec is worth its two switches. (Spiteri et al.'s BOLA-O, which the rules above
   * follow, never climbs past what the link sustains: on a link between two rungs it sits on the
   * lower one for good, as hls.js, dash.js and Shaka do — 360p over a 2 Mbit/s link with a full
   * buffer on the bench's ladder.)
   */
  private fundedClimb(cur: number, bufferSec: number, estimate: number): boolean {
    const c = this.config;
    const next = cur + 1;
    if (c.fundedClimbMinRunSec <= 0 || cur < 0 || next >= this.bitrates.length || !(estimate > 0)) return false;
    const drain = this.bitrates[next] / (estimate * c.bandwidthSafetyFactor) - 1;
    if (drain <= 0) return true;
    return (bufferSec - this.bola.minBufferFor(next)) / drain >= c.fundedClimbMinRunSec;
  }

  /**
   * VOD fast switching: the index (into `q.chunks`) of a buffered chunk of a lower level to fetch
   * again at `q.level` and append over the old one, or -1 (live, a link that does not sustain
   * the level with margin, a buffer too thin to spare the download, nothing far enough ahead).
   */
  replacementFor(q: ReplacementQuery): number {
    const c = this.config;
    if (this.mode !== 'vod' || c.fastSwitchSafetyFactor <= 0) return -1;
    const rank = this.rankByIndex.get(q.level);
    if (rank === undefined) return -1;
    const chunks = q.chunks.map((ch) => {
      const r = this.rankByIndex.get(ch.level);
      // a level this controller does not know is never replaced
      const bitrate = r === undefined ? Infinity : this.bitrates[r];
      return { startSec: ch.startSec, endSec: ch.endSec, bitrate };
    });
    return chooseReplacement(
      {
        playheadSec: q.playheadSec,
        bufferAheadSec: q.bufferSec,
        chunks,
        targetBitrate: this.bitrates[rank],
        estimateBps: this.estimator.estimateBps,
        ttfbMs: this.estimator.ttfbEstimateMs,
      },
      {
        minLeadSec: c.fastSwitchMinLeadSec,
        minBufferSec: c.fastSwitchMinBufferSec,
        safetyFactor: c.fastSwitchSafetyFactor,
      },
    );
  }

  /** VOD fast switching: whether a replacement under way (of the chunk starting at chunkStartSec) is still worth finishing. */
  keepReplacing(q: { playheadSec: number; bufferSec: number; chunkStartSec: number }): boolean {
    const c = this.config;
    return replacementStillWorth(
      { playheadSec: q.playheadSec, bufferAheadSec: q.bufferSec, chunkStartSec: q.chunkStartSec },
      { minLeadSec: c.fastSwitchMinLeadSec, minBufferSec: c.fastSwitchMinBufferSec },
    );
  }

  playbackRate(state: { latencySec: number; bufferSec: number }): number {
    if (this.mode !== 'low-latency') return 1;
    return catchUpPlaybackRate(state, this.config);
  }

  private noteDecision(rank: number): void {
    if (this.lastRank >= 0 && rank !== this.lastRank) this.switches++;
    this.lastRank = rank;
  }
}
