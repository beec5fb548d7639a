/**
 * Seek-bar thumbnail previews: a track of tiled JPEG sheets, as either manifest names it, read
 * into one model, and the picture for a time found in it. Pure (no DOM, no fetch): the sources
 * hand it the manifest text (again at each refresh, live), the page draws the cell it returns.
 * - HLS (Image Media Playlist spec v0.4, read by Roku and Shaka): `EXT-X-IMAGE-STREAM-INF` in the
 *   multivariant playlist names an image playlist; there each image's `EXT-X-TILES`
 *   (RESOLUTION of one picture, LAYOUT columns×rows, DURATION between pictures) comes before its
 *   EXTINF (the time the sheet covers) and its URI. VOD: the images follow one another from 0.
 *   Live (no EXT-X-ENDLIST, a sliding window): each image starts at its EXT-X-PROGRAM-DATE-TIME
 *   (epoch seconds: the timeline hls-source places live chunks on), else where the one before it
 *   ends; an image marked EXT-X-GAP is left out (nothing is shown for its time).
 * - DASH (DASH-IF IOP 4.3 §6.2.6): an image AdaptationSet whose Representation's width and height
 *   are the whole sheet's, the `thumbnail_tile` EssentialProperty (on the Representation or its
 *   AdaptationSet; the scheme `http://dashif.org/thumbnail_tile` or the older
 *   `…/guidelines/thumbnail_tile`) giving columns×rows, one sheet per SegmentTemplate segment:
 *   with a SegmentTimeline (a live MPD's, copied from the video's), one per listed S (r repeats
 *   unrolled), numbered from startNumber, at its time on the Period timeline; else one per
 *   @duration through a Period of known length.
 * A sheet is filled row by row, left to right: picture k shows the media at the sheet's start
 * plus k × the interval; the last sheet may be partly filled. URLs are resolved against the
 * manifest (and DASH BaseURLs), a signed URL's `?token=` kept (resolveWithToken).
 */
import { stringToMpdXml } from 'mpd-parser';
import { readAttributeList } from './hls-attribute-list.js';
import { resolveWithToken } from './protection.js';
import { splitPeriods } from '../../src/dash/mpd-periods.js';
import { readSegmentInfo, segmentUrl } from '../../src/dash/segment-template.js';

/** How the pictures of a sheet are laid out. */
export interface TileLayout {
  /** One picture's size in pixels. */
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Seconds between pictures. */
  intervalSec: number;
}

/** One JPEG of the track. */
export interface ThumbnailSheet {
  url: string;
  /** The presentation time its first picture shows (s). */
  startSec: number;
  /** The time it covers (s): columns × rows × interval, less for a last sheet partly filled. */
  durationSec: number;
  layout: TileLayout;
}

/**
 * A thumbnail track. Its times are those of the manifest's timeline: HLS VOD from the first
 * image's start (0), HLS live the PDT (epoch seconds), DASH the Period timeline (presentation time).
 */
export interface ThumbnailModel {
  /** The manifest it was read from: the HLS image playlist, or the MPD. */
  manifestUrl: string;
  /** The peak bit rate the manifest gives (bits/s), if it does. */
  bandwidth?: number;
  /** The first sheet's layout (the track's, as every packager writes one). */
  layout: TileLayout;
  /** In time order, at least one. */
  sheets: ThumbnailSheet[];
}

/** The picture for a time: the rectangle (x, y, width, height) of sheet `url`, and the time it stands for. */
export interface ThumbnailCell {
  url: string;
  x: number;
  y: number;
  width: number;
  height: number;
  startSec: number;
  durationSec: number;
}

/**
 * Slack on a cell's edge: a time computed as k × interval (0.3 = 3 × 0.1 comes out 0.29999…)
 * lands in cell k, not k − 1.
 */
const EDGE_EPSILON = 1e-9;

/** The picture showing `timeSec` (presentation time), or null outside the sheets (before the first, at or past the end). */
export function thumbnailAt(model: ThumbnailModel, timeSec: number): ThumbnailCell | null {
  const sheet = model.sheets.find((s) => timeSec >= s.startSec && timeSec < s.startSec + s.durationSec);
  if (!sheet) return null;
  const { width, height, columns, rows, intervalSec } = sheet.layout;
  const k = Math.min(
    columns * rows - 1,
    Math.max(0, Math.floor((timeSec - sheet.startSec) / intervalSec + EDGE_EPSILON)),
  );
  const startSec = sheet.startSec + k * intervalSec;
  return {
    url: sheet.url,
    x: (k % columns) * width,
    y: Math.floor(k / columns) * height,
    width,
    height,
    startSec,
    durationSec: Math.min(intervalSec, sheet.startSec + sheet.durationSec - startSec),
  };
}

/** What the player's stats say about a thumbnail track. */
export interface ThumbnailSummary {
  manifestUrl: string;
  sheets: number;
  width: number;
  height: number;
  columns: number;
  rows: number;
  intervalSec: number;
  /** Where the first sheet starts and the last one ends (s), `shiftSec` added to the model's times. */
  startSec: number;
  endSec: number;
}

/** The summary of a track, its times moved by `shiftSec` (onto the media element's timeline). */
export function thumbnailSummary(model: ThumbnailModel, shiftSec = 0): ThumbnailSummary {
  const last = model.sheets[model.sheets.length - 1];
  const { width, height, columns, rows, intervalSec } = model.layout;
  return {
    manifestUrl: model.manifestUrl,
    sheets: model.sheets.length,
    width,
    height,
    columns,
    rows,
    intervalSec,
    startSec: model.sheets[0].startSec + shiftSec,
    endSec: last.startSec + last.durationSec + shiftSec,
  };
}

/** Builds the model from sheets read in order; null when there are none. */
function modelOf(manifestUrl: string, sheets: ThumbnailSheet[], bandwidth: number | undefined): ThumbnailModel | null {
  if (sheets.length === 0) return null;
  return { manifestUrl, ...(bandwidth !== undefined ? { bandwidth } : {}), layout: sheets[0].layout, sheets };
}

/** "240x136" → [240, 136]; undefined when not two positive integers. */
function pair(text: string | undefined | null): [number, number] | undefined {
  const m = /^\s*(\d+)x(\d+)\s*$/i.exec(text ?? '');
  const a = Number(m?.[1]);
  const b = Number(m?.[2]);
  return a > 0 && b > 0 ? [a, b] : undefined;
}

/** A positive finite number, else undefined. */
function positive(text: string | undefined | null): number | undefined {
  const v = Number(text);
  return text && Number.isFinite(v) && v > 0 ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// HLS

/** An image stream the multivariant playlist names (EXT-X-IMAGE-STREAM-INF). */
export interface HlsImageStream {
  /** The image playlist, resolved. */
  url: string;
  bandwidth?: number;
  /** One picture's size (RESOLUTION), for images without EXT-X-TILES. */
  resolution?: [number, number];
}

/** The multivariant playlist's first EXT-X-IMAGE-STREAM-INF with a URI, or null when it has none. */
export function readHlsImageStream(multivariantText: string, multivariantUrl: string): HlsImageStream | null {
  for (const m of multivariantText.matchAll(/^#EXT-X-IMAGE-STREAM-INF:(.*)$/gm)) {
    const a = readAttributeList(m[1].trim());
    const uri = a.get('URI');
    if (!uri) continue;
    const bandwidth = positive(a.get('BANDWIDTH'));
    const resolution = pair(a.get('RESOLUTION'));
    return {
      url: resolveWithToken(uri, multivariantUrl),
      ...(bandwidth !== undefined ? { bandwidth } : {}),
      ...(resolution ? { resolution } : {}),
    };
  }
  return null;
}

/**
 * An image media playlist's sheets, one per URI line. VOD (EXT-X-ENDLIST): each starts where the
 * EXTINFs before it end. Live: each starts at its EXT-X-PROGRAM-DATE-TIME (epoch seconds), else
 * where the one before it ends (one before any PDT cannot be placed, and is left out); one marked
 * EXT-X-GAP is left out, its time still counted. Its layout is the EXT-X-TILES before its EXTINF
 * (else the layout of the latest image that had one; else one picture of the stream's RESOLUTION
 * lasting the EXTINF). Null for a playlist without an image placed.
 */
export function readHlsImagePlaylist(
  text: string,
  playlistUrl: string,
  stream?: HlsImageStream,
): ThumbnailModel | null {
  const live = !/^#EXT-X-ENDLIST\s*$/m.test(text);
  const sheets: ThumbnailSheet[] = [];
  /** The EXT-X-TILES before the coming image, and the layout the latest such tag gave. */
  let tiles: Map<string, string> | undefined;
  let tiled: TileLayout | undefined;
  let extinf: number | undefined;
  let gap = false;
  /** Where the coming image starts (undefined: live, before any PDT). */
  let t: number | undefined = live ? undefined : 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-TILES:')) tiles = readAttributeList(line.slice('#EXT-X-TILES:'.length));
    else if (line.startsWith('#EXTINF:')) extinf = positive(/^#EXTINF:([^,]*)/.exec(line)?.[1]);
    else if (line === '#EXT-X-GAP') gap = true;
    else if (live && line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) {
      const pdtMs = Date.parse(line.slice('#EXT-X-PROGRAM-DATE-TIME:'.length));
      if (Number.isFinite(pdtMs)) t = pdtMs / 1000;
    } else if (line && !line.startsWith('#')) {
      const durationSec = extinf ?? 0;
      const layout = tiles
        ? hlsLayout(tiles, durationSec)
        : (tiled ?? hlsLayout(undefined, durationSec, stream?.resolution));
      if (tiles) tiled = layout;
      if (layout && durationSec > 0 && t !== undefined && !gap)
        sheets.push({ url: resolveWithToken(line, playlistUrl), startSec: t, durationSec, layout });
      if (t !== undefined) t += durationSec;
      tiles = undefined;
      extinf = undefined;
      gap = false;
    }
  }
  return modelOf(playlistUrl, sheets, stream?.bandwidth);
}

/**
 * An image's layout from its EXT-X-TILES attributes (without DURATION: its pictures spread over
 * its EXTINF), or, without them, one picture of `resolution` lasting the EXTINF.
 */
function hlsLayout(
  tiles: Map<string, string> | undefined,
  durationSec: number,
  resolution?: [number, number],
): TileLayout | undefined {
  const [width, height] = pair(tiles?.get('RESOLUTION')) ?? resolution ?? [];
  if (width === undefined || height === undefined) return undefined;
  const [columns, rows] = pair(tiles?.get('LAYOUT')) ?? [1, 1];
  const intervalSec = positive(tiles?.get('DURATION')) ?? durationSec / (columns * rows);
  return intervalSec > 0 ? { width, height, columns, rows, intervalSec } : undefined;
}

// ---------------------------------------------------------------------------------------------
// DASH

const TILE_SCHEMES = ['http://dashif.org/thumbnail_tile', 'http://dashif.org/guidelines/thumbnail_tile'];

interface XmlElementNode {
  nodeType: number;
  localName: string | null;
  childNodes: { length: number; item(i: number): XmlElementNode | null };
  getAttribute(name: string): string | null;
}

function children(parent: XmlElementNode, localName: string): XmlElementNode[] {
  const out: XmlElementNode[] = [];
  for (let i = 0; i < parent.childNodes.length; i++) {
    const n = parent.childNodes.item(i);
    if (n?.nodeType === 1 && n.localName === localName) out.push(n);
  }
  return out;
}

/** The thumbnail_tile property of `e` ("5x5" → [5, 5]), if it has one. */
function tileProperty(e: XmlElementNode): [number, number] | undefined {
  const p = children(e, 'EssentialProperty').find((d) =>
    TILE_SCHEMES.includes((d.getAttribute('schemeIdUri') ?? '').trim()),
  );
  return p ? pair(p.getAttribute('value')) : undefined;
}

/** One S@t/@d of a SegmentTimeline, repeats unrolled (timescale units). */
interface TimelineEntry {
  t: number;
  d: number;
}

/**
 * The segments a SegmentTimeline lists, its S@r repeats unrolled; an S without @t starts where the
 * one before it ends. r = -1 repeats up to the next S's @t, or, for the last S, up to `endTime`
 * when the Period's end is known (else it stands for itself alone).
 */
function timelineEntries(timeline: XmlElementNode, endTime: number | undefined): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const list = children(timeline, 'S');
  let next = 0;
  list.forEach((s, i) => {
    const d = numberAttr(s, 'd') ?? 0;
    if (d <= 0) return;
    let t = numberAttr(s, 't') ?? next;
    const r = numberAttr(s, 'r') ?? 0;
    const until = i + 1 < list.length ? numberAttr(list[i + 1], 't') : endTime;
    const count = r >= 0 ? r + 1 : until !== undefined && until > t ? Math.ceil((until - t) / d) : 1;
    for (let k = 0; k < count; k++, t += d) out.push({ t, d });
    next = t;
  });
  return out;
}

/** An attribute's number; undefined when it is absent (or not a number). */
function numberAttr(e: XmlElementNode, name: string): number | undefined {
  const text = e.getAttribute(name);
  const v = Number(text);
  return text && Number.isFinite(v) ? v : undefined;
}

/** The SegmentTimeline of the SegmentTemplate that applies to `rep` (its own, else its AdaptationSet's). */
function segmentTimeline(rep: XmlElementNode, set: XmlElementNode): XmlElementNode | undefined {
  const template = children(rep, 'SegmentTemplate')[0] ?? children(set, 'SegmentTemplate')[0];
  return template ? children(template, 'SegmentTimeline')[0] : undefined;
}

/**
 * The first image Representation of a one-Period MPD: its id, bandwidth, the sheet's size, the
 * grid, and its SegmentTimeline when its template has one.
 */
function imageRepresentation(periodMpd: string):
  | {
      id: string;
      bandwidth?: number;
      sheet: [number, number];
      grid: [number, number];
      timeline?: XmlElementNode;
    }
  | undefined {
  const mpd = stringToMpdXml(periodMpd) as XmlElementNode;
  for (const period of children(mpd, 'Period'))
    for (const set of children(period, 'AdaptationSet')) {
      const setImage =
        set.getAttribute('contentType') === 'image' || (set.getAttribute('mimeType') ?? '').startsWith('image/');
      for (const rep of children(set, 'Representation')) {
        const id = rep.getAttribute('id');
        if (!id || !(setImage || (rep.getAttribute('mimeType') ?? '').startsWith('image/'))) continue;
        const width = positive(rep.getAttribute('width') ?? set.getAttribute('width'));
        const height = positive(rep.getAttribute('height') ?? set.getAttribute('height'));
        if (width === undefined || height === undefined) continue;
        const bandwidth = positive(rep.getAttribute('bandwidth'));
        const timeline = segmentTimeline(rep, set);
        return {
          id,
          ...(bandwidth !== undefined ? { bandwidth } : {}),
          sheet: [width, height],
          // no property: one picture per image (IOP 4.3 §6.2.6)
          grid: tileProperty(rep) ?? tileProperty(set) ?? [1, 1],
          ...(timeline ? { timeline } : {}),
        };
      }
    }
  return undefined;
}

/**
 * The MPD's thumbnail sheets: in each Period, its first image Representation's, numbered by its
 * SegmentTemplate from startNumber. With a SegmentTimeline (live), one per listed segment at its
 * time on the Period timeline (the Period's start plus (t − presentationTimeOffset) / timescale,
 * as the player places the video's); else, in a Period of known length, one per @duration from
 * the Period's start, the last one ending with the Period. Null when there is none.
 */
export function readDashThumbnails(mpdText: string, mpdUrl: string): ThumbnailModel | null {
  const sheets: ThumbnailSheet[] = [];
  let bandwidth: number | undefined;
  for (const period of splitPeriods(mpdText)) {
    const periodSec = period.durationSec;
    const rep = imageRepresentation(period.text);
    if (!rep) continue;
    const template = readSegmentInfo(period.text, mpdUrl).templates.get(rep.id);
    if (!template) continue;
    const [columns, rows] = rep.grid;
    const layoutOf = (sheetSec: number): TileLayout => ({
      width: Math.floor(rep.sheet[0] / columns),
      height: Math.floor(rep.sheet[1] / rows),
      columns,
      rows,
      intervalSec: sheetSec / (columns * rows),
    });
    const sheet = (number: number, startSec: number, durationSec: number, sheetSec: number): ThumbnailSheet => ({
      url: resolveWithToken(segmentUrl(template, number, startSec), mpdUrl),
      startSec,
      durationSec,
      layout: layoutOf(sheetSec),
    });
    const { timescale, presentationTimeOffset: pto } = template;
    const before = sheets.length;
    if (rep.timeline) {
      const end = periodSec !== undefined ? pto + periodSec * timescale : undefined;
      timelineEntries(rep.timeline, end).forEach(({ t, d }, i) => {
        const startSec = period.startSec + (t - pto) / timescale;
        sheets.push(sheet(template.startNumber + i, startSec, d / timescale, d / timescale));
      });
    } else if (template.segmentDuration && periodSec !== undefined && periodSec > 0) {
      const sheetSec = template.segmentDuration / timescale;
      const count = Math.ceil(periodSec / sheetSec - EDGE_EPSILON);
      for (let i = 0; i < count; i++) {
        const startSec = period.startSec + i * sheetSec;
        const durationSec = Math.min(sheetSec, period.startSec + periodSec - startSec);
        sheets.push(sheet(template.startNumber + i, startSec, durationSec, sheetSec));
      }
    }
    if (sheets.length > before) bandwidth ??= rep.bandwidth;
  }
  return modelOf(mpdUrl, sheets, bandwidth);
}
