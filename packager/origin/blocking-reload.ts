/**
 * LL-HLS delivery directives (RFC 8216bis 6.2.5): `_HLS_msn`, `_HLS_part` (blocking playlist
 * reload) and `_HLS_skip` (delta update), and the server rules around them:
 *   - `_HLS_part` without `_HLS_msn`, or a malformed value → 400;
 *   - `_HLS_msn` more than 2 beyond the last Media Segment of the playlist, or `_HLS_part` more
 *     than the Advance Part Limit beyond the last Partial Segment → 400 at once (a Part Index
 *     beyond the final Partial Segment of a complete Parent Segment counts as Part Index 0 of
 *     the next one, 6.2.5.2);
 *   - otherwise the request is held until the playlist contains the requested Partial Segment
 *     (or, without `_HLS_part`, the complete Media Segment) or anything later, and answered
 *     503 if that has not happened within 3 target durations (held-requests.ts holds them;
 *     `satisfied` decides).
 */
import { SEGMENT_END } from '../live/position-waiters.js';
import type { RenditionWindow } from '../live/rendition-window.js';

export interface DeliveryDirectives {
  msn?: number;
  part?: number;
  skip?: 'YES' | 'v2';
}

export type DirectivesResult = { ok: true; value: DeliveryDirectives } | { ok: false; message: string };

const INTEGER = /^\d{1,12}$/;

export function parseDirectives(query: Record<string, unknown>): DirectivesResult {
  const msnRaw = query._HLS_msn;
  const partRaw = query._HLS_part;
  const skipRaw = query._HLS_skip;
  const value: DeliveryDirectives = {};
  if (msnRaw !== undefined) {
    if (typeof msnRaw !== 'string' || !INTEGER.test(msnRaw))
      return { ok: false, message: '_HLS_msn must be a non-negative integer' };
    value.msn = Number(msnRaw);
  }
  if (partRaw !== undefined) {
    if (value.msn === undefined) return { ok: false, message: '_HLS_part requires _HLS_msn' };
    if (typeof partRaw !== 'string' || !INTEGER.test(partRaw))
      return { ok: false, message: '_HLS_part must be a non-negative integer' };
    value.part = Number(partRaw);
  }
  if (skipRaw !== undefined) {
    if (skipRaw !== 'YES' && skipRaw !== 'v2') return { ok: false, message: '_HLS_skip must be YES or v2' };
    value.skip = skipRaw;
  }
  return { ok: true, value };
}

/** Advance Part Limit: 3 parts, or 3 seconds' worth when parts are shorter than a second. */
export function advancePartLimit(partTargetSec: number): number {
  return partTargetSec < 1 ? Math.floor(3 / partTargetSec) : 3;
}

/**
 * Whether (msn, part) is too far ahead of what `w` has produced (→ 400). `partsPerSegment`
 * estimates how many parts a segment has, to count parts across a segment boundary.
 */
export function tooFarAhead(
  w: RenditionWindow,
  msn: number,
  part: number | undefined,
  partTargetSec: number,
  partsPerSegment: number,
): string | undefined {
  const lastComplete = w.lastComplete()?.meta.number ?? (w.current ? w.current.meta.number - 1 : -1);
  if (msn > lastComplete + 2) return `_HLS_msn=${msn} is more than two segments beyond the last one (${lastComplete})`;
  if (part === undefined) return undefined;
  // RFC 8216bis 6.2.5.2: a Part Index beyond the final Partial Segment of its Parent Segment is a
  // request for Part Index 0 of the following one (so it is never "ahead" by its raw number)
  const parent = msn <= lastComplete ? w.find(msn) : undefined;
  if (parent !== undefined && parent !== 'retired' && part >= parent.meta.parts.length) {
    msn++;
    part = 0;
  }
  const edge = w.edge();
  let edgeMsn: number;
  let edgePart: number;
  if (!edge) {
    edgeMsn = lastComplete + 1;
    edgePart = -1;
  } else if (edge.part === SEGMENT_END) {
    edgeMsn = edge.msn + 1;
    edgePart = -1;
  } else {
    edgeMsn = edge.msn;
    edgePart = edge.part;
  }
  const ahead = (msn - edgeMsn) * partsPerSegment + (part - edgePart);
  const limit = advancePartLimit(partTargetSec);
  if (ahead > limit)
    return `_HLS_part=${part} of _HLS_msn=${msn} is ${ahead} parts ahead of the live edge (limit ${limit})`;
  return undefined;
}

/** Whether the playlist of `w` satisfies the directives now. */
export function satisfied(w: RenditionWindow, msn: number, part: number | undefined): boolean {
  const last = w.lastComplete()?.meta.number;
  if (part === undefined) return last !== undefined && last >= msn;
  if (last !== undefined && last > msn) return true; // a later segment (or a part of one) exists
  const cur = w.current;
  if (!cur) return false;
  if (cur.meta.number > msn) return true;
  return cur.meta.number === msn && cur.meta.parts.length > part;
}
