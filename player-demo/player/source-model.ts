/**
 * What our player needs from a manifest, whatever the protocol: the renditions, and the next chunk
 * (segment or part) after a cursor. HLS and DASH loaders both implement `SourceModel`, so the
 * engine never knows which protocol it plays.
 */

export interface PlayerRendition {
  id: string;
  kind: 'video' | 'audio';
  bitrate: number;
  codecs: string;
  width?: number;
  height?: number;
  frameRate?: number;
  initUrl: string;
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
}

export interface SourceModel {
  readonly protocol: 'hls' | 'dash';
  readonly live: boolean;
  readonly lowLatency: boolean;
  /** Target latency the server suggests (seconds), for live. */
  readonly targetLatency?: number;
  readonly video: PlayerRendition[];
  readonly audio?: PlayerRendition;
  /** Loads the first manifests. */
  open(signal: AbortSignal): Promise<void>;
  /** Where a new viewer starts for this rendition (VOD: the start; live: near the edge on a key frame). */
  startCursor(renditionId: string, signal: AbortSignal): Promise<Cursor>;
  /** The chunk at `cursor` in this rendition, waiting for it on live (blocking reload, preload hint); null at the end of VOD. */
  chunkAt(renditionId: string, cursor: Cursor, signal: AbortSignal): Promise<ChunkRef | null>;
  /** The segment containing media time `t` (VOD seeking). */
  cursorForTime?(renditionId: string, t: number): Cursor;
  close(): void;
}
