/**
 * Our MSE player: one SourceBuffer per track kind, a download loop per kind fed by a
 * `SourceModel` (HLS or DASH), rendition choice by src/abr, and on low-latency live a
 * playback-rate controller that holds the latency near its target.
 */
import { AbrController } from '../../src/abr/abr-controller.js';
import { DEFAULT_ABR_CONFIG } from '../../src/abr/config.js';
import { holdBackSteering } from '../../src/abr/low-latency.js';
import type { AudioTrack, ByteRange, ChunkRef, Cursor, PlayerRendition, SourceModel } from './source-model.js';
import { fetchBytes, type RequestLogEntry, type ServerAdvice } from './fetcher.js';
import type { PathwaySteering } from './pathway-steering.js';
import { gapSkipTarget } from './gap-skip.js';
import { isDvrSeek, secondsBehindLive } from './live-dvr.js';
import { ChunkSplitter, firstDecodeTime, initTimescale } from './box-splitter.js';
import { InbandCaptions } from './inband-captions.js';
import { AdCues, type AdBreakStat } from './ad-cues.js';
import { describeFailure, isRequestFailure, MEDIA_TIMEOUT, withRetries, type RetryNote } from './request-retry.js';
import type { CmcdData, CmcdSource } from '../../src/abr/cmcd.js';
import type { Throttle } from './throttle.js';
import { AppendQueue } from './append-queue.js';
import { ClearKeyProtection, type ProtectionStats } from './clear-key.js';
import { readInitProtection, type TrackProtection } from './protection.js';
import {
  thumbnailAt as thumbnailCell,
  thumbnailSummary,
  type ThumbnailCell,
  type ThumbnailSummary,
} from './thumbnails.js';

export interface PlayerStats {
  protocol: string;
  live: boolean;
  lowLatency: boolean;
  levels: { id: string; bitrate: number; height?: number }[];
  currentLevel: number;
  manualLevel: number | null;
  bufferSec: number;
  estimateBps: number;
  /** Wall-clock latency: now − PDT of the frame at the playhead. */
  latencySec: number | null;
  targetLatencySec: number | null;
  /**
   * Live: now − PDT of the live edge. HLS: how long after its PDT end the newest part is listed
   * (from the playlists' arrival); the distance behind the playlist's end, which is what
   * PART-HOLD-BACK is measured from, is latencySec − edgeDelaySec. DASH: the local clock less the
   * MPD's (UTCTiming), about 0 on a synchronised machine; DASH measures latency from the wall clock.
   */
  edgeDelaySec: number | null;
  /**
   * Live: seconds behind the live edge at the playhead (on low-latency live, what the playback rate
   * steers; in the DVR window and while paused it grows, unsteered).
   */
  behindEdgeSec: number | null;
  /** What the latency control did about the hold-back (joined, caught up, slowed down below it). */
  latencyNotes: string[];
  playbackRate: number;
  startupMs: number | null;
  stalls: number;
  stallMs: number;
  switches: number;
  droppedFrames: number;
  totalFrames: number;
  currentTime: number;
  /** The audio track being buffered now (its rendition id), and how many times the viewer switched. */
  audioTrack: string | null;
  audioSwitches: number;
  /**
   * VOD fast switching: buffered lower-level chunks fetched again at a higher level and appended
   * over the old ones (the last 20), and how many in all.
   */
  replacements: { startSec: number; endSec: number; from: number; to: number }[];
  fastSwitches: number;
  /** The level of the buffered chunk at the playhead, by the player's own bookkeeping (-1: unknown; VOD). */
  playingLevel: number;
  /** The highest bitrate the edge suggests (CMSD-Dynamic mb, kbit/s) as of the latest media response; null: none. */
  serverCapKbps: number | null;
  /** Content steering: the Pathway requests go to, its priority, and what happened (null: no steering). */
  steering: { pathway: string; priority: string[]; notes: string[] } | null;
  /** VOD seeks that left the buffered media (the fetches moved to the new position). */
  seeks: number;
  /** Live: playing back in the DVR window by the viewer's choice (a seek there): no catch-up to the edge. */
  dvr: boolean;
  /** Live: jumps to the live edge after falling further behind it than the catch-up closes. */
  resyncs: number;
  /** Media requests tried again after a failure (request-retry.ts), and the last 20 of them. */
  retries: number;
  retryNotes: string[];
  /** Live: the ad breaks the manifests signal (SCTE 35), on the media timeline (ad-cues.ts). */
  adBreaks: AdBreakStat[];
  /** Encrypted streams (Common Encryption through EME's Clear Key, clear-key.ts); null: clear. */
  protection: ProtectionStats | null;
  /**
   * Playlist and MPD requests tried again (no answer in time, 5xx, a closed connection), and the
   * last 20 of them: told by the source's loader (notePlaylistRetry).
   */
  playlistRetries: number;
  playlistRetryNotes: string[];
  /** Video levels left out of the ABR's choices for now, having failed a chunk (indexes into levels). */
  disabledLevels: number[];
  /**
   * What each SourceBuffer holds ([start, end] per range). The element's own `buffered` is where
   * both hold media; a gap in one track alone shows here.
   */
  trackRanges: { video: [number, number][]; audio: [number, number][] };
  /**
   * The thumbnail track found for seek-bar previews (where, how many sheets, its grid, the times
   * its sheets span on the media element's timeline); null: none (or not read yet). Live: the
   * current window's.
   */
  thumbnails: ThumbnailSummary | null;
  /**
   * Live: the PDT (epoch ms) of the frame at the playhead, by the player's mapping of the chunks
   * appended (what latencySec is measured from); null: unknown, and on VOD.
   */
  playheadPdtMs: number | null;
  errors: string[];
}

/**
 * VOD audio switch: the new language starts this far ahead of the playhead (the old language's
 * buffer beyond it is removed), so the switch is heard at once without emptying the buffer
 * under the playhead.
 */
const AUDIO_SWITCH_LEAD_SEC = 1;

export interface PlayerOptions {
  throttle?: Throttle;
  onRequest?: (e: RequestLogEntry) => void;
  /** Seconds of media to keep ahead on VOD. */
  vodBufferAhead?: number;
  /** CMCD (CTA-5004) on every media request; give the same source to the HLS/DASH loader for playlists. */
  cmcd?: CmcdSource;
  /**
   * Every response's CMSD-Dynamic (CTA-5006); give the same one to the HLS/DASH loader, so the
   * start-up choice already knows the edge's cap from the playlists. Each ABR decision keeps to
   * the latest response's `mb`.
   */
  serverAdvice?: ServerAdvice;
  /** Content steering (pathway-steering.ts): give the same one to the HLS loader, which starts it. */
  steering?: PathwaySteering;
}

/** How long after the player's own jump a `seeking` event at its position is taken for that jump (ms). */
const OWN_SEEK_EVENT_MS = 1000;
/** LL join: media buffered ahead of the join point before playback starts (seconds). */
const JOIN_MIN_BUFFER_SEC = 1;
/** How far (seconds of media) the audio loop may run ahead of the buffered video. */
const AUDIO_LEAD_SEC = 2;
/**
 * How long a video level that could not deliver a chunk is left out of the ABR's choices
 * (Shaka Player's streaming.maxDisabledTime is the same 30 s). A rendition whose segments are
 * missing is not asked for each next chunk only to fall back again.
 */
const LEVEL_DISABLED_MS = 30_000;
/** How long a seek out of the buffer holds off the gap skip while its media is fetched. */
const SEEK_PENDING_MAX_MS = 10_000;

export class MsePlayer {
  private abort = new AbortController();
  private abr!: AbrController;
  private stats: PlayerStats;
  private manual: number | null = null;
  private videoQueue?: AppendQueue;
  private audioQueue?: AppendQueue;
  private pdtMap: { mediaStart: number; pdt: number }[] = [];
  private loadStart = performance.now();
  private stallStart: number | null = null;
  private timer?: ReturnType<typeof setInterval>;
  private timescales = new Map<string, number>();
  /**
   * HLS discontinuities: the timestampOffset of each discontinuity sequence, and the media time of
   * the playlist's timeline's 0 (VOD: its 0 s; live: the epoch, the timeline being PDT; see
   * discontinuityOffset).
   */
  private readonly discontinuityOffsets = new Map<number, number>();
  private timelineZero?: number;
  /**
   * Live: the video loop moved its fetches to the live edge (farBehindEdge) and the playhead has
   * not jumped there yet; no second resync meanwhile (the latency still reads high).
   */
  private resynced = false;
  /**
   * Where the player itself moved the playhead lately (jumpTo), and when: their `seeking` events
   * are not the viewer's. Kept for OWN_SEEK_EVENT_MS, not consumed by the first event: two jumps
   * in one tick (the join, then a gap skip) fire two `seeking` events that both read the second
   * position, and the second event was taken for a viewer seek.
   */
  private ownSeeks: { to: number; at: number }[] = [];
  /**
   * VOD: the start (and after a seek out of the buffer), from the first chunk until one begins with
   * a chunk's worth buffered. Its chunks are appended as their fragments arrive: playback starts on
   * the first fragment, and the next chunk, fetched with a second or so buffered, feeds the buffer
   * fragment by fragment instead of all at its end. (Appended whole, that chunk was given up in 5
   * of 6 sessions on a steady 5 Mbit/s link, for a 240p one and seconds of 540p after it, to avoid
   * a stall of a few hundred ms.)
   */
  private thinStart = true;
  /** When the latest seek out of the buffer was made (performance.now()), until the element has seeked. */
  private seekPendingSince: number | null = null;
  private readonly adCues: AdCues;
  /** Closed captions read from the video as it is appended (inband-captions.ts). */
  readonly captions: InbandCaptions;
  /** The position of the latest seek onSeeking handled (null: none yet). */
  private seekSeen: number | null = null;
  /** Live: the viewer seeked back into the DVR window (onLiveSeeking). */
  private dvr = false;
  /** Live: the seekable range last given to the MediaSource (setSeekableWindow). */
  private seekableSet: { start: number; end: number } | null = null;
  /** Live: where the video loop resynced to (its rendition and cursor), for the audio loop to follow. */
  private audioResync: { from: string; cursor: Cursor } | null = null;
  private mediaSource?: MediaSource;
  /** The audio track buffered now, the one the viewer asked for, and whether its loop runs. */
  private audioTrack?: AudioTrack;
  private wantedAudio?: AudioTrack;
  private audioRunning = false;
  private videoEnded = false;
  private firstBufferedAt: number | null = null;
  /** The video loop has ended (VOD end): audio no longer waits for it. */
  private videoDone = false;
  private belowHoldBack = false;
  private joined = false;
  /** VOD: the video chunks in the buffer, in media order, and the level each was fetched at. */
  private videoChunks: { msn: number; startSec: number; endSec: number; level: number }[] = [];
  /** VOD fast switching: chunks already tried at a level (`msn:level`), never tried twice. */
  private replaceTried = new Set<string>();
  /** Video levels that failed a chunk lately, and until when (epoch ms) they are not chosen. */
  private disabledUntil = new Map<number, number>();
  /** VOD fast switching: a replacement was given up; none until a forward chunk has arrived. */
  private replaceHeld = false;
  /**
   * VOD seeking: the media time of the latest seek, and how many there were; each fetch loop
   * moves (cursorAtSeek) when the count moves.
   */
  private seekTarget = 0;
  private seeks = 0;
  /** Aborted by each seek out of the buffer: ends the fetches (and their retry waits) under way. */
  private seekAbort = new AbortController();
  /** Keys for encrypted renditions (EME, Clear Key): asked for from the manifests' KIDs and the init segments'. */
  private readonly protection: ClearKeyProtection;

  constructor(
    private readonly video: HTMLVideoElement,
    private readonly source: SourceModel,
    private readonly opts: PlayerOptions = {},
  ) {
    this.adCues = new AdCues(video);
    this.captions = new InbandCaptions(video);
    this.protection = new ClearKeyProtection(video, {
      request: { log: opts.onRequest, throttle: opts.throttle, steering: opts.steering },
      signal: this.abort.signal,
      renditions: () => [...source.video, ...source.audioTracks],
      onError: (message) => this.fail(new Error(message)),
      onRetry: (n) => this.onRetry(n),
    });
    this.stats = {
      protocol: source.protocol,
      live: false,
      lowLatency: false,
      levels: [],
      currentLevel: 0,
      manualLevel: null,
      bufferSec: 0,
      estimateBps: 0,
      latencySec: null,
      targetLatencySec: null,
      edgeDelaySec: null,
      behindEdgeSec: null,
      latencyNotes: [],
      playbackRate: 1,
      startupMs: null,
      stalls: 0,
      stallMs: 0,
      switches: 0,
      droppedFrames: 0,
      totalFrames: 0,
      currentTime: 0,
      audioTrack: null,
      audioSwitches: 0,
      replacements: [],
      fastSwitches: 0,
      playingLevel: -1,
      serverCapKbps: null,
      steering: null,
      seeks: 0,
      dvr: false,
      resyncs: 0,
      retries: 0,
      retryNotes: [],
      adBreaks: [],
      protection: null,
      playlistRetries: 0,
      playlistRetryNotes: [],
      disabledLevels: [],
      trackRanges: { video: [], audio: [] },
      thumbnails: null,
      playheadPdtMs: null,
      errors: [],
    };
  }

  /** What CMCD says about this player now (the session keys come from the caller's source). */
  cmcdKeys(): CmcdData {
    const v = this.video;
    const started = this.stats.startupMs !== null;
    const starved = this.stats.stalls > this.cmcdStallsSeen;
    this.cmcdStallsSeen = this.stats.stalls;
    const top = Math.max(0, ...this.source.video.map((r) => r.bitrate));
    const abr = this.abr as AbrController | undefined; // set in start()
    return {
      sf: this.source.protocol === 'dash' ? 'd' : 'h',
      st: this.source.live ? 'l' : 'v',
      bl: this.bufferAhead() * 1000,
      bs: starved,
      su: !started || this.stallStart !== null,
      pr: v.playbackRate,
      mtp: abr && abr.sampleCount > 0 ? abr.estimateBps / 1000 : undefined,
      tb: top > 0 ? top / 1000 : undefined,
    };
  }

  private cmcdStallsSeen = 0;

  getStats(): PlayerStats {
    const q = this.video.getVideoPlaybackQuality?.();
    this.stats.droppedFrames = q?.droppedVideoFrames ?? 0;
    this.stats.totalFrames = q?.totalVideoFrames ?? 0;
    this.stats.bufferSec = this.bufferAhead();
    this.stats.currentTime = this.video.currentTime;
    this.stats.playbackRate = this.video.playbackRate;
    this.stats.estimateBps = this.abr?.estimateBps ?? 0;
    const t = this.video.currentTime;
    this.stats.playingLevel = this.videoChunks.find((c) => c.startSec <= t + 0.001 && t < c.endSec)?.level ?? -1;
    const steering = this.opts.steering;
    this.stats.steering = steering?.active
      ? { pathway: steering.pathway, priority: [...steering.pathwayPriority], notes: [...steering.notes] }
      : null;
    const thumbnails = this.source.thumbnails?.() ?? null;
    return {
      ...this.stats,
      levels: [...this.stats.levels],
      replacements: this.stats.replacements.map((r) => ({ ...r })),
      retryNotes: [...this.stats.retryNotes],
      adBreaks: this.stats.adBreaks.map((b) => ({ ...b })),
      protection: this.protection.stats(),
      playlistRetryNotes: [...this.stats.playlistRetryNotes],
      disabledLevels: this.stats.levels.map((_, i) => i).filter((i) => this.isDisabled(i)),
      trackRanges: { video: this.videoQueue?.ranges() ?? [], audio: this.audioQueue?.ranges() ?? [] },
      thumbnails: thumbnails ? thumbnailSummary(thumbnails, this.timelineZero ?? 0) : null,
      playheadPdtMs: this.source.live ? this.pdtAt(t) : null,
      errors: [...this.stats.errors],
      latencyNotes: [...this.stats.latencyNotes],
    };
  }

  /**
   * Switches the audio language (a rendition id from `source.audioTracks`): live continues with
   * the new track from the next chunk; VOD replaces the buffered audio from just ahead of the
   * playhead (AUDIO_SWITCH_LEAD_SEC) on, so the new language is heard within about a second.
   */
  setAudioTrack(id: string): void {
    const track = this.source.audioTracks.find((t) => t.id === id);
    if (!track || !this.audioQueue || track.id === (this.wantedAudio ?? this.audioTrack)?.id) return;
    this.wantedAudio = track;
    // VOD whose audio is all buffered: the loop has ended; run it again for the new language.
    if (!this.audioRunning && this.audioTrack) this.startAudio(this.audioTrack, { msn: 0, part: 0 });
  }

  /**
   * The seek-bar preview for `timeSec` on the media element's timeline (VOD, and live within the
   * window the manifests list): the thumbnail sheet and the cell of it showing that time; null
   * without a thumbnail track (or before it is read), and outside it. The track's times are its
   * manifest's timeline: DASH the Period timeline, the element's own; HLS the playlist's, which the
   * element's is moved from by timelineZero (VOD with discontinuities; live, where that timeline
   * is the PDT and timelineZero the element's time of the epoch, known from the first chunk
   * placed: the placement live HLS video gets, see discontinuityOffset).
   */
  thumbnailAt(timeSec: number): ThumbnailCell | null {
    const track = this.source.thumbnails?.() ?? null;
    return track ? thumbnailCell(track, timeSec - (this.timelineZero ?? 0)) : null;
  }

  /** Pins a rendition (index into levels) or returns to automatic choice with null. */
  setManualLevel(level: number | null): void {
    this.manual = level;
    this.stats.manualLevel = level;
  }

  /** The latest response's CMSD-Dynamic cap, for the next ABR decision. */
  private takeServerAdvice(): void {
    const advice = this.opts.serverAdvice;
    if (!advice) return;
    this.abr.onServerAdvice(advice.current());
    this.stats.serverCapKbps = this.abr.serverCap !== undefined ? this.abr.serverCap / 1000 : null;
  }

  async start(): Promise<void> {
    const signal = this.abort.signal;
    await this.source.open(signal);
    const s = this.source;
    this.captions.announce(s.captionServices);
    this.stats.live = s.live;
    this.stats.lowLatency = s.lowLatency;
    this.stats.targetLatencySec = s.targetLatency ?? null;
    this.stats.levels = s.video.map((v) => ({ id: v.id, bitrate: v.bitrate, height: v.height }));
    this.abr = new AbrController(
      s.video.map((v, index) => ({ index, bitrate: v.bitrate, width: v.width, height: v.height })),
      {
        // The hold-back is a floor: aim just above it, with a no-correction band that ends above
        // it, so the catch-up never settles below the hold-back. (Classic live: the default band.)
        ...(s.targetLatency !== undefined && s.lowLatency
          ? holdBackSteering(s.targetLatency)
          : s.targetLatency !== undefined
            ? { targetLatencySec: s.targetLatency + DEFAULT_ABR_CONFIG.latencyToleranceSec }
            : {}),
        ...startupEstimate(),
        // BOLA must be able to reach the top rung below the buffer we are willing to hold.
        bolaTargetBufferSec: Math.max(6, (this.opts.vodBufferAhead ?? 30) - 2),
        bolaMinBufferSec: Math.min(4, Math.max(2, ((this.opts.vodBufferAhead ?? 30) - 2) / 3)),
      },
      s.lowLatency ? 'low-latency' : s.live ? 'live' : 'vod',
    );
    this.takeServerAdvice();
    const startLevel = this.abr.nextLevel({ bufferSec: 0, currentLevel: -1 });
    this.stats.currentLevel = startLevel;
    // Where to start, before the SourceBuffers: a live channel that has only just started may
    // list its audio only once it lists a segment (the source waits for one), and an audio track
    // that appeared after the SourceBuffers were made had none to go to.
    // Encrypted: Clear Key's MediaKeys on the element, and the keys of every KID the manifests
    // name asked for (one session), while the start is looked up
    const keys = this.askForKeys();
    keys.catch(() => {}); // (awaited below)
    const vStart = await s.startCursor(s.video[startLevel].id, signal);
    await keys;
    const audio = s.audio;
    const ms = new MediaSource();
    this.mediaSource = ms;
    this.video.src = URL.createObjectURL(ms);
    await new Promise<void>((resolve) => ms.addEventListener('sourceopen', () => resolve(), { once: true }));
    const v0 = s.video[0];
    const vsb = ms.addSourceBuffer(`video/mp4; codecs="${v0.codecs}"`);
    this.videoQueue = new AppendQueue(vsb, this.video);
    if (audio) this.audioQueue = new AppendQueue(ms.addSourceBuffer(`audio/mp4; codecs="${audio.codecs}"`), this.video);
    if (!s.live) ms.duration = Infinity;
    this.watchPlayback();
    if (!s.live) {
      // the real length, so the seek bar spans the whole presentation (not only what is buffered)
      const duration = s.vodDurationSec?.(s.video[startLevel].id);
      ms.duration = duration !== undefined && duration > 0 ? duration : Infinity;
    }
    this.startVideo(vStart);
    // audio from where video starts, matched by time (a packager may number audio apart)
    if (audio) this.startAudio(audio, await s.alignedCursor(audio.id, s.video[startLevel].id, vStart, signal));
  }

  /** The keys of every rendition's KIDs (and HLS session keys), asked for before any media arrives. */
  private async askForKeys(): Promise<void> {
    const s = this.source;
    const named = [
      ...(s.sessionKeys ?? []),
      ...[...s.video, ...s.audioTracks].flatMap((r) => (r.protection ? [r.protection] : [])),
    ];
    if (named.length) await this.protection.need(named);
  }

  /**
   * Before an init segment goes into its SourceBuffer: MediaKeys on the element when it (or the
   * manifest) says it is encrypted, and its KIDs asked for when not yet (its tenc's, whose key
   * comes from where its rendition's does).
   */
  private async keysFor(p: TrackProtection | undefined, init?: Uint8Array): Promise<void> {
    const inInit = init ? readInitProtection(init) : undefined;
    if (!p && !inInit?.kids.length) return;
    await this.protection.need(p ? [p] : [], inInit?.kids ?? [], p?.source);
  }

  private startVideo(from: Cursor): void {
    this.videoDone = false;
    this.videoEnded = false;
    this.runVideo(from)
      .finally(() => {
        this.videoDone = true;
      })
      .then(() => {
        this.videoEnded = true;
        this.endIfDone();
      })
      .catch((e) => this.fail(e));
  }

  /**
   * VOD: every seek moves the fetches to where the media buffered from the new position ends (the
   * new position itself when nothing is buffered there), so a seek back into the buffer goes on
   * filling from the end of that range instead of from wherever the loops had got to. A seek out
   * of the buffer also ends the downloads under way (and their retry waits), a loop that had
   * reached the end runs again, and the ABR chooses afresh with an empty buffer.
   */
  private onSeeking(): void {
    const s = this.source;
    this.seekSeen = this.video.currentTime;
    // the player's own jumps (the join point, a gap skipped) are not the viewer's seeks
    const now = performance.now();
    this.ownSeeks = this.ownSeeks.filter((j) => now - j.at < OWN_SEEK_EVENT_MS);
    if (this.ownSeeks.some((j) => Math.abs(this.video.currentTime - j.to) < 0.01)) return;
    // before playback starts the only seek is the player's own start position (set while the
    // element has no metadata yet, it takes effect later, when nothing may be buffered for video)
    if (!this.abr || this.stats.startupMs === null) return;
    if (s.live) return this.onLiveSeeking();
    if (!s.cursorForTime) return;
    const t = this.video.currentTime;
    this.seekTarget = t;
    this.seeks += 1;
    if (this.bufferAhead() < Math.min(1, Math.max(0, this.video.duration - t - 0.1))) {
      this.stats.seeks += 1;
      this.seekOutOfBuffer();
    }
    // a loop that had fetched to the end runs again when there is a hole after the new position
    // (left by an earlier seek past the buffer)
    const unfetched = (q: AppendQueue | undefined) => (q?.rangeEndAt(t) ?? t) < this.video.duration - 0.1;
    if (this.videoDone && unfetched(this.videoQueue))
      this.startVideo(this.cursorAtSeek(s.video[this.stats.currentLevel].id, this.videoQueue));
    if (!this.audioRunning && this.audioTrack && unfetched(this.audioQueue))
      this.startAudio(this.audioTrack, this.cursorAtSeek(this.audioTrack.id, this.audioQueue));
  }

  /**
   * Live: a seek further behind the edge than the catch-up gives up at (the resync limit) is a
   * DVR seek: the latency is no longer steered, the player does not jump back to the edge, and
   * the fetches keep a VOD-sized buffer ahead. A seek back near the edge ends it. A seek out of
   * the buffer moves the fetches there (the segment whose PDT span holds it), as on VOD; the
   * element only seeks within what `setLiveSeekableRange` (the window, kept by `tick`) allows.
   */
  private onLiveSeeking(): void {
    const t = this.video.currentTime;
    const edge = this.mediaTimeAtEdge();
    const behind = secondsBehindLive(edge === null ? null : edge - t, this.latencyAt(t, Date.now(), true));
    const dvr = isDvrSeek(behind, this.resyncLimitSec());
    // the viewer chose where to play: a resync under way is over, and the audio loop is not to follow it
    this.resynced = false;
    this.audioResync = null;
    if (dvr !== this.dvr) {
      this.dvr = dvr;
      this.stats.dvr = dvr;
      this.note(
        dvr ? `seeked ${behind!.toFixed(1)} s behind the live edge: DVR, no catch-up` : 'back at the live edge',
      );
      if (dvr) this.video.playbackRate = 1;
    }
    if (!this.source.cursorForPdt || this.bufferAhead() >= 1) return;
    this.note(`seeked out of the buffer: the fetches move to ${t.toFixed(2)} s`);
    this.seekTarget = t;
    this.seeks += 1;
    this.stats.seeks += 1;
    this.seekOutOfBuffer();
  }

  /**
   * A seek out of the buffer: the downloads under way (and their retry waits) end, and no gap is
   * skipped until the element has the media there (`seeked`): the position lies before or between
   * buffered ranges on purpose. Bounded: a seek that media never reaches (a window that moved on)
   * leaves it to the gap skip after SEEK_PENDING_MAX_MS. What is buffered ahead of the seek
   * position, past the range holding it, is dropped (as Shaka does): otherwise that older media
   * (the live edge, on a seek back into the DVR window) is a later range the gap skip jumps to
   * whenever the playhead reaches the end of what has come so far (seen in CI: a seek that had the
   * first 11 ms of audio and video jumped 12 s on to the old edge).
   */
  private seekOutOfBuffer(): void {
    this.seekPendingSince = performance.now();
    const t = this.seekTarget;
    // (a failure there is the queue's, reported by the append it met)
    for (const q of [this.videoQueue, this.audioQueue]) void q?.removeAhead(t).catch(() => {});
    // (VOD: playback goes on from an empty buffer, as at the start: its chunks are streamed again)
    this.thinStart = true;
    this.captions.seeked();
    const ended = this.seekAbort;
    this.seekAbort = new AbortController();
    ended.abort();
  }

  /**
   * Where a fetch loop goes on after the latest seek: the segment holding the end of what `queue`
   * has buffered from the seek position on (a little past it, so a range ending on a segment
   * boundary gives the next segment), or the segment holding the seek position. Live: found by
   * PDT.
   */
  private cursorAtSeek(renditionId: string, queue: AppendQueue | undefined): Cursor {
    const end = queue?.rangeEndAt(this.seekTarget);
    const at = end === undefined ? this.seekTarget : Math.min(end + 0.05, this.video.duration);
    if (!this.source.live) return this.source.cursorForTime!(renditionId, at);
    const pdt = this.pdtAt(at, true);
    const c = pdt === null ? null : this.source.cursorForPdt!(renditionId, pdt);
    // nothing listed or mapped yet: from the first listed segment on (chunkAt moves into the window)
    return c ?? { msn: 0, part: 0 };
  }

  /** Live: how far behind the edge the player resyncs rather than catching up (and a seek counts as DVR). */
  private resyncLimitSec(): number {
    const target = this.source.targetLatency ?? 3;
    return this.source.lowLatency ? target + 3 : target + 10;
  }

  private fail(e: unknown): void {
    if (!this.abort.signal.aborted) this.stats.errors.push(String((e as Error).message ?? e));
  }

  /** VOD: end of stream once video and audio loops are both done (again after an audio switch). */
  private endIfDone(): void {
    const ms = this.mediaSource;
    if (!this.source.live && this.videoEnded && !this.audioRunning && ms?.readyState === 'open') ms.endOfStream();
  }

  private startAudio(track: AudioTrack, start: Cursor): void {
    this.audioRunning = true;
    this.runAudio(track, start)
      .then(() => {
        this.audioRunning = false;
        this.endIfDone();
      })
      .catch((e) => {
        this.audioRunning = false;
        this.fail(e);
      });
  }

  stop(): void {
    this.abort.abort();
    this.protection.close();
    this.captions.close();
    this.source.close();
    if (this.timer) clearInterval(this.timer);
  }

  private bufferAhead(): number {
    const b = this.video.buffered;
    const t = this.video.currentTime;
    for (let i = 0; i < b.length; i++) if (t >= b.start(i) - 0.1 && t <= b.end(i)) return b.end(i) - t;
    return 0;
  }

  private watchPlayback(): void {
    const v = this.video;
    v.addEventListener('seeking', () => this.onSeeking());
    // A `seeked` of an earlier seek can come after a later seek began (each is a queued task: the
    // player's own jump to the join point, then the viewer's seek back into the DVR window); the
    // later one is still under way then (`seeking`), and its gap-skip hold stays.
    v.addEventListener('seeked', () => {
      if (!v.seeking) this.seekPendingSince = null;
    });
    v.addEventListener('waiting', () => {
      if (this.stats.startupMs !== null && this.stallStart === null && !v.seeking) {
        this.stats.stalls += 1;
        this.stallStart = performance.now();
      }
    });
    v.addEventListener('playing', () => {
      if (this.stats.startupMs === null) this.stats.startupMs = performance.now() - this.loadStart;
      if (this.stallStart !== null) {
        this.stats.stallMs += performance.now() - this.stallStart;
        this.stallStart = null;
      }
    });
    this.timer = setInterval(() => this.tick(), 250);
  }

  /** Starts playback once both tracks hold media (live: at the join point, see below). */
  private startWhenBuffered(): void {
    const v = this.video;
    if (!v.buffered.length || this.stats.startupMs !== null || !v.paused) return;
    const start = v.buffered.start(0);
    // Live joins on a key frame at a segment start; play from the target latency behind the newest media.
    const end = v.buffered.end(0);
    const ll = this.source.lowLatency;
    // LL: the latency control's target (just above PART-HOLD-BACK); classic live: the hold-back.
    const target = ll
      ? this.abr.config.targetLatencySec
      : this.source.live
        ? (this.source.targetLatency ?? 3)
        : Infinity;
    this.firstBufferedAt ??= performance.now();
    // LL joins the target behind the live edge (HLS: the playlist's end, advanced by the wall
    // clock; DASH: now on the MPD's clock), not behind the newest buffered chunk, which may end
    // behind the edge. The source starts fetching the target (or more, back to a key frame)
    // behind the edge, and the media up to the edge is already there: wait until enough of it is
    // buffered that the join point has JOIN_MIN_BUFFER_SEC ahead of it. Starting on the first part
    // instead put playback a second or more further back. Bounded, so a slow link still starts.
    const edgeAt = ll ? this.mediaTimeAtEdge() : null;
    const wantAt = (edgeAt ?? end) - target;
    const waitForEdge =
      ll && (edgeAt === null || wantAt > end - JOIN_MIN_BUFFER_SEC) && performance.now() - this.firstBufferedAt < 3000;
    if (!waitForEdge) {
      const at = Math.max(start + 0.05, Math.min(end - JOIN_MIN_BUFFER_SEC, wantAt));
      if (v.currentTime < at) this.jumpTo(at);
      if (ll && !this.joined)
        this.note(
          `joined ${((edgeAt ?? end) - Math.max(v.currentTime, at)).toFixed(2)} s behind the live edge, the newest buffered media ending ${edgeAt === null ? '?' : (edgeAt - end).toFixed(2)} s behind it (hold-back ${this.source.targetLatency}, target ${target})`,
        );
      this.joined = true;
      v.play().catch(() => {});
    }
  }

  /** Starts playback once media is buffered; on live, steers the latency with the playback rate. */
  private tick(): void {
    const v = this.video;
    this.startWhenBuffered();
    // live breaks, and a VOD asset's ad cues (dated by its PROGRAM-DATE-TIME; DASH: its MPD's clock)
    if (this.source.adMarkers && this.pdtMap.length)
      this.stats.adBreaks = this.adCues.sync(this.source.adMarkers(), (pdt) => this.mediaAtPdt(pdt));
    if (this.source.live && this.pdtMap.length) {
      const now = Date.now();
      const latency = this.latencyAt(v.currentTime, now);
      this.stats.latencySec = latency;
      const edgePdt = this.source.liveEdgePdtMs(now);
      this.stats.edgeDelaySec = edgePdt === null ? null : (now - edgePdt) / 1000;
      const playheadPdt = this.pdtAt(v.currentTime);
      const behindEdge = playheadPdt !== null && edgePdt !== null ? (edgePdt - playheadPdt) / 1000 : null;
      // shown in DVR and while paused too, where nothing steers it
      this.stats.behindEdgeSec = behindEdge;
      if (behindEdge !== null && this.source.lowLatency && !v.paused && !this.dvr) {
        // Steer the distance behind the playlist's end (what PART-HOLD-BACK is measured from),
        // not the wall-clock latency, which also holds the encoder's and packager's delay.
        const rate = this.abr.playbackRate({ latencySec: behindEdge, bufferSec: this.bufferAhead() });
        if (Math.abs(v.playbackRate - rate) > 0.001) v.playbackRate = rate;
        const hold = this.source.targetLatency;
        const below = hold !== undefined && behindEdge < hold;
        if (below !== this.belowHoldBack) {
          this.belowHoldBack = below;
          this.note(
            below
              ? `${behindEdge.toFixed(2)} s behind the edge, below the hold-back ${hold}: playback rate ${rate.toFixed(3)}`
              : `back at ${behindEdge.toFixed(2)} s behind the edge (hold-back ${hold})`,
          );
        }
      }
      this.setSeekableWindow();
    }
    this.skipGap();
  }

  /**
   * Live: the element may seek from the oldest media the window lists to the live edge (media
   * times from the PDT mapping of what was appended).
   */
  private setSeekableWindow(): void {
    const ms = this.mediaSource;
    const first = this.pdtMap[0];
    const startPdt = this.source.windowStartPdtMs?.(this.source.video[this.stats.currentLevel].id) ?? null;
    const end = this.mediaTimeAtEdge();
    if (!ms || ms.readyState !== 'open' || !first || startPdt === null || end === null) return;
    const start = Math.max(0, first.mediaStart + (startPdt - first.pdt) / 1000);
    const was = this.seekableSet;
    // every tick moves the edge a little: the element is told when either end moved by a part or so
    if (end <= start || (was && Math.abs(was.start - start) < 0.25 && Math.abs(was.end - end) < 0.25)) return;
    ms.setLiveSeekableRange(start, end);
    this.seekableSet = { start, end };
  }

  /**
   * Live: far behind the live edge (slow start, long stall), to be resynced rather than crawl back
   * at +5 %. Asked by the video loop when it picks its next chunk, not flagged ahead by the tick:
   * a flag set before the viewer's seek back into the DVR window was taken after it, and moved the
   * fetches to the edge while the playhead waited at the seek (then the gap skip jumped it there).
   */
  private farBehindEdge(): boolean {
    if (!this.source.live || this.dvr || this.resynced || this.stats.startupMs === null) return false;
    const latency = this.latencyAt(this.video.currentTime, Date.now());
    return latency !== null && latency > this.resyncLimitSec();
  }

  /** Moves the playhead for the player's own reasons (not a seek by the viewer: onSeeking tells them apart). */
  private jumpTo(t: number): void {
    this.resynced = false;
    this.video.currentTime = t;
    this.ownSeeks.push({ to: this.video.currentTime, at: performance.now() });
  }

  /** Whether the seek to `t` is known: the player's own jump, or one onSeeking has handled. */
  private seekHandled(t: number): boolean {
    const at = (x: number | null) => x !== null && Math.abs(x - t) < 0.01;
    return at(this.seekSeen) || this.ownSeeks.some((j) => at(j.to));
  }

  /** When playback cannot go on by itself (before buffered media, or stalled at a hole), jump (gap-skip.ts). */
  private skipGap(): void {
    const v = this.video;
    const b = v.buffered;
    if (this.seekPendingSince !== null && performance.now() - this.seekPendingSince < SEEK_PENDING_MAX_MS) return;
    // A seek whose `seeking` has not been handled yet (the event is a queued task; a tick can run
    // between the viewer's seek and it): its position is not a gap to skip, onSeeking decides.
    if (v.seeking && !this.seekHandled(v.currentTime)) return;
    if (!b.length) return;
    const ranges = Array.from({ length: b.length }, (_, i) => ({ start: b.start(i), end: b.end(i) }));
    // (a seek this far is handled: the player's own, or the viewer's once its media had time to come)
    const seeking = v.seeking && v.readyState < HTMLMediaElement.HAVE_CURRENT_DATA;
    const to = gapSkipTarget(ranges, v.currentTime, {
      stalled: this.stallStart !== null,
      seeking,
      // Live: land the target latency behind the newest buffered media, not at the oldest.
      liveTargetSec: this.source.live && !this.dvr ? (this.source.targetLatency ?? 3) : undefined,
    });
    if (to === null) return;
    if (this.source.live && (this.stats.startupMs !== null || seeking))
      this.note(
        `skipped a buffer gap${seeking ? ' (a seek with no media)' : ''}: ${v.currentTime.toFixed(2)} s → ${to.toFixed(2)} s`,
      );
    this.jumpTo(to);
  }

  /** Logs what the latency control did (console and stats), so a latency below the hold-back is always explained. */
  private note(text: string): void {
    const line = `${(this.video.currentTime ?? 0).toFixed(2)}s: ${text}`;
    console.info(`[streamedge player] ${line}`);
    this.stats.latencyNotes.push(line);
    if (this.stats.latencyNotes.length > 50) this.stats.latencyNotes.splice(0, this.stats.latencyNotes.length - 50);
  }

  /** PDT (epoch ms) of the frame at media time `t`, from the chunks appended so far. */
  /** PDT (epoch ms) at media time `t`; before the first mapping, null unless `backwards` (then from it). */
  private pdtAt(t: number, backwards = false): number | null {
    let best: { mediaStart: number; pdt: number } | undefined;
    for (const m of this.pdtMap) if (m.mediaStart <= t + 0.001) best = m;
    if (!best && backwards) best = this.pdtMap[0];
    return best ? best.pdt + (t - best.mediaStart) * 1000 : null;
  }

  /** Media time of PDT `pdtMs` (epoch ms), from the mapping at or before it (else the first); null before any. */
  private mediaAtPdt(pdtMs: number): number | null {
    let best = this.pdtMap[0];
    if (!best) return null;
    for (const m of this.pdtMap) if (m.pdt <= pdtMs + 1) best = m;
    return best.mediaStart + (pdtMs - best.pdt) / 1000;
  }

  private latencyAt(t: number, nowMs: number, backwards = false): number | null {
    const pdt = this.pdtAt(t, backwards);
    return pdt === null ? null : (nowMs - pdt) / 1000;
  }

  /** Media time of the live edge now (it may lie past what is buffered); null when unknown. */
  private mediaTimeAtEdge(): number | null {
    const edge = this.source.liveEdgePdtMs(Date.now());
    const m = this.pdtMap[this.pdtMap.length - 1];
    return edge === null || !m ? null : m.mediaStart + (edge - m.pdt) / 1000;
  }

  /**
   * VOD, and live in the DVR window: waits while `queue`'s own buffer reaches more than the
   * target ahead of the playhead.
   * Measured per SourceBuffer, not on the media element's buffered ranges (the intersection of
   * audio and video): while audio lagged, that read short and the video loop fetched far past
   * its target.
   */
  private async waitForRoom(queue: AppendQueue | undefined): Promise<void> {
    const ahead = this.opts.vodBufferAhead ?? 30;
    const signal = this.abort.signal;
    const room = () => {
      const t = this.video.currentTime;
      return queue ? (queue.rangeEndAt(t) ?? t) - t : this.bufferAhead();
    };
    while ((!this.source.live || this.dvr) && room() > ahead && !signal.aborted) {
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Audio follows video: no audio fetch while the audio buffered ahead reaches past the video by
   * more than AUDIO_LEAD_SEC. Racing ahead, the audio loop shared the link with the first video
   * downloads (a dozen small segments in the first second), which made the link look slower
   * than it is exactly when the start-up level is chosen.
   */
  private async waitForVideo(): Promise<void> {
    const signal = this.abort.signal;
    for (;;) {
      const a = this.audioQueue?.bufferedEnd();
      const v = this.videoQueue?.bufferedEnd();
      if (signal.aborted || this.videoDone || a === undefined || (v !== undefined && a < v + AUDIO_LEAD_SEC)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async runVideo(start: Cursor): Promise<void> {
    const s = this.source;
    const signal = this.abort.signal;
    let cursor = start;
    let level = this.stats.currentLevel;
    let seenSeeks = this.seeks;
    /** VOD: levels that could not deliver the chunk at `cursor`, and the one to try next. */
    const failedHere = new Set<number>();
    let forced: number | null = null;
    for (;;) {
      if (signal.aborted) return;
      // VOD fast switching before waiting for room: a full buffer of a lower level is exactly
      // when replacing it pays.
      if (seenSeeks === this.seeks && !s.live && this.manual === null && (await this.replaceAhead(level))) continue;
      await this.waitForRoom(this.videoQueue);
      if (seenSeeks !== this.seeks) {
        seenSeeks = this.seeks;
        cursor = this.cursorAtSeek(s.video[level].id, this.videoQueue);
        this.replaceHeld = false;
        failedHere.clear();
        forced = null;
      }
      if (this.farBehindEdge()) {
        const behind = this.latencyAt(this.video.currentTime, Date.now())!;
        const edge = await s.startCursor(s.video[level].id, signal);
        // (a seek while the edge was looked up wins: the loop takes it next)
        if (seenSeeks === this.seeks && !this.dvr && edge.msn > cursor.msn) {
          cursor = edge;
          this.audioResync = { from: s.video[level].id, cursor: edge };
          this.resynced = true;
          this.stats.resyncs += 1;
          this.note(`${behind.toFixed(1)} s behind the live edge: the fetches resync to it`);
        }
      }
      const atBoundary = cursor.part === 0;
      if (atBoundary) {
        this.takeServerAdvice();
        const wanted: number =
          forced ??
          this.manual ??
          this.enabledLevel(
            this.abr.nextLevel({
              bufferSec: this.bufferAhead(),
              currentLevel: level,
              latencySec: this.stats.latencySec ?? undefined,
            }),
          );
        forced = null;
        if (wanted !== level) {
          level = wanted;
          this.stats.switches += 1;
        }
      }
      const rendition = s.video[level];
      const chunk = await s.chunkAt(rendition.id, cursor, signal);
      // a seek while the playlist was waited on: this chunk is of the old position (see runAudio)
      if (seenSeeks !== this.seeks) continue;
      if (!chunk) return;
      let outcome: 'ok' | 'abandoned' | 'seek';
      try {
        this.stats.currentLevel = level;
        outcome = await this.download(chunk, rendition, this.videoQueue!, level);
      } catch (e) {
        // a chunk one rendition cannot deliver (not there, or still failing after its retries)
        // is asked of another before playback gives up, as hls.js does
        failedHere.add(level);
        const other: number | undefined =
          signal.aborted || !isRequestFailure(e) ? undefined : this.fallbackLevel(level, failedHere);
        if (other === undefined) throw e;
        this.disableLevel(level);
        this.replaceTried.add(`${chunk.msn}:${level}`); // nor is it asked again as a replacement
        this.onRetry({ url: chunk.url, why: describeFailure(e), failures: 0, waitMs: 0, instead: s.video[other].id });
        forced = other;
        // the other rendition from the start of the failed chunk's segment (its first part is the
        // independent one), appended over what this one gave; MSE replaces the frames it overlaps.
        // The chunk's segment, not the cursor's: chunkAt moves on from a cursor past a segment's
        // last part (asked for before the segment closed) to the next segment's first part, and
        // the cursor's segment is one already played (seen in a full run: seg-1.0 failed, the
        // other rendition was asked for seg-0.0).
        cursor = { msn: chunk.msn, part: 0 };
        continue;
      }
      if (outcome === 'seek') continue;
      if (outcome === 'abandoned') {
        // same cursor, a lower level is chosen at the boundary; nothing is replaced at the level
        // just given up (the loop's level is still that one) until a forward chunk has arrived
        this.replaceHeld = true;
        continue;
      }
      this.replaceHeld = false;
      failedHere.clear();
      cursor = chunk.next;
    }
  }

  /**
   * Another video level to ask for a chunk `level` could not deliver: the nearest below, else
   * above; none tried for it yet, and one not disabled if there is such.
   */
  private fallbackLevel(level: number, failed: ReadonlySet<number>): number | undefined {
    const untried = (i: number) => !failed.has(i) && i !== level;
    return this.nearestLevel(level, (i) => untried(i) && !this.isDisabled(i)) ?? this.nearestLevel(level, untried);
  }

  /** `level`, or when it is disabled the nearest enabled one (below, else above); `level` if none is. */
  private enabledLevel(level: number): number {
    return this.isDisabled(level) ? (this.nearestLevel(level, (i) => !this.isDisabled(i)) ?? level) : level;
  }

  private nearestLevel(level: number, ok: (i: number) => boolean): number | undefined {
    const here = this.source.video[level].bitrate;
    const others = this.source.video.map((v, i) => ({ i, b: v.bitrate })).filter((x) => x.i !== level && ok(x.i));
    const below = others.filter((x) => x.b <= here).sort((a, b) => b.b - a.b);
    const above = others.filter((x) => x.b > here).sort((a, b) => a.b - b.b);
    return (below[0] ?? above[0])?.i;
  }

  private disableLevel(level: number): void {
    this.disabledUntil.set(level, Date.now() + LEVEL_DISABLED_MS);
  }

  private isDisabled(level: number): boolean {
    return (this.disabledUntil.get(level) ?? 0) > Date.now();
  }

  /**
   * VOD fast switching: when src/abr's rule names a buffered chunk of a lower level than `level`
   * (far enough ahead, the link and the buffer able to spare the download), fetches that chunk
   * again at `level` and appends it over the old one: MSE replaces the coded frames it overlaps
   * (every chunk starts on a key frame; the rungs share timestamps), and the old chunk stays
   * until the new one is appended whole, so a replacement given up loses nothing. Audio is
   * untouched. Returns whether it tried one (the loop asks again before fetching forward).
   */
  private async replaceAhead(level: number): Promise<boolean> {
    if (this.replaceHeld || this.videoChunks.length === 0 || this.isDisabled(level)) return false;
    const v = this.video;
    const t = v.currentTime;
    this.videoChunks = this.videoChunks.filter((c) => c.endSec > t);
    const chunks = this.videoChunks.map((c) => ({
      startSec: c.startSec,
      endSec: c.endSec,
      // a chunk tried once at this level is not judged again (named at the level itself: never chosen)
      level: this.replaceTried.has(`${c.msn}:${level}`) ? level : c.level,
    }));
    const i = this.abr.replacementFor({ playheadSec: t, bufferSec: this.bufferAhead(), chunks, level });
    if (i < 0) return false;
    const old = this.videoChunks[i];
    this.replaceTried.add(`${old.msn}:${level}`);
    const rendition = this.source.video[level];
    const signal = this.abort.signal;
    const chunk = await this.source.chunkAt(rendition.id, { msn: old.msn, part: 0 }, signal);
    if (!chunk) return false;
    let outcome: 'ok' | 'abandoned' | 'seek';
    try {
      outcome = await this.download(chunk, rendition, this.videoQueue!, level, () =>
        this.abr.keepReplacing({
          playheadSec: v.currentTime,
          bufferSec: this.bufferAhead(),
          chunkStartSec: old.startSec,
        }),
      );
    } catch (e) {
      // a replacement this level cannot deliver (not there, or still failing after its retries)
      // costs nothing: the chunk already buffered stays, and this level is not asked for it again
      if (signal.aborted || !isRequestFailure(e)) throw e;
      this.disableLevel(level);
      this.onRetry({
        url: chunk.url,
        why: describeFailure(e),
        failures: 0,
        waitMs: 0,
        keeping: this.source.video[old.level].id,
      });
      return true;
    }
    if (outcome === 'seek') return true;
    if (outcome === 'abandoned') {
      this.replaceHeld = true;
      return true;
    }
    this.stats.fastSwitches += 1;
    this.stats.replacements.push({ startSec: old.startSec, endSec: old.endSec, from: old.level, to: level });
    if (this.stats.replacements.length > 20) this.stats.replacements.shift();
    return true;
  }

  /** VOD: notes a video chunk now in the buffer (a replacement takes the old one's place). */
  private noteVideoChunk(msn: number, level: number, start: number | undefined, durationSec: number): void {
    if (start === undefined) return;
    const entry = { msn, startSec: start, endSec: start + durationSec, level };
    const at = this.videoChunks.findIndex((c) => c.msn === msn);
    if (at >= 0) this.videoChunks[at] = entry;
    else {
      this.videoChunks.push(entry);
      this.videoChunks.sort((a, b) => a.startSec - b.startSec);
    }
  }

  private async runAudio(first: AudioTrack, start: Cursor): Promise<void> {
    const signal = this.abort.signal;
    let audio = first;
    this.audioTrack = audio;
    this.stats.audioTrack = audio.id;
    // (the init segment goes with the first chunk, when the SourceBuffer does not hold it already)
    let cursor = start;
    let windowSet = false;
    let seenSeeks = this.seeks;
    for (;;) {
      if (signal.aborted) return;
      const wanted = this.wantedAudio;
      if (wanted && wanted.id !== audio.id) {
        cursor = await this.switchAudio(wanted, cursor);
        windowSet = !this.source.live;
        audio = wanted;
      }
      await this.waitForRoom(this.audioQueue);
      await this.waitForVideo();
      if (seenSeeks !== this.seeks) {
        seenSeeks = this.seeks;
        cursor = this.cursorAtSeek(audio.id, this.audioQueue);
      }
      const resync = this.audioResync;
      this.audioResync = null;
      if (resync) {
        const to = await this.source.alignedCursor(audio.id, resync.from, resync.cursor, signal);
        if (to.msn > cursor.msn) cursor = to;
      }
      const chunk = await this.source.chunkAt(audio.id, cursor, signal);
      // A seek while the playlist was waited on (a blocking reload at the edge): this chunk is of
      // the old position, and its media, appended after the seek dropped what lay ahead, would
      // sit far past the seek target (seen: the audio loop then waited for video to reach it,
      // the video loop for the playhead to move, the playhead for audio).
      if (seenSeeks !== this.seeks) continue;
      if (!chunk) {
        if (windowSet) await this.audioQueue!.dropBefore(0); // switched past the last segment
        return;
      }
      if ((await this.download(chunk, audio, this.audioQueue!, -1)) === 'seek') continue;
      if (windowSet) {
        windowSet = false;
        await this.audioQueue!.dropBefore(0);
      }
      cursor = chunk.next;
    }
  }

  /** New audio SourceBuffer content from the switch point: init of the new track, then its media. */
  private async switchAudio(next: AudioTrack, cursor: Cursor): Promise<Cursor> {
    const queue = this.audioQueue!;
    let from = cursor;
    if (!this.source.live && this.source.cursorForTime) {
      const at = this.video.currentTime + AUDIO_SWITCH_LEAD_SEC;
      from = this.source.cursorForTime(next.id, at);
      await queue.removeFrom(at);
      await queue.dropBefore(at);
    }
    // (its init segment goes with its first chunk)
    this.audioTrack = next;
    this.stats.audioTrack = next.id;
    this.stats.audioSwitches += 1;
    return from;
  }

  /**
   * The init segment `chunk` needs (its own, a later DASH Period's; else its rendition's), fetched
   * and appended when the SourceBuffer last had another, and the chunk's timestampOffset set.
   */
  private async prepareAppend(queue: AppendQueue, chunk: ChunkRef, r: PlayerRendition): Promise<void> {
    const url = chunk.init?.url ?? r.initUrl;
    const range = chunk.init ? chunk.init.byteRange : r.initByteRange;
    const key = initKey(url, range);
    if (queue.initKey !== key) {
      const signal = this.abort.signal;
      const res = await withRetries(
        url,
        () =>
          fetchBytes(url, {
            signal,
            throttle: this.opts.throttle,
            log: this.opts.onRequest,
            cmcd: this.opts.cmcd,
            cmcdObject: { ot: 'i' },
            steering: this.opts.steering,
            range,
            timeout: MEDIA_TIMEOUT,
          }),
        { signal, onRetry: this.onRetry },
      );
      const ts = initTimescale(res.bytes);
      if (ts) this.timescales.set(key, ts);
      await this.keysFor(chunk.protection ?? r.protection, res.bytes);
      await queue.append(res.bytes);
      queue.initKey = key;
      if (r.kind === 'video') this.captions.init(key, res.bytes);
    } else if (chunk.protection) await this.keysFor(chunk.protection); // (a key rotated in: asked for once)
    await queue.offset(chunk.timestampOffset ?? 0);
    if (chunk.appendWindow) await queue.window(chunk.appendWindow.start, chunk.appendWindow.end);
  }

  /** The media timescale of the init segment `chunk` is appended after. */
  private timescaleOf(chunk: ChunkRef, r: PlayerRendition): number {
    return (
      this.timescales.get(
        chunk.init ? initKey(chunk.init.url, chunk.init.byteRange) : initKey(r.initUrl, r.initByteRange),
      ) ?? 90000
    );
  }

  /** Where the first sample of `bytes`, a chunk's media, lies on the media element's timeline (`queue`'s offset added). */
  private chunkStart(bytes: Uint8Array, chunk: ChunkRef, r: PlayerRendition, queue: AppendQueue): number | undefined {
    const t = firstDecodeTime(bytes, this.timescaleOf(chunk, r));
    return t === undefined ? undefined : t + queue.currentOffset;
  }

  /**
   * HLS discontinuities: the offset for `chunk`'s discontinuity sequence. The first chunk appended
   * keeps its media times and ties the playlist's timeline to them; the first chunk of another
   * sequence is moved to where it lies on that timeline, and the rest of its sequence with it (its
   * media times run on within it). One offset per sequence for video and audio alike (found from
   * whichever arrives first, video as a rule): within a sequence the two are in sync as authored,
   * while each one's EXTINF sums drift apart (our audio segments last 2.005 s beside 2 s of video).
   * Live: the timeline is the PDT (hls-source.ts), so a live ad break or a playout loop whose
   * media times start again plays after what came before it, as dated; a stream whose media times
   * run on across a discontinuity (our encoder restarts) keeps them, give or take the PDT's
   * millisecond.
   */
  private discontinuityOffset(chunk: ChunkRef, bytes: Uint8Array, r: PlayerRendition, queue: AppendQueue): number {
    const d = chunk.discontinuity!;
    const known = this.discontinuityOffsets.get(d.sequence);
    if (known !== undefined) return known;
    const t = firstDecodeTime(bytes, this.timescaleOf(chunk, r));
    if (t === undefined) return queue.currentOffset;
    let offset = 0;
    if (this.timelineZero === undefined) this.timelineZero = t - d.startSec;
    else offset = this.timelineZero + d.startSec - t;
    this.discontinuityOffsets.set(d.sequence, offset);
    return offset;
  }

  /** A failed media request about to be tried again (request-retry.ts): counted and noted in the stats. */
  private readonly onRetry = (n: RetryNote): void => {
    this.stats.retries += 1;
    noteRetry(this.stats.retryNotes, n);
  };

  /** A playlist or MPD request about to be tried again (the source's loader tells): counted and noted apart from media. */
  readonly notePlaylistRetry = (n: RetryNote): void => {
    this.stats.playlistRetries += 1;
    noteRetry(this.stats.playlistRetryNotes, n);
  };

  /**
   * One chunk, tried again after a failure a retry can cure (request-retry.ts): a replacement is
   * not tried again once it is no longer worth it.
   */
  private async download(
    chunk: ChunkRef,
    r: PlayerRendition,
    queue: AppendQueue,
    level: number,
    keepGoing?: () => boolean,
  ): Promise<'ok' | 'abandoned' | 'seek'> {
    const seek = this.seekAbort.signal;
    try {
      // its init segment (tried again on its own) and offset first, queued before any of its media
      await this.prepareAppend(queue, chunk, r);
      return await withRetries(chunk.url, () => this.downloadOnce(chunk, r, queue, level, seek, keepGoing), {
        signal: AbortSignal.any([this.abort.signal, seek]),
        onRetry: this.onRetry,
        stillWanted: keepGoing,
        gaveUpValue: 'abandoned' as const,
      });
    } catch (e) {
      if (seek.aborted && !this.abort.signal.aborted) return 'seek';
      throw e;
    }
  }

  /**
   * One try at a chunk: fetched, appended, a sample for the ABR. `keepGoing` (a replacement):
   * checked every 100 ms; when it turns false the download is given up (the emergency rule is not
   * asked: a replacement never holds up the buffer). A seek out of the buffer (`seek` aborts)
   * ends it too.
   */
  private async downloadOnce(
    chunk: ChunkRef,
    r: PlayerRendition,
    queue: AppendQueue,
    level: number,
    seek: AbortSignal,
    keepGoing?: () => boolean,
  ): Promise<'ok' | 'abandoned' | 'seek'> {
    const attempt = new AbortController();
    const onAbort = () => attempt.abort();
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    seek.addEventListener('abort', onAbort, { once: true });
    if (seek.aborted) attempt.abort();
    // Appended fragment by fragment as the bytes arrive: a segment still being produced (LL-DASH),
    // and on VOD the chunks of the start (see thinStart). Our segments hold a fragment per part
    // (1 s by default), so the first frame waits for the first fragment, not the whole segment.
    if (this.thinStart && this.stats.startupMs !== null && this.bufferAhead() >= chunk.duration) this.thinStart = false;
    const streamed = chunk.streaming || (!this.source.live && this.thinStart);
    const splitter = streamed ? new ChunkSplitter() : undefined;
    // the pieces are appended one after the other: the first sets the offset first (a discontinuity)
    let appended: Promise<void> | undefined;
    // The emergency rule judges whole chunks, including a VOD start's streamed ones: given up,
    // the lower rung's chunk is appended over the fragments that arrived (MSE replaces the frames
    // it overlaps). Not a chunk streamed while it is produced: that one arrives at the media rate.
    const canAbandon = !keepGoing && level > 0 && chunk.independent && (chunk.part ?? 0) === 0 && !chunk.streaming;
    // A streamed chunk's frames may already be on screen: the emergency rule then waits for its
    // bytes to stop (AbrConfig.abandonOnScreenIdleMs). (Where it starts: the end of the buffered
    // range it follows, the one the playhead is in.)
    const startsAt = splitter ? (queue.rangeEndAt(this.video.currentTime) ?? this.video.currentTime) : 0;
    const watch = keepGoing
      ? setInterval(() => {
          if (!keepGoing()) attempt.abort();
        }, 100)
      : undefined;
    try {
      const res = await fetchBytes(chunk.url, {
        signal: attempt.signal,
        throttle: this.opts.throttle,
        log: this.opts.onRequest,
        cmcd: this.opts.cmcd,
        serverAdvice: this.opts.serverAdvice,
        steering: this.opts.steering,
        range: chunk.byteRange,
        timeout: MEDIA_TIMEOUT,
        cmcdObject: {
          ot: r.kind === 'audio' ? 'a' : 'v',
          br: r.bitrate / 1000,
          d: chunk.duration * 1000,
        },
        onChunk: splitter
          ? (bytes) => {
              for (const piece of splitter.push(bytes)) {
                const first = appended === undefined;
                appended = (appended ?? Promise.resolve()).then(() => this.appendMedia(queue, piece, chunk, r, first));
                appended.catch(() => {}); // (awaited below, or dropped with a download that failed)
              }
            }
          : undefined,
        onProgress:
          level >= 0
            ? (p) => {
                // given up once: judged no more (its bytes were one sample, not one per late event)
                if (!canAbandon || this.manual !== null || attempt.signal.aborted) return;
                const d = this.abr.onDownloadProgress({
                  ...p,
                  level,
                  mediaDurationSec: chunk.duration,
                  draining: this.stats.startupMs !== null && !this.video.paused,
                  // a streamed chunk's own fragments are buffer too: what its decision saw, less
                  // the time since, would give up a chunk that is keeping up
                  bufferSec: splitter ? this.bufferAhead() : undefined,
                  onScreen: splitter !== undefined && this.video.currentTime >= startsAt - 0.05,
                });
                if (d.abandon) attempt.abort();
              }
            : undefined,
      });
      clearInterval(watch);
      // a replacement the playhead caught up with while it was being fetched is not appended
      if (keepGoing && !keepGoing()) return 'abandoned';
      // (a body not streamed, such as a 200 to a range request, is appended whole)
      if (appended) await appended;
      else await this.appendMedia(queue, res.bytes, chunk, r, true);
      if (!this.source.live && r.kind === 'video')
        this.noteVideoChunk(chunk.msn, level, this.chunkStart(res.bytes, chunk, r, queue), chunk.duration);
      if (level >= 0) {
        this.abr.onDownloadComplete({
          bytes: res.bytes.byteLength,
          durationMs: res.durationMs,
          ttfbMs: res.ttfbMs,
          level,
          mediaDurationSec: chunk.duration,
          // a part, or a segment streamed while it is produced: both can arrive at the media rate
          isPart: chunk.part !== undefined || chunk.streaming === true,
          burstBytes: res.burstBytes,
          burstMs: res.burstMs,
        });
      }
      return 'ok';
    } catch (e) {
      if (attempt.signal.aborted && !this.abort.signal.aborted) {
        // the fragments already on their way into the buffer go in before anything else is appended
        await appended?.catch(() => {});
        return seek.aborted ? 'seek' : 'abandoned';
      }
      throw e;
    } finally {
      clearInterval(watch);
      this.abort.signal.removeEventListener('abort', onAbort);
      seek.removeEventListener('abort', onAbort);
    }
  }

  private async appendMedia(
    queue: AppendQueue,
    bytes: Uint8Array,
    chunk: ChunkRef,
    r: PlayerRendition,
    startsChunk: boolean,
  ): Promise<void> {
    if (startsChunk && chunk.discontinuity) await queue.offset(this.discontinuityOffset(chunk, bytes, r, queue));
    if (startsChunk && r.kind === 'video' && chunk.programDateTime !== undefined) {
      const t = this.chunkStart(bytes, chunk, r, queue);
      if (t !== undefined && !this.pdtMap.some((m) => Math.abs(m.mediaStart - t) < 0.001)) {
        this.pdtMap.push({ mediaStart: t, pdt: chunk.programDateTime });
        this.pdtMap.sort((a, b) => a.mediaStart - b.mediaStart);
        if (this.pdtMap.length > 200) this.pdtMap.splice(0, this.pdtMap.length - 200);
      }
    }
    await queue.append(bytes);
    if (r.kind === 'video') this.captions.media(queue.initKey, bytes, queue.currentOffset);
    if (this.source.live) await queue.trimBehind(30);
    // Start-up: play as soon as both tracks hold media (on LL live, once the join point has its
    // media: startWhenBuffered waits for it), not at the next tick, up to 250 ms on. Classic live
    // keeps the tick: it joins the target latency behind the newest media buffered, which the
    // first append alone does not yet show (no A/B of it was run).
    if (!this.source.live || this.source.lowLatency) this.startWhenBuffered();
  }
}

/** An init segment's key: its URL, and its byte range when it is one of a file. */
function initKey(url: string, range: ByteRange | undefined): string {
  return range ? `${url} ${range.offset}+${range.length}` : url;
}

/**
 * The estimate to start from: the browser's own idea of the link (Network Information API's
 * downlink, Mbit/s, in Chromium), as Shaka Player does; else the ABR default (no weight).
 */
function startupEstimate(): { defaultEstimateBps?: number; defaultEstimateWeightSec?: number } {
  const downlink = (navigator as Navigator & { connection?: { downlink?: number } }).connection?.downlink;
  // an informed start: it keeps some weight (3 s of downloads) against a slow first download
  return typeof downlink === 'number' && downlink > 0
    ? { defaultEstimateBps: downlink * 1e6, defaultEstimateWeightSec: 3 }
    : {};
}

/** Adds a retry to `notes` (the last 20 kept): its path, the failure and what happens next. */
function noteRetry(notes: string[], n: RetryNote): void {
  const path = n.url.replace(/^[a-z]+:\/\/[^/]+/i, '').replace(/\?.*$/, '');
  notes.push(
    n.instead !== undefined
      ? `${path}: ${n.why}; asking ${n.instead} instead`
      : n.keeping !== undefined
        ? `${path}: ${n.why}; keeping ${n.keeping}`
        : `${path}: ${n.why}; try ${n.failures + 1} in ${n.waitMs} ms`,
  );
  if (notes.length > 20) notes.shift();
}
