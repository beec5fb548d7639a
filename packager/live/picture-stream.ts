/**
 * One long-lived ffmpeg that turns key frames into JPEG pictures: it reads a rendition's init
 * segment, then whatever fragments it is given (each a segment's first part, which opens with a
 * key frame), decodes only key frames (`-skip_frame nokey`), and writes one JPEG per fragment,
 * in order, to stdout. Pictures come back in the order fragments went in; ffmpeg hands a
 * fragment's picture on once it has read the next one (or its input ends), which for a segment's
 * first part is when the segment is complete. A process per picture cost about 60 ms of CPU,
 * mostly ffmpeg's start (bench/results/thumbnails.json); this one pays that once per run.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ffmpegPath } from '../../src/media/ffmpeg-binaries.js';
import { JpegSplitter } from './jpeg-splitter.js';

/** Pictures of one init segment's fragments. */
export interface PictureStream {
  /** The picture of `fragment` (moof + mdat opening with a key frame). */
  take(fragment: Buffer): Promise<Buffer>;
  /** Fragments given whose picture has not come back yet. */
  readonly pending: number;
  /** Ends the stream: the pictures still owed are flushed, then the process exits (resolves then). */
  close(): Promise<void>;
}

export type OpenPictureStream = (init: Buffer, width: number, height: number) => PictureStream;

export const openFfmpegPictureStream: OpenPictureStream = (init, width, height) =>
  new FfmpegPictureStream(init, width, height);

class FfmpegPictureStream implements PictureStream {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private readonly splitter = new JpegSplitter();
  private failure?: Error;
  private stderr = '';
  private killTimer?: NodeJS.Timeout;
  private readonly exited: Promise<void>;

  constructor(init: Buffer, width: number, height: number) {
    this.child = spawn(
      ffmpegPath(),
      [
        ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1', '-skip_frame', 'nokey'],
        ...['-f', 'mp4', '-i', 'pipe:0', '-vsync', 'passthrough'],
        ...['-vf', `scale=w=${width}:h=${height}:flags=bicubic`, '-c:v', 'mjpeg', '-q:v', '5'],
        ...['-flush_packets', '1', '-f', 'mjpeg', 'pipe:1'],
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.child.stdout.on('data', (d: Buffer) => {
      let images: Buffer[];
      try {
        images = this.splitter.push(d);
      } catch (e) {
        this.fail(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      for (const image of images) this.waiting.shift()?.resolve(image);
    });
    // ffmpeg says something only when a fragment did not decode: the order can no longer be trusted
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-500);
      this.fail(new Error(`ffmpeg could not take a thumbnail: ${this.stderr.trim()}`));
    });
    this.child.stdin.on('error', () => undefined); // a dead ffmpeg: reported by 'close'
    this.child.on('error', (e) => this.fail(e));
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    this.child.on('close', (code, signal) => {
      if (this.killTimer) clearTimeout(this.killTimer);
      this.fail(
        new Error(`ffmpeg taking thumbnails exited (${signal ?? `code ${code}`}) ${this.stderr.trim()}`.trim()),
      );
    });
    this.child.stdin.write(init);
  }

  get pending(): number {
    return this.waiting.length;
  }

  take(fragment: Buffer): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.stdin.write(fragment);
    });
  }

  close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    this.child.stdin.end();
    // the last picture is flushed when stdin ends; a hung ffmpeg is not waited for
    this.killTimer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    this.killTimer.unref();
    return this.exited;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
