/**
 * A live channel's breaks cued by its feed (packager/live/feed-cues.ts) on a real schedule
 * (ad-breaks.ts): a signal waits for its run's anchor, then starts its break at the segment
 * boundary nearest the splice (never sooner than the segment after the one in production), with
 * the feed's own section as the cue (its pts_adjustment moved onto the channel's clock) and the
 * offset from the splice kept; repeats change
 * nothing; a return ends the break at the boundary nearest its splice; a cancel before the start
 * ends it where it starts (after, refused); a return or cancel for a break the API cued and a
 * second break while one is open are refused and counted; a break
 * without a duration lasts until its return and its tag says no planned duration.
 */
import { describe, expect, it } from 'vitest';
import { AdBreaks, type Production } from '../../../packager/live/ad-breaks.js';
import { FeedCues } from '../../../packager/live/feed-cues.js';
import type { FeedCue } from '../../../packager/live/feed-relay.js';
import type { CueSignal } from '../../../src/scte35/cue-signal.js';
import {
  decodeSpliceInfo,
  encodeSpliceInsert,
  fromHexSequence,
  toHexSequence,
} from '../../../src/scte35/splice-info.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { livePresentation } from '../hls/fixture-presentations.js';

const AST = Date.UTC(2026, 11, 6, 12, 0, 0);
const SEG = 2;
/** The feed's cue: splice_insert out at feed PTS 1000. */
const FEED_PTS = 1000;
const SECTION = encodeSpliceInsert({
  spliceEventId: 77,
  outOfNetwork: true,
  ptsTime: FEED_PTS,
  uniqueProgramId: 1,
  availNum: 0,
  availsExpected: 0,
});

function channel(production: Production = { number: 10, startSec: 20 }) {
  const breaks = new AdBreaks(SEG, () => AST);
  let changes = 0;
  const now: { production: Production | undefined } = { production };
  const cues = new FeedCues({
    adBreaks: () => breaks,
    production: () => now.production,
    segmentDuration: SEG,
    now: () => AST + 30_000,
    changed: () => changes++,
  });
  const cue = (signal: CueSignal, runSec?: number): FeedCue => ({
    signal,
    section: SECTION,
    ...(runSec !== undefined ? { runSec } : {}),
  });
  return { breaks, cues, cue, now, changes: () => changes };
}

describe("the feed's cues on a live channel", () => {
  it('a signal waits for its run anchor, then starts at the boundary nearest the splice', () => {
    const { breaks, cues, cue, changes } = channel();
    const anchor: { offsetSec?: number } = {};
    // the run's media clock is 5 s behind the channel's: the splice at run 24.3 s is media 29.3 s
    cues.receive(cue({ kind: 'out', eventId: 77, pts: FEED_PTS, durationSec: 30 }, 24.3), () => anchor.offsetSec);
    expect(breaks.list()).toHaveLength(0);
    anchor.offsetSec = 5;
    cues.flush();
    const [b] = breaks.list();
    // production: segment 10 from 20 s; 29.3 s is nearest the boundary at 30 s (segment 15)
    expect(b).toMatchObject({ eventId: 77, startNumber: 15, mediaStart: 30, plannedDuration: 30 });
    // the feed's section, its pts_adjustment moved so that its splice time is the break's start here
    const out = decodeSpliceInfo(fromHexSequence(b.scte35Out));
    const sent = decodeSpliceInfo(SECTION);
    expect(out.spliceInsert).toEqual(sent.spliceInsert);
    expect((out.spliceInsert!.ptsTime! + out.ptsAdjustment) % 2 ** 33).toBe(30 * 90_000);
    expect(b.feed).toEqual({ scte35: toHexSequence(SECTION), splicePts: FEED_PTS, offsetSec: 0.7 });
    expect(changes()).toBe(1);
    expect(cues.status()).toMatchObject({ received: 1, applied: 1, repeats: 0, refused: 0 });
    // the segment before the break ends a frame early: the start, and the cue's time, follow it
    breaks.segmentCompleted(14, 28, 29.96);
    const moved = decodeSpliceInfo(fromHexSequence(breaks.list()[0].scte35Out));
    expect((moved.spliceInsert!.ptsTime! + moved.ptsAdjustment) % 2 ** 33).toBe(29.96 * 90_000);
  });

  it('a splice already due, or at once, starts with the segment after the one in production', () => {
    const late = channel();
    late.cues.receive(late.cue({ kind: 'out', eventId: 5, pts: FEED_PTS, durationSec: 10 }, 15), () => 5); // media 20 s: now
    expect(late.breaks.list()[0]).toMatchObject({ startNumber: 11, mediaStart: 22, feed: { offsetSec: 2 } });
    const atOnce = channel();
    atOnce.cues.receive(atOnce.cue({ kind: 'out', eventId: 6, durationSec: 10 }), () => undefined);
    expect(atOnce.breaks.list()[0]).toMatchObject({ startNumber: 11, feed: { offsetSec: 0 } });
  });

  it('repeats change nothing; the return ends the break at the boundary nearest its splice', () => {
    const { breaks, cues, cue, now } = channel();
    cues.receive(cue({ kind: 'out', eventId: 77, pts: FEED_PTS, durationSec: 60 }, 24.8), () => 0);
    cues.receive(cue({ kind: 'out', eventId: 77, pts: FEED_PTS, durationSec: 60 }, 24.8), () => 0);
    expect(breaks.list()).toHaveLength(1);
    now.production = { number: 13, startSec: 26 };
    cues.receive(cue({ kind: 'in', eventId: 77, pts: 2 }, 32.3), () => 0);
    expect(breaks.list()[0]).toMatchObject({ startNumber: 12, endNumber: 16, end: { mediaTime: 32 } });
    cues.receive(cue({ kind: 'in', eventId: 77, pts: 2 }, 32.3), () => 0);
    expect(cues.status()).toMatchObject({ received: 4, applied: 2, repeats: 2, refused: 0 });
  });

  it('refuses, and counts, what it cannot apply', () => {
    const { breaks, cues, cue } = channel();
    breaks.cue(20, { number: 10, startSec: 20 }); // the API's break, event 1
    cues.receive(cue({ kind: 'in', eventId: 99 }), () => 0);
    expect(breaks.list()[0].end).toBeUndefined(); // a feed's return does not end the API's break
    cues.receive(cue({ kind: 'out', eventId: 98, durationSec: 10 }), () => 0);
    expect(breaks.list()).toHaveLength(1); // one break at a time
    cues.receive(cue({ kind: 'cancel', eventId: 1 }), () => 0);
    const status = cues.status();
    expect(status).toMatchObject({ received: 3, applied: 0, refused: 3 });
    expect(status.last?.outcome).toMatch(/cued through the API, not the feed/);
    const noMedia = channel();
    noMedia.now.production = undefined;
    noMedia.cues.receive(noMedia.cue({ kind: 'out', eventId: 4, durationSec: 10 }), () => 0);
    expect(noMedia.cues.status().last?.outcome).toBe('the channel has no media yet');
  });

  it('a cancel before the start ends the break where it starts; after the start it is refused', () => {
    const { breaks, cues, cue, now } = channel();
    cues.receive(cue({ kind: 'out', eventId: 30, pts: FEED_PTS, durationSec: 30 }, 28), () => 0);
    const [b] = breaks.list();
    expect(b.startNumber).toBe(14);
    now.production = { number: 12, startSec: 24 };
    cues.receive(cue({ kind: 'cancel', eventId: 30 }), () => 0);
    expect(b).toMatchObject({ endNumber: 14, end: { mediaTime: b.mediaStart, date: b.startDate } });
    cues.receive(cue({ kind: 'cancel', eventId: 30 }), () => 0); // the feed says it again
    expect(cues.status()).toMatchObject({ applied: 2, repeats: 1, refused: 0 });
    // the tags say so: the return at the start, zero long
    const p = { ...livePresentation(), adBreaks: breaks.visible(0) };
    const tags = writeMediaPlaylist(p, p.timelines[0].rendition.id)
      .split('\n')
      .filter((l) => l.startsWith('#EXT-X-DATERANGE'));
    expect(tags).toHaveLength(2);
    expect(tags[1]).toContain('DURATION=0');
    // a new break may take its place at once
    cues.receive(cue({ kind: 'out', eventId: 31, pts: FEED_PTS, durationSec: 10 }, 28), () => 0);
    expect(breaks.list().at(-1)).toMatchObject({ eventId: 31, startNumber: 14 });
    // once a break has started, a cancel is refused: only a return ends it
    now.production = { number: 15, startSec: 30 };
    cues.receive(cue({ kind: 'cancel', eventId: 31 }), () => 0);
    expect(cues.status().last?.outcome).toMatch(/has started: it can only return/);
    expect(breaks.list().at(-1)!.end).toBeUndefined();
  });

  it('a break without a duration lasts until its return; its tag carries no PLANNED-DURATION', () => {
    const { breaks, cues, cue, now } = channel();
    cues.receive(cue({ kind: 'out', eventId: 8 }), () => 0);
    const [b] = breaks.list();
    expect(b.plannedDuration).toBeUndefined();
    for (let n = 10; n < 40; n++) breaks.segmentCompleted(n, n * SEG, (n + 1) * SEG);
    expect(b.end).toBeUndefined(); // never returns by itself
    const p = { ...livePresentation(), adBreaks: breaks.visible(0) };
    const tags = writeMediaPlaylist(p, p.timelines[0].rendition.id);
    const out = tags.split('\n').find((l) => l.startsWith('#EXT-X-DATERANGE'));
    expect(out).toContain('ID="splice-8"');
    expect(out).not.toContain('PLANNED-DURATION');
    now.production = { number: 40, startSec: 80 };
    cues.receive(cue({ kind: 'in', eventId: 8 }), () => 0);
    expect(b).toMatchObject({ endNumber: 41, end: { mediaTime: 82 } });
  });
});
