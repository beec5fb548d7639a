/**
 * A live channel's ad breaks cued by its feed: the SCTE 35 avail signals its relay reads
 * (feed-relay.ts), placed on the channel's segments. A signal comes with its splice time on the
 * encoder run's media clock; once the run's anchor is fixed (its first segment seen) that is a
 * media time on the channel's timeline, and the break starts (or returns) at the segment
 * boundary nearest it, never sooner than the segment after the one in production (the rule the
 * API's cues follow: every player sees the cue before the splice). Segments are cut on the
 * ladder's aligned GOPs, so a break is segment-accurate, not frame-accurate; how far its start
 * is from the splice asked for is kept with it (`feed.offsetSec`). The manifests carry the
 * feed's own section, its pts_adjustment moved onto the channel's clock (ad-breaks.ts).
 *
 * Feeds repeat a cue until its splice (SCTE 67): a signal for a break the channel has already
 * is a repeat and changes nothing. A cancel before the break starts ends it where it starts (the
 * tags players have read stay, saying zero length); after, it is refused (the break is playing:
 * only a return ends it). What each signal came to is counted in the channel's status.
 */
import type { CueSignal } from '../../src/scte35/cue-signal.js';
import { toHexSequence } from '../../src/scte35/splice-info.js';
import { AdBreakError, type AdBreaks, type Production } from './ad-breaks.js';
import type { FeedCue } from './feed-relay.js';

/** What the channel's status says of its feed's cues. */
export interface FeedCueStatus {
  /** Avail signals received from the feed. */
  received: number;
  /** Those that started or ended a break. */
  applied: number;
  /** Repeats of a signal already applied. */
  repeats: number;
  /** Those that could not be applied (the reason of the last one is `last`). */
  refused: number;
  last?: { at: string; signal: string; outcome: string };
}

export interface FeedCuesOptions {
  adBreaks: () => AdBreaks;
  production: () => Production | undefined;
  segmentDuration: number;
  now: () => number;
  /** A break was cued or its return decided: the manifests change, the channel persists. */
  changed: () => void;
  log?: (msg: string) => void;
}

interface Pending {
  cue: FeedCue;
  offsetSec: () => number | undefined;
}

export class FeedCues {
  private readonly pending: Pending[] = [];
  private readonly stats: FeedCueStatus = { received: 0, applied: 0, repeats: 0, refused: 0 };

  constructor(private readonly opts: FeedCuesOptions) {}

  /**
   * A signal from the feed, for the run whose anchor offset `offsetSec` gives (undefined until the
   * run has fixed it: the signal waits, see flush()).
   */
  receive(cue: FeedCue, offsetSec: () => number | undefined): void {
    this.stats.received++;
    this.pending.push({ cue, offsetSec });
    this.flush();
  }

  /** Places the signals waiting for their run's anchor, those whose anchor is fixed now. */
  flush(): void {
    for (let i = 0; i < this.pending.length;) {
      const p = this.pending[i];
      const offset = p.offsetSec();
      if (offset === undefined && p.cue.runSec !== undefined) {
        i++;
        continue;
      }
      this.pending.splice(i, 1);
      this.apply(p.cue, p.cue.runSec === undefined ? undefined : p.cue.runSec + offset!);
    }
  }

  status(): FeedCueStatus {
    return { ...this.stats, ...(this.stats.last ? { last: { ...this.stats.last } } : {}) };
  }

  /** Forgets the signals of a run that ended before its anchor was fixed. */
  dropPending(): void {
    this.pending.length = 0;
  }

  private apply(cue: FeedCue, mediaSec: number | undefined): void {
    const s = cue.signal;
    const outcome = (kind: 'applied' | 'repeats' | 'refused', text: string) => {
      this.stats[kind]++;
      this.stats.last = { at: new Date(this.opts.now()).toISOString(), signal: describe(s), outcome: text };
      this.opts.log?.(`feed cue ${describe(s)}: ${text}`);
    };
    const now = this.opts.production();
    if (!now) return outcome('refused', 'the channel has no media yet');
    const breaks = this.opts.adBreaks();
    const known = breaks.list().find((b) => b.eventId === s.eventId);
    // the boundary nearest the splice time (at once: the next), never before the next segment
    const nearest =
      mediaSec === undefined
        ? now.number + 1
        : now.number + Math.round((mediaSec - now.startSec) / this.opts.segmentDuration);
    try {
      if (s.kind === 'cancel') {
        if (known && !known.feed)
          return outcome('refused', `break ${s.eventId} was cued through the API, not the feed`);
        if (known?.end && known.endNumber === known.startNumber)
          return outcome('repeats', `break ${s.eventId} is cancelled already`);
        breaks.cancel(s.eventId, now);
        this.opts.changed();
        return outcome('applied', `break ${s.eventId} cancelled before its start: it ends where it starts`);
      }
      if (s.kind === 'out') {
        if (known) return outcome('repeats', `break ${s.eventId} is cued already`);
        const segment = Math.max(nearest, now.number + 1);
        const startSec = now.startSec + (segment - now.number) * this.opts.segmentDuration;
        const offsetSec = mediaSec === undefined ? 0 : Math.round((startSec - mediaSec) * 1000) / 1000;
        const { adBreak } = breaks.cue(s.durationSec, now, {
          segment,
          ...(s.eventId > 0 ? { eventId: s.eventId } : {}),
          feed: { scte35: toHexSequence(cue.section), ...(s.pts !== undefined ? { splicePts: s.pts } : {}), offsetSec },
        });
        this.opts.changed();
        return outcome(
          'applied',
          `break ${adBreak.eventId} starts with segment ${segment} (${offsetSec} s from the splice)`,
        );
      }
      if (known?.end) return outcome('repeats', `break ${s.eventId} has its return already`);
      // a return under another id ends the open break only when the feed cued that one too
      const open = breaks.list().find((b) => !b.end);
      if (!known && !open?.feed) return outcome('refused', `no break ${s.eventId} is open`);
      const b = breaks.returnNow(now, Math.max(nearest, now.number + 1));
      this.opts.changed();
      return outcome('applied', `break ${b.eventId} returns at segment ${b.endNumber}`);
    } catch (e) {
      if (e instanceof AdBreakError) return outcome('refused', e.message);
      throw e;
    }
  }
}

function describe(s: CueSignal): string {
  if (s.kind === 'cancel') return `cancel ${s.eventId}`;
  const duration = s.kind === 'out' && s.durationSec !== undefined ? ` for ${s.durationSec} s` : '';
  return `${s.kind} ${s.eventId}${duration}${s.pts === undefined ? ' at once' : ` at PTS ${s.pts}`}`;
}
