/**
 * The origin for bench/edge-bench.ts, in its own process so the load generator never delays
 * its timers: 1 KiB playlists (/pl/*), 1 MiB segments (/seg/*), and /stampede/* — 2 MiB sent
 * with chunked encoding over 2 s. GET /_counts returns request counts and finish times (JSON).
 * Prints its base URL on stdout once listening.
 */
import { createServer } from 'node:http';

const STAMPEDE_BYTES = 2 * 1024 * 1024;
const STAMPEDE_MS = 2000;
const playlist = Buffer.alloc(1024, '#EXTM3U\n');
const segment = Buffer.alloc(1024 * 1024);
for (let i = 0; i < segment.length; i++) segment[i] = (i * 31) & 0xff;
const stampedeBody = Buffer.alloc(STAMPEDE_BYTES, 9);
const counts: Record<string, number> = {};
/** Epoch ms when the last stampede chunk was written, by URL. */
const finished: Record<string, number> = {};

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/_counts') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ counts, finished }));
    return;
  }
  counts[url] = (counts[url] ?? 0) + 1;
  if (url.startsWith('/pl/')) {
    res.writeHead(200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': 'public, max-age=3600',
      'content-length': String(playlist.length),
    });
    res.end(playlist);
  } else if (url.startsWith('/seg/')) {
    res.writeHead(200, {
      'content-type': 'video/mp4',
      'cache-control': 'public, max-age=3600',
      'content-length': String(segment.length),
    });
    res.end(segment);
  } else if (url.startsWith('/stampede/')) {
    res.writeHead(200, { 'content-type': 'video/mp4', 'cache-control': 'public, max-age=3600' });
    const chunks = 32;
    const step = STAMPEDE_BYTES / chunks;
    let i = 0;
    const tick = () => {
      if (i === chunks - 1) {
        res.end(stampedeBody.subarray(i * step));
        finished[url] = Date.now();
        return;
      }
      res.write(stampedeBody.subarray(i * step, (i + 1) * step));
      i++;
      setTimeout(tick, STAMPEDE_MS / chunks);
    };
    tick();
  } else {
    res.writeHead(404);
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as { port: number }).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
