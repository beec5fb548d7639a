import { Writable } from 'node:stream';

/** A log destination for tests: every non-empty line written to it, in order (pino writes one JSON line per record). */
export class LineSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l !== '') this.lines.push(l);
    cb();
  }
}
