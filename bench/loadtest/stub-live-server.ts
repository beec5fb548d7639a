/**
 * An instant live LL-HLS stub for measuring the load tester itself: its synthetic channel
 * (bench/loadtest/stub-channel.ts) is computed from the wall clock (no encoder, no store) and
 * every answer is a prepared buffer, so each request costs it next to nothing and the tester's
 * own CPU is what a bench measures. Plain http is served by a lean `net` front end
 * (bench/loadtest/stub-h1-server.ts); with `tls`, HTTPS with HTTP/2 and HTTP/1.1 (ALPN) through
 * node:http2's compatibility API. `/stats` returns request counts (and the serving process's pid)
 * as JSON.
 */
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import type { AddressInfo, Server, Socket } from 'node:net';
import { StubChannel, stubEpochMs, type StubAnswer } from './stub-channel.js';
import { createStubH1Server } from './stub-h1-server.js';

export { STUB } from './stub-channel.js';

export interface StubServer {
  url: string;
  server: Server | Http2SecureServer;
  /** Epoch ms of part 0's start (media time 0). */
  epochMs: number;
  counts: Record<string, number>;
  /** The first CMCD data seen (query payloads decoded, or the CMCD-* headers joined), up to 200. */
  cmcd: string[];
  close(): Promise<void>;
}

const send = (res: Http2ServerResponse, a: StubAnswer) => {
  res.writeHead(a.status, a.headers());
  res.end(a.body);
};

/** The HTTPS front end (HTTP/2 and HTTP/1.1 by ALPN): the same channel through node:http2's compatibility API. */
function createTlsServer(channel: StubChannel, tls: { cert: string; key: string }, sessions: Set<Http2Session>) {
  const handle = (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (req.httpVersionMajor === 2) channel.counts.h2++;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const h = ['cmcd-object', 'cmcd-request', 'cmcd-session', 'cmcd-status'].map((k) => req.headers[k]);
    const answer = channel.request(
      q === -1 ? url : url.slice(0, q),
      q === -1 ? null : url.slice(q + 1),
      h[2] === undefined ? undefined : h.filter(Boolean).join(','),
      { deliver: (a) => send(res, a), gone: () => res.destroyed },
    );
    if (answer) send(res, answer);
  };
  const secure = createSecureServer({ ...tls, allowHTTP1: true, settings: { maxConcurrentStreams: 1000 } }, handle);
  secure.on('session', (s: Http2Session) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  secure.on('secureConnection', () => channel.counts.connections++);
  return secure;
}

/**
 * Starts the stub on 127.0.0.1 (port 0 = any free port); with `tls`, HTTPS with HTTP/2 and
 * HTTP/1.1 (ALPN). Several stub processes serving one channel (bench/loadtest-stub-process.ts
 * --processes) share its `epochMs`.
 */
export async function startStubServer(
  port = 0,
  tls?: { cert: string; key: string },
  epochMs = stubEpochMs(),
): Promise<StubServer> {
  const channel = new StubChannel(epochMs);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const server = tls ? createTlsServer(channel, tls, sessions) : createStubH1Server(channel, sockets);
  // a deep accept queue: a ramp opens thousands of connections at once (the default 511 drops SYNs, retried after 1 s)
  await new Promise<void>((resolve) => server.listen({ port, host: '127.0.0.1', backlog: 65_535 }, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${bound}/live/master.m3u8`,
    server,
    epochMs,
    counts: channel.counts,
    cmcd: channel.cmcd,
    close: async () => {
      channel.close();
      for (const s of sockets) s.destroy();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
