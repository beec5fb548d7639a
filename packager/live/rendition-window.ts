/**
 * One live rendition's sliding window: the init segment, the complete segments of the DVR window
 * (on disk; the most recent also in memory), the segment in progress with its parts, and the
 * waiting list that blocking reloads, held part requests and chunked segment streams park on.
 *
 * Memory: part bytes are kept for the last few segments only (the playlist lists parts for the
 * last 3 target durations); whole-segment bytes stay in memory until the file is on disk and the
 * segment is no longer among the most recent ones. Disk: a segment that leaves the window is
 * deleted after the retention RFC 8216bis 6.2.2 asks for (its duration plus the playlist's).
 */
import { EventEmitter } from 'node:events';
import type { Part, Rendition, Segment } from '../../src/media/presentation.js';
import { PositionWaiters, SEGMENT_END } from './position-waiters.js';
import type { SegmentFiles } from './segment-files.js';
import { firstDecodeTime, fragmentSequence } from './decode-time.js';

/** Segments whose part bytes (and whole bytes) stay in memory. */
const RECENT_SEGMENTS = 6;
/** Apple: a live playlist keeps at least this many segments. */
export const MIN_WINDOW_SEGMENTS = 6;

export interface WindowSegment {
  meta: Segment;
  /** Part bytes, index = part index; dropped for older segments. */
  partBytes?: Buffer[];
  /** Whole segment bytes (complete segments), until the file is written and the segment ages. */
  body?: Buffer;
  /** Resolves once the file is on disk. */
  written?: Promise<void>;
  onDisk: boolean;
}

interface Retired {
  number: number;
  deleteAt: number;
}

export interface WindowEvents {
  part: [segmentNumber: number, partIndex: number, bytes: Buffer];
  complete: [segmentNumber: number];
  /** The segment in progress ended without completing (its bytes so far are all there is). */
  abandoned: [segmentNumber: number];
  /** The window is closing (the channel stops): held requests are answered. */
  closed: [];
}

export interface RenditionWindowOptions {
  renditionId: string;
  /** Target segment duration, seconds. */
  segmentDuration: number;
  dvrWindow: number;
  files: SegmentFiles;
  /** Epoch ms of media time 0 (PDT anchor). */
  availabilityStartTime: number;
  /** A segment or init file could not be written (or an expired one deleted). */
  onError?: (e: unknown) => void;
  /** A segment or init file was written. */
  onWritten?: () => void;
  now?: () => number;
}

export class RenditionWindow extends EventEmitter<WindowEvents> {
  readonly id: string;
  rendition?: Rendition;
  init?: Buffer;
  readonly segments: WindowSegment[] = [];
  current?: WindowSegment;
  readonly waiters = new PositionWaiters();
  /** Discontinuities that slid out of the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence = 0;
  /**
   * The highest mfhd sequence_number of the parts published (0: none known): the next encoder
   * run numbers its fragments on from it (ISO/IEC 14496-12 §8.8.5).
   */
  fragmentSequence = 0;
  /** performance.now() of the latest part/segment event (wake-up latency is measured from it). */
  lastEventAt = 0;
  private readonly retired: Retired[] = [];
  /** Deletions of retired segment files still in flight. */
  private readonly deleting = new Set<Promise<void>>();
  private pendingDiscontinuity = false;
  private readonly now: () => number;

  constructor(private readonly opts: RenditionWindowOptions) {
    super();
    this.setMaxListeners(0);
    this.id = opts.renditionId;
    this.now = opts.now ?? Date.now;
  }

  /** Restores complete segments (metadata only; bytes are on disk) after an origin restart. */
  restore(
    rendition: Rendition,
    segments: Segment[],
    discontinuitySequence: number,
    init?: Buffer,
    fragmentSequence = 0,
  ): void {
    this.rendition = rendition;
    this.init = init;
    this.discontinuitySequence = discontinuitySequence;
    this.fragmentSequence = fragmentSequence;
    for (const s of segments) this.segments.push({ meta: { ...s, parts: [], complete: true }, onDisk: true });
    const last = segments[segments.length - 1];
    if (last) this.waiters.advance(last.number, SEGMENT_END);
  }

  setInit(bytes: Buffer, rendition: Rendition): void {
    this.init = bytes;
    this.rendition = rendition;
    this.opts.files.writeInit(this.id, bytes).then(
      () => this.opts.onWritten?.(),
      (e: unknown) => this.opts.onError?.(e),
    );
  }

  /** The next segment to arrive starts a new encoder run. */
  markDiscontinuity(): void {
    this.pendingDiscontinuity = true;
  }

  get timescale(): number {
    return this.rendition?.timescale ?? 90000;
  }

  lastComplete(): WindowSegment | undefined {
    return this.segments[this.segments.length - 1];
  }

  /** Newest produced position: (msn, part index) of the last part, or (msn, SEGMENT_END) of the last complete segment. */
  edge(): { msn: number; part: number } | undefined {
    const cur = this.current;
    if (cur && cur.meta.parts.length > 0) return { msn: cur.meta.number, part: cur.meta.parts.length - 1 };
    const last = this.lastComplete();
    return last ? { msn: last.meta.number, part: SEGMENT_END } : undefined;
  }

  addPart(segmentNumber: number, part: Part, bytes: Buffer): void {
    let cur = this.current;
    if (cur && cur.meta.number !== segmentNumber) {
      // The segmenter moved on without a segment event for the previous one.
      this.finishCurrent(undefined);
      cur = undefined;
    }
    if (!cur) {
      const newest = this.lastComplete()?.meta.number;
      // a late part of a segment already closed (the run ended first) never starts a second copy
      if (newest !== undefined && segmentNumber <= newest) return;
      if (newest !== undefined && segmentNumber > newest + 1) this.dropForGap();
      const prev = this.lastComplete()?.meta;
      const tfdt = firstDecodeTime(bytes);
      const start = tfdt ?? (prev ? prev.start + prev.duration : 0);
      cur = {
        meta: {
          number: segmentNumber,
          start,
          duration: 0,
          bytes: 0,
          parts: [],
          complete: false,
          programDateTime: this.opts.availabilityStartTime + (start / this.timescale) * 1000,
          ...(this.pendingDiscontinuity && this.segments.length > 0 ? { discontinuity: true } : {}),
        },
        partBytes: [],
        onDisk: false,
      };
      this.pendingDiscontinuity = false;
      this.current = cur;
    }
    const sequence = fragmentSequence(bytes);
    if (sequence !== undefined && sequence > this.fragmentSequence) this.fragmentSequence = sequence;
    const index = cur.meta.parts.length;
    cur.meta.parts.push({ ...part, index, availableAt: this.now() });
    cur.meta.duration += part.duration;
    cur.meta.bytes += bytes.length;
    cur.partBytes!.push(bytes);
    this.lastEventAt = performance.now();
    this.waiters.advance(segmentNumber, index);
    this.emit('part', segmentNumber, index, bytes);
  }

  /** The segmenter's segment event: the current segment is complete. */
  completeSegment(seg: Segment): void {
    const cur = this.current;
    if (!cur || cur.meta.number !== seg.number) return;
    this.finishCurrent(seg);
  }

  /**
   * The encoder run ended. The segment in progress is closed with the parts it has when its
   * number is at most `keepUpTo` (so every rendition ends on the same number and numbering stays
   * consecutive for DASH $Number$), else dropped: held requests for it are woken and fail.
   */
  endRun(keepUpTo = Number.POSITIVE_INFINITY): void {
    const cur = this.current;
    if (!cur) return;
    if (cur.meta.number <= keepUpTo) {
      this.finishCurrent(undefined, true);
      return;
    }
    this.current = undefined;
    this.waiters.rewind(cur.meta.number, 0);
    this.emit('abandoned', cur.meta.number);
  }

  /** Number of the last segment this window holds or is producing. */
  newestNumber(): number | undefined {
    return this.current?.meta.number ?? this.lastComplete()?.meta.number;
  }

  private finishCurrent(seg: Segment | undefined, abandoned = false): void {
    const cur = this.current!;
    this.current = undefined;
    if (cur.meta.parts.length === 0) return;
    cur.meta.complete = true;
    if (seg) {
      cur.meta.duration = seg.duration;
      if (seg.iframes) cur.meta.iframes = seg.iframes;
    }
    cur.body = Buffer.concat(cur.partBytes!);
    cur.meta.bytes = cur.body.length;
    cur.written = this.opts.files.writeSegment(this.id, cur.meta.number, cur.body).then(
      () => {
        cur.onDisk = true;
        this.opts.onWritten?.();
      },
      (e: unknown) => this.opts.onError?.(e),
    );
    this.segments.push(cur);
    this.lastEventAt = performance.now();
    this.waiters.advance(cur.meta.number, SEGMENT_END);
    if (abandoned) this.emit('abandoned', cur.meta.number);
    this.emit('complete', cur.meta.number);
    this.slide();
  }

  /**
   * The numbering jumped: an epoch-locked channel (run-anchor.ts) was down for whole segments.
   * HLS numbers a playlist's segments by position (EXT-X-MEDIA-SEQUENCE + index) and DASH by
   * $Number$ from startNumber, so a window cannot list a hole: the old segments leave it (their
   * files retire as usual) and the discontinuity before the new run counts as slid out.
   */
  private dropForGap(): void {
    const now = this.now();
    for (const gone of this.segments.splice(0)) {
      if (gone.meta.discontinuity) this.discontinuitySequence++;
      const retention = (gone.meta.duration / this.timescale + this.opts.dvrWindow) * 1000;
      this.retired.push({ number: gone.meta.number, deleteAt: now + retention });
    }
    this.discontinuitySequence++;
  }

  /** Drops what left the DVR window (keeping at least MIN_WINDOW_SEGMENTS) and deletes expired files. */
  private slide(): void {
    const ts = this.timescale;
    let total = 0;
    for (const s of this.segments) total += s.meta.duration / ts;
    while (
      this.segments.length > MIN_WINDOW_SEGMENTS &&
      total - this.segments[0].meta.duration / ts >= this.opts.dvrWindow
    ) {
      const gone = this.segments.shift()!;
      total -= gone.meta.duration / ts;
      if (gone.meta.discontinuity) this.discontinuitySequence++;
      const retention = (gone.meta.duration / ts + this.opts.dvrWindow) * 1000;
      this.retired.push({ number: gone.meta.number, deleteAt: this.now() + retention });
    }
    // Memory: only the most recent segments keep their bytes.
    const keepFrom = this.segments.length - RECENT_SEGMENTS;
    for (let i = 0; i < keepFrom; i++) {
      const s = this.segments[i];
      if (s.partBytes) s.partBytes = undefined;
      if (s.body && s.onDisk) s.body = undefined;
    }
    const now = this.now();
    while (this.retired.length > 0 && this.retired[0].deleteAt <= now) {
      const r = this.retired.shift()!;
      const deleting = this.opts.files.deleteSegment(this.id, r.number).then(
        () => undefined,
        (e: unknown) => this.opts.onError?.(e),
      );
      this.deleting.add(deleting);
      void deleting.finally(() => this.deleting.delete(deleting));
    }
  }

  /** Resolves once the segment files being deleted right now are gone (for orderly shutdown and tests). */
  async deletionsSettled(): Promise<void> {
    await Promise.all([...this.deleting]);
  }

  /** Numbers still servable: in the window, in progress, or retired but not yet deleted. */
  find(n: number): WindowSegment | 'retired' | undefined {
    if (this.current?.meta.number === n) return this.current;
    const first = this.segments[0]?.meta.number;
    if (first !== undefined && n >= first) {
      // Numbers are consecutive within a window except across a lost in-progress segment.
      const guess = this.segments[n - first];
      if (guess?.meta.number === n) return guess;
      return this.segments.find((s) => s.meta.number === n);
    }
    if (this.retired.some((r) => r.number === n)) return 'retired';
    return undefined;
  }

  filePath(n: number): string {
    return this.opts.files.segmentPath(this.id, n);
  }

  /** Whether parts of segment n are listed as parts by the playlist and held in memory. */
  partBytes(n: number, p: number): Buffer | undefined {
    const s = this.find(n);
    if (!s || s === 'retired') return undefined;
    return s.partBytes?.[p];
  }

  /** Segments for the presentation: the window plus the segment in progress. */
  timelineSegments(): Segment[] {
    const out = this.segments.map((s) => (s.partBytes ? s.meta : { ...s.meta, parts: [] }));
    if (this.current && this.current.meta.parts.length > 0)
      out.push({ ...this.current.meta, parts: [...this.current.meta.parts] });
    return out;
  }

  /** Window metadata to persist (complete segments, without parts). */
  persistable(): Segment[] {
    return this.segments.map((s) => ({ ...s.meta, parts: [] }));
  }

  close(): void {
    this.emit('closed');
    this.waiters.close();
    this.removeAllListeners();
  }
}
