import { Readable } from 'node:stream';

/** A byte stream over one in-memory buffer (RAM hits and verified small disk reads). */
export function bufferStream(buf: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent && buf.length > 0) {
        sent = true;
        this.push(buf);
      }
      this.push(null);
    },
  });
}

/** A byte stream fed by an async generator of chunks; the generator's `finally` runs on destroy. */
export function generatorStream(gen: AsyncGenerator<Buffer>): Readable {
  return Readable.from(gen, { objectMode: false, highWaterMark: 1 << 20 });
}
