import { Readable } from 'node:stream';
import type { ByteRange, ObjectMeta, StoredObject } from './types.js';

/** A stored object whose body is in memory: `buffer` for one write, `body` made on first use only. */
export function inMemoryObject(
  meta: ObjectMeta,
  size: number,
  buf: Buffer,
  fromRam: boolean,
  range: ByteRange | undefined,
): StoredObject {
  let stream: Readable | undefined;
  return {
    meta,
    size,
    fromRam,
    range,
    buffer: buf,
    get body(): Readable {
      return (stream ??= bufferStream(buf));
    },
  };
}

/** A byte stream over one in-memory buffer (RAM hits and verified small disk reads). */
function bufferStream(buf: Buffer): Readable {
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
