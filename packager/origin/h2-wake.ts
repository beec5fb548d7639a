/**
 * The HTTP/2 half of a wake batch: each held request is a stream of a session, so a woken request
 * is a HEADERS frame (the header block built once per PreparedResponse) and a DATA frame of the
 * shared body, sent with `stream.respond` + `stream.end` directly (not through the compatibility
 * response's per-call header validation). node:http2 writes the frames of every stream answered
 * in the same tick in one socket write per session, so a batch costs a few syscalls per
 * connection, not one per request.
 */
import type { Http2ServerResponse, OutgoingHttpHeaders } from 'node:http2';
import { writePrepared, type PreparedResponse } from './prepared-response.js';
import type { WakeWriter } from './wake-batch.js';
import { CONNECTION_SPECIFIC_FIELDS as CONNECTION_SPECIFIC } from '../../src/http/hop-by-hop.js';

function h2HeadersOf(r: PreparedResponse, date: string): OutgoingHttpHeaders {
  if (!r.h2Headers) {
    const h: Record<string, string | string[] | number> = { ':status': r.status };
    for (let i = 0; i < r.headers.length; i += 2) {
      const name = r.headers[i].toLowerCase();
      if (CONNECTION_SPECIFIC.has(name)) continue;
      const value = r.headers[i + 1];
      const prev = h[name];
      if (prev === undefined) h[name] = value;
      else h[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
    }
    h.date = date;
    r.h2Headers = h;
  }
  return r.h2Headers;
}

export class H2Wake implements WakeWriter<Http2ServerResponse> {
  constructor(private readonly date: string) {}

  write(res: Http2ServerResponse, r: PreparedResponse): boolean {
    const stream = res.stream;
    if (!stream || stream.destroyed || stream.closed || stream.headersSent) return false;
    try {
      // HEAD: the GET's header block (content-length included) and no DATA frame.
      const noBody = r.body.length === 0 || res.req.method === 'HEAD';
      stream.respond(h2HeadersOf(r, this.date), { endStream: noBody });
      if (!noBody) stream.end(r.body);
      return true;
    } catch {
      // The stream was reset between the check and the write: the compatibility path decides.
      return writePrepared(res, r);
    }
  }

  finish(): void {
    /* each stream ended in write(); nghttp2 flushes every session once this tick ends */
  }
}
