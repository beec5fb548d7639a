/**
 * One live channel: its encoder runs, its rendition windows, and its state machine.
 *
 *   starting ──first part──▶ running ──no media for stallTimeout / encoder exit──▶ stalled
 *      │                        ▲                                                  │
 *      └─exit or no media──▶ failed ◀── (never produced)        restart with backoff
 *                               └──────────── first part of a new run ─────────────┘
 *
 * Every (re)start continues the segment numbering (persisted in lmdb, so an origin restart
 * does too) and the first segment of a new run carries a discontinuity. With an epoch
 * (`--epoch`, redundant origins) the numbering is the wall-clock time since the epoch divided by
 * the segment duration: a run starts on the segment grid (run-anchor.ts), never before the end of
 * the previous one, so numbers never go backwards and every origin of the epoch agrees.
 *
 * Timeline (HLS and DASH alike): media time is anchored to wall clock, with ONE anchor:
 * PDT = availabilityStartTime + media time for every segment (segment numbers keep counting); HLS
 * signals EXT-X-DISCONTINUITY at the new run, DASH starts a new Period there (id and start from
 * the run's first segment, presentationTimeOffset the same media time), the Period before ending
 * with its media: a source outage is the time between two Periods, never a gap inside one
 * SegmentTimeline. The fragments' mfhd sequence numbers go on counting across runs too. Each
 * run's tfdt is shifted by an offset that makes PDT honest (a part is never available before its
 * PDT end, which no real-time source can do): the run holds its first segment back, the offset is
 * the minimum of (arrival − media end) over the fragments seen meanwhile, in every rendition
 * (run-anchor.ts), never before the end of the previous run; then each part is published no
 * earlier than its PDT end (availability-gate.ts), which covers whatever the first segment did
 * not show.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import type {
  AdBreak,
  InterstitialSource,
  Part,
  Presentation,
  Protection,
  Rendition,
  RenditionTimeline,
  Segment,
  ThumbnailTrack,
} from '../../src/media/presentation.js';
import type { ResolvedChannelConfig } from './channel-config.js';
import type { ChannelStateStore, PersistedChannel } from './channel-state-store.js';
import { AdBreaks, type PersistedAdBreaks, type Production, type ScheduledBreak } from './ad-breaks.js';
import { FeedCues, type FeedCueStatus } from './feed-cues.js';
import type { FeedCue } from './feed-relay.js';
import { RenditionWindow } from './rendition-window.js';
import { SegmentFiles } from './segment-files.js';
import { RunAnchor } from './run-anchor.js';
import { AvailabilityGate } from './availability-gate.js';
import { firstDecodeTime } from './decode-time.js';
import { LiveThumbnails, type ThumbnailStatus } from './live-thumbnails.js';
import { THUMBNAIL_TRACK_ID } from '../thumbnail-track.js';
import { LiveCaptionServices } from './live-captions.js';
import type { ClearChunk } from '../segmenter.js';
import { mpdSegments } from '../../src/dash/mpd.js';

export type ChannelState = 'starting' | 'running' | 'stalled' | 'failed' | 'stopped';

/** Where an encoder run delivers its output (one call per event, per rendition). */
export interface RunSink {
  /** `clear`: an encrypted channel's header before encryption (thumbnails are taken from it). */
  init(renditionId: string, bytes: Buffer, rendition: Rendition, clear?: Buffer): void;
  /** `clear`: an encrypted channel's chunk before encryption. */
  part(renditionId: string, segmentNumber: number, part: Part, bytes: Buffer, clear?: ClearChunk): void;
  segment(renditionId: string, segment: Segment): void;
  /** An SCTE 35 avail signal the feed carried, its splice time on this run's media clock. */
  cue?(cue: FeedCue): void;
}

export interface RunHandle {
  /** Settles when the encoder has exited and its outputs are flushed into the sink. */
  done: Promise<void>;
  kill(): void;
  pid?: number;
  /**
   * The run's renditions in the order it planned them (the ladder's rungs, then the audio
   * tracks in the source's order): manifests list them so, not in the order their first bytes
   * happened to arrive from the encoder.
   */
  renditions?: readonly string[];
  /** The source's video carries CEA-608 captions, which the encoder keeps (the manifests announce them). */
  closedCaptions?: boolean;
}

export interface RunRequest {
  config: ResolvedChannelConfig;
  firstSegmentNumber: number;
  /**
   * The mfhd sequence number of the rendition's first fragment in this run: one more than the
   * highest the channel published (1 for a rendition it has none of), so the count goes on
   * across runs (ISO/IEC 14496-12 §8.8.5) instead of starting at the encoder's 1 again.
   */
  firstFragmentSequence(renditionId: string): number;
  /**
   * Where this run's media time 0 lands (seconds after availabilityStartTime): the run reports
   * each fragment's arrival (`observe(media end)`) and fixes the offset once it has seen its
   * first segment (`fix()`), see run-anchor.ts.
   */
  anchor: RunAnchor;
  sink: RunSink;
  logFile: string;
  /** Aborted when the channel gives this run up before it started (start timeout, close). */
  signal?: AbortSignal;
}

export type StartRun = (req: RunRequest) => Promise<RunHandle>;

export interface ChannelStatus {
  id: string;
  state: ChannelState;
  since: string;
  lastError?: string;
  restarts: number;
  lastPartAt?: string;
  renditions: string[];
  /** Newest segment number produced. */
  lastSegment?: number;
  /** The `--epoch` numbering is locked to (ISO time), if any: redundant origins must show the same. */
  epoch?: string;
  pid?: number;
  /**
   * Segment files cannot be written (disk full, I/O error) since `since`: the window is served
   * from memory meanwhile (its segments keep their bytes), and a restart of the origin would
   * lose what is not on disk. Summed over the renditions failing; cleared once each of them has
   * written a file again.
   */
  diskWriteError?: { since: string; failures: number; message: string };
  /** How far behind real time the encoder is (ms): now − the PDT end of its newest part. */
  lagMs?: number;
  /** Under duress: its answers carry CMSD-Dynamic `du` (behind real time, or stalled). */
  duress?: true;
  /** The feed's SCTE 35 cues and what they came to (once the feed has sent one). */
  feedCues?: FeedCueStatus;
  /** The lag (ms) past which it says it is under duress (`--duress-lag`). */
  duressLagMs: number;
  /** With `--live-thumbnails`: pictures in the window, and the last failure of a failing streak. */
  thumbnails?: ThumbnailStatus;
}

export interface LiveChannelOptions {
  /** `<root>/.live` */
  liveDir: string;
  store: ChannelStateStore;
  startRun: StartRun;
  /** No part for this long: the source is considered stopped (default 3 segments, at least 4 s). */
  stallTimeoutMs?: number;
  /** No first part this long after a spawn: the run is abandoned (default 20 s). */
  startTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  onStateChange?: (state: ChannelState) => void;
  onPart?: () => void;
  onRestart?: () => void;
  /** A segment file could not be written. */
  onDiskWriteError?: () => void;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void; error(o: object, msg: string): void };
  now?: () => number;
  /** The URL the MPD names for its clock (UTCTiming, http-iso); default "/time" (origin --utc-timing). */
  utcTiming?: string;
}

function fingerprint(c: ResolvedChannelConfig): string {
  // The audio languages are part of the rendition set: a window saved with others is not restored.
  // So are the video codecs, when given apart from the ladder.
  const base = [c.source, c.videoCodecs ? [c.ladder, c.videoCodecs] : c.ladder, c.segmentDuration, c.partDuration];
  return JSON.stringify(c.audioLanguages.length > 0 ? [...base, c.audioLanguages] : base);
}

/**
 * A live channel's manifests are always the low-latency forms (LL-HLS parts, LL-DASH
 * availabilityTimeOffset): the MPD lists the segment in production, and its Period cuts follow.
 */
const LOW_LATENCY = true;

/**
 * `--live-dash-periods cues`: where the MPD starts a new Period, each ad break's start and return
 * (segment boundaries, media seconds), once the MPD lists a segment of the reference timeline
 * (the one ad breaks are placed on) from there on: a complete one, or the one being produced
 * (`mpdSegments`), which would otherwise be listed first in the Period before and then move. Until
 * then the programme's Period runs on over it (the media time is the same in both), so every
 * Period listed has media. A cut, once reached, is final (the break's start and return are fixed
 * by then).
 */
function dashPeriodCuts(breaks: readonly AdBreak[], reference: RenditionTimeline): number[] {
  const newest = mpdSegments(reference.segments, LOW_LATENCY).at(-1);
  if (!newest) return [];
  const reached = newest.start / reference.rendition.timescale + 0.0005;
  return breaks
    .flatMap((b) => [b.mediaStart, ...(b.end ? [b.end.mediaTime] : [])])
    .filter((t) => t > 0 && t <= reached);
}

/**
 * Where the MPD starts a new Period whatever `--live-dash-periods` says: at each encoder run after
 * the first (a source or an origin restart), the start of its first segment on the reference
 * timeline (media seconds), once the MPD lists that segment (complete, or being produced: listed
 * in the Period before, it would leave a gap there). The media before ends short of it (the
 * run started later than the last one ended): one Period's SegmentTimeline cannot leave that gap
 * (DASH-IF timing model §9.2), so the Period before ends with its media (src/dash/mpd.ts).
 */
function runPeriodCuts(reference: RenditionTimeline): number[] {
  return mpdSegments(reference.segments, LOW_LATENCY)
    .filter((seg) => seg.discontinuity)
    .map((seg) => seg.start / reference.rendition.timescale);
}

/**
 * The Period starts of the MPD: those published before (`kept`) and the new `cuts`, sorted, one
 * per millisecond (a Period's id is its start in ms). A Period keeps its id, start and offsets for
 * as long as it is listed (ISO/IEC 23009-1 §5.4), however long ago its ad break left the
 * manifests: so the starts are kept apart from the breaks, and only a start whose following one
 * is at or before the oldest media of the window (`oldestSec`) is dropped — the earliest Period
 * listed is the one the window starts in, which may start before it.
 */
function keptPeriodStarts(kept: readonly number[], cuts: readonly number[], oldestSec: number | undefined): number[] {
  const byMs = new Map<number, number>();
  for (const t of [...kept, ...cuts]) if (!byMs.has(Math.round(t * 1000))) byMs.set(Math.round(t * 1000), t);
  const starts = [...byMs.values()].sort((a, b) => a - b);
  if (oldestSec === undefined) return starts;
  let first = 0;
  while (first + 1 < starts.length && starts[first + 1] <= oldestSec + 0.0005) first++;
  return starts.slice(first);
}

export class LiveChannel {
  readonly id: string;
  readonly windows = new Map<string, RenditionWindow>();
  /** The current run's plan order of renditions (see RunHandle.renditions). */
  private renditionOrder: readonly string[] = [];
  /** Whether presentation() has returned one (see waitingForPlannedRenditions). */
  private servedOnce = false;
  /** The caption services the manifests announce (live-captions.ts). */
  private readonly captions: LiveCaptionServices;
  readonly files: SegmentFiles;
  private state_: ChannelState = 'starting';
  private since = Date.now();
  private lastError?: string;
  private restarts = 0;
  /** The run that ended last (its start may still come back: it is killed then). */
  private endedRunId = 0;
  /** Aborts the start of the newest run (when it ends before it started). */
  private startAbort?: AbortController;
  private attempts = 0;
  private lastPartAt?: number;
  /** The newest PDT end (epoch ms) of any part the encoder delivered (0: none yet). */
  private newestPdtEnd = 0;
  /** Renditions whose files fail to be written: since when, how often, the latest error. */
  private readonly diskFailing = new Map<string, { since: number; failures: number; message: string }>();
  private run?: RunHandle;
  private runId = 0;
  private runProduced = false;
  private everProduced = false;
  private closing = false;
  private restartTimer?: NodeJS.Timeout;
  private stallTimer?: NodeJS.Timeout;
  private startTimer?: NodeJS.Timeout;
  private availabilityStartTime = 0;
  private nextSegmentNumber = 0;
  private mediaEnd = 0;
  private version_ = 0;
  private snapshot?: { version: number; p: Presentation };
  private persisting = Promise.resolve();
  private readonly now: () => number;
  /** Per rendition, this run's publication gate (parts wait for their PDT end). */
  private gates = new Map<string, AvailabilityGate>();
  /** Parts the gates held back over the channel's life, and the longest wait (ms). */
  readonly gateStats = { held: 0, maxWaitMs: 0 };
  /** Ad breaks cued on the channel (SCTE 35), in the manifests while they overlap the window. */
  private adBreaks: AdBreaks;
  /**
   * Where the MPD's Periods after the first start (media seconds): encoder runs after the first,
   * and with `--live-dash-periods cues` ad breaks' starts and returns; kept while their Period is
   * listed, after their ad break (or the run's discontinuity) has left the window too.
   */
  private periodStarts: number[] = [];
  /** The ad breaks the feed's SCTE 35 cues ask for. */
  private readonly feedCues: FeedCues;
  /** One picture per segment, when the channel was configured with thumbnails. */
  private readonly thumbnails?: LiveThumbnails;
  /** Requests held until the channel first has a presentation (whenPresentable). */
  private readonly presentableWaiters = new Set<{ ready: (p: Presentation) => boolean; done: (ok: boolean) => void }>();

  constructor(
    readonly config: ResolvedChannelConfig,
    private readonly opts: LiveChannelOptions,
  ) {
    this.id = config.id;
    this.files = new SegmentFiles(join(opts.liveDir, config.id));
    this.captions = new LiveCaptionServices(config.captions, () => this.touch());
    this.now = opts.now ?? Date.now;
    this.adBreaks = this.newAdBreaks();
    this.feedCues = new FeedCues({
      adBreaks: () => this.adBreaks,
      production: () => this.production(),
      segmentDuration: config.segmentDuration,
      now: this.now,
      changed: () => {
        this.touch();
        this.persist();
      },
      log: (msg) => this.opts.log?.info({ channel: this.id }, `live channel ${this.id}: ${msg}`),
    });
    if (config.thumbnails) {
      this.thumbnails = new LiveThumbnails({
        width: config.thumbnails.width,
        segmentSec: config.segmentDuration,
        dir: join(this.files.channelDir, THUMBNAIL_TRACK_ID),
        onPicture: () => this.touch(),
        onError: (e) =>
          opts.log?.warn({ channel: this.id, err: e }, `live channel ${this.id}: a thumbnail could not be taken`),
      });
    }
  }

  /** The JPEG thumbnail of segment `n`, if the channel takes them and has it. */
  thumbnail(n: number): Buffer | undefined {
    return this.thumbnails?.get(n);
  }

  private newAdBreaks(saved?: PersistedAdBreaks): AdBreaks {
    return new AdBreaks(this.config.segmentDuration, () => this.availabilityStartTime, saved);
  }

  get state(): ChannelState {
    return this.state_;
  }

  /** Bumps on every event: cache key for rendered manifests. */
  get version(): number {
    return this.version_;
  }

  /**
   * How far behind real time the encoder is: now − the PDT end of the newest part it delivered
   * (ms); undefined before its first part. Normally the encoder's own delay (under a second); it
   * grows when the encoder cannot keep up or has stopped.
   */
  lagMs(): number | undefined {
    return this.newestPdtEnd > 0 ? this.now() - this.newestPdtEnd : undefined;
  }

  /**
   * Under duress (CTA-5006 `du`, for the tier above): running but behind real time by more than
   * `duressLag` (default a segment and two parts), or stalled. An edge with a backup origin then
   * takes this channel's new requests there.
   */
  underDuress(): boolean {
    if (this.state_ === 'stalled') return true;
    if (this.state_ !== 'running') return false;
    const lag = this.lagMs();
    return lag !== undefined && lag > this.config.duressLag * 1000;
  }

  get stallTimeoutMs(): number {
    return this.opts.stallTimeoutMs ?? Math.max(4000, 3 * this.config.segmentDuration * 1000);
  }

  status(): ChannelStatus {
    const lag = this.lagMs();
    let lastSegment: number | undefined;
    for (const w of this.windows.values()) {
      const e = w.edge();
      if (e && (lastSegment === undefined || e.msn > lastSegment)) lastSegment = e.msn;
    }
    return {
      id: this.id,
      state: this.state_,
      since: new Date(this.since).toISOString(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      restarts: this.restarts,
      ...(this.lastPartAt ? { lastPartAt: new Date(this.lastPartAt).toISOString() } : {}),
      renditions: this.windowsInPlanOrder().map(([rid]) => rid),
      ...(lastSegment !== undefined ? { lastSegment } : {}),
      ...(this.config.epoch !== undefined ? { epoch: new Date(this.config.epoch).toISOString() } : {}),
      ...(this.run?.pid ? { pid: this.run.pid } : {}),
      ...(this.diskFailing.size > 0 ? { diskWriteError: this.diskWriteError() } : {}),
      ...(lag !== undefined ? { lagMs: Math.round(lag) } : {}),
      ...(this.underDuress() ? { duress: true as const } : {}),
      duressLagMs: Math.round(this.config.duressLag * 1000),
      ...(this.thumbnails ? { thumbnails: this.thumbnails.status() } : {}),
      ...(this.feedCues.status().received > 0 ? { feedCues: this.feedCues.status() } : {}),
    };
  }

  /** Restores the persisted window (if the encoding is unchanged) and starts the first run. */
  async start(): Promise<void> {
    let saved = this.opts.store.get(this.id);
    const fp = fingerprint(this.config);
    const epoch = this.config.epoch;
    if (saved && epoch !== undefined && saved.availabilityStartTime !== epoch) {
      // A new epoch renumbers the channel: the saved window (numbered on the old clock) is dropped.
      this.opts.log?.warn(
        { channel: this.id, savedEpoch: new Date(saved.availabilityStartTime).toISOString() },
        `live channel ${this.id}: --epoch differs from the saved channel clock; its window is dropped`,
      );
      for (const rid of Object.keys(saved.renditions)) await this.files.sweep(rid, () => false);
      saved = undefined;
    }
    if (saved) {
      this.availabilityStartTime = saved.availabilityStartTime;
      // on the same clock as the media (which goes on from mediaEnd), so kept with a new ladder too
      if (saved.adBreaks) this.adBreaks = this.newAdBreaks(saved.adBreaks);
      if (saved.dashPeriodStarts) this.periodStarts = [...saved.dashPeriodStarts];
      this.nextSegmentNumber = saved.nextSegmentNumber;
      this.mediaEnd = saved.mediaEnd;
      if (saved.fingerprint === fp) {
        // saved in plan order (persist()): the manifests keep it before the next run says its own
        this.renditionOrder = Object.keys(saved.renditions);
        for (const [rid, r] of Object.entries(saved.renditions)) {
          const w = this.newWindow(rid);
          let init: Buffer | undefined;
          try {
            init = await readFile(this.files.initPath(rid));
          } catch {
            init = undefined;
          }
          if (init && r.segments.length > 0)
            w.restore(r.rendition, r.segments, r.discontinuitySequence, init, r.fragmentSequence);
          else this.windows.delete(rid);
        }
      }
    } else {
      this.availabilityStartTime = epoch ?? this.now();
    }
    // Disk stays flat across restarts: drop files the restored window does not list.
    for (const [rid, w] of this.windows) {
      const keep = new Set(w.segments.map((s) => s.meta.number));
      await this.files.sweep(rid, (n) => keep.has(n));
    }
    // the restored window's pictures, on its reference rendition's numbers
    const ref = this.referenceRendition();
    const listed = new Set(ref === undefined ? [] : this.windows.get(ref)!.segments.map((s) => s.meta.number));
    await this.thumbnails?.restore((n) => listed.has(n));
    this.spawn();
  }

  private newWindow(rid: string): RenditionWindow {
    const w = new RenditionWindow({
      renditionId: rid,
      segmentDuration: this.config.segmentDuration,
      dvrWindow: this.config.dvrWindow,
      files: this.files,
      availabilityStartTime: this.availabilityStartTime,
      onError: (e) => this.onDiskError(rid, e),
      onWritten: () => this.onDiskWritten(rid),
      now: this.now,
    });
    this.windows.set(rid, w);
    return w;
  }

  /**
   * A file of the window could not be written: logged once when writing starts failing (not per
   * file: a full disk fails every segment of every rendition), counted, and shown in status().
   */
  private onDiskError(rid: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    let f = this.diskFailing.get(rid);
    if (!f) {
      if (this.diskFailing.size === 0) {
        this.opts.log?.error(
          { channel: this.id, rendition: rid, err: e },
          `live channel ${this.id}: segment files cannot be written; the window is served from memory until they can`,
        );
      }
      f = { since: this.now(), failures: 0, message };
      this.diskFailing.set(rid, f);
    }
    f.failures++;
    f.message = message;
    this.opts.onDiskWriteError?.();
  }

  private onDiskWritten(rid: string): void {
    const f = this.diskFailing.get(rid);
    if (!f) return;
    this.diskFailing.delete(rid);
    if (this.diskFailing.size > 0) return;
    this.opts.log?.info(
      { channel: this.id, failures: f.failures, since: new Date(f.since).toISOString() },
      `live channel ${this.id}: segment files are written again`,
    );
  }

  /** The renditions' write failures as one figure for status(), or undefined when all write. */
  private diskWriteError(): ChannelStatus['diskWriteError'] {
    if (this.diskFailing.size === 0) return undefined;
    let since = Infinity;
    let failures = 0;
    const messages: string[] = [];
    for (const [rid, f] of this.diskFailing) {
      since = Math.min(since, f.since);
      failures += f.failures;
      messages.push(`${rid}: ${f.message}`);
    }
    return { since: new Date(since).toISOString(), failures, message: messages.join('; ') };
  }

  private setState(s: ChannelState, error?: string): void {
    if (error !== undefined) this.lastError = error;
    if (s === this.state_) return;
    this.state_ = s;
    this.since = this.now();
    this.opts.onStateChange?.(s);
    this.opts.log?.info({ channel: this.id, state: s, ...(error ? { error } : {}) }, `live channel ${this.id}: ${s}`);
    this.wakePresentable();
  }

  /**
   * Resolves true once the channel has a presentation that `ready` accepts (at once if it has),
   * false when `timeoutMs` passes, `signal` aborts, or the channel can no longer get one soon (its
   * run failed, or it is closing). The origin holds a starting channel's manifest requests on this
   * rather than answering 503 to players that would give up.
   */
  whenPresented(ready: (p: Presentation) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.presentedAs(ready)) return Promise.resolve(true);
    if (!this.mayBecomePresentable() || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.presentableWaiters.delete(waiter);
        resolve(ok);
      };
      const waiter = { ready, done };
      const onAbort = (): void => done(false);
      const timer = setTimeout(onAbort, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.presentableWaiters.add(waiter);
    });
  }

  private presentedAs(ready: (p: Presentation) => boolean): boolean {
    const p = this.presentation();
    return p !== undefined && ready(p);
  }

  /** A run is starting or producing: a presentation may come without anything else happening. */
  private mayBecomePresentable(): boolean {
    return !this.closing && (this.state_ === 'starting' || this.state_ === 'running');
  }

  private wakePresentable(): void {
    if (this.presentableWaiters.size === 0) return;
    const hopeless = !this.mayBecomePresentable();
    for (const w of [...this.presentableWaiters]) {
      if (this.presentedAs(w.ready)) w.done(true);
      else if (hopeless) w.done(false);
    }
  }

  private spawn(): void {
    if (this.closing) return;
    const id = ++this.runId;
    this.runProduced = false;
    for (const w of this.windows.values()) if (w.segments.length > 0) w.markDiscontinuity();
    const anchor = new RunAnchor({
      now: this.now,
      availabilityStartTime: this.availabilityStartTime,
      notBeforeSec: () => this.mediaEnd,
      ...(this.config.epoch !== undefined ? { gridSec: this.config.segmentDuration } : {}),
    });
    this.gates = new Map();
    this.feedCues.dropPending();
    const sink = this.sinkFor(id, anchor);
    const logFile = join(this.opts.liveDir, this.id, `ffmpeg-${id}.log`);
    this.startAbort = new AbortController();
    const signal = this.startAbort.signal;
    this.startTimer = setTimeout(() => {
      if (id === this.runId && !this.runProduced)
        this.failRun(
          id,
          `no media from source "${this.config.source}" within ${Math.round(this.startTimeoutMs / 1000)} s`,
        );
    }, this.startTimeoutMs);
    this.opts
      .startRun({
        config: this.config,
        firstSegmentNumber: this.nextSegmentNumber,
        firstFragmentSequence: (rid) => (this.windows.get(rid)?.fragmentSequence ?? 0) + 1,
        anchor,
        sink,
        logFile,
        signal,
      })
      .then(
        (run) => {
          // (a run whose start took longer than the start timeout has ended already: the channel
          // is restarting it; this late one would run unobserved)
          if (id !== this.runId || this.closing || this.endedRunId === id) {
            run.kill();
            return;
          }
          this.run = run;
          if (run.renditions) {
            this.renditionOrder = run.renditions;
            this.touch();
          }
          this.captions.setProbed(run.closedCaptions === true);
          run.done.then(
            () => this.runEnded(id, `source ended`),
            (e: unknown) => this.runEnded(id, e instanceof Error ? e.message : String(e)),
          );
        },
        (e: unknown) => this.runEnded(id, e instanceof Error ? e.message : String(e)),
      );
  }

  private get startTimeoutMs(): number {
    return this.opts.startTimeoutMs ?? 20_000;
  }

  private gateOf(rid: string): AvailabilityGate {
    let g = this.gates.get(rid);
    if (!g) this.gates.set(rid, (g = new AvailabilityGate({ now: this.now })));
    return g;
  }

  /** Epoch ms at which a part's media ends (PDT end), or 0 when its bytes carry no tfdt. */
  private pdtEnd(w: RenditionWindow, part: Part, bytes: Buffer): number {
    const tfdt = firstDecodeTime(bytes);
    if (tfdt === undefined) return 0;
    return this.availabilityStartTime + ((tfdt + part.duration) / w.timescale) * 1000;
  }

  private sinkFor(id: number, anchor: RunAnchor): RunSink {
    const live = () => id === this.runId && !this.closing;
    return {
      cue: (c: FeedCue) => {
        if (live()) this.feedCues.receive(c, () => anchor.offsetSec);
      },
      init: (rid, bytes, rendition, clear) => {
        if (!live()) return;
        const w = this.windows.get(rid) ?? this.newWindow(rid);
        this.touch();
        w.setInit(bytes, rendition);
        this.thumbnails?.init(rendition, clear ?? bytes);
        this.captions.init(rid, rendition.kind, bytes);
      },
      part: (rid, n, part, bytes, clear) => {
        if (!live()) return;
        const w = this.windows.get(rid);
        if (!w) return;
        this.mediaArrived();
        this.captions.part(rid, bytes);
        this.thumbnails?.part(rid, n, part, () => (clear ? Buffer.concat([clear.moof, clear.mdat]) : bytes));
        const gate = this.gateOf(rid);
        const before = gate.held;
        const pdtEnd = this.pdtEnd(w, part, bytes);
        if (pdtEnd > this.newestPdtEnd) this.newestPdtEnd = pdtEnd;
        gate.push(pdtEnd, () => {
          if (id !== this.runId) return;
          this.touch(); // version first: anything rendered from here on sees the new part
          w.addPart(n, part, bytes);
          this.opts.onPart?.();
          this.wakePresentable();
        });
        if (gate.held > before) {
          this.gateStats.held++;
          this.gateStats.maxWaitMs = Math.max(this.gateStats.maxWaitMs, gate.maxWaitMs);
        }
      },
      segment: (rid, seg) => {
        if (!live()) return;
        const w = this.windows.get(rid);
        if (!w) return;
        this.gateOf(rid).push(0, () => {
          if (id !== this.runId) return;
          this.touch();
          w.completeSegment(seg);
          if (rid === this.referenceRendition()) {
            const ts = w.timescale;
            this.adBreaks.segmentCompleted(seg.number, seg.start / ts, (seg.start + seg.duration) / ts);
            this.feedCues.flush(); // the run's anchor is fixed by now: cues waiting for it are placed
          }
          this.segmentDone();
          this.wakePresentable();
        });
      },
    };
  }

  /** Media from the source: the channel is running, the stall timer restarts. */
  private mediaArrived(): void {
    this.lastPartAt = this.now();
    if (!this.runProduced) {
      this.runProduced = true;
      this.everProduced = true;
      this.attempts = 0;
      if (this.startTimer) clearTimeout(this.startTimer);
      this.setState('running');
    }
    if (this.stallTimer) this.stallTimer.refresh();
    else {
      const id = this.runId;
      this.stallTimer = setTimeout(() => {
        this.stallTimer = undefined;
        if (id === this.runId)
          this.failRun(id, `no media from the source for ${Math.round(this.stallTimeoutMs / 100) / 10} s`);
      }, this.stallTimeoutMs);
    }
  }

  /** Calls `cb` once every gate of the current run has published what it holds. */
  private whenGatesDrained(cb: () => void): void {
    let left = this.gates.size + 1;
    const one = (): void => {
      if (--left === 0) cb();
    };
    for (const g of this.gates.values()) g.whenDrained(one);
    one();
  }

  private segmentDone(): void {
    this.advanceCounters();
    this.persist();
  }

  private advanceCounters(): void {
    for (const w of this.windows.values()) {
      const last = w.lastComplete()?.meta;
      if (!last) continue;
      this.nextSegmentNumber = Math.max(this.nextSegmentNumber, last.number + 1);
      this.mediaEnd = Math.max(this.mediaEnd, (last.start + last.duration) / w.timescale);
    }
  }

  /** Ends the run in every window on one common segment number (see RenditionWindow.endRun). */
  private endRunAll(): void {
    let common = Number.POSITIVE_INFINITY;
    for (const w of this.windows.values()) {
      const n = w.newestNumber();
      if (n !== undefined) common = Math.min(common, n);
    }
    for (const w of this.windows.values()) w.endRun(common);
  }

  private touch(): void {
    this.version_++;
  }

  /** The run is unhealthy: kill it; runEnded() follows from its exit. */
  private failRun(id: number, why: string): void {
    if (id !== this.runId || this.closing) return;
    this.lastError = why;
    const run = this.run;
    if (run) run.kill();
    else this.runEnded(id, why);
  }

  /**
   * The run `id` has ended, or its start was given up. Reported once per run: a start given up
   * is aborted, and the aborted start rejects with the same run's end (a second restart here
   * would start a second encoder beside the first, which nothing would stop).
   */
  private runEnded(id: number, why: string): void {
    if (id !== this.runId || this.endedRunId === id) return;
    this.endedRunId = id;
    this.afterRunEnded(id, why);
  }

  private afterRunEnded(id: number, why: string): void {
    // Parts still waiting for their PDT end belong to this run: publish them first (at once when
    // the channel is closing), so the run's last segment is closed with all of them.
    if ([...this.gates.values()].some((g) => g.pending > 0)) {
      if (this.closing) for (const g of this.gates.values()) g.flushNow();
      else {
        this.whenGatesDrained(() => this.afterRunEnded(id, why));
        return;
      }
    }
    this.run = undefined;
    this.startAbort?.abort();
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.stallTimer) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
    this.endRunAll();
    this.advanceCounters();
    this.touch();
    this.persist();
    if (this.closing) return;
    // An explicit reason from failRun (stall/start timeout) is more useful than "killed by SIGKILL".
    const reason = /ABORTED|interrupted|SIGKILL/.test(why) && this.lastError ? this.lastError : why;
    this.setState(this.everProduced ? 'stalled' : 'failed', reason);
    this.attempts++;
    this.restarts++;
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 15_000;
    const delay = Math.min(max, initial * 2 ** Math.min(this.attempts - 1, 16));
    this.opts.log?.warn(
      { channel: this.id, reason, retryInMs: delay },
      `live channel ${this.id}: encoder stopped; restarting`,
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.opts.onRestart?.();
      this.spawn();
    }, delay);
  }

  /** Kills the current encoder (as if the source died): for tests and operators. */
  killSource(): void {
    this.failRun(this.runId, 'source killed by operator');
  }

  private persist(): void {
    const windowStart = this.windowStartSec();
    if (windowStart !== undefined) this.adBreaks.prune(windowStart);
    const ref = this.referenceRendition();
    const oldest = ref === undefined ? undefined : this.windows.get(ref)?.segments[0]?.meta.number;
    if (oldest !== undefined) this.thumbnails?.prune((n) => n >= oldest);
    const renditions: PersistedChannel['renditions'] = {};
    for (const [rid, w] of this.windowsInPlanOrder()) {
      if (!w.rendition) continue;
      renditions[rid] = {
        rendition: w.rendition,
        discontinuitySequence: w.discontinuitySequence,
        segments: w.persistable(),
        ...(w.fragmentSequence > 0 ? { fragmentSequence: w.fragmentSequence } : {}),
      };
    }
    const state: PersistedChannel = {
      availabilityStartTime: this.availabilityStartTime,
      nextSegmentNumber: this.nextSegmentNumber,
      mediaEnd: this.mediaEnd,
      fingerprint: fingerprint(this.config),
      renditions,
      adBreaks: this.adBreaks.persistable(),
      ...(this.periodStarts.length > 0 ? { dashPeriodStarts: [...this.periodStarts] } : {}),
    };
    this.persisting = this.persisting
      .then(() => this.opts.store.put(this.id, state))
      .then(
        () => undefined,
        (e: unknown) => this.opts.log?.error({ channel: this.id, err: e }, 'live state persist failed'),
      );
  }

  /** The windows, in the run's plan order. */
  private windowsInPlanOrder(): [string, RenditionWindow][] {
    return [...this.windows].sort(([a], [b]) => this.planRank(a) - this.planRank(b));
  }

  /** Where a rendition comes in the run's plan (renditions it does not name come after, in arrival order). */
  private planRank(id: string): number {
    const i = this.renditionOrder.indexOf(id);
    return i < 0 ? this.renditionOrder.length : i;
  }

  /** How the channel's media is encrypted (its scheme and key id), if it is. */
  get protection(): Protection | undefined {
    const pr = this.config.protection;
    return pr
      ? { scheme: pr.scheme, kid: pr.key.kid, ...(pr.licenseUrl ? { licenseUrl: pr.licenseUrl } : {}) }
      : undefined;
  }

  /**
   * Before the channel's manifests were first served: whether a rendition the run planned has no
   * media yet while the others have little. A multivariant playlist or MPD served then would
   * lack it for good in every player that joined (a video-only start: the audio playlist is never
   * asked for). One rendition a whole segment ahead of a missing one is served without it: that
   * one is not coming with the others.
   */
  private waitingForPlannedRenditions(timelines: readonly RenditionTimeline[]): boolean {
    if (this.servedOnce) return false;
    const have = new Set(timelines.map((t) => t.rendition.id));
    if (this.renditionOrder.every((id) => have.has(id))) return false;
    return !timelines.some((t) => t.segments.some((s) => s.complete));
  }

  /**
   * The current presentation (video renditions first, each kind in the run's plan order), or
   * undefined before any media (and, at the start, until every planned rendition has some).
   */
  presentation(): Presentation | undefined {
    if (this.snapshot?.version === this.version_) return this.snapshot.p;
    const ready = [...this.windows.values()].filter((w) => w.rendition && w.init);
    const timelines = ready
      .map((w) => ({ rendition: w.rendition!, segments: w.timelineSegments() }))
      .filter((t) => t.segments.length > 0)
      .sort((a, b) =>
        a.rendition.kind === b.rendition.kind
          ? this.planRank(a.rendition.id) - this.planRank(b.rendition.id)
          : a.rendition.kind === 'video'
            ? -1
            : 1,
      );
    if (timelines.length === 0 || this.waitingForPlannedRenditions(timelines)) return undefined;
    const breaks = this.adBreaksShown();
    const p: Presentation = {
      id: this.id,
      type: 'live',
      segmentDuration: this.config.segmentDuration,
      partDuration: this.config.partDuration,
      timelines,
      ...breaks,
      ...this.dashPeriodStarts(breaks.adBreaks ?? [], timelines),
      ...(this.captions.services.length > 0 ? { closedCaptions: this.captions.services } : {}),
      ...(this.protection ? { protection: this.protection } : {}),
      ...this.thumbnailTrack(),
      live: {
        availabilityStartTime: this.availabilityStartTime,
        publishTime: this.now(),
        dvrWindow: this.config.dvrWindow,
        targetLatency: this.config.targetLatency,
        utcTimingPath: this.opts.utcTiming ?? '/time',
        lowLatency: LOW_LATENCY,
      },
    };
    this.snapshot = { version: this.version_, p };
    this.servedOnce = true;
    return p;
  }

  /**
   * The MPD's Period starts, those published before kept (see keptPeriodStarts) with the cuts
   * the encoder runs add, and with `--live-dash-periods cues` those the breaks shown add.
   */
  private dashPeriodStarts(
    breaks: readonly AdBreak[],
    timelines: readonly RenditionTimeline[],
  ): Pick<Presentation, 'dashPeriodStarts'> {
    const oldest = Math.min(
      ...timelines.filter((t) => t.segments.length > 0).map((t) => t.segments[0].start / t.rendition.timescale),
    );
    const reference = this.referenceTimeline(timelines);
    this.periodStarts = keptPeriodStarts(
      this.periodStarts,
      [...runPeriodCuts(reference), ...(this.config.dashPeriods ? dashPeriodCuts(breaks, reference) : [])],
      Number.isFinite(oldest) ? oldest : undefined,
    );
    return this.periodStarts.length > 0 ? { dashPeriodStarts: [...this.periodStarts] } : {};
  }

  private thumbnailTrack(): { thumbnails?: ThumbnailTrack } {
    const track = this.thumbnails?.track();
    return track ? { thumbnails: track } : {};
  }

  /** The rendition ad breaks are placed on: the first video rendition of the plan (an audio-only channel: its first). */
  private referenceRendition(): string | undefined {
    const ordered = this.windowsInPlanOrder().filter(([, w]) => w.rendition);
    return (ordered.find(([, w]) => w.rendition!.kind === 'video') ?? ordered[0])?.[0];
  }

  /** The reference rendition's timeline among `timelines` (the first, should it have none yet). */
  private referenceTimeline(timelines: readonly RenditionTimeline[]): RenditionTimeline {
    const rid = this.referenceRendition();
    return timelines.find((t) => t.rendition.id === rid) ?? timelines[0];
  }

  /** Media second where the window starts (the reference rendition's oldest segment); undefined without media. */
  private windowStartSec(): number | undefined {
    const rid = this.referenceRendition();
    const w = rid === undefined ? undefined : this.windows.get(rid);
    const first = w?.segments[0]?.meta;
    return w && first ? first.start / w.timescale : undefined;
  }

  private adBreaksShown(): Pick<Presentation, 'adBreaks' | 'hlsCueTags' | 'interstitial'> {
    const start = this.windowStartSec();
    const shown = start === undefined ? [] : this.adBreaks.visible(start);
    if (shown.length === 0) return {};
    const { hlsCueTags, interstitial } = this.config;
    return { adBreaks: shown, ...(hlsCueTags ? { hlsCueTags } : {}), ...(interstitial ? { interstitial } : {}) };
  }

  /** Where the reference rendition stands: the segment in production, or the next after the newest. */
  private production(): Production | undefined {
    const rid = this.referenceRendition();
    const w = rid === undefined ? undefined : this.windows.get(rid);
    const last = w?.timelineSegments().at(-1);
    if (!w || !last) return undefined;
    const ts = w.timescale;
    return last.complete
      ? { number: last.number + 1, startSec: (last.start + last.duration) / ts }
      : { number: last.number, startSec: last.start / ts };
  }

  /**
   * Cues an ad break of `durationSec` (SCTE 35 splice_insert, out of network): it starts with the
   * segment after the one in production (or `at.segment`) and is in every manifest from now on.
   * See AdBreaks.cue for `at` and the AdBreakError it throws.
   */
  cueAdBreak(
    durationSec: number,
    at: { segment?: number; eventId?: number; interstitial?: InterstitialSource } = {},
  ): { adBreak: ScheduledBreak; created: boolean } {
    const r = this.adBreaks.cue(durationSec, this.production(), at);
    if (r.created) {
      this.touch();
      this.persist();
    }
    return r;
  }

  /** Ends the open ad break at the next segment boundary (AdBreakError 409 when none is open). */
  returnFromAdBreak(): ScheduledBreak {
    const b = this.adBreaks.returnNow(this.production());
    this.touch();
    this.persist();
    return b;
  }

  /** The ad breaks the channel keeps (those not over before its window), oldest first. */
  adBreakList(): readonly ScheduledBreak[] {
    return this.adBreaks.list();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.wakePresentable();
    this.startAbort?.abort();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.startTimer) clearTimeout(this.startTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    const run = this.run;
    this.run = undefined;
    if (run) {
      run.kill();
      await run.done.catch(() => undefined);
    }
    for (const g of this.gates.values()) g.flushNow();
    await this.thumbnails?.close();
    this.endRunAll();
    this.advanceCounters();
    this.persist();
    await this.persisting;
    await Promise.all([...this.windows.values()].flatMap((w) => w.segments.map((s) => s.written ?? Promise.resolve())));
    for (const w of this.windows.values()) w.close();
    this.setState('stopped');
  }
}
