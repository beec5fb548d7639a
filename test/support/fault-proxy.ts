/**
 * A loopback HTTP proxy in front of an edge that breaks chosen requests the way networks and
 * servers do: a body cut off midway (the Content-Length promises more), a body cut just after its
 * first CMAF chunk (streamed as it arrives: a segment still being produced breaks while it is
 * streamed), a connection closed with no answer, or a 5xx. Every other request, and every header, passes through unchanged. It keeps
 * a count of the requests per path and a list of the faults it injected, so a test can hold the
 * player's account (its retries) against what really happened on the wire. Every answer closes
 * its connection, so each request is on a fresh one.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'cut-body' | 'cut-after-chunk' | 'no-answer' | 'silent' | 'stall-body' | { status: number };

export interface FaultRule {
  /** Which request paths the rule applies to. */
  path: RegExp;
  fault: Fault;
  /** How many requests of each matching path get the fault (the first ones); Infinity: all of them. */
  times: number;
}

export interface FaultProxy {
  url: string;
  /** The rules in force, read at each request: a test may add one while the player runs. */
  rules: FaultRule[];
  /** Requests seen, per path (query left off). */
  requests: Map<string, number>;
  /** Every request's path, in the order they came. */
  log: string[];
  /** Every request that carried a Range header: `<path> <range>`, in the order they came. */
  ranges: string[];
  /** The faults injected, in order; a cut body says how many of its bytes went out. */
  injected: { path: string; fault: string; bytesSent?: number }[];
  close(): Promise<void>;
}

const faultName = (f: Fault) => (typeof f === 'string' ? f : `status ${f.status}`);

export async function startFaultProxy(upstream: string, rules: FaultRule[]): Promise<FaultProxy> {
  const up = new URL(upstream);
  const requests = new Map<string, number>();
  const log: string[] = [];
  const ranges: string[] = [];
  const injected: FaultProxy['injected'] = [];

  const pass = (
    req: IncomingMessage,
    res: ServerResponse,
    cut?: { fault: 'cut-body' | 'cut-after-chunk' | 'stall-body'; note: { bytesSent?: number } },
  ) => {
    const headers = { ...req.headers, host: up.host };
    const out = request({ host: up.hostname, port: up.port, path: req.url, method: req.method, headers }, (answer) => {
      if (!cut) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      if (cut.fault === 'cut-after-chunk') return cutAfterFirstChunk(answer, res, cut.note);
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'content-length': String(body.length) });
        const half = Math.floor(body.length / 2);
        cut.note.bytesSent = half;
        // stall-body: the connection stays open, silent, until the client gives up or the proxy closes
        res.write(body.subarray(0, half), () => cut.fault === 'cut-body' && res.socket?.destroy());
      });
    });
    out.on('error', () => res.socket?.destroy());
    req.pipe(out);
  };

  const server: Server = createServer((req, res) => {
    // one request per connection: a browser tries a request again by itself when a connection
    // it reused closes with no answer, which would hide a fault from the player under test
    res.shouldKeepAlive = false;
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    const seen = (requests.get(path) ?? 0) + 1;
    requests.set(path, seen);
    log.push(path);
    if (req.headers.range) ranges.push(`${path} ${req.headers.range}`);
    const rule = rules.find((r) => r.path.test(path) && seen <= r.times);
    if (!rule) return pass(req, res);
    const note: FaultProxy['injected'][number] = { path, fault: faultName(rule.fault) };
    injected.push(note);
    if (rule.fault === 'no-answer') return void req.socket.destroy();
    if (rule.fault === 'silent') return; // held: closed by the client, or by close()
    if (rule.fault === 'cut-body' || rule.fault === 'cut-after-chunk' || rule.fault === 'stall-body')
      return pass(req, res, { fault: rule.fault, note });
    res.writeHead(rule.fault.status, {
      'content-type': 'text/plain',
      // the page reads the status across origins only with this
      'access-control-allow-origin': '*',
    });
    res.end(`injected ${rule.fault.status}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rules,
    requests,
    log,
    ranges,
    injected,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Bytes of a chunk's next box header let through after the first chunk, so the cut is inside the body. */
const PAST_CHUNK_BYTES = 8;

/**
 * Streams `answer` to `res` as it arrives (the upstream's headers as they are: a Content-Length,
 * or chunked for a segment still being produced). The first CMAF chunk (through the end of the
 * first `mdat`) goes out as soon as it is in; the connection is closed, PAST_CHUNK_BYTES into the
 * next box, when more of the body arrives after that (a segment still being produced: the next
 * part, about a part's duration later, so the reader has had the first chunk by then) or when the
 * body ends (a whole segment: at once). A body with no complete `mdat` is cut PAST_CHUNK_BYTES
 * before its end, so every answer this fault touches breaks.
 */
function cutAfterFirstChunk(answer: IncomingMessage, res: ServerResponse, note: { bytesSent?: number }): void {
  res.writeHead(answer.statusCode ?? 502, answer.headers);
  let body = Buffer.alloc(0);
  let sent = 0;
  let boxAt = 0; // where the next top-level box starts
  let chunkEnd = Infinity; // the end of the first mdat
  let done = false;
  const send = (upTo: number) => {
    if (upTo > sent) res.write(body.subarray(sent, upTo));
    sent = Math.max(sent, upTo);
  };
  const cut = (at: number) => {
    done = true;
    answer.destroy();
    send(at);
    note.bytesSent = sent;
    res.write(Buffer.alloc(0), () => res.socket?.destroy());
  };
  answer.on('data', (c: Buffer) => {
    if (done) return;
    const chunkWasOut = sent >= chunkEnd;
    body = Buffer.concat([body, c]);
    while (chunkEnd === Infinity && boxAt + 8 <= body.length) {
      const size = body.readUInt32BE(boxAt);
      if (size < 8) break; // 0 (to the end) or 64-bit sizes: not in the media this proxy serves
      if (body.toString('latin1', boxAt + 4, boxAt + 8) === 'mdat') chunkEnd = boxAt + size;
      boxAt += size;
    }
    if (chunkWasOut) return cut(Math.min(body.length, chunkEnd + PAST_CHUNK_BYTES));
    // the first chunk as far as it has come (all of it once its mdat is in); nothing past it yet
    send(Math.min(chunkEnd, body.length - (chunkEnd === Infinity ? PAST_CHUNK_BYTES : 0)));
  });
  answer.on('end', () => {
    if (!done)
      cut(chunkEnd === Infinity ? body.length - PAST_CHUNK_BYTES : Math.min(body.length, chunkEnd + PAST_CHUNK_BYTES));
  });
}
