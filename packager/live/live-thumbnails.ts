/**
 * A live channel's thumbnails: one JPEG per segment, taken from the key frame that opens it in
 * one video rendition (the smallest at least as wide as the pictures), by a short ffmpeg run on
 * that rendition's init segment and the segment's first part, as soon as the part arrives. One
 * picture is taken at a time; when the encoder runs ahead, the newest segment waiting is taken
 * next and the ones skipped stay without a picture. Pictures live in memory beside the window
 * and leave with it; a picture that cannot be taken is logged once and the channel goes on.
 */
import { spawn } from 'node:child_process';
import { ffmpegPath } from '../../src/media/ffmpeg-binaries.js';
import type { Part, Rendition, ThumbnailTrack } from '../../src/media/presentation.js';
import { THUMBNAIL_TRACK_ID } from '../thumbnail-track.js';

/** Decodes the first video frame of `init` + `part` (fragmented MP4) into a JPEG of width×height. */
export type TakePicture = (media: Buffer, width: number, height: number) => Promise<Buffer>;

export interface LiveThumbnailsOptions {
  /** Picture width in pixels (even); the height follows the rendition's aspect ratio. */
  width: number;
  /** Called when a picture lands (manifests change). */
  onPicture: () => void;
  /** A picture could not be taken (first failure of a streak only). */
  onError: (e: Error) => void;
  takePicture?: TakePicture;
}

interface Source {
  id: string;
  width: number;
  height: number;
  init: Buffer;
}

export class LiveThumbnails {
  private readonly pictures = new Map<number, Buffer>();
  private source?: Source;
  private taking = false;
  private waiting?: { n: number; bytes: Buffer };
  private failing = false;
  private largest = 0;
  private segmentSec = 0;
  private readonly take: TakePicture;

  constructor(private readonly opts: LiveThumbnailsOptions) {
    this.take = opts.takePicture ?? takePictureWithFfmpeg;
  }

  /**
   * A rendition's init segment: the smallest video rendition at least as wide as the pictures
   * (else the widest) is the one pictures are taken from.
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
    if (better) this.source = { id: rendition.id, width: rendition.width, height: rendition.height, init: bytes };
  }

  /** A part of some rendition: the first part of a segment of the source rendition is pictured. */
  part(renditionId: string, segmentNumber: number, part: Part, bytes: Buffer, segmentSec: number): void {
    if (renditionId !== this.source?.id || part.index !== 0 || this.pictures.has(segmentNumber)) return;
    this.segmentSec = segmentSec;
    this.waiting = { n: segmentNumber, bytes };
    if (!this.taking) void this.next();
  }

  private async next(): Promise<void> {
    const job = this.waiting;
    const source = this.source;
    if (!job || !source) return;
    this.waiting = undefined;
    this.taking = true;
    const { width, height } = this.size(source);
    try {
      const jpeg = await this.take(Buffer.concat([source.init, job.bytes]), width, height);
      this.pictures.set(job.n, jpeg);
      this.largest = Math.max(this.largest, jpeg.length);
      this.failing = false;
      this.opts.onPicture();
    } catch (e) {
      if (!this.failing) this.opts.onError(e instanceof Error ? e : new Error(String(e)));
      this.failing = true;
    } finally {
      this.taking = false;
    }
    if (this.waiting) void this.next();
  }

  private size(s: Source): { width: number; height: number } {
    const width = this.opts.width;
    return { width, height: Math.max(2, 2 * Math.round((width * s.height) / s.width / 2)) };
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
    const { width, height } = this.size(this.source);
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

/** ffmpeg: the first frame of the fragment, scaled, as one JPEG on stdout (10 s at most). */
const takePictureWithFfmpeg: TakePicture = (media, width, height) =>
  new Promise((resolve, reject) => {
    const child = spawn(
      ffmpegPath(),
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'mp4', '-i', 'pipe:0', '-frames:v', '1'],
        ...['-vf', `scale=w=${width}:h=${height}:flags=bicubic`, '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mjpeg', 'pipe:1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-500)));
    child.stdin.on('error', () => undefined); // ffmpeg may stop reading once it has its frame
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const jpeg = Buffer.concat(out);
      if (code === 0 && jpeg.length > 0) resolve(jpeg);
      else reject(new Error(`ffmpeg could not take a thumbnail (${signal ?? `exit ${code}`}): ${err.trim()}`));
    });
    child.stdin.end(media);
  });
