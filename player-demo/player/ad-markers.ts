/**
 * The ad breaks a live manifest signals with SCTE 35, gathered across reloads by their id:
 * - HLS: EXT-X-DATERANGE tags carrying SCTE35-OUT (or SCTE35-CMD); a later tag with the same ID
 *   adds the return (SCTE35-IN, DURATION or END-DATE). RFC 8216bis 4.4.5.1.1.
 * - DASH: Events of an EventStream of scheme urn:scte:scte35:2014:xml+bin (SCTE 214-1), placed
 *   on the MPD's clock: availabilityStartTime + the Period's start + (presentationTime −
 *   presentationTimeOffset) / timescale.
 * A break is kept once seen (it may slide out of the manifest while the viewer still plays it).
 */
import type { AdMarker } from './source-model.js';
import { decodeSpliceInfo, type SpliceInsert } from '../../src/scte35/splice-info.js';

/** A DATERANGE as m3u8-parser gives it (tags of one ID merged). */
export interface ParsedDateRange {
  id: string;
  startDate?: string | Date;
  endDate?: string | Date;
  duration?: number;
  plannedDuration?: number;
  scte35Out?: string;
  scte35In?: string;
  scte35Cmd?: string;
}

export const SCTE35_DASH_SCHEME = 'urn:scte:scte35:2014:xml+bin';
/** Breaks kept at most (the oldest go first). */
const MAX_KEPT = 50;

export class AdMarkerBook {
  private readonly byId = new Map<string, AdMarker & { returnPdtMs?: number }>();

  /** HLS: the media playlist's DATERANGEs (those with SCTE 35 attributes). */
  noteDateRanges(ranges: readonly ParsedDateRange[]): void {
    for (const r of ranges) {
      if (r.scte35Out === undefined && r.scte35Cmd === undefined && r.scte35In === undefined) continue;
      const start = r.startDate !== undefined ? new Date(r.startDate).getTime() : NaN;
      if (!Number.isFinite(start)) continue;
      const end = r.endDate !== undefined ? new Date(r.endDate).getTime() : NaN;
      const duration = r.duration ?? (Number.isFinite(end) ? (end - start) / 1000 : undefined);
      const known = this.byId.get(r.id);
      this.put({
        id: r.id,
        startPdtMs: start,
        ...((duration ?? known?.durationSec) !== undefined ? { durationSec: duration ?? known?.durationSec } : {}),
        ...((r.plannedDuration ?? known?.plannedDurationSec) !== undefined
          ? { plannedDurationSec: r.plannedDuration ?? known?.plannedDurationSec }
          : {}),
        returned: (known?.returned ?? false) || r.scte35In !== undefined || duration !== undefined,
      });
    }
  }

  /**
   * DASH: one Period's SCTE 35 Events (`periodText` holds the Period), on the MPD's clock. An
   * Event whose splice_insert reads is grouped by its splice_event_id (`splice-<id>`, as the HLS
   * DATERANGE ID of our origin): out of network starts the break (its break_duration is the
   * planned length), back in returns it. Any other Event stands alone by its own id, its duration
   * its length.
   */
  notePeriod(periodText: string, periodStartSec: number, availabilityStartMs: number): void {
    const streams = periodText.matchAll(/<((?:[\w-]+:)?EventStream)\b([^>]*)>([\s\S]*?)<\/\1\s*>/g);
    for (const [, , attrs, body] of streams) {
      if (attr(attrs, 'schemeIdUri') !== SCTE35_DASH_SCHEME) continue;
      const timescale = Number(attr(attrs, 'timescale') ?? 1) || 1;
      const pto = Number(attr(attrs, 'presentationTimeOffset') ?? 0);
      const events = body.matchAll(/<((?:[\w-]+:)?Event)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1\s*>)/g);
      for (const [, , eventAttrs, content] of events) {
        const at = (Number(attr(eventAttrs, 'presentationTime') ?? 0) - pto) / timescale;
        const pdt = availabilityStartMs + (periodStartSec + at) * 1000;
        const duration = attr(eventAttrs, 'duration');
        const splice = spliceInsertOf(content);
        if (splice) this.noteSplice(splice, pdt);
        else {
          const id = attr(eventAttrs, 'id');
          if (id === undefined) continue;
          const durationSec = duration !== undefined ? Number(duration) / timescale : undefined;
          this.put({
            id: `event-${id}`,
            startPdtMs: pdt,
            ...(durationSec !== undefined ? { durationSec } : {}),
            returned: durationSec !== undefined,
          });
        }
      }
    }
  }

  private noteSplice(s: SpliceInsert, pdtMs: number): void {
    const id = `splice-${s.spliceEventId}`;
    const known = this.byId.get(id);
    if (s.outOfNetwork) {
      const planned = s.breakDuration ? s.breakDuration.duration / 90_000 : undefined;
      this.put({
        ...known,
        id,
        startPdtMs: pdtMs,
        ...(planned !== undefined ? { plannedDurationSec: planned } : {}),
        returned: known?.returned ?? false,
        ...(known?.returnPdtMs !== undefined ? { durationSec: (known.returnPdtMs - pdtMs) / 1000 } : {}),
      });
    } else if (known) {
      this.put({ ...known, returned: true, returnPdtMs: pdtMs, durationSec: (pdtMs - known.startPdtMs) / 1000 });
    } else {
      // the return seen before its start (the start slid out of the MPD): kept until the start comes
      this.put({ id, startPdtMs: pdtMs, returned: true, returnPdtMs: pdtMs });
    }
  }

  list(): AdMarker[] {
    return [...this.byId.values()].sort((a, b) => a.startPdtMs - b.startPdtMs).map(({ returnPdtMs: _, ...m }) => m);
  }

  private put(m: AdMarker & { returnPdtMs?: number }): void {
    this.byId.set(m.id, m);
    if (this.byId.size > MAX_KEPT) this.byId.delete(this.list()[0].id);
  }
}

/** The splice_insert (not a cancel) in an Event's Signal/Binary, if it reads as one. */
function spliceInsertOf(content: string | undefined): SpliceInsert | undefined {
  const b64 = content && /<(?:[\w-]+:)?Binary>\s*([A-Za-z0-9+/=\s]+?)\s*<\//.exec(content)?.[1];
  if (!b64) return undefined;
  try {
    const bytes = Uint8Array.from(atob(b64.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    return decodeSpliceInfo(bytes).spliceInsert;
  } catch {
    return undefined; // not base64, or not a valid section: not a break we can place
  }
}

function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name}="([^"]*)"`).exec(attrs)?.[1];
}
