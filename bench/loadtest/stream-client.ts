/**
 * What a virtual viewer needs from a manifest, whatever the protocol: the renditions, where to
 * start, and the chunk (segment or LL-HLS part) at a cursor — waiting for it on live.
 */
export interface StreamRendition {
  id: string;
  kind: 'video' | 'audio';
  /** bits/s (BANDWIDTH / @bandwidth) */
  bitrate: number;
  width?: number;
  height?: number;
}

/** A position: media sequence number (HLS) or $Number$ (DASH), and an LL-HLS part index. */
export interface Cursor {
  msn: number;
  part: number;
  /**
   * At the start of live playback only: media seconds to seek past. A player joins at the hold-back
   * (e.g. PART-HOLD-BACK behind the newest part) but must fetch from the key frame before it; it
   * decodes from there and starts presenting at the hold-back, as hls.js seeks to its live sync
   * position.
   */
  skipSec?: number;
}

export interface Chunk {
  url: string;
  kind: 'segment' | 'part';
  durationSec: number;
  /** Starts with a key frame: a rendition switch may happen here. */
  independent: boolean;
  /** Wall clock of the first sample (epoch ms), live only. */
  programDateTimeMs?: number;
  next: Cursor;
  initUrl: string;
  /** Byte-range HLS: the Range header value (`bytes=a-b`) for `url`, and for `initUrl`. */
  range?: string;
  initRange?: string;
  /** LL-HLS: the part is only announced by a preload hint (it may never come to be). */
  hinted?: boolean;
}

export interface StreamClient {
  readonly protocol: 'hls' | 'dash';
  readonly live: boolean;
  readonly lowLatency: boolean;
  /** Latency a player should hold (seconds), for live. */
  readonly targetLatencySec?: number;
  /** Nominal segment duration, seconds. */
  readonly segmentSec: number;
  readonly video: StreamRendition[];
  /** A ladder in several video codecs: the family the viewer plays ('avc', 'hevc'); else undefined. */
  readonly videoFamily?: string;
  readonly audio?: StreamRendition;
  open(signal: AbortSignal): Promise<void>;
  startCursor(renditionId: string, signal: AbortSignal): Promise<Cursor>;
  /** The chunk at `cursor`, waiting for it on live; null at the end of VOD. */
  chunkAt(renditionId: string, cursor: Cursor, signal: AbortSignal): Promise<Chunk | null> | Chunk | null;
  /**
   * Live: the newest media this rendition's playlists listed, as the program date-time where it
   * ends, and the wall clock (epoch ms) when the client first saw it listed.
   */
  liveEdge?(renditionId: string): { pdtMs: number; seenAtMs: number } | undefined;
  /** A hinted part of this rendition got 404: forget the hint, so the next chunkAt reloads the playlist. */
  hintMissing?(renditionId: string): void;
  /**
   * The audio cursor that goes with video cursor `video`, when the two are numbered apart (a DASH
   * packager may number audio from another startNumber); absent: numbered alike.
   */
  audioCursor?(video: Cursor): Cursor;
}
