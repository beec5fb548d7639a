/**
 * An HTTP/2 client for tests that look at frames, not just answers: one TLS connection (ALPN h2),
 * the given GETs sent at once, and for each stream its header fields, its body and the frames
 * that carried them (type, flags, payload length), in order. Independent of node:http2's client,
 * which hides how an answer was framed (an empty DATA frame that only ends the stream, say).
 * Header blocks are decoded with the load tester's HPACK decoder.
 */
import { connect } from 'node:tls';
import { encodeGetRequest, HpackDecoder } from '../../bench/loadtest/hpack.js';

export const FrameType = { Data: 0, Headers: 1, RstStream: 3, Settings: 4, GoAway: 7, Continuation: 9 } as const;
export const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

export interface FrameSeen {
  type: number;
  flags: number;
  length: number;
}

/** A request: a path (GET), or a path with its method and own fields. */
export type FramedRequest = string | { path: string; method?: 'GET' | 'HEAD'; headers?: Record<string, string> };

export interface FramedAnswer {
  path: string;
  fields: Record<string, string>;
  body: Buffer;
  frames: FrameSeen[];
  /** RST_STREAM's error code, when the server reset the stream. */
  reset?: number;
}

function frame(type: number, flags: number, id: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(id, 5);
  return Buffer.concat([h, payload]);
}

/** A request's header block: the load tester's GET block, its `:method` swapped when not GET. */
function requestBlock(r: Exclude<FramedRequest, string>, authority: string, headers: Record<string, string>): Buffer {
  const block = encodeGetRequest(r.path, authority, { ...headers, ...r.headers });
  if ((r.method ?? 'GET') === 'GET') return block;
  // block[0] is the static entry ":method: GET"; a literal on the name ":method" (index 2) instead
  const method = Buffer.from(r.method!);
  return Buffer.concat([Buffer.from([0x02, method.length]), method, block.subarray(1)]);
}

/**
 * Sends `requests` over one HTTP/2 connection to `origin` (https://host:port), trusting `ca`, with
 * windows large enough that flow control never holds a body back; `headers` go with every
 * request. Resolves when every stream has ended or been reset; rejects after `timeoutMs`.
 */
export function h2Frames(
  origin: string,
  ca: Buffer,
  requests: readonly FramedRequest[],
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<FramedAnswer[]> {
  const url = new URL(origin);
  const paths = requests.map((r) => (typeof r === 'string' ? r : r.path));
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca,
      ALPNProtocols: ['h2'],
      servername: 'localhost',
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`h2Frames: no end after ${timeoutMs} ms`));
    }, timeoutMs);
    const answers = paths.map((path): FramedAnswer => ({ path, fields: {}, body: Buffer.alloc(0), frames: [] }));
    const byStream = new Map<number, FramedAnswer>();
    const blocks = new Map<number, Buffer[]>();
    const decoder = new HpackDecoder();
    let open = paths.length;
    let buf = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      socket.end();
      resolve(answers);
    };
    socket.once('secureConnect', () => {
      if (socket.alpnProtocol !== 'h2') {
        clearTimeout(timer);
        socket.destroy();
        return reject(new Error(`h2Frames: ALPN gave ${String(socket.alpnProtocol)}`));
      }
      // SETTINGS_INITIAL_WINDOW_SIZE 2^31-1, and the connection window raised as far
      const settings = Buffer.alloc(6);
      settings.writeUInt16BE(4, 0);
      settings.writeUInt32BE(0x7fffffff, 2);
      const increment = Buffer.alloc(4);
      increment.writeUInt32BE(0x7fffffff - 65535, 0);
      const out = [
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        frame(FrameType.Settings, 0, 0, settings),
        frame(8, 0, 0, increment),
      ];
      requests.forEach((r, i) => {
        const id = 2 * i + 1;
        byStream.set(id, answers[i]);
        const block = requestBlock(typeof r === 'string' ? { path: r } : r, `${url.hostname}:${url.port}`, headers);
        out.push(frame(FrameType.Headers, END_STREAM | END_HEADERS, id, block));
      });
      socket.write(Buffer.concat(out));
    });
    socket.on('error', (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) break;
        const type = buf[3];
        const flags = buf[4];
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        let payload = buf.subarray(9, 9 + length);
        buf = buf.subarray(9 + length);
        if (type === FrameType.Settings && !(flags & 1)) socket.write(frame(FrameType.Settings, 1, 0, Buffer.alloc(0)));
        const a = byStream.get(id);
        if (a === undefined) continue;
        a.frames.push({ type, flags, length });
        if ((type === FrameType.Data || type === FrameType.Headers) && flags & PADDED) {
          payload = payload.subarray(1, payload.length - payload[0]);
        }
        if (type === FrameType.Data) a.body = Buffer.concat([a.body, payload]);
        if (type === FrameType.Headers || type === FrameType.Continuation) {
          if (type === FrameType.Headers && flags & PRIORITY) payload = payload.subarray(5);
          const parts = blocks.get(id) ?? [];
          parts.push(Buffer.from(payload));
          blocks.set(id, parts);
          if (flags & END_HEADERS) {
            blocks.delete(id);
            decoder.decode(
              Buffer.concat(parts),
              { status: NaN, contentLength: undefined, cmsd: undefined },
              (name, value) => {
                a.fields[name] = value;
              },
            );
          }
        }
        if (type === FrameType.RstStream) a.reset = payload.readUInt32BE(0);
        const ended =
          type === FrameType.RstStream ||
          ((type === FrameType.Data || type === FrameType.Headers) && flags & END_STREAM);
        if (ended && --open === 0) return done();
      }
    });
  });
}
