/**
 * The per-core limit of this runtime for the edge benchmarks: a node:cluster of N workers that
 * answer every request with a constant buffer (1 MiB under /seg/, else 1 KiB), over plain HTTP/1.1,
 * or over HTTPS with HTTP/2 (and HTTP/1.1 by ALPN) when given a certificate. HTTP/2 streams are
 * answered on the stream (respond + end, END_STREAM on the body's DATA frame), never through
 * node:http2's compatibility objects: the fastest node:http2 answers (since session 35, when the
 * edge's hits began to be answered so; before, this floor went through `res.writeHead`/`end`).
 *
 *   node bin/run-ts.js bench/constant-cluster.ts --port <p> --workers <n> [--tls <cert.pem> <key.pem>]
 *
 * Prints `ready` on stdout once every worker listens. The bench reads its CPU time from /proc.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { clusterArgs, runClusterPrimary } from './bench-cluster.js';

const args = process.argv.slice(2);
const { port, workers } = clusterArgs(args);
const tlsAt = args.indexOf('--tls');
const tls = tlsAt === -1 ? undefined : { cert: args[tlsAt + 1], key: args[tlsAt + 2] };

const small = Buffer.alloc(1024, '#EXTM3U\n');
const big = Buffer.alloc(1024 * 1024, 7);

function answer(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const body = (req.url ?? '').startsWith('/seg/') ? big : small;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'cache-control': 'public, max-age=3600',
    'content-length': body.length,
  });
  res.end(body);
}

if (cluster.isPrimary) {
  runClusterPrimary(import.meta.filename, args, workers);
} else if (tls) {
  const server = createSecureServer(
    {
      cert: readFileSync(tls.cert),
      key: readFileSync(tls.key),
      allowHTTP1: true,
      settings: { maxConcurrentStreams: 1000 },
    },
    answer, // HTTP/1.1 by ALPN
  );
  // HTTP/2: the compatibility layer's 'stream' listener replaced by an answer on the stream
  for (const l of server.listeners('stream')) server.removeListener('stream', l as never);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const body = String(headers[':path'] ?? '').startsWith('/seg/') ? big : small;
    stream.respond({
      ':status': 200,
      'content-type': 'application/octet-stream',
      'cache-control': 'public, max-age=3600',
      'content-length': body.length,
    });
    stream.end(body);
  });
  server.listen(port, '127.0.0.1');
} else {
  createServer({ keepAliveTimeout: 5_000 }, answer).listen({ port, host: '127.0.0.1', backlog: 4096 });
}
