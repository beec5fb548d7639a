/**
 * Small HTTP servers for tests: a node:http server on a free loopback port, and a file answered
 * as a server that honours Range does (206 with exactly the bytes asked for, 200 without Range).
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Closes the server and every connection kept alive. */
  close(): Promise<void>;
}

export async function loopbackServer(handler: RequestListener): Promise<LoopbackServer> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Answers `file`: the single range the request's `bytes=a-b` asks for (206), else all of it (200). */
export function sendRange(req: IncomingMessage, res: ServerResponse, file: Buffer): void {
  const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
  if (!m) return void res.writeHead(200, { 'content-length': file.length }).end(file);
  const [start, end] = [Number(m[1]), Number(m[2])];
  res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${file.length}`, 'content-length': end - start + 1 });
  res.end(file.subarray(start, end + 1));
}
