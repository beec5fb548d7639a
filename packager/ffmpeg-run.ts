/**
 * Runs one ffmpeg encode whose outputs are extra pipes (fd 3, 4, ...): each rendition's bytes
 * arrive on its own Readable. stderr goes to a log file (named in every failure message);
 * `-progress pipe:1` on stdout drives onProgress.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { StreamedgeError } from '../src/errors.js';
import { ffmpegPath } from '../src/media/ffmpeg-binaries.js';
import type { EncodeOutput } from './encode-args.js';

export interface EncoderRun {
  /** renditionId → that output's fragmented-MP4 bytes. Read them all: ffmpeg blocks on a full pipe. */
  streams: Map<string, Readable>;
  /** Resolves when ffmpeg exits 0; rejects StreamedgeError ENCODER_FAILED (or ABORTED). */
  done: Promise<void>;
  /** Stops ffmpeg now (SIGKILL); `done` rejects with ABORTED. */
  kill(): void;
  /** The child's pid (for diagnostics). */
  pid: number | undefined;
}

export interface EncoderRunOptions {
  logFile: string;
  onProgress?: (outTimeSec: number) => void;
  signal?: AbortSignal;
  /** ffmpeg binary (default ffmpegPath()). */
  ffmpeg?: string;
  /** Gives ffmpeg's stdin (an input read as `pipe:0`) to whoever feeds it; ignored otherwise. */
  stdin?: (sink: Writable) => void;
}

const TAIL_LINES = 30;

/** Parses `-progress` key=value lines; calls back with out_time seconds at each `progress=` line. */
export class ProgressParser {
  private rest = '';
  private outTimeSec: number | undefined;
  constructor(private readonly onProgress: (outTimeSec: number) => void) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (key === 'out_time_us' || (key === 'out_time_ms' && this.outTimeSec === undefined)) {
        // out_time_ms is microseconds too (a historical misnomer)
        const us = Number(value);
        if (Number.isFinite(us) && us >= 0) this.outTimeSec = us / 1e6;
      } else if (key === 'out_time' && this.outTimeSec === undefined) {
        const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(value);
        if (m) this.outTimeSec = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]);
      } else if (key === 'progress') {
        if (this.outTimeSec !== undefined) this.onProgress(this.outTimeSec);
        this.outTimeSec = undefined;
      }
    }
  }
}

function lastErrorLine(lines: string[]): string {
  const meaningful = lines.filter(
    (l) => l.trim() && !/^\s*(frame=|size=|video:|Input #|Output #|Stream #|Metadata:|Duration:|\s)/.test(l),
  );
  const errorish = meaningful.filter((l) => /error|invalid|failed|cannot|could not|unable|not found|no such/i.test(l));
  const pick = errorish[errorish.length - 1] ?? meaningful[meaningful.length - 1] ?? '';
  return pick
    .replace(/^\[[^\]]+\]\s*/, '')
    .trim()
    .slice(0, 200);
}

export function runEncoder(args: string[], outputs: EncodeOutput[], opts: EncoderRunOptions): EncoderRun {
  const maxFd = outputs.reduce((m, o) => Math.max(m, o.fd), 2);
  const stdio: ('ignore' | 'pipe')[] = [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'];
  for (let fd = 3; fd <= maxFd; fd++) stdio.push(outputs.some((o) => o.fd === fd) ? 'pipe' : 'ignore');

  mkdirSync(dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile);
  log.write(`# ${opts.ffmpeg ?? ffmpegPath()} ${args.map((a) => (/[\s;()[\]*]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
  const logClosed = new Promise<void>((resolve) => log.on('close', resolve).on('error', () => resolve()));

  let aborted = false;
  const child: ChildProcess = spawn(opts.ffmpeg ?? ffmpegPath(), args, { stdio });

  if (opts.stdin && child.stdin) {
    child.stdin.on('error', () => undefined); // ffmpeg exited while being fed (EPIPE): its exit says why
    opts.stdin(child.stdin);
  }

  const streams = new Map<string, Readable>();
  for (const o of outputs) {
    const s = child.stdio[o.fd] as Readable | null;
    if (!s) throw new StreamedgeError('ENCODER_FAILED', `internal: no pipe for fd ${o.fd}`);
    streams.set(o.renditionId, s);
  }

  const tail: string[] = [];
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    log.write(d);
    const lines = (partial + d.toString('utf8')).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    for (const l of lines) {
      tail.push(l);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  });
  if (opts.onProgress) {
    const parser = new ProgressParser(opts.onProgress);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => parser.push(d));
  } else {
    child.stdout!.resume();
  }

  const kill = (): void => {
    aborted = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = (): void => kill();
  if (opts.signal) {
    if (opts.signal.aborted) queueMicrotask(kill);
    else opts.signal.addEventListener('abort', onAbort, { once: true });
  }

  const done = new Promise<void>((resolve, reject) => {
    let spawnError: Error | undefined;
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (partial) tail.push(partial);
      log.end();
      void logClosed.then(() => {
        if (aborted) {
          reject(new StreamedgeError('ABORTED', 'packaging interrupted; ffmpeg stopped'));
        } else if (spawnError) {
          reject(
            new StreamedgeError('ENCODER_FAILED', `cannot start ffmpeg: ${spawnError.message}`, { cause: spawnError }),
          );
        } else if (code === 0) {
          resolve();
        } else {
          const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          const last = lastErrorLine(tail);
          reject(
            new StreamedgeError('ENCODER_FAILED', `ffmpeg ${why}${last ? `: ${last}` : ''}; full log: ${opts.logFile}`),
          );
        }
      });
    });
  });
  // Callers may attach handlers late; never let an early rejection go unhandled.
  done.catch(() => undefined);

  return { streams, done, kill, pid: child.pid };
}
