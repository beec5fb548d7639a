/**
 * What a feed's SCTE 35 cue asks of a live channel: leave the network for a break, come back,
 * or call a break off. Read from the two commands feeds use for ad avails: splice_insert
 * (§9.7.3) and time_signal (§9.7.4) with segmentation_descriptors (§10.3.3) of the break,
 * advertisement and placement-opportunity types. Other commands (splice_null heartbeats,
 * bandwidth_reservation) and other segmentation types (programme, chapter, content
 * identification...) ask nothing of the channel's manifests.
 */
import { segmentationsOf, type SpliceInfo } from './splice-info.js';

/** 33-bit PTS (90 kHz) wraps at 2^33. */
const PTS_MOD = 2 ** 33;
const PTS_HZ = 90_000;

/** segmentation_type_ids that open an avail (SCTE 35 Table 23): break, ad, placement opportunity. */
const OPENS = new Set([0x22, 0x30, 0x32, 0x34, 0x36]);
/** Their ends. */
const CLOSES = new Set([0x23, 0x31, 0x33, 0x35, 0x37]);

export type CueSignal =
  /** A break starts at `pts` (feed PTS, pts_adjustment applied; absent: at once) for `durationSec` if given. */
  | { kind: 'out'; eventId: number; pts?: number; durationSec?: number }
  /** The break `eventId` (or the open one) ends at `pts` (absent: at once). */
  | { kind: 'in'; eventId: number; pts?: number }
  /** The break `eventId` is called off. */
  | { kind: 'cancel'; eventId: number };

/** The avail signals of one splice_info_section, in order (empty: nothing for the manifests). */
export function cueSignalsOf(info: SpliceInfo): CueSignal[] {
  const at = (pts: number | undefined) =>
    pts === undefined ? {} : { pts: (((pts + info.ptsAdjustment) % PTS_MOD) + PTS_MOD) % PTS_MOD };
  if (info.cancelledEventId !== undefined) return [{ kind: 'cancel', eventId: info.cancelledEventId }];
  const s = info.spliceInsert;
  if (s) {
    const seconds = s.breakDuration ? s.breakDuration.duration / PTS_HZ : undefined;
    return [
      s.outOfNetwork
        ? { kind: 'out', eventId: s.spliceEventId, ...at(s.ptsTime), ...(seconds ? { durationSec: seconds } : {}) }
        : { kind: 'in', eventId: s.spliceEventId, ...at(s.ptsTime) },
    ];
  }
  if (info.commandType !== 0x06) return [];
  const signals: CueSignal[] = [];
  for (const seg of segmentationsOf(info)) {
    const eventId = seg.segmentationEventId;
    if (seg.cancel) signals.push({ kind: 'cancel', eventId });
    else if (seg.typeId !== undefined && OPENS.has(seg.typeId))
      signals.push({
        kind: 'out',
        eventId,
        ...at(info.timeSignalPts),
        ...(seg.duration ? { durationSec: seg.duration / PTS_HZ } : {}),
      });
    else if (seg.typeId !== undefined && CLOSES.has(seg.typeId))
      signals.push({ kind: 'in', eventId, ...at(info.timeSignalPts) });
  }
  return signals;
}

/** `a − b` of two 33-bit PTS values, as the shorter way round the wrap (seconds). */
export function ptsDifferenceSec(a: number, b: number): number {
  let d = (((a - b) % PTS_MOD) + PTS_MOD) % PTS_MOD;
  if (d >= PTS_MOD / 2) d -= PTS_MOD;
  return d / PTS_HZ;
}
