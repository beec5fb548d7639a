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
import type { AdBreak } from '../../src/media/presentation.js';
import { encodeSpliceInsert, toHexSequence } from '../../src/scte35/splice-info.js';

/** SCTE 35 times are 90 kHz. */
const PTS_HZ = 90_000;
const EPS = 1e-3;

/** A break with the segment numbers it starts with and returns at (persisted as it is). */
export interface ScheduledBreak extends AdBreak {
  /** The first segment of the break. */
  startNumber: number;
  /** The first segment after the break, once the return is decided. */
  endNumber?: number;
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
   * Cues a break of `durationSec` starting with the segment after the one in production.
   * Refused while another break has not returned (409), without media (503), or for a duration
   * that is not a positive number of seconds up to MAX_BREAK_SEC (400).
   */
  cue(durationSec: number, now: Production | undefined): ScheduledBreak {
    if (!Number.isFinite(durationSec) || durationSec <= 0 || durationSec > MAX_BREAK_SEC)
      throw new AdBreakError(400, `duration must be a number of seconds in (0, ${MAX_BREAK_SEC}]`);
    if (!now) throw new AdBreakError(503, 'the channel has no media yet: a break is cued on its segments');
    const open = this.breaks.find((b) => !b.end || b.endNumber! > now.number);
    if (open)
      throw new AdBreakError(
        409,
        `ad break ${open.eventId} has not ended (${open.end ? `it returns at segment ${open.endNumber}` : `it returns after its planned ${open.plannedDuration} s, or at once when returned`})`,
      );
    const mediaStart = now.startSec + this.segmentDuration;
    const b: ScheduledBreak = {
      eventId: this.nextEventId++,
      startNumber: now.number + 1,
      mediaStart,
      startDate: this.dateOf(mediaStart),
      plannedDuration: durationSec,
      scte35Out: '',
    };
    b.scte35Out = this.outCue(b);
    this.breaks.push(b);
    return b;
  }

  /**
   * Ends the open break at the next segment boundary (or, when it has not started yet, after its
   * first segment). 409 when no break is open.
   */
  returnNow(now: Production | undefined): ScheduledBreak {
    const b = this.breaks.find((x) => !x.end);
    if (!b || !now) throw new AdBreakError(409, 'no ad break is open');
    const endNumber = Math.max(b.startNumber + 1, now.number + 1);
    this.decideEnd(b, endNumber, now.startSec + (endNumber - now.number) * this.segmentDuration);
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
      if (!b.end && number >= b.startNumber - 1) {
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

  /** Every break kept (those over before `windowStartSec` are dropped), for the status and saving. */
  list(windowStartSec?: number): ScheduledBreak[] {
    if (windowStartSec !== undefined)
      this.breaks = this.breaks.filter((b) => !b.end || b.end.mediaTime > windowStartSec + EPS);
    return this.breaks;
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
    return toHexSequence(
      encodeSpliceInsert({
        spliceEventId: b.eventId,
        outOfNetwork: true,
        ptsTime: b.mediaStart * PTS_HZ,
        breakDuration: { autoReturn: true, duration: b.plannedDuration * PTS_HZ },
        uniqueProgramId: 1,
        availNum: 0,
        availsExpected: 0,
      }),
    );
  }

  private dateOf(mediaSec: number): number {
    return this.availabilityStartTime() + mediaSec * 1000;
  }
}
