/**
 * The player's ad-break book (player-demo/player/ad-markers.ts): HLS DATERANGEs (SCTE35-OUT, then
 * the same ID with SCTE35-IN and DURATION) and DASH SCTE 35 Events (grouped by the splice_event_id
 * of their splice_insert, placed on the MPD's clock) come out as the same breaks; Events of other
 * schemes, or without a readable splice_insert, are not mistaken for one.
 */
import { describe, expect, it } from 'vitest';
import { AdMarkerBook } from '../../../player-demo/player/ad-markers.js';
import { encodeSpliceInsert, toHexSequence } from '../../../src/scte35/splice-info.js';

const out = encodeSpliceInsert({
  spliceEventId: 7,
  outOfNetwork: true,
  ptsTime: 0,
  breakDuration: { autoReturn: true, duration: 30 * 90_000 },
  uniqueProgramId: 1,
  availNum: 0,
  availsExpected: 0,
});
const back = encodeSpliceInsert({
  spliceEventId: 7,
  outOfNetwork: false,
  uniqueProgramId: 1,
  availNum: 0,
  availsExpected: 0,
});
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const START = Date.UTC(2026, 11, 5, 12, 0, 10);

describe('ad markers', () => {
  it('HLS: a DATERANGE with SCTE35-OUT opens a break; the same ID with SCTE35-IN and DURATION returns it', () => {
    const book = new AdMarkerBook();
    const startDate = new Date(START).toISOString();
    book.noteDateRanges([
      { id: 'splice-7', startDate, plannedDuration: 30, scte35Out: toHexSequence(out) },
      { id: 'chapter-2', startDate }, // no SCTE 35: not an ad break
    ]);
    expect(book.list()).toEqual([{ id: 'splice-7', startPdtMs: START, plannedDurationSec: 30, returned: false }]);
    book.noteDateRanges([
      { id: 'splice-7', startDate, plannedDuration: 30, duration: 24, scte35Out: '0x', scte35In: '0x' },
    ]);
    expect(book.list()).toEqual([
      { id: 'splice-7', startPdtMs: START, plannedDurationSec: 30, durationSec: 24, returned: true },
    ]);
  });

  it('DASH: the out and in Events of one splice_event_id are one break, placed on the MPD clock', () => {
    const book = new AdMarkerBook();
    const ast = Date.UTC(2026, 11, 5, 12, 0, 0);
    const period = (events: string) => `<Period id="0" start="PT0S">
      <EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin" timescale="1000" presentationTimeOffset="2000">${events}</EventStream>
      <EventStream schemeIdUri="urn:example:chapters" timescale="1"><Event presentationTime="3" id="1"/></EventStream>
      <AdaptationSet/></Period>`;
    const ev = (id: number, t: number, bytes: Uint8Array, d?: number) =>
      `<Event presentationTime="${t}"${d ? ` duration="${d}"` : ''} id="${id}"><Signal xmlns="http://www.scte.org/schemas/35/2016"><Binary>${b64(bytes)}</Binary></Signal></Event>`;
    // Period at 1 s, PTO 2 s: presentationTime 11000 is 10 s after availabilityStartTime
    book.notePeriod(period(ev(14, 11_000, out, 30_000)), 1, ast);
    expect(book.list()).toEqual([{ id: 'splice-7', startPdtMs: START, plannedDurationSec: 30, returned: false }]);
    book.notePeriod(period(ev(14, 11_000, out, 24_000) + ev(15, 35_000, back)), 1, ast);
    expect(book.list()).toMatchObject([{ id: 'splice-7', startPdtMs: START, durationSec: 24, returned: true }]);
  });

  it('DASH: an Event without a readable splice_insert stands alone by its id and duration', () => {
    const book = new AdMarkerBook();
    book.notePeriod(
      `<EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin" timescale="10"><Event presentationTime="50" duration="20" id="9"><Signal><Binary>not base64!</Binary></Signal></Event></EventStream>`,
      0,
      1000,
    );
    expect(book.list()).toEqual([{ id: 'event-9', startPdtMs: 6000, durationSec: 2, returned: true }]);
  });
});
