/**
 * The virtual playhead: the buffer fills with downloaded media time and drains in real time
 * (× playback rate). No decoding and no timers: state is advanced lazily to "now" whenever the
 * viewer looks at it, and a stall's start is placed at the exact moment the buffer ran dry.
 */
export interface PlayheadOptions {
  /** Buffer needed to start (and to resume after a stall), seconds. */
  startThresholdSec: number;
  now?: () => number;
}

export class Playhead {
  private readonly now: () => number;
  private readonly threshold: number;
  private last: number;
  readonly createdAt: number;
  /** Media seconds downloaded / played, from the first chunk. */
  bufferedEnd = 0;
  position = 0;
  rate = 1;
  playing = false;
  startedAt: number | undefined;
  stalls = 0;
  stallMs = 0;
  playMs = 0;
  private stalledSince: number | undefined;
  /** Epoch ms of media position 0 (from the first chunk's program date-time), for live latency. */
  private anchorEpochMs: number | undefined;
  /**
   * The live edge as the player knows it: the program date-time where the newest listed (or
   * arrived) part ends, and the wall clock at which the player first learned of it.
   */
  private edgePdtMs: number | undefined;
  private edgeSeenAtMs = 0;
  ended = false;

  constructor(o: PlayheadOptions) {
    this.now = o.now ?? (() => performance.now());
    this.threshold = o.startThresholdSec;
    this.last = this.now();
    this.createdAt = this.last;
  }

  /** Brings the state up to now. */
  update(): void {
    const now = this.now();
    if (this.playing) {
      const elapsed = now - this.last;
      const canPlayMs = ((this.bufferedEnd - this.position) / this.rate) * 1000;
      if (elapsed >= canPlayMs) {
        this.position = this.bufferedEnd;
        this.playMs += canPlayMs;
        this.playing = false;
        if (!this.ended) {
          this.stalls++;
          this.stalledSince = this.last + canPlayMs;
        }
      } else {
        this.position += (elapsed / 1000) * this.rate;
        this.playMs += elapsed;
      }
    }
    this.last = now;
  }

  /**
   * Before playback starts: begin presenting `sec` into the media about to be downloaded (the
   * player fetches from a key frame and seeks to its join point). The skipped media is not played.
   */
  seek(sec: number): void {
    if (this.startedAt === undefined && sec > 0) this.position = sec;
  }

  /** A downloaded chunk of `mediaSec`; `programDateTimeMs` = wall clock of its first sample, if known. */
  append(mediaSec: number, programDateTimeMs?: number): void {
    this.update();
    if (this.anchorEpochMs === undefined && programDateTimeMs !== undefined) {
      this.anchorEpochMs = programDateTimeMs - this.bufferedEnd * 1000;
    }
    this.bufferedEnd += mediaSec;
    if (!this.playing && this.bufferSec >= this.threshold - 1e-9) this.resume();
  }

  private resume(): void {
    const now = this.last;
    if (this.startedAt === undefined) this.startedAt = now;
    if (this.stalledSince !== undefined) {
      this.stallMs += now - this.stalledSince;
      this.stalledSince = undefined;
    }
    this.playing = true;
  }

  /** VOD: everything is downloaded; running dry from now on is the end, not a stall. */
  markEnded(): void {
    this.update();
    this.ended = true;
  }

  get bufferSec(): number {
    return Math.max(0, this.bufferedEnd - this.position);
  }

  get startupMs(): number | undefined {
    return this.startedAt === undefined ? undefined : this.startedAt - this.createdAt;
  }

  /** Seconds behind the live edge (wall clock − program date-time at the playhead). */
  latencySec(epochNowMs = Date.now()): number | undefined {
    if (this.anchorEpochMs === undefined || this.startedAt === undefined) return undefined;
    return (epochNowMs - (this.anchorEpochMs + this.position * 1000)) / 1000;
  }

  /**
   * The player learned at `seenAtEpochMs` that media up to program date-time `edgePdtMs` exists
   * (a playlist's newest part, or a hinted part that arrived). Only a newer edge counts: what
   * matters is when the newest part was first known.
   */
  noteLiveEdge(edgePdtMs: number | undefined, seenAtEpochMs = Date.now()): void {
    if (edgePdtMs === undefined || !Number.isFinite(edgePdtMs)) return;
    if (this.edgePdtMs !== undefined && edgePdtMs <= this.edgePdtMs) return;
    this.edgePdtMs = edgePdtMs;
    this.edgeSeenAtMs = seenAtEpochMs;
  }

  /**
   * How late the newest part reached the player (s): the wall clock when it was first known minus
   * the program date-time where it ends. The chain's own delay (encoder, packager, edge); the
   * player cannot play closer to real time than this.
   */
  get listingDelaySec(): number | undefined {
    return this.edgePdtMs === undefined ? undefined : (this.edgeSeenAtMs - this.edgePdtMs) / 1000;
  }

  /**
   * Seconds behind the live edge as a player sees it (hls.js's `latency`: the newest known part's
   * end, advanced by the time since it was learned, minus the playhead): the wall-clock latency
   * less the listing delay. What PART-HOLD-BACK is measured against, so what the catch-up steers.
   */
  edgeLatencySec(epochNowMs = Date.now()): number | undefined {
    const lat = this.latencySec(epochNowMs);
    const delay = this.listingDelaySec;
    return lat === undefined || delay === undefined ? lat : lat - delay;
  }

  /** Closes the books: an ongoing stall counts up to now. */
  finish(): void {
    this.update();
    if (this.stalledSince !== undefined) {
      this.stallMs += this.last - this.stalledSince;
      this.stalledSince = undefined;
    }
  }
}
