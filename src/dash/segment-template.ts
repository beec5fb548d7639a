/**
 * Reading an MPD's SegmentTemplate (ISO/IEC 23009-1 §5.3.9.4.4), for those who play DASH: our
 * browser player's DASH source and the load tester's viewers. Each Representation's template
 * gives its init segment, the $Number$ of each listed segment (mpd-parser numbers them from 0)
 * and the URL of a segment the MPD does not list yet (LL-DASH asks for the segment being produced
 * before any MPD names it). Read from the MPD itself (mpd-parser's attribute inheritance), so any
 * packager's naming works, not only ours.
 */
import { inheritAttributes, stringToMpdXml } from 'mpd-parser';

export interface SegmentTemplateInfo {
  /** The `media` template, resolved later against `baseUrl`. */
  media: string;
  /** The initialization segment's URL, resolved; '' when the template names none. */
  initUrl: string;
  baseUrl: string;
  representationId: string;
  bandwidth: number;
  timescale: number;
  presentationTimeOffset: number;
  /** $Number$ of the first segment: of the SegmentTimeline's first S, or of the Period's start. */
  startNumber: number;
  /** SegmentTemplate@duration (timescale units) when segments are numbered by time, not listed. */
  segmentDuration?: number;
  /** The Period's start (s): presentationTime = periodStart + (time − presentationTimeOffset) / timescale. */
  periodStart: number;
}

interface RepresentationInfo {
  attributes: {
    id?: string;
    bandwidth?: number;
    baseUrl?: string;
    periodStart?: number;
    serviceLocation?: string;
  };
  segmentInfo?: {
    template?: {
      media?: string;
      initialization?: { sourceURL?: string };
      timescale?: number;
      presentationTimeOffset?: number;
      startNumber?: number;
      duration?: number;
    };
    base?: { timescale?: number; presentationTimeOffset?: number };
    segmentTimeline?: unknown[];
  };
}

/** What an MPD's Representations say about their segments, read in one pass over it. */
export interface SegmentInfo {
  /** Each Representation's SegmentTemplate, by Representation id. */
  templates: Map<string, SegmentTemplateInfo>;
  /**
   * SegmentBase@presentationTimeOffset ÷ @timescale (s), by Representation id, where not 0: the
   * media time its sidx counts from that is the Period's start (src/dash/segment-base.ts).
   */
  baseOffsets: Map<string, number>;
}

/**
 * Each Representation's SegmentTemplate, by Representation id (the first BaseURL's copy when an
 * MPD lists one per CDN; Representations without one are left out), and its SegmentBase time
 * offset, in one pass over one Period's MPD (or all of it).
 */
export function readSegmentInfo(mpdText: string, mpdUrl: string): SegmentInfo {
  const info = inheritAttributes(stringToMpdXml(mpdText), { manifestUri: mpdUrl }) as {
    representationInfo: RepresentationInfo[];
  };
  const out = new Map<string, SegmentTemplateInfo>();
  const baseOffsets = new Map<string, number>();
  for (const { attributes: a, segmentInfo } of info.representationInfo) {
    const sb = segmentInfo?.base;
    if (sb?.presentationTimeOffset && a.id !== undefined && !baseOffsets.has(a.id))
      baseOffsets.set(a.id, sb.presentationTimeOffset / (sb.timescale ?? 1));
    const t = segmentInfo?.template;
    if (!t?.media || a.id === undefined || out.has(a.id)) continue;
    const base = {
      media: t.media,
      baseUrl: a.baseUrl ?? mpdUrl,
      representationId: a.id,
      bandwidth: a.bandwidth ?? 0,
      timescale: t.timescale ?? 1,
      presentationTimeOffset: t.presentationTimeOffset ?? 0,
      periodStart: a.periodStart ?? 0,
      startNumber: t.startNumber ?? 1,
      ...(segmentInfo?.segmentTimeline === undefined && t.duration ? { segmentDuration: t.duration } : {}),
    };
    const init = t.initialization?.sourceURL;
    out.set(a.id, { ...base, initUrl: init ? resolve(fillTemplate(init, base, {}), base.baseUrl) : '' });
  }
  return { templates: out, baseOffsets };
}

/**
 * The $Number$ of the `index`-th segment mpd-parser lists (it numbers them from 0 whatever the
 * MPD says), starting at `presentationTime` (s): counted from startNumber along a SegmentTimeline,
 * or from the time when segments have one @duration.
 */
export function segmentNumber(t: SegmentTemplateInfo, index: number, presentationTime: number): number {
  if (t.segmentDuration === undefined) return t.startNumber + index;
  const time = (presentationTime - t.periodStart) * t.timescale;
  return t.startNumber + Math.round(time / t.segmentDuration);
}

/**
 * The start (s) of a segment mpd-parser listed at `presentationTime` from this template. For a
 * template with @duration (no SegmentTimeline) mpd-parser counts media time from 0, not from
 * presentationTimeOffset, so with an offset (a Period that resumes a programme after an ad break)
 * its times came out that offset early: they are moved back here. A SegmentTimeline's are right.
 */
export function listedSegmentStart(t: SegmentTemplateInfo | undefined, presentationTime: number): number {
  return t?.segmentDuration !== undefined
    ? presentationTime + t.presentationTimeOffset / t.timescale
    : presentationTime;
}

/** The URL of the segment with this number, starting at `presentationTime` (s), by the template. */
export function segmentUrl(t: SegmentTemplateInfo, number: number, presentationTime: number): string {
  const time = Math.round((presentationTime - t.periodStart) * t.timescale) + t.presentationTimeOffset;
  return resolve(fillTemplate(t.media, t, { Number: number, Time: time }), t.baseUrl);
}

/**
 * Replaces $RepresentationID$, $Bandwidth$, $Number$ and $Time$ (each with an optional %0<w>d
 * width) and $$; an identifier with no value here is left as it is.
 */
function fillTemplate(
  template: string,
  t: Pick<SegmentTemplateInfo, 'representationId' | 'bandwidth'>,
  values: { Number?: number; Time?: number },
): string {
  const all: Record<string, string | number | undefined> = {
    RepresentationID: t.representationId,
    Bandwidth: t.bandwidth,
    ...values,
  };
  return template.replace(/\$(\w*)(?:%0(\d+)d)?\$/g, (whole, name: string, width?: string) => {
    if (name === '') return '$';
    const v = all[name];
    if (v === undefined) return whole;
    // the width format applies to numbers; RepresentationID takes none (§5.3.9.4.4)
    return width && typeof v === 'number' ? String(v).padStart(Number(width), '0') : String(v);
  });
}

function resolve(url: string, base: string): string {
  return new URL(url, base).href;
}
