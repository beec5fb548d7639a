/**
 * The HTTP/1.1 half of a wake batch: writes a PreparedResponse's bytes (status line + headers +
 * body, serialised once per response object) straight to each request's socket when that is safe
 * (HTTP/1.1 keep-alive GET, the response is the one the socket is serving, nothing sent yet), and
 * then, after the whole batch is on the wire, completes each ServerResponse (marks its head as
 * sent and ends it with no further bytes) so Node's keep-alive handling, pipelined requests and
 * the framework's onResponse accounting carry on as usual. The check and that step are
 * src/http/raw-h1.ts's (Node 20's OutgoingMessage internals, shared with the edge's hit path);
 * when it says no, the response goes through `writeHead` + `end` instead (same bytes, the head
 * serialised per request).
 *
 * The bytes go through src/http/raw-socket-write.ts: straight to the TCP handle (libuv's
 * try-write, one write(2)) when nothing is queued on the socket, else `socket.write`.
 *
 * The cost floor is one write(2) per connection: on loopback the kernel delivers to the
 * receiver inside that call (bench/origin-bench.ts measures it, `floors` of heldBlockingRequests:
 * bare servers doing only that write through socket.write, fs.writeSync and the handle write, and
 * `kernelFloor`, a C program doing only write(2)).
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { markRawSent, rawConnectionFields } from '../../src/http/raw-h1.js';
import { rawSocketWrite } from '../../src/http/raw-socket-write.js';
import { writePrepared, type PreparedResponse } from './prepared-response.js';
import type { WakeWriter } from './wake-batch.js';

/** The response's bytes with this batch's Date and the connection fields Node would write. */
function wireOf(r: PreparedResponse, date: string, connection: string): Buffer {
  if (!r.wire || r.wireTail !== connection) {
    let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n`;
    for (let i = 0; i < r.headers.length; i += 2) head += `${r.headers[i]}: ${r.headers[i + 1]}\r\n`;
    head += `date: ${date}\r\n${connection}\r\n`;
    r.wireTail = connection;
    r.wire = Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
  }
  return r.wire;
}

export class H1Wake implements WakeWriter<ServerResponse> {
  private readonly raw: ServerResponse[] = [];

  constructor(private readonly date: string) {}

  write(res: ServerResponse, r: PreparedResponse): boolean {
    if (res.headersSent || res.destroyed || res.writableEnded) return false;
    const connection = rawConnectionFields(res);
    if (connection !== undefined) {
      // One write(2) of the shared bytes, below the socket's Writable when nothing is queued on it.
      rawSocketWrite(res.socket!, wireOf(r, this.date, connection));
      // Sent: nothing may write a second head for this response before finish().
      markRawSent(res, r.status);
      this.raw.push(res);
      return true;
    }
    return writePrepared(res, r);
  }
  finish(): void {
    const raw = this.raw;
    for (let i = 0; i < raw.length; i++) {
      const res = raw[i];
      try {
        if (!res.writableEnded) res.end();
      } catch {
        /* the connection went away meanwhile */
      }
    }
    raw.length = 0;
  }
}
