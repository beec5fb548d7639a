/**
 * Live ad breaks: the schedule (packager/live/ad-breaks.ts) that places a cue on segment
 * boundaries and decides its return one segment ahead, and the tags the writers make of it:
 * EXT-X-DATERANGE in the LL-HLS media playlist (RFC 8216bis 4.4.5.1.1, kept whole in delta
 * updates) and an EventStream in the MPD that validates against the ISO/IEC 23009-1 schema.
 */
import { describe, expect, it } from 'vitest';
import { AdBreakError, AdBreaks } from '../../../packager/live/ad-breaks.js';
import { decodeSpliceInfo, fromHexSequence } from '../../../src/scte35/splice-info.js';
import { writeMediaPlaylist } from '../../../src/hls/media-playlist.js';
import { writeMpd } from '../../../src/dash/mpd.js';
import { livePresentation } from '../hls/fixture-presentations.js';
import { validateMpd } from '../../support/xml-validate.js';

const AST = Date.UTC(2026, 11, 5, 12, 0, 0);
const SEG = 2;
const schedule = () => new AdBreaks(SEG, () => AST);

describe('the ad-break schedule', () => {
  it('a cue starts with the segment after the one in production, at its boundary', () => {
    const s = schedule();
    const b = s.cue(6, { number: 10, startSec: 20 }).adBreak;
    expect(b).toMatchObject({
      eventId: 1,
      startNumber: 11,
      mediaStart: 22,
      startDate: AST + 22_000,
      plannedDuration: 6,
    });
    expect(b.end).toBeUndefined();
    const out = decodeSpliceInfo(fromHexSequence(b.scte35Out)).spliceInsert!;
    expect(out).toMatchObject({ spliceEventId: 1, outOfNetwork: true, ptsTime: 22 * 90_000 });
    expect(out.breakDuration).toEqual({ autoReturn: true, duration: 6 * 90_000 });
  });

  it('the return is decided one segment ahead, on the boundary the planned duration reaches', () => {
    const s = schedule();
    const b = s.cue(5, { number: 10, startSec: 20 }).adBreak; // 22 s + 5 s: the boundary at 28 s (segment 14)
    expect(s.segmentCompleted(10, 20, 22)).toBe(false);
    expect(s.segmentCompleted(11, 22, 24)).toBe(false);
    expect(s.segmentCompleted(12, 24, 26)).toBe(true); // 26 + 2 reaches 27: segment 13 is the last
    expect(b.endNumber).toBe(14);
    expect(b.end).toMatchObject({ date: AST + 28_000, mediaTime: 28 });
    const back = decodeSpliceInfo(fromHexSequence(b.end!.scte35In)).spliceInsert!;
    expect(back).toMatchObject({ spliceEventId: 1, outOfNetwork: false, ptsTime: 28 * 90_000 });
    expect(back.breakDuration).toBeUndefined();
    // the segment completes where predicted: nothing changes
    expect(s.segmentCompleted(13, 26, 28)).toBe(false);
  });

  it('times predicted from the nominal duration are made exact when their segment completes', () => {
    const s = schedule();
    const b = s.cue(2, { number: 10, startSec: 20 }).adBreak;
    const cueBefore = b.scte35Out;
    expect(s.segmentCompleted(10, 20, 21.967)).toBe(true); // the segment before the break ended early
    expect(b).toMatchObject({ mediaStart: 21.967, startDate: AST + 21_967 });
    expect(b.scte35Out).not.toBe(cueBefore);
    expect(b.endNumber).toBe(12); // predicted at 23.967
    expect(s.segmentCompleted(11, 21.967, 24)).toBe(true); // and made exact
    expect(b.end!.mediaTime).toBe(24);
  });

  it('an early return ends the open break at the next boundary; a second break starts at its return at the soonest', () => {
    const s = schedule();
    s.cue(60, { number: 10, startSec: 20 });
    expect(() => s.cue(30, { number: 12, startSec: 24 })).toThrow(AdBreakError);
    const b = s.returnNow({ number: 12, startSec: 24 });
    expect(b.endNumber).toBe(13);
    expect(b.end!.mediaTime).toBe(26);
    // open until segment 13 starts: a break may follow from there (back to back), not before
    expect(() => s.cue(30, { number: 11, startSec: 22 }, { segment: 12 })).toThrow(/has not ended/);
    expect(s.cue(30, { number: 12, startSec: 24 }).adBreak).toMatchObject({ eventId: 2, startNumber: 13 });
    expect(() => schedule().returnNow({ number: 1, startSec: 2 })).toThrow(/no ad break is open/);
  });

  it('a cue for a later segment, under a given splice_event_id: two origins on one clock write the same break', () => {
    const [a, b] = [schedule(), schedule()];
    // the two encoders are a part apart: the same segment and id give the same start and cue
    const onA = a.cue(30, { number: 10, startSec: 20 }, { segment: 13, eventId: 4242 });
    const onB = b.cue(30, { number: 11, startSec: 22 }, { segment: 13, eventId: 4242 });
    expect(onA.created && onB.created).toBe(true);
    expect(onB.adBreak).toEqual(onA.adBreak);
    expect(onA.adBreak).toMatchObject({ startNumber: 13, mediaStart: 26, eventId: 4242 });
    // sent twice (an automation system's retry): the same break back, nothing new
    expect(a.cue(30, { number: 11, startSec: 22 }, { segment: 13, eventId: 4242 })).toEqual({
      adBreak: onA.adBreak,
      created: false,
    });
    expect(() => a.cue(20, { number: 11, startSec: 22 }, { segment: 13, eventId: 4242 })).toThrow(/exists already/);
    // the ids go on from the highest given
    a.returnNow({ number: 13, startSec: 26 });
    expect(a.cue(5, { number: 14, startSec: 28 }).adBreak.eventId).toBe(4243);
  });

  it('a segment not ahead of production, or an id that is no splice_event_id, is refused (400)', () => {
    const s = schedule();
    for (const segment of [10, 9, 10.5, 10 + 86_400])
      expect(() => s.cue(30, { number: 10, startSec: 20 }, { segment })).toThrow(
        expect.objectContaining({ status: 400 }),
      );
    for (const eventId of [0, -3, 1.5, 2 ** 32])
      expect(() => s.cue(30, { number: 10, startSec: 20 }, { eventId })).toThrow(
        expect.objectContaining({ status: 400 }),
      );
  });

  it('bad durations and a channel without media are refused with the status to answer', () => {
    const s = schedule();
    for (const d of [0, -1, Number.NaN, Infinity, 86_401])
      expect(() => s.cue(d, { number: 1, startSec: 2 })).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => s.cue(30, undefined)).toThrow(expect.objectContaining({ status: 503 }));
  });

  it('a break over before the window starts is no longer shown, nor kept', () => {
    const s = schedule();
    s.cue(2, { number: 10, startSec: 20 });
    s.segmentCompleted(10, 20, 22);
    expect(s.visible(23)).toHaveLength(1);
    expect(s.visible(24)).toHaveLength(0);
    s.prune(23);
    expect(s.list()).toHaveLength(1);
    s.prune(24);
    expect(s.list()).toHaveLength(0);
    // the event ids go on (saved with the breaks)
    const again = new AdBreaks(SEG, () => AST, s.persistable());
    expect(again.cue(2, { number: 20, startSec: 40 }).adBreak.eventId).toBe(2);
  });
});

describe('ad breaks in the manifests', () => {
  function withBreaks() {
    const p = livePresentation();
    const video = p.timelines[0];
    const ts = video.rendition.timescale;
    const complete = video.segments.filter((x) => x.complete);
    const s = new AdBreaks(SEG, () => p.live!.availabilityStartTime);
    // a break that started two segments back and has returned, and one cued ahead
    const first = complete[complete.length - 3];
    s.cue(2, { number: first.number - 1, startSec: first.start / ts - SEG });
    s.segmentCompleted(first.number - 1, first.start / ts - SEG, first.start / ts);
    const inProgress = video.segments[video.segments.length - 1];
    s.segmentCompleted(first.number, first.start / ts, (first.start + first.duration) / ts);
    s.cue(30, { number: inProgress.number, startSec: inProgress.start / ts });
    p.adBreaks = s.visible(complete[0].start / ts);
    return { p, breaks: s.list() };
  }

  it('media playlists carry EXT-X-DATERANGE: SCTE35-OUT with PLANNED-DURATION, then SCTE35-IN with END-DATE and DURATION', () => {
    const { p, breaks } = withBreaks();
    const text = writeMediaPlaylist(p, p.timelines[0].rendition.id);
    const tags = text.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE:'));
    const [a, b] = breaks;
    const date = (ms: number) => new Date(ms).toISOString();
    expect(tags).toEqual([
      `#EXT-X-DATERANGE:ID="splice-1",START-DATE="${date(a.startDate)}",PLANNED-DURATION=2,SCTE35-OUT=${a.scte35Out}`,
      `#EXT-X-DATERANGE:ID="splice-1",START-DATE="${date(a.startDate)}",END-DATE="${date(a.end!.date)}",DURATION=2,SCTE35-IN=${a.end!.scte35In}`,
      `#EXT-X-DATERANGE:ID="splice-2",START-DATE="${date(b.startDate)}",PLANNED-DURATION=30,SCTE35-OUT=${b.scte35Out}`,
    ]);
    // START-DATE is the PROGRAM-DATE-TIME of the segment the break starts with
    expect(text).toContain(`#EXT-X-PROGRAM-DATE-TIME:${date(a.startDate)}`);
    // every audio and video playlist alike; a delta update keeps them (no CAN-SKIP-DATERANGES)
    expect(writeMediaPlaylist(p, p.timelines[2].rendition.id)).toContain(tags.join('\n'));
    const delta = writeMediaPlaylist(p, p.timelines[0].rendition.id, { skip: 'YES' });
    expect(delta).toContain('#EXT-X-SKIP:');
    expect(delta).toContain(tags.join('\n'));
    expect(text).not.toContain('CAN-SKIP-DATERANGES');
  });

  it("the MPD carries an SCTE 35 EventStream, schema-valid: each break's start and, once decided, its return", async () => {
    const { p, breaks } = withBreaks();
    const mpd = writeMpd(p);
    const events = [
      ...mpd.matchAll(
        /<Event presentationTime="(\d+)"(?: duration="(\d+)")? id="(\d+)">\s*<Signal xmlns="http:\/\/www\.scte\.org\/schemas\/35\/2016">\s*<Binary>([^<]+)<\/Binary>/g,
      ),
    ];
    expect(mpd).toContain('<EventStream schemeIdUri="urn:scte:scte35:2014:xml+bin" timescale="1000">');
    const ms = (sec: number) => Math.round(sec * 1000);
    expect(events.map((m) => [Number(m[1]), m[2] === undefined ? undefined : Number(m[2]), Number(m[3])])).toEqual([
      [ms(breaks[0].mediaStart), 2000, 2],
      [ms(breaks[0].end!.mediaTime), undefined, 3],
      [ms(breaks[1].mediaStart), 30_000, 4],
    ]);
    const cues = events.map((m) => decodeSpliceInfo(new Uint8Array(Buffer.from(m[4], 'base64'))).spliceInsert!);
    expect(cues.map((c) => [c.spliceEventId, c.outOfNetwork])).toEqual([
      [1, true],
      [1, false],
      [2, true],
    ]);
    const v = await validateMpd(mpd);
    expect(v.errors).toBe('');
    expect(v.valid).toBe(true);
  });
});
