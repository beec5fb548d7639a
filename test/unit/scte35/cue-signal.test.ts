/**
 * What a feed's SCTE 35 cue asks of a live channel (src/scte35/cue-signal.ts), read from the
 * standard's own samples (ANSI/SCTE 35 §14: a splice_insert, and a time_signal carrying a
 * provider placement opportunity start) and from sections written here: out with its
 * break_duration, the return, a cancel, pts_adjustment applied across the 33-bit wrap, and the
 * segmentation types that ask nothing of the manifests.
 */
import { describe, expect, it } from 'vitest';
import { cueSignalsOf, ptsDifferenceSec } from '../../../src/scte35/cue-signal.js';
import {
  decodeSpliceInfo,
  encodeSpliceInsert,
  segmentationsOf,
  shiftPtsAdjustment,
  type SpliceInfo,
} from '../../../src/scte35/splice-info.js';

const SPLICE_INSERT_SAMPLE = '/DAvAAAAAAAA///wFAVIAACPf+/+c2nALv4AUsz1AAAAAAAKAAhDVUVJAAABNWLbowo=';
const TIME_SIGNAL_SAMPLE = '/DA0AAAAAAAA///wBQb+cr0AUAAeAhxDVUVJSAAAjn/PAAGlmbAICAAAAAAsoKGKNAIAmsnRfg==';
const read = (b64: string) => decodeSpliceInfo(new Uint8Array(Buffer.from(b64, 'base64')));
const WRAP = 2 ** 33;

/** A time_signal with one segmentation_descriptor of `typeId` (program segmentation, no UPID). */
function timeSignal(typeId: number, o: { cancel?: boolean; duration?: number; pts?: number } = {}): SpliceInfo {
  return {
    ptsAdjustment: 0,
    tier: 0xfff,
    commandType: 6,
    ...(o.pts !== undefined ? { timeSignalPts: o.pts } : {}),
    descriptors: [{ tag: 2, data: segmentationDescriptor(typeId, o) }],
  };
}

function segmentationDescriptor(typeId: number, o: { cancel?: boolean; duration?: number }): Uint8Array {
  const bytes = [0x43, 0x55, 0x45, 0x49, 0, 0, 0x30, 0x39]; // CUEI, segmentation_event_id 12345
  if (o.cancel) return Uint8Array.from([...bytes, 0xff]);
  bytes.push(0x7f); // not cancelled, compliance, reserved
  bytes.push(o.duration !== undefined ? 0xff : 0xbf); // program segmentation, duration flag, no restrictions
  if (o.duration !== undefined) {
    const d = o.duration;
    bytes.push(Math.floor(d / 2 ** 32) & 0xff, (d >>> 24) & 0xff, (d >>> 16) & 0xff, (d >>> 8) & 0xff, d & 0xff);
  }
  bytes.push(0, 0, typeId, 1, 1); // no UPID, the type, segment 1 of 1
  return Uint8Array.from(bytes);
}

describe("a feed's SCTE 35 cue, as the channel reads it", () => {
  it("the standard's time_signal: a placement opportunity of 307 s starts at its pts_time", () => {
    const info = read(TIME_SIGNAL_SAMPLE);
    const [seg] = segmentationsOf(info);
    expect(seg).toMatchObject({ segmentationEventId: 0x4800008e, cancel: false, typeId: 0x34, duration: 307 * 90_000 });
    expect(seg.upid?.type).toBe(0x08); // a Turner Identifier, kept for whoever reads the cue
    expect(Buffer.from(seg.upid!.bytes).toString('hex')).toBe('000000002ca0a18a');
    expect(cueSignalsOf(info)).toEqual([{ kind: 'out', eventId: 0x4800008e, pts: 0x072bd0050, durationSec: 307 }]);
  });

  it("the standard's splice_insert: out of network at its splice time, for its break_duration", () => {
    expect(cueSignalsOf(read(SPLICE_INSERT_SAMPLE))).toEqual([
      { kind: 'out', eventId: 0x4800008f, pts: 0x07369c02e, durationSec: 0x00052ccf5 / 90_000 },
    ]);
  });

  it('a return, an immediate splice and pts_adjustment across the wrap', () => {
    const back = decodeSpliceInfo(
      encodeSpliceInsert({
        spliceEventId: 9,
        outOfNetwork: false,
        ptsTime: WRAP - 90_000,
        uniqueProgramId: 1,
        availNum: 0,
        availsExpected: 0,
      }),
    );
    expect(cueSignalsOf({ ...back, ptsAdjustment: 3 * 90_000 })).toEqual([{ kind: 'in', eventId: 9, pts: 2 * 90_000 }]);
    const now = decodeSpliceInfo(
      encodeSpliceInsert({ spliceEventId: 10, outOfNetwork: true, uniqueProgramId: 1, availNum: 0, availsExpected: 0 }),
    );
    expect(cueSignalsOf(now)).toEqual([{ kind: 'out', eventId: 10 }]); // no duration, at once
  });

  it('segmentation: break and ad starts and ends, cancels; programme and chapter types ask nothing', () => {
    expect(cueSignalsOf(timeSignal(0x22, { duration: 30 * 90_000, pts: 900 }))).toEqual([
      { kind: 'out', eventId: 12345, pts: 900, durationSec: 30 },
    ]);
    expect(cueSignalsOf(timeSignal(0x30, { pts: 900 }))).toEqual([{ kind: 'out', eventId: 12345, pts: 900 }]);
    expect(cueSignalsOf(timeSignal(0x35, { pts: 1800 }))).toEqual([{ kind: 'in', eventId: 12345, pts: 1800 }]);
    expect(cueSignalsOf(timeSignal(0x23))).toEqual([{ kind: 'in', eventId: 12345 }]);
    expect(cueSignalsOf(timeSignal(0x36, { cancel: true }))).toEqual([{ kind: 'cancel', eventId: 12345 }]);
    expect(cueSignalsOf(timeSignal(0x10, { pts: 900 }))).toEqual([]); // programme start
    expect(cueSignalsOf(timeSignal(0x20, { pts: 900 }))).toEqual([]); // chapter start
    expect(cueSignalsOf({ ptsAdjustment: 0, tier: 0xfff, commandType: 0, descriptors: [] })).toEqual([]); // splice_null
  });

  it('a section put on another clock: only pts_adjustment moves, the CRC is rewritten, moving back gives the bytes again', () => {
    const sent = new Uint8Array(Buffer.from(TIME_SIGNAL_SAMPLE, 'base64'));
    const delta = WRAP - 0x072bd0050 + 90_000; // the splice at 1 s on the new clock
    const moved = shiftPtsAdjustment(sent, delta);
    const info = decodeSpliceInfo(moved); // its CRC checks
    const original = decodeSpliceInfo(sent);
    expect(info).toEqual({ ...original, ptsAdjustment: delta % WRAP });
    expect(cueSignalsOf(info)).toEqual([{ kind: 'out', eventId: 0x4800008e, pts: 90_000, durationSec: 307 }]);
    expect(Buffer.from(shiftPtsAdjustment(moved, -delta)).equals(Buffer.from(sent))).toBe(true);
  });

  it('PTS differences go the short way round the 33-bit wrap', () => {
    expect(ptsDifferenceSec(90_000, WRAP - 90_000)).toBe(2);
    expect(ptsDifferenceSec(WRAP - 90_000, 90_000)).toBe(-2);
    expect(ptsDifferenceSec(10 * 90_000, 4 * 90_000)).toBe(6);
  });
});
