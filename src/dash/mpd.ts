import { CLEARKEY_SCHEME_URI, kidAsUuid } from '../cenc/content-keys.js';
import { StreamedgeError } from '../errors.js';
import { dolbyMaskHex } from '../cmaf/dolby-audio.js';
import {
  type AdBreak,
  audioCodecFamily,
  groupByVideoFamily,
  channelLayoutName,
  isMultichannel,
  paths,
  type Protection,
  seconds,
  type ClosedCaptionService,
  type Presentation,
  type Rendition,
  type RenditionTimeline,
  type Segment,
  type ThumbnailTrack,
  livePictureSegments,
  thumbnailSheetSec,
} from '../media/presentation.js';
import { normalizedQuery, type UriOptions } from '../hls/uri-options.js';
import { dashFrameRate, ratio } from './frame-rate.js';
import { segmentTimeline } from './segment-timeline.js';
import { renderXml, type XmlElement } from './xml-element.js';
import { xsDuration } from './xs-duration.js';
import { liveManifestTtlSec } from '../http/live-manifest-ttl.js';
import { hexSequenceToBase64 } from '../scte35/splice-info.js';

export interface MpdOptions extends UriOptions {
  /** Absolute URL written as the MPD-level BaseURL; also resolves the UTCTiming path. */
  baseUrl?: string;
}

const PROFILES = 'urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019';
const UTC_TIMING_SCHEME = 'urn:mpeg:dash:utc:http-iso:2014';
const CHANNEL_CONFIG_SCHEME = 'urn:mpeg:dash:23003:3:audio_channel_configuration:2011';
/** AC-3 and E-AC-3 signal their channel mask instead (DASH-IF IOP, ETSI TS 103 285 §6.3.1). */
const DOLBY_CHANNEL_CONFIG_SCHEME = 'tag:dolby.com,2014:dash:audio_channel_configuration:2011';
const ROLE_SCHEME = 'urn:mpeg:dash:role:2011';
/** Nominal bit rate of a WebVTT track (bits/s): text is tiny; the attribute is required. */
const SUBTITLE_BANDWIDTH = 256;
/** DASH-IF IOP 4.3 §6.2.6 (the older `…/guidelines/thumbnail_tile` is read by players, not written). */
const THUMBNAIL_TILE_SCHEME = 'http://dashif.org/thumbnail_tile';
/** DASH-IF IOP 4.3 §4.3.3.3.2: this AdaptationSet's media run on from the named Period's. */
const PERIOD_CONTINUITY_SCHEME = 'urn:mpeg:dash:period-continuity:2015';

/**
 * A low-latency MPD's minimumUpdatePeriod: as long as an edge may reuse it, not a segment. A
 * player that addresses segments by the SegmentTimeline (dash.js) learns of the segment in
 * production only from a refresh, and at a latency target of about a segment it needs that
 * segment within a segment, less a part, of its start. Refreshing once a segment, its refreshes
 * kept falling just before the MPD listed the next one (the period is a segment plus the fetch,
 * so the phase drifts through it), leaving it to learn of that segment up to a segment late:
 * 4 stalls in five 40 s sessions of the demo's channel, against none in four at 1 s.
 */
function lowLatencyUpdatePeriod(p: Presentation): number {
  return Math.min(p.segmentDuration, liveManifestTtlSec(p.partDuration));
}

/**
 * The DASH MPD (`manifest.mpd`, ISO/IEC 23009-1, DASH-IF IOP): static for VOD, dynamic for
 * live (sliding SegmentTimeline of complete segments, UTCTiming, and for low latency
 * availabilityTimeOffset + ServiceDescription, and the segment in production, `mpdSegments`). One Period, or one more from each ad cue (VOD
 * `--dash-periods cues`), live encoder run after the first, or ad break start and return (live
 * `--live-dash-periods cues`); in each,
 * a video AdaptationSet per codec and an audio AdaptationSet per language. Element order follows the 23009-1 schema.
 */
export function writeMpd(p: Presentation, opts: MpdOptions = {}): string {
  const live = p.type === 'live' && p.live !== undefined;
  const ll = live && p.live!.lowLatency;
  const longest = longestSegment(p);

  const mpdAttrs: Array<[string, string | number | undefined]> = [
    ['xmlns', 'urn:mpeg:dash:schema:mpd:2011'],
    ...(p.protection ? PROTECTION_NAMESPACES : []),
    ['profiles', PROFILES],
    ['type', live ? 'dynamic' : 'static'],
  ];
  if (live) {
    const l = p.live!;
    mpdAttrs.push(
      ['availabilityStartTime', new Date(Math.round(l.availabilityStartTime)).toISOString()],
      ['publishTime', new Date(Math.round(l.publishTime)).toISOString()],
      ['minimumUpdatePeriod', xsDuration(ll ? lowLatencyUpdatePeriod(p) : p.segmentDuration)],
      ['timeShiftBufferDepth', xsDuration(l.dvrWindow)],
      [
        'suggestedPresentationDelay',
        xsDuration(ll ? l.targetLatency : Math.max(l.targetLatency, 3 * p.segmentDuration)),
      ],
    );
  } else {
    mpdAttrs.push(['mediaPresentationDuration', xsDuration(p.duration ?? presentationDuration(p))]);
  }
  mpdAttrs.push(['maxSegmentDuration', xsDuration(longest)], ['minBufferTime', xsDuration(longest)]);

  const children: XmlElement[] = [];
  if (opts.baseUrl) children.push({ name: 'BaseURL', children: [opts.baseUrl] });
  if (ll) {
    const target = Math.round(p.live!.targetLatency * 1000);
    children.push({
      name: 'ServiceDescription',
      attrs: [['id', 0]],
      children: [
        {
          name: 'Latency',
          attrs: [
            ['target', target],
            ['min', Math.round(target * 0.75)],
            ['max', Math.round(target * 1.5)],
          ],
        },
        {
          name: 'PlaybackRate',
          attrs: [
            ['min', '0.96'],
            ['max', '1.04'],
          ],
        },
      ],
    });
  }
  const spans = periodSpans(p);
  spans.forEach((span, i) => {
    const events = p.adBreaks?.length ? adBreakEvents(p.adBreaks, span) : undefined;
    const end = span.mediaEnd ?? span.end;
    children.push({
      name: 'Period',
      attrs: [
        ['id', span.id],
        ['start', xsDuration(span.start)],
        ['duration', spans.length > 1 && end !== undefined ? xsDuration(roundMs(end - span.start)) : undefined],
      ],
      // a Period that starts a new encoder run does not continue the one before (its media do not)
      children: [
        ...(events ? [events] : []),
        ...adaptationSets(p, opts, live, ll, span, span.restart ? undefined : spans[i - 1]?.id),
      ],
    });
  });
  if (live) {
    children.push({
      name: 'UTCTiming',
      attrs: [
        ['schemeIdUri', UTC_TIMING_SCHEME],
        ['value', utcTimingUrl(p.live!.utcTimingPath, opts.baseUrl)],
      ],
    });
  }
  return renderXml({ name: 'MPD', attrs: mpdAttrs, children });
}

/**
 * One Period of the MPD: its id, its start (s of presentation time, which is media time here)
 * and, for all but the last, its end. `split` when the asset's Periods are cut at its ad cues.
 */
interface PeriodSpan {
  id: string;
  start: number;
  end?: number;
  /**
   * Live, a Period followed by a new encoder run (a source or origin restart): where its media
   * end, before the next Period's start (the run's first segment). Its @duration ends it there,
   * so it lists no time it has no media for.
   */
  mediaEnd?: number;
  /** Live: the Period starts a new encoder run (its first segments follow a discontinuity). */
  restart?: boolean;
  split: boolean;
  last: boolean;
}

/**
 * The Periods: one from 0, or (VOD, `dashPeriodStarts`) one more from each cut. Cuts are segment
 * starts of every video rendition (the packager put a key frame and a segment there), so each
 * Period's video begins with its own segment; the programme runs on across them (the
 * period-continuity property says so), as Shaka Packager's `--ad_cues` Periods do.
 */
function periodSpans(p: Presentation): PeriodSpan[] {
  if (p.type === 'live') return livePeriodSpans(p);
  const cuts = p.dashPeriodStarts ?? [];
  const starts = [0, ...cuts];
  const split = cuts.length > 0;
  const end = split ? (p.duration ?? presentationDuration(p)) : undefined;
  return starts.map((start, i) => ({
    id: String(i),
    start,
    end: starts[i + 1] ?? end,
    split,
    last: i === starts.length - 1,
  }));
}

/**
 * A live channel's Periods: one from 0, and one more from each encoder run after the first (its
 * first segment follows a discontinuity: a source or origin restart) and, with
 * `--live-dash-periods cues`, from each ad break's start and return, once its media has reached
 * them; the last one open. A Period's id is its start (ms), the same in every update of the MPD;
 * the first keeps id 0, as a single-Period MPD has it. A Period before a new run ends where its
 * media end (its @duration): the media time from there to the new run's start has no segments, and
 * one Period's SegmentTimeline does not leave gaps between its segments (DASH-IF timing model
 * §9.2). Periods whose media has all left the DVR window are no longer listed: the earliest is the
 * one the window starts in. The channel keeps a start in `dashPeriodStarts` while its Period is
 * listed, after its ad break left the window too (live-channel.ts), so a Period keeps its id, start
 * and presentationTimeOffset for as long as it is in the MPD (ISO/IEC 23009-1 §5.4).
 */
function livePeriodSpans(p: Presentation): PeriodSpan[] {
  const cuts = p.dashPeriodStarts ?? [];
  const starts = [0, ...cuts];
  const split = cuts.length > 0;
  const restarts = runStarts(p);
  const spans = starts.map((start, i): PeriodSpan => {
    const end: number | undefined = starts[i + 1];
    const mediaEnd = end !== undefined && restarts.has(Math.round(end * 1000)) ? mediaEndBefore(p, end) : undefined;
    return {
      id: i === 0 ? '0' : `p${Math.round(start * 1000)}`,
      start,
      end,
      ...(mediaEnd !== undefined ? { mediaEnd } : {}),
      ...(i > 0 && restarts.has(Math.round(start * 1000)) ? { restart: true } : {}),
      split,
      last: i === starts.length - 1,
    };
  });
  if (!split) return spans;
  const oldest = Math.min(
    ...p.timelines.filter((t) => t.segments.length > 0).map((t) => t.segments[0].start / t.rendition.timescale),
  );
  return spans.filter((s) => {
    if (s.end === undefined) return true;
    // before a new run: listed while it has media in the window
    const end = restarts.has(Math.round(s.end * 1000)) ? s.mediaEnd : s.end;
    return end !== undefined && end > oldest + 0.0005;
  });
}

/**
 * The media times (ms) at which an encoder run after the first starts: the starts of the segments
 * that follow a discontinuity in the reference timeline (the first video one, as the channel's),
 * where the channel starts a Period.
 */
function runStarts(p: Presentation): Set<number> {
  const ref = p.timelines.find((t) => t.rendition.kind === 'video') ?? p.timelines[0];
  if (!ref) return new Set();
  const ts = ref.rendition.timescale;
  return new Set(ref.segments.filter((s) => s.discontinuity).map((s) => Math.round((s.start / ts) * 1000)));
}

/**
 * Where the media before the run starting at `runStart` (s) end: the earliest end, over the
 * renditions that still list any, of the segment before the run's first (so every track of the
 * Period has media to its end; a longer one is trimmed there). Undefined when none lists any: the
 * Period before has left the window.
 */
function mediaEndBefore(p: Presentation, runStart: number): number | undefined {
  let end: number | undefined;
  for (const t of p.timelines) {
    const ts = t.rendition.timescale;
    // the run's first segment of this rendition: the discontinuity nearest the run's start
    const first = t.segments.findIndex(
      (s) => s.discontinuity && Math.abs(s.start / ts - runStart) < p.segmentDuration / 2,
    );
    if (first <= 0) continue;
    const before = t.segments[first - 1];
    const e = (before.start + before.duration) / ts;
    end = end === undefined ? e : Math.min(end, e);
  }
  return end === undefined ? undefined : Math.min(end, runStart);
}

/**
 * Overlap (s) of a segment and a Period below which the segment is not listed in it: not a whole
 * audio frame (half an AC-3 frame, more than half an AAC frame from 32 kHz up), a gap players
 * bridge. VOD cuts split the audio within half an AAC frame of the cut: such a segment stays in
 * its own Period alone.
 */
const PERIOD_EDGE_TOLERANCE = 0.016;

/**
 * The segments (of timescale `ts`) in the Period (all of them unless it is split): every one that
 * overlaps it. Video segments start exactly at a cut; an audio segment straddling one (a live
 * channel's audio segments end at AAC fragment boundaries near the video's, up to half a part
 * away) is listed in both Periods, so each Period's audio covers it to its edges; each Period's
 * presentationTimeOffset and end trim what lies outside (DASH-IF IOP allows a segment to reach
 * over its Period's bounds; players append within the Period's window). A segment once listed in
 * the open Period stays listed there when a cut closes it.
 */
function segmentsIn(segments: Segment[], ts: number, span: PeriodSpan): Segment[] {
  if (!span.split) return segments;
  const spanEnd = span.mediaEnd ?? span.end;
  return segments.filter((s) => {
    const start = s.start / ts;
    const end = (s.start + s.duration) / ts;
    return (
      end > span.start + PERIOD_EDGE_TOLERANCE && (spanEnd === undefined || start < spanEnd - PERIOD_EDGE_TOLERANCE)
    );
  });
}

/** The scheme of SCTE 35 cues carried as a binary splice_info_section in an MPD Event (SCTE 214-1). */
export const SCTE35_SCHEME = 'urn:scte:scte35:2014:xml+bin';
const SCTE35_XMLNS = 'http://www.scte.org/schemas/35/2016';

/**
 * A live channel's ad breaks (or a VOD asset's ad cues) as one EventStream of the Period (which starts at media time 0),
 * timescale ms, each Event carrying its splice_info_section (base64 in Signal/Binary, SCTE 214-1):
 * the break's start (splice_insert out of network, id 2 × splice_event_id), lasting its planned
 * duration until the return is decided and its actual one after; then the return (back in, id
 * 2 × splice_event_id + 1) at the break's end. Ids stay the same across MPD updates.
 */
function adBreakEvents(breaks: readonly AdBreak[], span: PeriodSpan): XmlElement | undefined {
  const event = (id: number, atSec: number, durationSec: number | undefined, hex: string): XmlElement => ({
    name: 'Event',
    attrs: [
      ['presentationTime', Math.round(atSec * 1000)],
      ['duration', durationSec === undefined ? undefined : Math.round(durationSec * 1000)],
      ['id', id],
    ],
    children: [
      {
        name: 'Signal',
        attrs: [['xmlns', SCTE35_XMLNS]],
        children: [{ name: 'Binary', children: [hexSequenceToBase64(hex)] }],
      },
    ],
  });
  // a split MPD: each Period carries the Events that fall in it, timed from its start
  // (EventStream@presentationTimeOffset is the Period's start on the same clock)
  const inSpan = (atSec: number) =>
    !span.split || (atSec >= span.start - 0.0005 && (span.last || atSec < span.end! - 0.0005));
  const events = breaks.flatMap((b) => [
    ...(inSpan(b.mediaStart)
      ? [event(2 * b.eventId, b.mediaStart, b.end ? b.end.mediaTime - b.mediaStart : b.plannedDuration, b.scte35Out)]
      : []),
    ...(b.end && inSpan(b.end.mediaTime) ? [event(2 * b.eventId + 1, b.end.mediaTime, undefined, b.end.scte35In)] : []),
  ]);
  if (events.length === 0) return undefined;
  return {
    name: 'EventStream',
    attrs: [
      ['schemeIdUri', SCTE35_SCHEME],
      ['timescale', 1000],
      ['presentationTimeOffset', span.split && span.start > 0 ? Math.round(span.start * 1000) : undefined],
    ],
    children: events,
  };
}

function adaptationSets(
  p: Presentation,
  opts: MpdOptions,
  live: boolean,
  ll: boolean,
  span: PeriodSpan,
  /** The Period before, in a split MPD: each AdaptationSet continues its namesake there. */
  previousPeriod: string | undefined,
): XmlElement[] {
  const sets: XmlElement[] = [];
  const media = { p, opts, live, ll, span, previousPeriod };
  const videos = p.timelines.filter((t) => t.rendition.kind === 'video');
  const audios = p.timelines.filter((t) => t.rendition.kind === 'audio');

  // One video AdaptationSet per codec family (H.264, HEVC): a player switches within a set, and
  // cannot switch decoders seamlessly (DASH-IF IOP 3.2.13: a set's Representations are seamlessly
  // switchable). The in-band captions ride the H.264 set; HEVC rungs carry none.
  for (const [family, group] of groupByVideoFamily(videos, (t) => t.rendition.codecs)) {
    const rs = group.map((t) => t.rendition);
    const pars = new Set(rs.map(pictureAspectRatio).filter((x): x is string => x !== undefined));
    const fastest = rs
      .filter((r) => r.frameRate)
      .reduce<Rendition | undefined>(
        (a, r) => (!a || r.frameRate![0] / r.frameRate![1] > a.frameRate![0] / a.frameRate![1] ? r : a),
        undefined,
      );
    sets.push(
      adaptationSet(
        media,
        sets.length,
        group,
        [
          ['contentType', 'video'],
          ['par', pars.size === 1 ? [...pars][0] : undefined],
          ['maxWidth', maxOf(rs.map((r) => r.width))],
          ['maxHeight', maxOf(rs.map((r) => r.height))],
          ['maxFrameRate', fastest ? dashFrameRate(fastest.frameRate!) : undefined],
          ['mimeType', 'video/mp4'],
        ],
        family === 'hevc' ? [] : captionDescriptors(p.closedCaptions ?? []),
        colourProperties(rs[0].videoRange),
      ),
    );
  }

  // One audio AdaptationSet per language (lang is an AdaptationSet property), channel layout and
  // codec (a 5.1 twin is not seamlessly switchable with its stereo track, nor E-AC-3 with AAC: a
  // set of its own, after them).
  const audioSets = new Map<string, RenditionTimeline[]>();
  const surroundLast = [...audios].sort(
    (a, b) => Number(isMultichannel(a.rendition)) - Number(isMultichannel(b.rendition)),
  );
  const layoutOf = (r: Rendition) => `${r.language ?? ''}\n${isMultichannel(r) ? r.channels : 2}`;
  for (const t of surroundLast) {
    const key = `${layoutOf(t.rendition)}\n${audioCodecFamily(t.rendition)}`;
    audioSets.set(key, [...(audioSets.get(key) ?? []), t]);
  }
  // a language's layout in several codecs: each Label names its codec, so they read apart
  const codecsPerLayout = new Map<string, number>();
  for (const group of audioSets.values()) {
    const layout = layoutOf(group[0].rendition);
    codecsPerLayout.set(layout, (codecsPerLayout.get(layout) ?? 0) + 1);
  }
  // With several sets (languages, 5.1 twins), the default language's stereo set is Role "main"
  // and the others "alternate" (23009-1 5.8.5.5); a Label names each. One set alone needs neither.
  const several = audioSets.size > 1;
  const defaultLanguage = (audios.find((t) => t.rendition.default === true) ?? audios[0])?.rendition.language ?? '';
  for (const [key, group] of audioSets) {
    const lang = key.slice(0, key.indexOf('\n'));
    const r = group[0].rendition;
    const surround = isMultichannel(group[0].rendition);
    const described = [
      ...(surround ? [channelLayoutName(r.channels!)] : []),
      ...(codecsPerLayout.get(layoutOf(r))! > 1 ? [codecName(r)] : []),
    ];
    const label = r.name ? (described.length > 0 ? `${r.name} (${described.join(', ')})` : r.name) : undefined;
    const extra: XmlElement[] = several
      ? [
          ...(label ? [{ name: 'Label', children: [label] }] : []),
          {
            name: 'Role',
            attrs: [
              ['schemeIdUri', ROLE_SCHEME],
              ['value', lang === defaultLanguage && !surround ? 'main' : 'alternate'],
            ],
          },
        ]
      : [];
    sets.push(
      adaptationSet(
        media,
        sets.length,
        group,
        [
          ['contentType', 'audio'],
          ['lang', lang || undefined],
          ['mimeType', 'audio/mp4'],
        ],
        extra,
      ),
    );
  }

  // Subtitles: one AdaptationSet per track, the whole WebVTT file as the Representation's
  // BaseURL (a sidecar: what dash.js and Shaka read for text/vtt; segmented WebVTT in DASH is not).
  const query = normalizedQuery(opts);
  const subtitles = p.type === 'vod' ? (p.subtitles ?? []) : [];
  if (span.split && subtitles.length > 0) {
    // players read a Period's sidecar WebVTT on different clocks (Shaka from the Period's start,
    // dash.js from the presentation's): the packager refuses the pair; this is its guard
    throw new StreamedgeError(
      'INVALID_PRESENTATION',
      'an MPD split into Periods cannot carry sidecar WebVTT subtitles',
    );
  }
  for (const s of subtitles) {
    sets.push({
      name: 'AdaptationSet',
      attrs: [
        ['id', sets.length],
        ['contentType', 'text'],
        ['lang', s.language],
        ['mimeType', 'text/vtt'],
      ],
      children: [
        { name: 'Label', children: [s.name] },
        {
          name: 'Role',
          attrs: [
            ['schemeIdUri', ROLE_SCHEME],
            ['value', s.forced ? 'forced-subtitle' : s.captions ? 'caption' : 'subtitle'],
          ],
        },
        {
          name: 'Representation',
          attrs: [
            ['id', s.id],
            ['bandwidth', SUBTITLE_BANDWIDTH],
          ],
          children: [{ name: 'BaseURL', children: [`${paths.subtitleFile(s.id)}${query ? `?${query}` : ''}`] }],
        },
      ],
    });
  }
  if (p.thumbnails && videos.length > 0) {
    const set =
      p.type === 'vod'
        ? thumbnailSet(p.thumbnails, sets.length, query, span, previousPeriod)
        : liveThumbnailSet(p, sets.length, query, span);
    if (set) sets.push(set);
  }
  return sets;
}

/**
 * The thumbnail track (DASH-IF IOP 4.3 §6.2.6, read by dash.js and Shaka): an image
 * AdaptationSet whose Representation is the whole sheet (width and height of the grid), the
 * `thumbnail_tile` property giving columns×rows, one JPEG per template segment of the time a
 * sheet covers.
 */
function thumbnailSet(
  t: ThumbnailTrack,
  id: number,
  query: string | undefined,
  span: PeriodSpan,
  previousPeriod: string | undefined,
): XmlElement {
  const media = `${paths.thumbnailSheet(t.id, '$Number$')}${templateQuery(query)}`;
  const sheetMs = Math.round(thumbnailSheetSec(t) * 1000);
  if (!span.split) {
    return imageSet(t, id, {
      name: 'SegmentTemplate',
      attrs: [
        ['media', media],
        ['timescale', 1000],
        ['duration', sheetMs],
        ['startNumber', 1],
      ],
    });
  }
  // a Period of a split MPD: the sheets that overlap it, listed (the first may begin before it)
  const startMs = Math.round(span.start * 1000);
  const first = Math.floor(startMs / sheetMs);
  const count = Math.max(1, Math.ceil(Math.round(span.end! * 1000) / sheetMs) - first);
  return imageSet(
    t,
    id,
    {
      name: 'SegmentTemplate',
      attrs: [
        ['media', media],
        ['timescale', 1000],
        ['presentationTimeOffset', startMs || undefined],
        ['startNumber', first + 1],
      ],
      children: [
        {
          name: 'SegmentTimeline',
          children: [
            {
              name: 'S',
              attrs: [
                ['t', first * sheetMs],
                ['d', sheetMs],
                ['r', count > 1 ? count - 1 : undefined],
              ],
            },
          ],
        },
      ],
    },
    continuity(previousPeriod),
  );
}

const CICP = 'urn:mpeg:mpegB:cicp:';

/**
 * The colour description of an HDR video set as ISO/IEC 23001-8 code points, as DVB-DASH signals
 * it: BT.2020 primaries (9) and matrix (9) and the PQ transfer (16) as essential properties, so a
 * player that cannot show them skips the set; HLG as the BT.2020 transfer (14) a legacy decoder
 * can show, with HLG (18) as a supplemental property. SDR sets say nothing (BT.709 is assumed).
 */
function colourProperties(range: Rendition['videoRange']): XmlElement[] {
  if (!range) return [];
  const property = (name: string, scheme: string, value: number): XmlElement => ({
    name,
    attrs: [
      ['schemeIdUri', `${CICP}${scheme}`],
      ['value', value],
    ],
  });
  return [
    property('EssentialProperty', 'ColourPrimaries', 9),
    property('EssentialProperty', 'TransferCharacteristics', range === 'PQ' ? 16 : 14),
    property('EssentialProperty', 'MatrixCoefficients', 9),
    ...(range === 'HLG' ? [property('SupplementalProperty', 'TransferCharacteristics', 18)] : []),
  ];
}

/** The period-continuity property of an AdaptationSet whose media run on from the Period before. */
function continuity(previousPeriod: string | undefined): XmlElement[] {
  return previousPeriod === undefined
    ? []
    : [
        {
          name: 'SupplementalProperty',
          attrs: [
            ['schemeIdUri', PERIOD_CONTINUITY_SCHEME],
            ['value', previousPeriod],
          ],
        },
      ];
}

/**
 * Live: one picture per segment of the first video rendition, on that rendition's own
 * SegmentTimeline (same timescale, times and numbers), so each picture sits where its segment
 * does; undefined until the first picture exists.
 */
function liveThumbnailSet(
  p: Presentation,
  id: number,
  query: string | undefined,
  span: PeriodSpan,
): XmlElement | undefined {
  const listed = livePictureSegments(p);
  if (!listed) return undefined;
  // a Period of a split MPD: the pictures of its own segments
  const inSpan = segmentsIn(listed.segments, listed.timescale, span);
  if (inSpan.length === 0) return undefined;
  const offset = span.split && span.start > 0 ? Math.round(span.start * listed.timescale) : undefined;
  return imageSet(p.thumbnails!, id, {
    name: 'SegmentTemplate',
    attrs: [
      ['timescale', listed.timescale],
      ['presentationTimeOffset', offset],
      ['media', `${paths.thumbnailSheet(p.thumbnails!.id, '$Number$')}${templateQuery(query)}`],
      ['startNumber', inSpan[0].number],
    ],
    children: [timelineElement(inSpan)],
  });
}

function imageSet(t: ThumbnailTrack, id: number, template: XmlElement, descriptors: XmlElement[] = []): XmlElement {
  return {
    name: 'AdaptationSet',
    attrs: [
      ['id', id],
      ['contentType', 'image'],
      ['mimeType', 'image/jpeg'],
    ],
    children: [
      ...descriptors,
      template,
      {
        name: 'Representation',
        attrs: [
          ['id', t.id],
          ['bandwidth', t.bandwidth],
          ['width', t.width * t.columns],
          ['height', t.height * t.rows],
        ],
        children: [
          {
            name: 'EssentialProperty',
            attrs: [
              ['schemeIdUri', THUMBNAIL_TILE_SCHEME],
              ['value', `${t.columns}x${t.rows}`],
            ],
          },
        ],
      },
    ],
  };
}

/** What every media AdaptationSet of a Period is written from. */
interface PeriodMedia {
  p: Presentation;
  opts: MpdOptions;
  live: boolean;
  ll: boolean;
  span: PeriodSpan;
  previousPeriod: string | undefined;
}

function adaptationSet(
  media: PeriodMedia,
  id: number,
  timelines: RenditionTimeline[],
  attrs: Array<[string, string | number | undefined]>,
  /** Label, Role: the AdaptationSet's own descriptors, before any SegmentTemplate (schema order). */
  descriptors: XmlElement[] = [],
  /** Essential and supplemental properties (colour), after any ContentProtection (schema order). */
  properties: XmlElement[] = [],
): XmlElement {
  const { p, opts } = media;
  const templates = timelines.map((t) => segmentTemplate(media, t));
  // Identical templates (same timescale and timeline) are written once, on the AdaptationSet.
  const shared = templates.every((x) => JSON.stringify(x) === JSON.stringify(templates[0]));
  const representations = timelines.map((t, i) => representation(t.rendition, shared ? undefined : templates[i]));
  const protection = p.protection ? contentProtection(p.protection, opts) : [];
  return {
    name: 'AdaptationSet',
    attrs: [['id', id], ...attrs, ['segmentAlignment', 'true'], ['startWithSAP', '1']],
    children: [
      ...protection,
      ...properties.filter((e) => e.name === 'EssentialProperty'),
      ...properties.filter((e) => e.name === 'SupplementalProperty'),
      ...continuity(media.previousPeriod),
      ...descriptors,
      ...(shared && templates[0] ? [templates[0], ...representations] : representations),
    ],
  };
}

/**
 * Captions inside the video (SCTE 214-1, DASH-IF IOP): one Accessibility descriptor listing the
 * CEA-608 channels (`urn:scte:dash:cc:cea-608:2015`, `CC1=eng;CC3=deu`, the channel alone when its
 * language is not known), one listing the CEA-708 services (`urn:scte:dash:cc:cea-708:2015`,
 * `1=lang:eng;2=lang:deu`; the language is required there, `und` when not known).
 */
function captionDescriptors(captions: readonly ClosedCaptionService[]): XmlElement[] {
  const cea608 = captions.filter((c) => c.instreamId.startsWith('CC'));
  const cea708 = captions.filter((c) => c.instreamId.startsWith('SERVICE'));
  const descriptor = (scheme: string, value: string): XmlElement => ({
    name: 'Accessibility',
    attrs: [
      ['schemeIdUri', scheme],
      ['value', value],
    ],
  });
  return [
    ...(cea608.length > 0
      ? [
          descriptor(
            'urn:scte:dash:cc:cea-608:2015',
            cea608.map((c) => (c.language ? `${c.instreamId}=${c.language}` : c.instreamId)).join(';'),
          ),
        ]
      : []),
    ...(cea708.length > 0
      ? [
          descriptor(
            'urn:scte:dash:cc:cea-708:2015',
            cea708.map((c) => `${c.instreamId.slice('SERVICE'.length)}=lang:${c.language ?? 'und'}`).join(';'),
          ),
        ]
      : []),
  ];
}

const PROTECTION_NAMESPACES: Array<[string, string]> = [
  ['xmlns:cenc', 'urn:mpeg:cenc:2013'],
  ['xmlns:dashif', 'https://dashif.org/CPS'],
];

/**
 * The ContentProtection descriptors of an encrypted AdaptationSet (23009-1 §5.8.4.1, DASH-IF IOP
 * §7.5, §7.6.2.6): the scheme and default key id (mp4protection), then the W3C Clear Key system
 * with its license URL (dashif:Laurl). No cenc:pssh here: the init segments carry the Clear Key
 * pssh, and dash.js handed one in this descriptor to the CDM as a "keyids" request and failed.
 */
function contentProtection(pr: Protection, opts: MpdOptions): XmlElement[] {
  const query = normalizedQuery(opts);
  return [
    {
      name: 'ContentProtection',
      attrs: [
        ['schemeIdUri', 'urn:mpeg:dash:mp4protection:2011'],
        ['value', pr.scheme],
        ['cenc:default_KID', kidAsUuid(pr.kid)],
      ],
    },
    {
      name: 'ContentProtection',
      attrs: [
        ['schemeIdUri', CLEARKEY_SCHEME_URI],
        ['value', 'ClearKey1.0'],
      ],
      children: [
        {
          name: 'dashif:Laurl',
          attrs: [['Lic_type', 'EME-1.0']],
          children: [pr.licenseUrl ?? `${paths.clearKeyLicense}${query ? `?${query}` : ''}`],
        },
      ],
    },
  ];
}

/** What a listener calls the rendition's codec: "AAC", "Dolby Digital Plus", "Dolby Digital", else its CODECS. */
function codecName(r: Rendition): string {
  const family = audioCodecFamily(r);
  return family === 'aac'
    ? 'AAC'
    : family === 'ec-3'
      ? 'Dolby Digital Plus'
      : family === 'ac-3'
        ? 'Dolby Digital'
        : family;
}

function representation(r: Rendition, template: XmlElement | undefined): XmlElement {
  const video = r.kind === 'video';
  const children: XmlElement[] = [];
  if (!video && r.channelMask !== undefined) {
    children.push({
      name: 'AudioChannelConfiguration',
      attrs: [
        ['schemeIdUri', DOLBY_CHANNEL_CONFIG_SCHEME],
        ['value', dolbyMaskHex(r.channelMask)],
      ],
    });
  } else if (!video && r.channels) {
    children.push({
      name: 'AudioChannelConfiguration',
      attrs: [
        ['schemeIdUri', CHANNEL_CONFIG_SCHEME],
        ['value', r.channels],
      ],
    });
  }
  if (template) children.push(template);
  return {
    name: 'Representation',
    attrs: [
      ['id', r.id],
      ['bandwidth', Math.ceil(r.bandwidth)],
      ['codecs', r.codecs],
      ['width', video ? r.width : undefined],
      ['height', video ? r.height : undefined],
      ['frameRate', video && r.frameRate ? dashFrameRate(r.frameRate) : undefined],
      ['sar', video ? sampleAspectRatio(r) : undefined],
      ['audioSamplingRate', !video ? r.sampleRate : undefined],
    ],
    children,
  };
}

/**
 * The segments a live MPD lists of one rendition: the complete ones and, with low latency, the
 * one in production, at the duration its producer planned for it (`Part.segmentEnd`: the grid
 * point on the frame or sample it falls on). With availabilityTimeOffset a player may ask for
 * that segment once its first part is out (it is sent as its parts are made); listed only once
 * complete, a client that follows the MPD could never come nearer the live edge than a whole
 * segment (DASH-IF low-latency modes: a segment is announced as its first chunk is available).
 * A segment whose end the producer could not tell waits until complete; should it end elsewhere
 * (its encoder stopped), the next MPD lists it as it is.
 */
export function mpdSegments(segments: readonly Segment[], lowLatency: boolean): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    if (s.complete) out.push(s);
    else {
      const end = lowLatency ? s.parts[0]?.segmentEnd : undefined;
      // only the newest, and only while it is still running towards its planned end
      if (end !== undefined && end >= s.start + s.duration && s === segments[segments.length - 1])
        out.push({ ...s, duration: end - s.start });
    }
  }
  return out;
}

function segmentTemplate({ p, opts, live, ll, span }: PeriodMedia, t: RenditionTimeline): XmlElement {
  const listed = segmentsIn(mpdSegments(t.segments, ll), t.rendition.timescale, span);
  const suffix = templateQuery(normalizedQuery(opts));
  // a later Period of a split MPD: its start is this media time (the first audio segment may
  // begin up to half an AAC frame either side of it; players trim or bridge that)
  const offset = span.split && span.start > 0 ? Math.round(span.start * t.rendition.timescale) : undefined;
  return {
    name: 'SegmentTemplate',
    attrs: [
      ['timescale', t.rendition.timescale],
      ['presentationTimeOffset', offset],
      ['availabilityTimeOffset', ll ? roundMs(p.segmentDuration - p.partDuration) : undefined],
      ['availabilityTimeComplete', ll ? 'false' : undefined],
      ['media', `$RepresentationID$/seg-$Number$.m4s${suffix}`],
      ['initialization', `$RepresentationID$/init.mp4${suffix}`],
      ['startNumber', listed[0]?.number ?? t.segments[0]?.number ?? (live ? 0 : 1)],
    ],
    children: [timelineElement(listed)],
  };
}

function timelineElement(segments: Segment[]): XmlElement {
  return {
    name: 'SegmentTimeline',
    children: segmentTimeline(segments).map((e) => ({
      name: 'S',
      attrs: [
        ['t', e.t],
        ['d', e.d],
        ['r', e.r > 0 ? e.r : undefined],
      ],
    })),
  };
}

/** The query a template URL carries: "$" is the template delimiter, so a literal one is written "$$". */
function templateQuery(query: string | undefined): string {
  return query ? `?${query.replace(/\$/g, '$$$$')}` : '';
}

function pictureAspectRatio(r: Rendition): string | undefined {
  if (!r.width || !r.height) return undefined;
  const [sw, sh] = sarParts(r) ?? [1, 1];
  return ratio(r.width * sw, r.height * sh);
}

function sampleAspectRatio(r: Rendition): string {
  const parts = sarParts(r);
  return parts ? `${parts[0]}:${parts[1]}` : '1:1';
}

function sarParts(r: Rendition): [number, number] | undefined {
  const m = /^(\d+):(\d+)$/.exec(r.sar ?? '');
  return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? [Number(m[1]), Number(m[2])] : undefined;
}

function maxOf(values: Array<number | undefined>): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

function longestSegment(p: Presentation): number {
  let longest = 0;
  for (const t of p.timelines) {
    for (const s of t.segments) if (s.complete) longest = Math.max(longest, seconds(s.duration, t.rendition.timescale));
  }
  return longest > 0 ? longest : p.segmentDuration;
}

function presentationDuration(p: Presentation): number {
  let d = 0;
  for (const t of p.timelines) {
    d = Math.max(
      d,
      t.segments.reduce((sum, s) => sum + seconds(s.duration, t.rendition.timescale), 0),
    );
  }
  return d;
}

function roundMs(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function utcTimingUrl(path: string, baseUrl: string | undefined): string {
  if (!baseUrl) return path;
  try {
    return new URL(path, baseUrl).href;
  } catch {
    return path; // a relative base cannot resolve; the absolute path still works same-origin
  }
}
