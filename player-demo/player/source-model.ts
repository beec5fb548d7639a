/**
 * What our player needs from a manifest, whatever the protocol: the renditions, and the next chunk
 * (segment or part) after a cursor. HLS and DASH loaders both implement `SourceModel`, so the
 * engine never knows which protocol it plays.
 */
import type { ByteRange } from '../../src/hls/listed-byte-range.js';
import type { TrackProtection } from './protection.js';
import type { ThumbnailModel } from './thumbnails.js';
import type { CaptionServiceId } from '../../src/captions/caption-decoder.js';

export interface PlayerRendition {
  id: string;
  kind: 'video' | 'audio';
  bitrate: number;
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
  /** Video of high dynamic range (HLS VIDEO-RANGE, DASH cicp TransferCharacteristics); absent: SDR. */
  videoRange?: 'PQ' | 'HLG';
  initUrl: string;
  /** The init segment is this range of `initUrl` (HLS EXT-X-MAP BYTERANGE). */
  initByteRange?: ByteRange;
  /**
   * Encrypted (Common Encryption, Clear Key): the scheme, KIDs and where the keys come from, as
   * the manifest says (DASH ContentProtection; HLS the EXT-X-KEY of its first segment). Absent: clear.
   */
  protection?: TrackProtection;
}

/** Bytes `offset` to `offset + length - 1` of a resource (HLS EXT-X-BYTERANGE), asked with a Range header. */
export type { ByteRange };

/** An audio language the viewer can pick: a rendition of its own. */
export interface AudioTrack extends PlayerRendition {
  kind: 'audio';
  /** BCP 47, when the manifest says. */
  language?: string;
  /** HLS NAME / DASH Label (or the language). */
  name: string;
  /** HLS DEFAULT=YES / DASH Role "main". */
  default: boolean;
}

/** A subtitle track (WebVTT): the files that hold its cues, loaded on demand. */
export interface TextTrackRef {
  id: string;
  language: string;
  name: string;
  default: boolean;
  /** The WebVTT documents covering the presentation (HLS: the segments; DASH: one sidecar file). */
  files(signal: AbortSignal): Promise<string[]>;
}

/** A closed-caption service carried in the video's pictures (CEA-608 or 708, inband-captions.ts). */
export interface CaptionServiceRef {
  /** `cc:CC1`, `cc:SERVICE1` and so on. */
  id: string;
  /** Its INSTREAM-ID. */
  service: CaptionServiceId;
  /** BCP 47, or `und` when the manifest does not say. */
  language: string;
  /** HLS NAME; DASH the channel or language. */
  name: string;
  default: boolean;
}

/** A position in the presentation: segment number and (LL-HLS) part index within it. */
export interface Cursor {
  msn: number;
  part: number;
}

export interface ChunkRef {
  url: string;
  msn: number;
  /** Part index, or undefined for a whole segment. */
  part?: number;
  /** Nominal media duration in seconds. */
  duration: number;
  /** Starts with a key frame (always true for audio). */
  independent: boolean;
  /** The cursor that follows this chunk. */
  next: Cursor;
  /** Wall clock of the chunk's first sample (epoch ms), when the manifest says. */
  programDateTime?: number;
  /** The response is produced while we read it (LL-DASH chunked segment): append as boxes arrive. */
  streaming?: boolean;
  /** The chunk is this range of `url` (one file holding many segments or parts). */
  byteRange?: ByteRange;
  /**
   * The init segment this chunk needs, when it is not its rendition's own (a DASH Period after
   * the first: an ad break, the programme after it). Appended before the chunk when the
   * SourceBuffer last had another.
   */
  init?: { url: string; byteRange?: ByteRange };
  /**
   * Seconds to add to the chunk's media times (the SourceBuffer's timestampOffset), when not 0:
   * a DASH Period whose media times do not run on from the one before it (an ad break starting
   * at 0, a programme resumed with a presentationTimeOffset).
   */
  timestampOffset?: number;
  /**
   * Media of this chunk outside [start, end) (seconds on the media element's timeline) is dropped
   * on append (MSE append window): a DASH Period's bounds, when there are several.
   */
  appendWindow?: { start: number; end: number };
  /**
   * HLS: the chunk's discontinuity sequence number and where it starts on the playlist's
   * timeline, seconds: on VOD with discontinuities the EXTINFs before it; on live, its
   * EXT-X-PROGRAM-DATE-TIME (epoch seconds), the one timeline a sliding window keeps. Media times
   * may start again after a discontinuity (RFC 8216bis §4.4.4.3: a server-side ad break, a
   * playout loop): the player places each discontinuity's media from where its first chunk lies
   * on that timeline.
   */
  discontinuity?: { sequence: number; startSec: number };
  /** The chunk is encrypted: its key as the manifest names it (HLS: the EXT-X-KEY in force; DASH: its Period's). */
  protection?: TrackProtection;
}

/** An ad break a live manifest signals (SCTE 35), as the player shows it. */
export interface AdMarker {
  /** HLS: the DATERANGE ID; DASH: the Event id. */
  id: string;
  /** Epoch ms of its start (START-DATE; the Event's presentation time on the MPD's clock). */
  startPdtMs: number;
  /** Its length once the return is known (HLS DURATION or END-DATE; DASH: the Event's duration). */
  durationSec?: number;
  /** The length announced with the cue (PLANNED-DURATION). */
  plannedDurationSec?: number;
  /** HLS: the return is signalled (SCTE35-IN). DASH: its Event has a duration. */
  returned: boolean;
}

export interface SourceModel {
  readonly protocol: 'hls' | 'dash';
  readonly live: boolean;
  readonly lowLatency: boolean;
  /** Target latency the server suggests (seconds), for live. */
  readonly targetLatency?: number;
  readonly video: PlayerRendition[];
  /** The default audio track (when there is audio). */
  readonly audio?: AudioTrack;
  /** Every audio language, the default among them. */
  readonly audioTracks: AudioTrack[];
  /** Subtitle tracks (VOD). */
  readonly textTracks: TextTrackRef[];
  /** Closed captions in the video, as the manifest announces them. */
  readonly captionServices: CaptionServiceRef[];
  /** Keys the manifest names before any media playlist (HLS EXT-X-SESSION-KEY): asked for up front. */
  readonly sessionKeys?: TrackProtection[];
  /** Loads the first manifests. */
  open(signal: AbortSignal): Promise<void>;
  /** Where a new viewer starts for this rendition (VOD: the start; live: near the edge on a key frame). */
  startCursor(renditionId: string, signal: AbortSignal): Promise<Cursor>;
  /**
   * The segment of rendition `to` holding the start of `from`'s segment at `cursor` (by PDT on
   * live, by media time on VOD), loading `to`'s playlist if it is not yet: renditions a packager
   * numbered apart (an audio AdaptationSet with another startNumber, an audio playlist with other
   * media sequence numbers) are matched by time, not by number.
   */
  alignedCursor(to: string, from: string, cursor: Cursor, signal: AbortSignal): Promise<Cursor>;
  /** The chunk at `cursor` in this rendition, waiting for it on live (blocking reload, preload hint); null at the end of VOD. */
  chunkAt(renditionId: string, cursor: Cursor, signal: AbortSignal): Promise<ChunkRef | null>;
  /**
   * Live: PDT (epoch ms) of the live edge at local time `nowMs`, where the protocol measures its
   * latency target from. HLS: the end of the newest listed part, advanced by the wall clock since
   * that playlist arrived (HOLD-BACK, PART-HOLD-BACK). DASH: now on the MPD's clock (UTCTiming).
   * null when unknown (VOD).
   */
  liveEdgePdtMs(nowMs: number): number | null;
  /** The segment containing media time `t` (VOD seeking). */
  cursorForTime?(renditionId: string, t: number): Cursor;
  /**
   * Live (DVR seeking): the segment whose PDT span holds `pdtMs` (epoch ms) in this rendition's
   * window (its first segment for a time before the window, the one after the newest listed
   * for a time past it); null when nothing is listed.
   */
  cursorForPdt?(renditionId: string, pdtMs: number): Cursor | null;
  /** Live: PDT (epoch ms) of the oldest media this rendition's window lists; null when unknown. */
  windowStartPdtMs?(renditionId: string): number | null;
  /**
   * Live: the ad breaks the manifests signal (SCTE 35: HLS EXT-X-DATERANGE with SCTE35-OUT, DASH
   * EventStream urn:scte:scte35:2014:xml+bin), oldest first.
   */
  adMarkers?(): AdMarker[];
  /** VOD: the presentation's length in seconds, from this rendition's segments (its manifest loaded). */
  vodDurationSec?(renditionId: string): number | undefined;
  /**
   * The thumbnail track for seek-bar previews (HLS image playlist, DASH image AdaptationSet;
   * thumbnails.ts), never one of the video renditions; null when there is none, or not yet. Live:
   * the latest window's (refreshed with the manifests), its times the HLS PDT (epoch seconds) or
   * the DASH Period timeline.
   */
  thumbnails?(): ThumbnailModel | null;
  close(): void;
}
