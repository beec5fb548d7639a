/**
 * The presentation model: what the segmenter produces and what every manifest writer reads.
 * One model feeds HLS and DASH alike (Shaka's lesson), so the two never drift apart.
 *
 * Times: segment/part start and duration are in the rendition's `timescale` units (exact,
 * straight from tfdt/trun); seconds are derived. Segment numbers are the `<n>` of
 * `seg-<n>.m4s`, the HLS media sequence number and the DASH $Number$ alike.
 */
import type { CaptionServiceId } from '../captions/caption-decoder.js';

export type TrackKind = 'video' | 'audio';

export interface Rendition {
  /** Folder name under the asset/channel, e.g. "720p" or "audio". URL-safe. */
  id: string;
  kind: TrackKind;
  /** RFC 6381 codec string of this track, e.g. "avc1.64001f" or "mp4a.40.2". */
  codecs: string;
  /** Peak bit rate in bits/s (max over segments of bytes*8/duration), measured for VOD. */
  bandwidth: number;
  /** Average bit rate in bits/s (total bytes*8 / total duration). */
  averageBandwidth: number;
  /** Media timescale (mdhd) of the track. */
  timescale: number;
  width?: number;
  height?: number;
  /** Frame rate as a fraction, e.g. [30000, 1001]. */
  frameRate?: [number, number];
  /** Sample aspect ratio "1:1". */
  sar?: string;
  /** Video of high dynamic range: PQ (SMPTE ST 2084, HDR10) or HLG, BT.2020 (HLS VIDEO-RANGE); absent: SDR. */
  videoRange?: 'PQ' | 'HLG';
  sampleRate?: number;
  channels?: number;
  /** AC-3/E-AC-3: the Dolby channel mask (DASH signals it instead of the channel count). */
  channelMask?: number;
  /** BCP 47 language tag for audio, e.g. "en" (optional). */
  language?: string;
  /** Audio: human-readable name (HLS NAME, DASH Label); default: the language's English name. */
  name?: string;
  /**
   * Audio: the track players start with (HLS DEFAULT=YES, DASH Role "main"); the others are
   * alternates. When no audio rendition says, the first one is the default.
   */
  default?: boolean;
}

export interface Part {
  /** 0-based index within its segment: URL `seg-<n>.<index>.m4s`. */
  index: number;
  /** Duration in the rendition's timescale units. */
  duration: number;
  bytes: number;
  /** True when the part starts with a sync sample (EXT-X-PART INDEPENDENT=YES). */
  independent: boolean;
  /**
   * Live: whether the producer, as this part arrived, knew it to be the last of its segment (the
   * next part opens the next segment). Drives the preload hint; absent when the producer cannot
   * tell.
   */
  last?: boolean;
  /**
   * Live: where the producer will end this part's segment (decode time, timescale units), known
   * from the first part on: the next grid point, moved to the frame (video: the key frame the
   * encoder forces at or after it) or sample (audio, cut to the sample) it falls on. LL-DASH lists
   * the segment in production with it. Absent when the producer cannot tell.
   */
  segmentEnd?: number;
  /** Live: when the origin had the part (epoch ms): CMSD's availability time (`at`). */
  availableAt?: number;
}

/** A key frame inside a segment file, for I-frame playlists (EXT-X-BYTERANGE). */
export interface IFrameRef {
  /** Byte offset of the moof that carries the key frame, within the segment file. */
  offset: number;
  /** Bytes from offset through the end of the key frame's sample data. */
  length: number;
  /** Duration in timescale units until the next I-frame (or the segment end). */
  duration: number;
}

export interface Segment {
  number: number;
  /** Decode time of the first sample (tfdt), timescale units. */
  start: number;
  /** Duration in timescale units. */
  duration: number;
  bytes: number;
  /** Parts in order (LL-HLS). May be empty for VOD. */
  parts: Part[];
  /** Wall-clock time of the first sample, epoch milliseconds (live; EXT-X-PROGRAM-DATE-TIME). */
  programDateTime?: number;
  /** A discontinuity precedes this segment (source restart). */
  discontinuity?: boolean;
  /** False only for the live segment still being produced (its parts so far are listed). */
  complete: boolean;
  /** Video only: key frames within this segment (VOD I-frame playlists). */
  iframes?: IFrameRef[];
}

export interface RenditionTimeline {
  rendition: Rendition;
  /** Segments in order; for live, the current window (oldest first). */
  segments: Segment[];
}

export interface LiveState {
  /** Epoch ms of media time 0 (DASH availabilityStartTime; PDT anchor). */
  availabilityStartTime: number;
  /** Epoch ms of this snapshot (DASH publishTime). */
  publishTime: number;
  /** DVR window in seconds (DASH timeShiftBufferDepth). */
  dvrWindow: number;
  /** Target live latency in seconds (DASH ServiceDescription, LL-HLS PART-HOLD-BACK floor). */
  targetLatency: number;
  /**
   * The MPD's clock (DASH UTCTiming, http-iso): an absolute URL, or a path on the MPD's host
   * ("/time", the origin's; players resolve a bare path differently: dash.js against its page).
   */
  utcTimingPath: string;
  /** Low-latency features on (parts, preload hints, LL-DASH availabilityTimeOffset). */
  lowLatency: boolean;
}

/** A subtitle track (WebVTT): HLS segments it on the video's boundaries, DASH uses the whole file. */
export interface SubtitleTrack {
  /** Folder name under the asset, e.g. "subs-en". */
  id: string;
  /** BCP 47 tag, canonical case. */
  language: string;
  /** Human-readable name (HLS NAME, DASH Label), unique per language. */
  name: string;
  default: boolean;
  autoselect: boolean;
  forced: boolean;
  /**
   * Closed captions for the deaf and hard of hearing (dialogue and sounds, as a 608 channel
   * converted by `--captions-webvtt`), not subtitles: HLS CHARACTERISTICS transcribes-spoken-dialog
   * and describes-music-and-sound (Apple's authoring spec), DASH Role "caption".
   */
  captions?: boolean;
}

/**
 * A closed-caption service carried inside the video: a CEA-608 channel (`CC1`–`CC4`) or a CEA-708
 * service (`SERVICE1`–`SERVICE63`), named by its HLS INSTREAM-ID (DASH: the 608 or 708 Accessibility
 * descriptor).
 */
export interface ClosedCaptionService {
  instreamId: CaptionServiceId;
  name: string;
  language?: string;
}

/** Where interstitials come from: one asset, or a list an ad decision service gives (X-ASSET-LIST). */
export type InterstitialSource = ({ assetUri: string } | { assetList: string }) & {
  /**
   * X-RESTRICT (RFC 8216bis D.2): SKIP, the viewer cannot skip or seek within the interstitial;
   * JUMP, a seek past its cue plays it first.
   */
  restrict?: InterstitialRestriction[];
};
export type InterstitialRestriction = 'SKIP' | 'JUMP';

export interface Presentation {
  /** Asset id (VOD) or channel id (live). */
  id: string;
  type: 'vod' | 'live';
  /** Target segment duration in seconds (as configured; actual durations may differ by a frame). */
  segmentDuration: number;
  /** Target part duration in seconds. */
  partDuration: number;
  /** One timeline per rendition: all video renditions first, then audio. */
  timelines: RenditionTimeline[];
  /** VOD: total duration in seconds. */
  duration?: number;
  /** Live only. */
  live?: LiveState;
  /** VOD subtitle tracks (WebVTT), if any. */
  subtitles?: SubtitleTrack[];
  /** Closed captions the video renditions carry in their pictures (CEA-608 and 708 in A/53 SEI). */
  closedCaptions?: ClosedCaptionService[];
  /**
   * Live: the ad breaks that overlap the window (or are still to come), oldest first. VOD: the
   * asset's ad cues (`package --ad-cues`), in time order.
   */
  adBreaks?: AdBreak[];
  /**
   * VOD with ad cues: the epoch ms its media time 0 is dated (EXT-X-PROGRAM-DATE-TIME, which
   * an EXT-X-DATERANGE needs; the breaks' dates count from it).
   */
  dateOrigin?: number;
  /** Ad cues (VOD) or breaks (live): the HLS Interstitials played at them (src/hls/interstitials.ts). */
  interstitial?: InterstitialSource;
  /** VOD with an interstitial: one more after the programme's end (`--ad-cues …,end`, CUE="POST"). */
  postRoll?: boolean;
  /**
   * HLS: the ad breaks also as segment tags (EXT-X-CUE-OUT, -CUE-OUT-CONT, -CUE-IN with
   * EXT-OATCLS-SCTE35; src/hls/cue-tags.ts), for ad inserters that read those.
   */
  hlsCueTags?: boolean;
  /**
   * VOD with ad cues packaged with `--dash-periods cues`, or a live channel with
   * `--live-dash-periods cues`: the media times (s, ascending, > 0) at which the MPD starts a new
   * Period (the cues' splice points and returns, the breaks' starts and returns; video segment starts).
   */
  dashPeriodStarts?: number[];
  /** Common Encryption of the video and audio tracks (subtitles stay clear), if any. */
  protection?: Protection;
  /** VOD: a track of tiled JPEG thumbnails for seek-bar previews, if any. */
  thumbnails?: ThumbnailTrack;
}

/**
 * Thumbnails for trick play and seek-bar previews: JPEG sheets ("tiles" in DASH-IF IOP 4.3
 * §6.2.6, images in the Image Media Playlist spec that Roku and Shaka read), each a grid of
 * `columns`×`rows` pictures filled row by row. VOD: picture k shows the media at k×`intervalSec`
 * (from the first video frame); sheet j (from 1) starts at (j−1)×columns×rows×intervalSec; the
 * last sheet may be partly filled (black cells past the end). Live: one picture a segment, see
 * `pictures`.
 */
export interface ThumbnailTrack {
  /** Folder name under the asset ("thumbnails"). */
  id: string;
  /** One picture's size in pixels. */
  width: number;
  height: number;
  columns: number;
  rows: number;
  /** Seconds between pictures. */
  intervalSec: number;
  /** Number of sheets (`tile-1.jpg` … `tile-<sheets>.jpg`). */
  sheets: number;
  /** Peak bit rate in bits/s: the largest sheet's bytes × 8 over the time one sheet covers. */
  bandwidth: number;
  /**
   * Live: one picture per segment of the first video rendition (columns = rows = 1, the interval
   * its segment duration), named by that segment's number: the numbers that have one so far.
   */
  pictures?: ReadonlySet<number>;
}

/**
 * Live: the segments a live thumbnail track lists, from the first video rendition (the one the
 * pictures are numbered after): its complete segments from the first that has a picture through
 * the last that has one (a picture missing in between is listed, and says so: `pictures`).
 */
export function livePictureSegments(p: Presentation): { timescale: number; segments: Segment[] } | undefined {
  const pictures = p.thumbnails?.pictures;
  const video = p.timelines.find((t) => t.rendition.kind === 'video');
  if (!pictures || !video) return undefined;
  const complete = video.segments.filter((s) => s.complete);
  const first = complete.findIndex((s) => pictures.has(s.number));
  if (first < 0) return undefined;
  let last = complete.length - 1;
  while (!pictures.has(complete[last].number)) last--;
  return { timescale: video.rendition.timescale, segments: complete.slice(first, last + 1) };
}

/** Seconds one thumbnail sheet covers (the last one may cover less: the media ends). */
export function thumbnailSheetSec(t: ThumbnailTrack): number {
  return t.columns * t.rows * t.intervalSec;
}

/**
 * How the media is encrypted (ISO/IEC 23001-7): the scheme and the one key id every video and
 * audio track uses. The key itself never enters the model: players get it from the origin's
 * `keys/` endpoints (HLS `keys/<kid>`, DASH Clear Key license `keys/clearkey`).
 */
export interface Protection {
  scheme: 'cenc' | 'cbcs';
  /** 32 lowercase hex digits. */
  kid: string;
  /**
   * An absolute Clear Key license URL for the MPD (dashif:Laurl). Default: `keys/clearkey`
   * relative to the MPD, which our player resolves; Shaka Player 4 resolves it against the page.
   */
  licenseUrl?: string;
}

/**
 * An ad break cued on a live channel, or a VOD asset's ad cue (SCTE 35 splice_insert): written as
 * EXT-X-DATERANGE tags in the media playlists and as an EventStream in the MPD. It starts and
 * ends on segment boundaries, where every rendition has a key frame. A VOD splice point (a place
 * to insert ads, replacing nothing) ends where it starts.
 */
export interface AdBreak {
  /** splice_event_id; the DATERANGE ID is `splice-<eventId>`, the DASH Event id the number. */
  eventId: number;
  /** Epoch ms of its start: the PROGRAM-DATE-TIME of the segment it starts with (START-DATE). */
  startDate: number;
  /** Its start in media time, seconds from availabilityStartTime (the DASH Event's presentationTime). */
  mediaStart: number;
  /** Seconds asked for (PLANNED-DURATION, the splice_insert's break_duration); absent: until the return is cued. */
  plannedDuration?: number;
  /** The splice_info_section that starts it (out of network), hex with 0x. */
  scte35Out: string;
  /** VOD: the cue at the programme's start (an interstitial there is a pre-roll, CUE="PRE"). */
  preRoll?: boolean;
  /** Set once the return is due: its epoch ms (a segment boundary), its media time and its splice_insert. */
  end?: { date: number; mediaTime: number; scte35In: string };
  /** Live: this break's own ad (the ad-break API's `interstitial`), in place of the channel's. */
  interstitial?: InterstitialSource;
}

/** A thumbnail sheet's file name in its track's folder; n from 1, or a template's placeholder. */
export function thumbnailSheetName(n: number | '$Number$' | '%d'): string {
  return `tile-${n}.jpg`;
}

/** Path layout shared by writers, packager, origin and edge (relative to the asset/channel root). */
export const paths = {
  master: 'master.m3u8',
  mpd: 'manifest.mpd',
  mediaPlaylist: (renditionId: string) => `${renditionId}/index.m3u8`,
  iframePlaylist: (renditionId: string) => `${renditionId}/iframes.m3u8`,
  init: (renditionId: string) => `${renditionId}/init.mp4`,
  segment: (renditionId: string, n: number) => `${renditionId}/seg-${n}.m4s`,
  part: (renditionId: string, n: number, p: number) => `${renditionId}/seg-${n}.${p}.m4s`,
  subtitleSegment: (trackId: string, n: number) => `${trackId}/seg-${n}.vtt`,
  subtitleFile: (trackId: string) => `${trackId}/subtitles.vtt`,
  /** Thumbnail sheet n (from 1), a JPEG; `$Number$` gives the DASH template. */
  thumbnailSheet: (trackId: string, n: number | '$Number$') => `${trackId}/${thumbnailSheetName(n)}`,
  /** The raw content key (HLS KEYFORMAT "identity"); relative to the manifest naming it, at any depth. */
  contentKey: (kid: string) => `keys/${kid}`,
  /** The W3C Clear Key license endpoint (DASH Laurl), likewise. */
  clearKeyLicense: 'keys/clearkey',
} as const;

/** More than two channels (a 5.1 twin): HLS and DASH keep such audio apart from stereo. */
export function isMultichannel(r: Rendition): boolean {
  return (r.channels ?? 2) > 2;
}

/** "5.1" for six channels, "7.1" for eight, else "<n> channels". */
export function channelLayoutName(n: number): string {
  return n === 6 ? '5.1' : n === 8 ? '7.1' : `${n} channels`;
}

/**
 * The audio codec of a rendition, by family ("aac" for every mp4a.40.x, "ec-3", "ac-3", else the
 * CODECS value's first member): renditions of different families are never one switching set.
 */
export function audioCodecFamily(r: Rendition): string {
  const codec = r.codecs.split(',')[0].trim();
  return codec.startsWith('mp4a.40.') ? 'aac' : codec;
}

/**
 * A video rendition's codec family: 'avc' (avc1, avc3), 'hevc' (hvc1, hev1), else its sample entry
 * type. Players switch within a family, not across (a different decoder).
 */
export function videoCodecFamily(codecs: string): string {
  const entry = codecs.split(',')[0].trim().split('.')[0].toLowerCase();
  if (entry === 'avc1' || entry === 'avc3') return 'avc';
  if (entry === 'hvc1' || entry === 'hev1') return 'hevc';
  return entry;
}

/** `items` grouped by their video codec family, families and members in listed order. */
export function groupByVideoFamily<T>(items: readonly T[], codecsOf: (item: T) => string): Map<string, T[]> {
  const families = new Map<string, T[]>();
  for (const item of items) {
    const family = videoCodecFamily(codecsOf(item));
    families.set(family, [...(families.get(family) ?? []), item]);
  }
  return families;
}

export function seconds(units: number, timescale: number): number {
  return units / timescale;
}
