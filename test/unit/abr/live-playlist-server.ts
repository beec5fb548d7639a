/**
 * A loopback server for the player's live-playlist tests: /live/master.m3u8 answers `master`,
 * /live/v/index.m3u8 answers `media()` (built per request, so it can follow the clock), anything
 * else 404. Registers beforeAll/afterAll; `url()` is the master playlist's URL once started.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';

export function useLivePlaylistServer(master: string, media: () => string): { url: () => string } {
  let server: Server | undefined;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = req.url?.startsWith('/live/master.m3u8')
        ? master
        : req.url?.startsWith('/live/v/index.m3u8')
          ? media()
          : null;
      if (body === null) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' }).end(body);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
  });
  return { url: () => `${base}/live/master.m3u8` };
}
