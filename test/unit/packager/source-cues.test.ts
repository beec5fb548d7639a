/**
 * How a source's SCTE 35 signals become ad cues (packager/source-cues.ts): repeats, returns,
 * cancels and immediate splices in the book; then what the packager can place: inside the
 * programme, back-to-back avails sharing a splice point, one inside a break left out.
 */
import { describe, expect, it } from 'vitest';
import { placeSourceCues, SourceCueBook } from '../../../packager/source-cues.js';
import type { AdCue } from '../../../packager/ad-cues.js';

const HZ = 90_000;
const START = 126_000; // the container's first timestamp: 1.4 s
const section = Uint8Array.from([0xfc]);
const pts = (sec: number) => START + sec * HZ;
/** Each cue's start and length, to the µs. */
const times = (cues: AdCue[]) =>
  cues.map((c) => [c.atSec, c.durationSec === undefined ? undefined : Math.round(c.durationSec * 1e6) / 1e6]);

describe('SourceCueBook', () => {
  it('counts a repeated out once, and its return gives it its length', () => {
    const book = new SourceCueBook(START);
    book.note({ kind: 'out', eventId: 7, pts: pts(10) }, section, undefined);
    book.note({ kind: 'out', eventId: 7, pts: pts(10) }, section, undefined);
    book.note({ kind: 'in', eventId: 7, pts: pts(40) }, section, undefined);
    expect(times(book.cues())).toEqual([[10, 30]]);
    expect(book.cues()[0].source).toEqual({ section, splicePts: pts(10) });
  });

  it('keeps a break_duration, drops a cancelled event, and times a splice_immediate where the stream is', () => {
    const book = new SourceCueBook(START);
    book.note({ kind: 'out', eventId: 1, pts: pts(5), durationSec: 15 }, section, undefined);
    book.note({ kind: 'out', eventId: 2, pts: pts(60) }, section, undefined);
    book.note({ kind: 'cancel', eventId: 2 }, section, undefined);
    book.note({ kind: 'out', eventId: 3 }, section, pts(90));
    expect(times(book.cues())).toEqual([
      [5, 15],
      [90, undefined],
    ]);
    // no splice time of its own: the section goes into the manifests as it is
    expect(book.cues()[1].source).toEqual({ section });
  });

  it('reads times across the 33-bit PTS wrap', () => {
    const book = new SourceCueBook(2 ** 33 - HZ); // 1 s before the wrap
    book.note({ kind: 'out', eventId: 1, pts: 2 * HZ }, section, undefined);
    expect(times(book.cues())).toEqual([[3, undefined]]);
  });
});

describe('placeSourceCues', () => {
  it('keeps what it can place, and says why it left out the rest', () => {
    const notes: string[] = [];
    const placed = placeSourceCues(
      [
        { atSec: -2 },
        { atSec: 10, durationSec: 30 },
        { atSec: 40.2, durationSec: 20 }, // back to back: 0.2 s after the previous end
        { atSec: 50 }, // inside the break before it
        { atSec: 90, durationSec: 30 }, // runs past the end
        { atSec: 130 },
      ],
      100,
      0.5,
      notes,
    );
    expect(times(placed)).toEqual([
      [10, 30.2],
      [40.2, 20],
      [90, undefined],
    ]);
    expect(notes).toEqual([
      'the cue at -2.000 s is outside the programme (0 to 100.00 s): left out',
      'the cue at 50.000 s starts inside the break before it: left out',
      "the cue at 90.000 s starts a break that runs past the programme's end: kept as a splice point",
      'the cue at 130.000 s is outside the programme (0 to 100.00 s): left out',
    ]);
  });
});
