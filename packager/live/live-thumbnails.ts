/**
 * A live channel's thumbnails: one JPEG per segment, the key frame that opens it, from one video
 * rendition (the smallest at least as wide as the pictures). Each segment's first part goes to
 * a long-lived ffmpeg (picture-stream.ts) with that rendition's init segment; its picture comes
 * back about when the segment is complete. A new init (an encoder restart) starts a new ffmpeg.
 * When ffmpeg falls behind (more than a few pictures owed), segments are skipped rather than
 * queued; a picture that cannot be taken is reported once per streak, ffmpeg is started again at
 * the next segment, and the channel goes on. Pictures live in memory beside the window and
 * leave with it.
 */
import type { Part, Rendition, ThumbnailTrack } from '../../src/media/presentation.js';
import { THUMBNAIL_TRACK_ID } from '../thumbnail-track.js';
import { openFfmpegPictureStream, type OpenPictureStream, type PictureStream } from './picture-stream.js';

export interface LiveThumbnailsOptions {
  /** Picture width in pixels (even); the height follows the rendition's aspect ratio. */
  width: number;
  /** Called when a picture lands (manifests change). */
  onPicture: () => void;
  /** A picture could not be taken (first failure of a streak only). */
  onError: (e: Error) => void;
  openStream?: OpenPictureStream;
}

interface Source {
  id: string;
  width: number;
  height: number;
  init: Buffer;
}

/** Pictures ffmpeg may owe before new segments are skipped (one is always owed: see picture-stream.ts). */
const MAX_OWED = 3;

export class LiveThumbnails {
  private readonly pictures = new Map<number, Buffer>();
  private readonly taking = new Set<number>();
  private source?: Source;
  private stream?: PictureStream;
  private failing = false;
  private largest = 0;
  private segmentSec = 0;
  private readonly open: OpenPictureStream;

  constructor(private readonly opts: LiveThumbnailsOptions) {
    this.open = opts.openStream ?? openFfmpegPictureStream;
  }

  /**
   * A rendition's init segment: the smallest video rendition at least as wide as the pictures
   * (else the widest) is the one pictures are taken from; its new init (a new run) ends the
   * current ffmpeg, which hands over the pictures it still owes.
   */
  init(rendition: Rendition, bytes: Buffer): void {
    if (rendition.kind !== 'video' || !rendition.width || !rendition.height) return;
    const s = this.source;
    const fits = (w: number) => w >= this.opts.width;
    const better =
      !s ||
      s.id === rendition.id ||
      (fits(rendition.width)
        ? !fits(s.width) || rendition.width < s.width
        : !fits(s.width) && rendition.width > s.width);
    if (!better) return;
    this.source = { id: rendition.id, width: rendition.width, height: rendition.height, init: bytes };
    void this.stream?.close();
    this.stream = undefined;
  }

  /**
   * A part of some rendition: the first part of a segment of the source rendition is pictured
   * (`fragment` gives its bytes, in the clear: only called for the parts pictured).
   */
  part(renditionId: string, segmentNumber: number, part: Part, segmentSec: number, fragment: () => Buffer): void {
    const source = this.source;
    if (renditionId !== source?.id || part.index !== 0 || !part.independent) return;
    if (this.pictures.has(segmentNumber) || this.taking.has(segmentNumber)) return;
    this.segmentSec = segmentSec;
    const stream = (this.stream ??= this.open(source.init, ...this.sizeOf(source)));
    if (stream.pending >= MAX_OWED) return;
    this.taking.add(segmentNumber);
    stream.take(fragment()).then(
      (jpeg) => {
        this.taking.delete(segmentNumber);
        this.pictures.set(segmentNumber, jpeg);
        this.largest = Math.max(this.largest, jpeg.length);
        this.failing = false;
        this.opts.onPicture();
      },
      (e: unknown) => {
        this.taking.delete(segmentNumber);
        if (this.stream === stream) this.stream = undefined; // a fresh ffmpeg at the next segment
        if (!this.failing) this.opts.onError(e instanceof Error ? e : new Error(String(e)));
        this.failing = true;
      },
    );
  }

  /** Ends the ffmpeg (the channel closing); resolves once it has exited. */
  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    await stream?.close();
  }

  private sizeOf(s: Source): [number, number] {
    const width = this.opts.width;
    return [width, Math.max(2, 2 * Math.round((width * s.height) / s.width / 2))];
  }

  get(n: number): Buffer | undefined {
    return this.pictures.get(n);
  }

  /** Drops the pictures of segments that left the window. */
  prune(keep: (n: number) => boolean): void {
    for (const n of this.pictures.keys()) if (!keep(n)) this.pictures.delete(n);
  }

  /** The track as the manifests show it, or undefined before the first picture. */
  track(): ThumbnailTrack | undefined {
    if (!this.source || this.pictures.size === 0) return undefined;
    const [width, height] = this.sizeOf(this.source);
    return {
      id: THUMBNAIL_TRACK_ID,
      width,
      height,
      columns: 1,
      rows: 1,
      intervalSec: this.segmentSec,
      sheets: 0,
      bandwidth: Math.ceil((this.largest * 8) / Math.max(this.segmentSec, 0.1)),
      pictures: new Set(this.pictures.keys()),
    };
  }
}
