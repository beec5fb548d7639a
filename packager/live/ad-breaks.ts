/**
 * A live channel's ad breaks (SCTE 35 splice_insert cues), from the operator's cue to the tags
 * the manifests carry. A break starts on a segment boundary a whole segment ahead of the one
 * being produced, so every player sees the cue before the splice, and every rendition has a key
 * frame there (segments are cut on aligned GOPs). Its return is decided one segment ahead too:
 * when the segment in production is the last that reaches its planned duration, or at the next
 * boundary when the operator ends it early. Times are predicted from the nominal segment
 * duration and made exact when the segment they fall on completes (they agree whenever a
 * segment is a whole number of frames).
 */
import { StreamedgeError } from '../../src/errors.js';
import type { AdBreak, InterstitialSource } from '../../src/media/presentation.js';
import {
  encodeSpliceInsert,
  fromHexSequence,
  shiftPtsAdjustment,
  toHexSequence,
} from '../../src/scte35/splice-info.js';

/** SCTE 35 times are 90 kHz. */
const PTS_HZ = 90_000;
const EPS = 1e-3;

/** A break with the segment numbers it starts with and returns at (persisted as it is). */
export interface ScheduledBreak extends AdBreak {
  /** The first segment of the break. */
  startNumber: number;
  /** The first segment after the break, once the return is decided. */
  endNumber?: number;
  /**
   * A break the feed cued: its splice_info_section as the feed sent it (hex), carried in the
   * manifests whole (its UPIDs and segmentation types are what an ad decision server reads)
   * with only its pts_adjustment moved so that its splice time is the break's start on the
   * channel's clock; the splice time it gave (feed PTS, adjusted; absent: at once); and how far
   * the break's start is from that splice (seconds, + later).
   */
  feed?: { scte35: string; splicePts?: number; offsetSec: number };
}

export interface PersistedAdBreaks {
  nextEventId: number;
  breaks: ScheduledBreak[];
}

/** Where the channel's video stands: the segment being produced (number and media start, s). */
export interface Production {
  number: number;
  startSec: number;
}

export class AdBreakError extends StreamedgeError {
  constructor(
    readonly status: 400 | 409 | 503,
    message: string,
  ) {
    super('AD_BREAK', message);
  }
}

/** Longest break a cue may ask for (SCTE 35's break_duration holds far more; a day is plenty). */
export const MAX_BREAK_SEC = 86_400;

export class AdBreaks {
  private nextEventId: number;
  private breaks: ScheduledBreak[];

  constructor(
    private readonly segmentDuration: number,
    /** Epoch ms of media time 0 (PROGRAM-DATE-TIME = it + media time). */
    private readonly availabilityStartTime: () => number,
    saved?: PersistedAdBreaks,
  ) {
    this.nextEventId = saved?.nextEventId ?? 1;
    this.breaks = saved?.breaks.map((b) => ({ ...b, ...(b.end ? { end: { ...b.end } } : {}) })) ?? [];
  }

  /**
   * Cues a break of `durationSec` starting with the segment after the one in production, or with
   * segment `at.segment` (a later one), under splice_event_id `at.eventId` when given (else the
   * next). Two origins locked to one clock (`--epoch`) cued with the same segment and id write the
   * same tags. Cueing a break that exists already with the same id, segment and duration gives it
   * back (`created` false): an automation system may send its cue twice. Refused when it would
   * start before another break returns, or the id is taken (409), without media (503), or for a duration that
   * is not a positive number of seconds up to MAX_BREAK_SEC, a segment not ahead of the one in
   * production (or more than MAX_BREAK_SEC ahead), an id that is not a 32-bit number above 0 (400).
   */
  cue(
    durationSec: number | undefined,
    now: Production | undefined,
    at: {
      segment?: number;
      eventId?: number;
      feed?: ScheduledBreak['feed'];
      /** This break's own ad (HLS Interstitials), in place of the channel's. */
      interstitial?: InterstitialSource;
    } = {},
  ): { adBreak: ScheduledBreak; created: boolean } {
    if (
      (durationSec !== undefined || !at.feed) &&
      (durationSec === undefined || !Number.isFinite(durationSec) || durationSec <= 0 || durationSec > MAX_BREAK_SEC)
    )
      throw new AdBreakError(400, `duration must be a number of seconds in (0, ${MAX_BREAK_SEC}]`);
    const id = at.eventId;
    if (id !== undefined && (!Number.isInteger(id) || id < 1 || id > 0xffffffff))
      throw new AdBreakError(400, 'eventId must be a whole number from 1 to 4294967295 (SCTE 35 splice_event_id)');
    const same = id === undefined ? undefined : this.breaks.find((b) => b.eventId === id);
    if (same) {
      if (
        same.plannedDuration === durationSec &&
        (at.segment === undefined || at.segment === same.startNumber) &&
        JSON.stringify(same.interstitial) === JSON.stringify(at.interstitial)
      )
        return { adBreak: same, created: false };
      throw new AdBreakError(409, `ad break ${id} exists already, with another segment, duration or ad`);
    }
    if (!now) throw new AdBreakError(503, 'the channel has no media yet: a break is cued on its segments');
    const segment = at.segment ?? now.number + 1;
    const ahead = segment - now.number;
    if (!Number.isInteger(segment) || ahead < 1 || ahead * this.segmentDuration > MAX_BREAK_SEC)
      throw new AdBreakError(
        400,
        `segment must be a segment after the one in production (${now.number}), at most ${MAX_BREAK_SEC} s ahead`,
      );
    // breaks do not overlap: one follows another from the segment the other returns at
    const open = this.breaks.find((b) => !b.end || b.endNumber! > segment);
    if (open)
      throw new AdBreakError(
        409,
        `ad break ${open.eventId} has not ended (${open.end ? `it returns at segment ${open.endNumber}` : open.plannedDuration !== undefined ? `it returns after its planned ${open.plannedDuration} s, or at once when returned` : 'it returns when the feed or the API says so'})`,
      );
    const mediaStart = now.startSec + ahead * this.segmentDuration;
    const b: ScheduledBreak = {
      eventId: id ?? this.nextEventId,
      startNumber: segment,
      mediaStart,
      startDate: this.dateOf(mediaStart),
      ...(durationSec !== undefined ? { plannedDuration: durationSec } : {}),
      scte35Out: '',
      ...(at.feed ? { feed: at.feed } : {}),
      ...(at.interstitial ? { interstitial: at.interstitial } : {}),
    };
    this.nextEventId = Math.max(this.nextEventId, b.eventId + 1);
    b.scte35Out = this.outCue(b);
    this.breaks.push(b);
    return { adBreak: b, created: true };
  }

  /**
   * Ends the open break at the next segment boundary, or at segment `atSegment` when that is
   * later (never before the end of its first segment). 409 when no break is open.
   */
  returnNow(now: Production | undefined, atSegment?: number): ScheduledBreak {
    const b = this.breaks.find((x) => !x.end);
    if (!b || !now) throw new AdBreakError(409, 'no ad break is open');
    const endNumber = Math.max(b.startNumber + 1, now.number + 1, atSegment ?? 0);
    this.decideEnd(b, endNumber, now.startSec + (endNumber - now.number) * this.segmentDuration);
    return b;
  }

  /**
   * Calls off break `eventId` before it starts: it ends where it starts (zero length), so the
   * tags players have read already stay, now saying there is nothing to replace. 409 when it has
   * started (return it instead) or when no break has that id.
   */
  cancel(eventId: number, now: Production | undefined): ScheduledBreak {
    const b = this.breaks.find((x) => x.eventId === eventId);
    if (!b || !now) throw new AdBreakError(409, `no ad break ${eventId}`);
    if (b.startNumber <= now.number) throw new AdBreakError(409, `ad break ${eventId} has started: it can only return`);
    this.decideEnd(b, b.startNumber, b.mediaStart);
    return b;
  }

  /**
   * A video segment completed (`number`, media seconds `startSec`..`endSec`): fixes a break's
   * start or end that falls on it, and decides an open break's return when the next segment is
   * its last. Returns true when anything the manifests show changed.
   */
  segmentCompleted(number: number, startSec: number, endSec: number): boolean {
    let changed = false;
    for (const b of this.breaks) {
      // the break starts where the segment before it ends (or, at the latest, where its own starts)
      const start = b.startNumber === number + 1 ? endSec : b.startNumber === number ? startSec : undefined;
      if (start !== undefined && Math.abs(b.mediaStart - start) > EPS) {
        b.mediaStart = start;
        b.startDate = this.dateOf(start);
        b.scte35Out = this.outCue(b);
        changed = true;
      }
      if (b.end && b.endNumber === number + 1 && Math.abs(b.end.mediaTime - endSec) > EPS) {
        this.decideEnd(b, number + 1, endSec);
        changed = true;
      }
      if (!b.end && b.plannedDuration !== undefined && number >= b.startNumber - 1) {
        const plannedEnd = b.mediaStart + b.plannedDuration;
        if (endSec >= plannedEnd - EPS) {
          this.decideEnd(b, number + 1, endSec);
          changed = true;
        } else if (endSec + this.segmentDuration >= plannedEnd - EPS) {
          this.decideEnd(b, number + 2, endSec + this.segmentDuration);
          changed = true;
        }
      }
    }
    return changed;
  }

  /** The breaks a window starting at media second `windowStartSec` shows: those not over before it. */
  visible(windowStartSec: number): AdBreak[] {
    return this.breaks
      .filter((b) => !b.end || b.end.mediaTime > windowStartSec + EPS)
      .map(({ startNumber: _s, endNumber: _e, ...b }) => b);
  }

  /** Every break kept, oldest first. */
  list(): readonly ScheduledBreak[] {
    return this.breaks;
  }

  /** Drops the breaks over before a window starting at media second `windowStartSec`. */
  prune(windowStartSec: number): void {
    this.breaks = this.breaks.filter((b) => !b.end || b.end.mediaTime > windowStartSec + EPS);
  }

  persistable(): PersistedAdBreaks {
    return { nextEventId: this.nextEventId, breaks: this.breaks.map((b) => ({ ...b })) };
  }

  private decideEnd(b: ScheduledBreak, endNumber: number, mediaTime: number): void {
    b.endNumber = endNumber;
    const scte35In = toHexSequence(
      encodeSpliceInsert({
        spliceEventId: b.eventId,
        outOfNetwork: false,
        ptsTime: mediaTime * PTS_HZ,
        uniqueProgramId: 1,
        availNum: 0,
        availsExpected: 0,
      }),
    );
    b.end = { date: this.dateOf(mediaTime), mediaTime, scte35In };
  }

  private outCue(b: ScheduledBreak): string {
    if (b.feed) {
      const section = fromHexSequence(b.feed.scte35);
      if (b.feed.splicePts === undefined) return b.feed.scte35; // splice_immediate: no time to move
      return toHexSequence(shiftPtsAdjustment(section, Math.round(b.mediaStart * PTS_HZ) - b.feed.splicePts));
    }
    return toHexSequence(
      encodeSpliceInsert({
        spliceEventId: b.eventId,
        outOfNetwork: true,
        ptsTime: b.mediaStart * PTS_HZ,
        ...(b.plannedDuration !== undefined
          ? { breakDuration: { autoReturn: true, duration: b.plannedDuration * PTS_HZ } }
          : {}),
        uniqueProgramId: 1,
        availNum: 0,
        availsExpected: 0,
      }),
    );
  }

  /** Epoch ms at media second `mediaSec`, rounded to the ms as EXT-X-PROGRAM-DATE-TIME is written. */
  private dateOf(mediaSec: number): number {
    return Math.round(this.availabilityStartTime() + mediaSec * 1000);
  }
}
