/**
 * Serves the demo page (player-demo/dist) and its config.json (the streams to offer) on loopback.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { DIST_DIR } from './build.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json',
};

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

export async function startPageServer(opts: {
  port: number;
  host?: string;
  streams: { name: string; url: string }[];
  /** Serve the page over HTTPS with this certificate (the demo's --tls). */
  tls?: { certFile: string; keyFile: string };
}): Promise<PageServer> {
  const host = opts.host ?? '127.0.0.1';
  const config = JSON.stringify({ streams: opts.streams });
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let path: string;
    try {
      // Prefixed, not resolved: a request for "//x" is a path here, not a protocol-relative URL.
      path = decodeURIComponent(new URL(`http://x${req.url ?? '/'}`).pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('bad path');
      return;
    }
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(config);
      return;
    }
    const rel = normalize(path === '/' ? '/index.html' : path).replace(/^([/\\])+/, '');
    if (rel.startsWith('..') || rel.includes('\0')) {
      res.writeHead(400);
      res.end('bad path');
      return;
    }
    readFile(join(DIST_DIR, rel)).then(
      (body) => {
        res.writeHead(200, {
          'content-type': TYPES[extname(rel)] ?? 'application/octet-stream',
          'cache-control': 'no-cache',
        });
        res.end(body);
      },
      () => {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      },
    );
  };
  const server: Server = opts.tls
    ? createHttpsServer(
        { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile), minVersion: 'TLSv1.2' },
        handler,
      )
    : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
