/**
 * The body of an admin request (purge, the CMSD cap), bounded: an admin endpoint never buffers
 * more than it can use.
 */
import type { IncomingMessage } from 'node:http';
import { StreamedgeError } from '../src/errors.js';

/** A client still sending after its 413 is read and discarded up to this much, then cut off. */
const MAX_DISCARDED_BODY = 64 * 1024 * 1024;

export class BodyTooLarge extends StreamedgeError {
  constructor(max: number, code: string) {
    super(code, `body larger than ${max} bytes`);
  }
}

/**
 * The request body, at most `max` bytes. A larger one (by Content-Length or as it arrives) rejects
 * with BodyTooLarge (its error code `code`) at once; what the client still sends is read and discarded (so it can read its
 * 413 instead of a reset), up to MAX_DISCARDED_BODY, past which the connection is cut.
 */
export function readBody(req: IncomingMessage, max: number, code: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let n = 0;
    const discard = () => {
      req.removeAllListeners('data');
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_DISCARDED_BODY) req.destroy();
      });
      req.on('error', () => undefined);
      reject(new BodyTooLarge(max, code));
    };
    if (Number.isFinite(declared) && declared > max) {
      discard();
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        discard();
        return;
      }
      parts.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(parts)));
    req.once('error', reject);
  });
}
