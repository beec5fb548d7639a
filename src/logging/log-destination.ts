/**
 * Where the edge's and the origin's log lines go: standard output, written once per event-loop
 * turn.
 *
 * The edge's full lookup logs every answer, the origin every request (one JSON line each). pino's default destination (sonic-boom,
 * asynchronous) appends each line to a pending string and measures that whole string's byte
 * length on every line while a write is in flight, so at 15k answers a second per process the
 * log cost 5 µs an answer, 8 % of a profiled HTTP/2 worker (bench/NOTES.md, "Session 35"). Here
 * a line is pushed onto an array; the turn's lines are written from an immediate (or at once when
 * 64 KiB are pending), and whatever is pending when the process exits is written then. nginx's own
 * access log without `buffer=` is one `write(2)` per request.
 *
 * The write is synchronous, so nothing is in flight when the process exits and lines stay in
 * order. The workers of a multi-process edge share one standard output: a write to a pipe is whole
 * (never interleaved with another process's) only up to PIPE_BUF, 4096 bytes on Linux, so a turn's
 * lines go out in writes of whole lines of at most that (one longer line alone): one write(2) per
 * turn at a light load, about ten lines a write at a heavy one. A full pipe (EAGAIN on a
 * non-blocking descriptor) is waited out for up to `STALL_LIMIT_MS`, then that write's lines are
 * dropped and counted; a descriptor that is gone (EPIPE, EBADF) stops the logging instead of
 * failing the server.
 */
import { writeSync } from 'node:fs';

/** Pending bytes (UTF-16 units) that make a line's push write the batch at once. */
const FLUSH_AT = 64 * 1024;
/** The most a write(2) to a pipe puts there whole, whatever other writers do (PIPE_BUF on Linux). */
const ATOMIC_WRITE = 4096;
/** How long a full pipe is waited out before a batch is dropped. */
const STALL_LIMIT_MS = 1_000;

export class LogDestination {
  private parts: string[] = [];
  private pending = 0;
  private scheduled = false;
  private closed = false;
  /** Lines that could not be written (a pipe full for longer than STALL_LIMIT_MS, a closed descriptor). */
  dropped = 0;

  constructor(
    private readonly fd = 1,
    /** The system call (node:fs writeSync; a test may watch it). */
    private readonly writeTo: (fd: number, data: Buffer, offset: number, length: number) => number = writeSync,
  ) {
    process.on('exit', () => this.flush());
  }

  /** pino's destination interface: one serialized line, newline included. */
  write(line: string): boolean {
    if (this.closed) {
      this.dropped++;
      return true;
    }
    this.parts.push(line);
    this.pending += line.length;
    if (this.pending >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.onTurn).unref();
    }
    return true;
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    this.flush();
  };

  /** Writes every pending line now (pino calls it for fatal logs; the exit handler does too). */
  flush(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    this.pending = 0;
    let chunk = '';
    let bytes = 0;
    let lines = 0;
    for (let i = 0; i < parts.length; i++) {
      const n = Buffer.byteLength(parts[i]);
      if (lines > 0 && bytes + n > ATOMIC_WRITE) {
        this.writeLines(chunk, lines);
        chunk = '';
        bytes = 0;
        lines = 0;
      }
      chunk += parts[i];
      bytes += n;
      lines++;
    }
    this.writeLines(chunk, lines);
  }

  private writeLines(chunk: string, lines: number): void {
    if (this.closed || !this.writeAll(Buffer.from(chunk))) this.dropped += lines;
  }

  /** pino calls flushSync when it has one. */
  flushSync(): void {
    this.flush();
  }

  private writeAll(data: Buffer): boolean {
    let off = 0;
    let stalledSince = 0;
    while (off < data.length) {
      try {
        off += this.writeTo(this.fd, data, off, data.length - off);
        stalledSince = 0;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN') {
          this.closed = true; // EPIPE, EBADF: nobody reads these lines any more
          return false;
        }
        const now = Date.now();
        if (stalledSince === 0) stalledSince = now;
        else if (now - stalledSince > STALL_LIMIT_MS) return false;
        Atomics.wait(STALL, 0, 0, 1);
      }
    }
    return true;
  }
}

const STALL = new Int32Array(new SharedArrayBuffer(4));

let stdout: LogDestination | undefined;

/** The process's one destination for standard output (one exit handler, one batch). */
export function stdoutLog(): LogDestination {
  stdout ??= new LogDestination(1);
  return stdout;
}
