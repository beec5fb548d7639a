/**
 * A live channel's thumbnails: one JPEG per segment, the key frame that opens it, from one video
 * rendition (the smallest at least as wide as the pictures). Each segment's first part goes to
 * a long-lived ffmpeg (picture-stream.ts) with that rendition's init segment; its picture comes
 * back about when the segment is complete. A new init (an encoder restart) starts a new ffmpeg.
 * When ffmpeg falls behind (more than a few pictures owed), segments are skipped rather than
 * queued; a picture that cannot be taken is reported once per streak, ffmpeg is started again at
 * the next segment, and the channel goes on. Pictures live in memory beside the window and
 * leave with it; with a folder, each is also written there (atomically) and read back when the
 * channel restarts, so a restored window keeps its pictures.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { thumbnailSheetName, type Part, type Rendition, type ThumbnailTrack } from '../../src/media/presentation.js';
import { THUMBNAIL_TRACK_ID, thumbnailHeight } from '../thumbnail-track.js';
import { openFfmpegPictureStream, type OpenPictureStream, type PictureStream } from './picture-stream.js';
import { writeFileAtomicAsync } from '../../src/atomic-file.js';

export interface LiveThumbnailsOptions {
  /** Picture width in pixels (even); the height follows the rendition's aspect ratio. */
  width: number;
  /** The channel's segment duration (s): each picture's span. */
  segmentSec: number;
  /** Where the pictures are kept on disk (`tile-<n>.jpg`); none: memory only. */
  dir?: string;
  /** Called when a picture lands (manifests change). */
  onPicture: () => void;
  /** A picture could not be taken or written (first failure of a streak only). */
  onError: (e: Error) => void;
  openStream?: OpenPictureStream;
}

/** What `/health` says of a channel's thumbnails. */
export interface ThumbnailStatus {
  /** Pictures held for the window. */
  pictures: number;
  /** While pictures fail to be taken or written: the latest error. */
  failing?: string;
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
  private diskFailing = false;
  private lastError?: string;
  private largest = 0;
  private readonly open: OpenPictureStream;
  private writes = Promise.resolve();

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
  part(renditionId: string, segmentNumber: number, part: Part, fragment: () => Buffer): void {
    const source = this.source;
    if (renditionId !== source?.id || part.index !== 0 || !part.independent) return;
    if (this.pictures.has(segmentNumber) || this.taking.has(segmentNumber)) return;
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
        this.write(segmentNumber, jpeg);
      },
      (e: unknown) => {
        this.taking.delete(segmentNumber);
        if (this.stream === stream) this.stream = undefined; // a fresh ffmpeg at the next segment
        const error = e instanceof Error ? e : new Error(String(e));
        if (!this.failing) this.opts.onError(error);
        this.failing = true;
        this.lastError = error.message;
      },
    );
  }

  /** Ends the ffmpeg (the channel closing); resolves once it has exited and the pictures are written. */
  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    await stream?.close();
    await this.writes;
  }

  /**
   * After a restart: reads back the pictures of the segments the restored window keeps, and
   * deletes the others (and stray temporaries) so the folder never grows.
   */
  async restore(keep: (n: number) => boolean): Promise<void> {
    const dir = this.opts.dir;
    if (!dir) return;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return; // nothing kept yet
    }
    for (const name of names) {
      const m = /^tile-(\d{1,12})\.jpg$/.exec(name);
      if (m && keep(Number(m[1]))) {
        const jpeg = await readFile(join(dir, name));
        this.pictures.set(Number(m[1]), jpeg);
        this.largest = Math.max(this.largest, jpeg.length);
      } else {
        await rm(join(dir, name), { force: true });
      }
    }
  }

  /** Keeps a picture on disk (one write at a time, in order); a failing disk is reported once. */
  private write(n: number, jpeg: Buffer): void {
    const dir = this.opts.dir;
    if (!dir) return;
    this.writes = this.writes
      .then(async () => {
        await mkdir(dir, { recursive: true });
        await writeFileAtomicAsync(join(dir, thumbnailSheetName(n)), jpeg);
        this.diskFailing = false;
      })
      .catch((e: unknown) => {
        const error = e instanceof Error ? e : new Error(String(e));
        if (!this.diskFailing) this.opts.onError(error);
        this.diskFailing = true;
        this.lastError = error.message;
      });
  }

  private sizeOf(s: Source): [number, number] {
    const width = this.opts.width;
    return [width, thumbnailHeight(width, s)];
  }

  status(): ThumbnailStatus {
    const failing = this.failing || this.diskFailing;
    return { pictures: this.pictures.size, ...(failing && this.lastError ? { failing: this.lastError } : {}) };
  }

  get(n: number): Buffer | undefined {
    return this.pictures.get(n);
  }

  /** Drops the pictures of segments that left the window (and their files). */
  prune(keep: (n: number) => boolean): void {
    const dir = this.opts.dir;
    for (const n of [...this.pictures.keys()]) {
      if (keep(n)) continue;
      this.pictures.delete(n);
      if (dir) this.writes = this.writes.then(() => rm(join(dir, thumbnailSheetName(n)), { force: true }));
    }
  }

  /**
   * The track as the manifests show it, from the source rendition's init on (undefined before it):
   * listed before the first picture too (its entries gaps), since an HLS player reads the
   * multivariant playlist once, when it joins: a viewer joining a young channel would otherwise
   * never learn of the image stream. BANDWIDTH is the largest picture's, or, before one, an
   * estimate of 2 bits a pixel.
   */
  track(): ThumbnailTrack | undefined {
    if (!this.source) return undefined;
    const [width, height] = this.sizeOf(this.source);
    const largest = this.largest > 0 ? this.largest : (width * height) / 4;
    return {
      id: THUMBNAIL_TRACK_ID,
      width,
      height,
      columns: 1,
      rows: 1,
      intervalSec: this.opts.segmentSec,
      sheets: 0,
      bandwidth: Math.ceil((largest * 8) / Math.max(this.opts.segmentSec, 0.1)),
      pictures: new Set(this.pictures.keys()),
    };
  }
}
