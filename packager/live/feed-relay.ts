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
 * next key frame).
 *
 * SCTE 35 cues: the relay copies the feed's data streams too, reads them (src/mpegts/ts-reader.ts)
 * and keeps them from the encoders. Each cue's avail signals (src/scte35/cue-signal.ts) go to the
 * readers that asked for them, with the splice time on the reader's run clock: ffmpeg starts an
 * encoder's output at the smallest PTS among the audio and video it was given (its input
 * start_time, taken off every timestamp), so a splice at feed PTS p is at p − that start in the
 * run's media time, to a frame. When the publisher leaves, the ingest ffmpeg ends: every reader's stdin ends
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
import { pmtPacketWithout } from '../../src/mpegts/pmt-filter.js';
import { TS_PACKET, TsReader } from '../../src/mpegts/ts-reader.js';
import { cueSignalsOf, ptsDifferenceSec, type CueSignal } from '../../src/scte35/cue-signal.js';
import { decodeSpliceInfo } from '../../src/scte35/splice-info.js';

/** A reader further behind than this (its encoder stuck) is dropped: its stdin ends. */
const MAX_READER_BACKLOG = 32 * 1024 * 1024;
/** How long the relay waits before listening (calling) again after the ingest ended. */
const RELISTEN_MS = 300;
/** The longest wait between ingests that brought nothing. */
const RELISTEN_MAX_MS = 5_000;

/** A feed's avail signal, for one reader: the splice time on its run clock (absent: at once). */
export interface FeedCue {
  signal: CueSignal;
  /** Seconds of the reader's run media time at the splice (absent: splice at once). */
  runSec?: number;
  /** The splice_info_section as the feed sent it. */
  section: Uint8Array;
}

interface Reader {
  sink: Writable;
  cue?: (c: FeedCue) => void;
  /** The first PTS of each audio and video stream this reader was given. */
  firstPts: Map<number, number>;
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
  /**
   * Copy the feed's data streams and read its SCTE 35 cues (MPEG-TS transports; not RTMP, whose
   * FLV data is not SCTE 35 and may be nothing MPEG-TS can carry).
   */
  readCues?: boolean;
}

export class FeedRelay {
  private child?: ChildProcess;
  private log?: WriteStream;
  private readonly readers = new Set<Reader>();
  private readonly samples: SampleWait[] = [];
  /** Bytes of the current ingest run so far. */
  private offset = 0;
  /** The bytes of a packet cut by the end of the last chunk. */
  private partial: Buffer = Buffer.alloc(0);
  /** The current ingest's stream reader (a new ingest may carry another programme). */
  private ts = this.newReader();
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
      // ffmpeg reads all of its analysis time on MPEG-TS (5 s by default; a cue PID is silent for
      // minutes): 1 s is enough to copy the feed, whose first seconds are probed anyway
      ...(this.opts.readCues ? ['-analyzeduration', '1000000'] : []),
      ...['-i', this.opts.url],
      ...['-map', '0:v?', '-map', '0:a?', ...(this.opts.readCues ? ['-map', '0:d?'] : []), '-c', 'copy'],
      // packets go out as they come: the feed is interleaved already, and a cue stream is silent
      // for minutes (the muxer's default would hold the media up to 10 s waiting for its packets)
      ...['-max_interleave_delta', '1', '-f', 'mpegts', 'pipe:1'],
    ];
    this.log.write(`# ${new Date().toISOString()} ${ffmpegPath()} ${args.join(' ')}\n`);
    const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.offset = 0;
    this.partial = Buffer.alloc(0);
    this.ts = this.newReader();
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
   * Feeds `sink` (an encoder's stdin) from the next MPEG-TS packet on, without the feed's data
   * streams, and hands `cue` the feed's SCTE 35 avail signals from then on; returns the detach.
   * Its end comes when the ingest ends or the reader falls too far behind.
   */
  attach(sink: Writable, cue?: (c: FeedCue) => void): () => void {
    const reader: Reader = { sink, firstPts: new Map(), ...(cue ? { cue } : {}) };
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
    this.offset += chunk.length;
    const bytes = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % TS_PACKET);
    this.partial = Buffer.from(bytes.subarray(whole));
    if (whole === 0) return;
    // media packets go on; the data streams' (cues) are read here and kept from the encoders
    const kept: Buffer[] = [];
    let from = 0;
    for (let at = 0; at < whole; at += TS_PACKET) {
      const packet = bytes.subarray(at, at + TS_PACKET);
      this.ts.push(packet);
      const pid = ((packet[1] & 0x1f) << 8) | packet[2];
      const data = this.ts.isData(pid);
      if (data || (this.ts.isPmt(pid) && this.ts.hasData())) {
        if (at > from) kept.push(bytes.subarray(from, at));
        // the PMT goes on without the data streams: an encoder waits for a listed stream's packets
        if (!data) kept.push(pmtPacketWithout(packet, (p) => this.ts.isData(p)));
        from = at + TS_PACKET;
      }
    }
    if (whole > from) kept.push(bytes.subarray(from, whole));
    const out = kept.length === 1 ? kept[0] : Buffer.concat(kept);
    if (out.length === 0) return;
    for (const r of this.readers) {
      if (r.sink.destroyed || r.sink.writableEnded) {
        this.readers.delete(r);
        continue;
      }
      r.sink.write(out);
      if (r.sink.writableLength > MAX_READER_BACKLOG) {
        this.readers.delete(r);
        r.sink.destroy(new Error('the encoder fell too far behind the feed'));
      }
    }
    for (const s of [...this.samples]) {
      if (!s.started) {
        s.started = true;
        s.timer = setTimeout(() => this.finishSample(s), (this.opts.sampleSec ?? 2) * 1000);
      }
      s.chunks.push(out);
      s.bytes += out.length;
    }
  }

  private newReader(): TsReader {
    const reader: TsReader = new TsReader({
      pts: (pid, pts) => {
        if (!reader.isAudioVisual(pid)) return;
        for (const r of this.readers) {
          if (r.firstPts.has(pid)) continue;
          r.firstPts.set(pid, pts);
          if (r.firstPts.size === reader.audioVisualCount()) {
            const start = runStart(r.firstPts)!;
            this.log?.write(
              `# an encoder joined at PTS ${start} (${(start / 90_000).toFixed(6)} s): its media time 0\n`,
            );
          }
        }
      },
      data: (_pid, payload) => this.onData(payload),
    });
    return reader;
  }

  /** A data stream's payload: an SCTE 35 section is handed to the readers that asked for cues. */
  private onData(payload: Uint8Array): void {
    if (payload[0] !== 0xfc) return; // not a splice_info_section (another data stream)
    let signals: CueSignal[];
    try {
      signals = cueSignalsOf(decodeSpliceInfo(payload));
    } catch (e) {
      this.log?.write(`# SCTE 35 cue not read: ${(e as Error).message}\n`);
      return;
    }
    for (const signal of signals) {
      this.log?.write(`# SCTE 35 cue: ${JSON.stringify(signal)}\n`);
      for (const r of this.readers) {
        if (!r.cue) continue;
        const at = signal.kind === 'cancel' ? undefined : signal.pts;
        const start = runStart(r.firstPts);
        // a timed cue before the reader's first media cannot be placed on its run (it has none yet)
        if (at !== undefined && start === undefined) continue;
        r.cue({ signal, section: payload, ...(at !== undefined ? { runSec: ptsDifferenceSec(at, start!) } : {}) });
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

/** The smallest of a reader's first audio and video PTS (its encoder's start_time), wrap-aware. */
function runStart(firstPts: Map<number, number>): number | undefined {
  let start: number | undefined;
  for (const pts of firstPts.values()) if (start === undefined || ptsDifferenceSec(pts, start) < 0) start = pts;
  return start;
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
