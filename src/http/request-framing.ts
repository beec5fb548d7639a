/**
 * What HTTP/1.x requires of a request that node:http lets through, checked by the origin and the
 * edge before a request is routed (one copy for both):
 *
 * - **more than one Host field line**: RFC 9112 §3.2 says a server MUST answer 400; node:http
 *   keeps the first and drops the rest, so a cache and an upstream that pick different ones
 *   could disagree about which host a request was for;
 * - **a request line whose major version is not 1** (`GET / HTTP/2.0` in plain text, which
 *   llhttp parses): 505 (HTTP Version Not Supported, RFC 9110 §15.6.6). (llhttp itself refuses
 *   HTTP/1 minor versions other than 0 and 1 with 400.)
 *
 * HTTP/2 requests (node:http2's compatibility objects) are left alone: their framing is the h2
 * layer's, and `:authority` may stand beside one `host`.
 *
 * And CONNECT: node:http closes the connection without a word when nothing listens for
 * 'connect'. `answerConnect` answers 501 (Not Implemented) instead: neither server opens tunnels.
 */
import type { EventEmitter } from 'node:events';

export interface FramingRefusal {
  status: 400 | 505;
  reason: string;
}

interface RequestLike {
  httpVersionMajor: number;
  httpVersionMinor: number;
  rawHeaders: string[];
}

/** Why a request must be refused before routing, or undefined when it is well framed. */
export function framingRefusal(req: RequestLike): FramingRefusal | undefined {
  // node:http2's Http2ServerRequest carries its stream; node:http's IncomingMessage has none
  if ((req as { stream?: unknown }).stream !== undefined) return undefined;
  if (req.httpVersionMajor !== 1) {
    return {
      status: 505,
      reason: `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor} in an HTTP/1 request line is not supported (HTTP/1.0 and HTTP/1.1 here; HTTP/2 over TLS with ALPN)`,
    };
  }
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i];
    if (n.length === 4 && n.toLowerCase() === 'host' && ++hosts > 1) {
      return { status: 400, reason: 'the request has more than one Host header field (RFC 9112 §3.2)' };
    }
  }
  return undefined;
}

const CONNECT_BODY = 'CONNECT is not supported: this server opens no tunnels\n';
const CONNECT_ANSWER =
  'HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\n' +
  `content-length: ${Buffer.byteLength(CONNECT_BODY)}\r\nconnection: close\r\n\r\n${CONNECT_BODY}`;

interface H2Answer {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}
interface RawSocket {
  writable: boolean;
  end(data: string): unknown;
  destroy(): unknown;
}

/**
 * Answers CONNECT with 501 on a node:http server (the socket, then closed) or a node:http2 one
 * (the stream's response; an HTTP/1.1 CONNECT on an HTTPS port that also speaks h2 comes as a
 * socket too).
 */
export function answerConnect(server: EventEmitter): void {
  server.on('connect', (_req: unknown, second: RawSocket | H2Answer) => {
    if ('writeHead' in second) {
      second.writeHead(501, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      second.end(CONNECT_BODY);
    } else if (second.writable) second.end(CONNECT_ANSWER);
    else second.destroy();
  });
}
