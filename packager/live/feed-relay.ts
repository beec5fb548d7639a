/**
 * The ingest of a feed with one connection to keep: one that connects to us (rtmp://,
 * srt://…?mode=listener, tcp://…?listen), or SRT as caller (the remote listener takes one
 * caller). One ffmpeg per channel holds the connection and copies the feed's audio and video,
 * not re-encoded, into MPEG-TS on its stdout, and the channel's encoder runs read that on their
 * stdin. So the connection stays up while an encoder restarts (when the encoder itself
 * listened, every restart dropped the publisher and refused it until the next listen; an SRT
 * probe or restart opened a second connection the remote would not take), and the feed's first
 * seconds can be probed before the ladder is planned (a listening encoder had to assume 1080p30).
 *
 * A new reader joins at the next 188-byte MPEG-TS packet boundary (its decoder waits for the
 * next key frame). When the publisher leaves, the ingest ffmpeg ends: every reader's stdin ends
 * (its run ends as "source ended") and the relay listens (or calls) again. An ingest that ends
 * before any byte arrived (the remote is down, the port taken, a protocol this ffmpeg lacks)
 * fails the samples waiting for the feed with ffmpeg's reason, and the next attempt waits
 * longer (0.3 s doubling to 5 s).
 */
import { StreamedgeError } from '../../src/errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { ffmpegPath } from '../../src/media/ffmpeg-binaries.js';

const TS_PACKET = 188;
/** A reader further behind than this (its encoder stuck) is dropped: its stdin ends. */
const MAX_READER_BACKLOG = 32 * 1024 * 1024;
/** How long the relay waits before listening (calling) again after the ingest ended. */
const RELISTEN_MS = 300;
/** The longest wait between ingests that brought nothing. */
const RELISTEN_MAX_MS = 5_000;

interface Reader {
  sink: Writable;
  aligned: boolean;
}

interface SampleWait {
  chunks: Buffer[];
  bytes: number;
  started: boolean;
  timer?: NodeJS.Timeout;
  resolve: (sample: Buffer) => void;
  reject: (e: Error) => void;
}

export interface FeedRelayOptions {
  /** The feed's URL as ffmpeg reads it. */
  url: string;
  /** Input options before `-i <url>` (e.g. -listen 1 for rtmp). */
  inputArgs: string[];
  /** The ingest ffmpeg's stderr (appended). */
  logFile: string;
  /** Seconds of the feed a sample() holds (default 2). */
  sampleSec?: number;
}

export class FeedRelay {
  private child?: ChildProcess;
  private log?: WriteStream;
  private readonly readers = new Set<Reader>();
  private readonly samples: SampleWait[] = [];
  /** Bytes of the current ingest run so far (for MPEG-TS packet alignment). */
  private offset = 0;
  private closed = false;
  private relisten?: NodeJS.Timeout;
  private exited?: Promise<void>;
  /** Ingests in a row that ended before any byte of the feed arrived. */
  private emptyIngests = 0;
  /** The ingest ffmpeg's last stderr lines (why it ended, when it ends early). */
  private lastLines: string[] = [];

  constructor(private readonly opts: FeedRelayOptions) {}

  /** Starts listening for the publisher (idempotent). */
  start(): void {
    if (this.closed || this.child) return;
    mkdirSync(dirname(this.opts.logFile), { recursive: true });
    this.log ??= createWriteStream(this.opts.logFile, { flags: 'a' });
    const args = [
      ...['-hide_banner', '-nostdin', '-loglevel', 'warning'],
      ...this.opts.inputArgs,
      ...['-i', this.opts.url],
      ...['-map', '0:v?', '-map', '0:a?', '-c', 'copy', '-f', 'mpegts', 'pipe:1'],
    ];
    this.log.write(`# ${new Date().toISOString()} ${ffmpegPath()} ${args.join(' ')}\n`);
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.offset = 0;
    this.lastLines = [];
    child.stderr.on('data', (d: Buffer) => {
      this.log?.write(d);
      const lines = d
        .toString('utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '');
      this.lastLines = [...this.lastLines, ...lines].slice(-6);
    });
    child.stdout.on('data', (chunk: Buffer) => this.deliver(chunk));
    this.exited = new Promise<void>((resolve) => {
      child.on('error', (e) => {
        this.log?.write(`# cannot start ffmpeg: ${e.message}\n`);
      });
      child.on('close', (code, signal) => {
        this.log?.write(`# ingest ended (${signal ?? `code ${code}`})\n`);
        this.child = undefined;
        this.endReaders();
        for (const s of [...this.samples]) if (s.started) this.finishSample(s);
        if (this.offset === 0 && !this.closed) {
          // nothing came: say why to whoever waits for the feed, and wait longer before the next try
          this.emptyIngests++;
          const why = new StreamedgeError(
            'LIVE_SOURCE',
            `the feed ${this.opts.url} could not be received: ${whyIngestEnded(this.lastLines) ?? `ffmpeg ended (${signal ?? `code ${code}`})`}`,
          );
          for (const s of this.samples.splice(0)) s.reject(why);
        } else this.emptyIngests = 0;
        const wait = Math.min(RELISTEN_MAX_MS, RELISTEN_MS * 2 ** Math.max(0, this.emptyIngests - 1));
        if (!this.closed) this.relisten = setTimeout(() => this.start(), wait);
        resolve();
      });
    });
  }

  /**
   * Feeds `sink` (an encoder's stdin) from the next MPEG-TS packet on; returns the detach. Its
   * end comes when the ingest ends or the reader falls too far behind.
   */
  attach(sink: Writable): () => void {
    const reader: Reader = { sink, aligned: false };
    sink.on('error', () => this.readers.delete(reader)); // the encoder went away (EPIPE)
    this.readers.add(reader);
    this.start();
    return () => {
      this.readers.delete(reader);
    };
  }

  /**
   * The first seconds of the feed from the next packet on (from the publisher's connection when
   * none is connected yet): what a probe of the feed reads. Resolves when that much has arrived,
   * or with what came when the publisher left sooner; waits for a publisher however long.
   * Rejects LIVE_SOURCE with ffmpeg's reason when an ingest ends before any byte arrived.
   */
  sample(): Promise<Buffer> {
    this.start();
    return new Promise<Buffer>((resolve, reject) => {
      this.samples.push({ chunks: [], bytes: 0, started: false, resolve, reject });
    });
  }

  /** Stops listening and ends every reader. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.relisten) clearTimeout(this.relisten);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await this.exited;
    this.endReaders();
    for (const s of this.samples.splice(0)) {
      if (s.timer) clearTimeout(s.timer);
      s.resolve(Buffer.concat(s.chunks));
    }
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
  }

  private deliver(chunk: Buffer): void {
    const start = this.offset;
    this.offset += chunk.length;
    // where the first whole packet of this chunk starts
    const boundary = (TS_PACKET - (start % TS_PACKET)) % TS_PACKET;
    for (const r of this.readers) {
      let bytes = chunk;
      if (!r.aligned) {
        if (boundary >= chunk.length) continue;
        bytes = chunk.subarray(boundary);
        r.aligned = true;
      }
      if (r.sink.destroyed || r.sink.writableEnded) {
        this.readers.delete(r);
        continue;
      }
      r.sink.write(bytes);
      if (r.sink.writableLength > MAX_READER_BACKLOG) {
        this.readers.delete(r);
        r.sink.destroy(new Error('the encoder fell too far behind the feed'));
      }
    }
    for (const s of [...this.samples]) {
      if (!s.started) {
        if (boundary >= chunk.length) continue;
        s.started = true;
        s.chunks.push(chunk.subarray(boundary));
        s.bytes += chunk.length - boundary;
        s.timer = setTimeout(() => this.finishSample(s), (this.opts.sampleSec ?? 2) * 1000);
      } else {
        s.chunks.push(chunk);
        s.bytes += chunk.length;
      }
    }
  }

  private finishSample(s: SampleWait): void {
    const i = this.samples.indexOf(s);
    if (i < 0) return;
    this.samples.splice(i, 1);
    if (s.timer) clearTimeout(s.timer);
    s.resolve(Buffer.concat(s.chunks));
  }

  private endReaders(): void {
    for (const r of this.readers) if (!r.sink.destroyed && !r.sink.writableEnded) r.sink.end();
    this.readers.clear();
  }
}

/**
 * The reason in an ingest ffmpeg's last stderr lines: its last component message (`[srt @ 0x…]
 * Connection to … failed: …`, without the prefix), else its last line; never a "Did you mean"
 * hint.
 */
export function whyIngestEnded(lines: string[]): string | undefined {
  const told = lines.filter((l) => !l.startsWith('Did you mean'));
  const component = told.filter((l) => /^\[[^\]]+ @ 0x[0-9a-f]+\] /.test(l)).pop();
  const line = component?.replace(/^\[[^\]]+ @ 0x[0-9a-f]+\] /, '') ?? told.pop();
  return line?.slice(0, 300);
}
