/**
 * Our browser player's blocking playlist reload (player-demo/player/hls-source.ts, run in Node
 * against a loopback server) across a live channel's encoder restart: the origin answers the
 * held reload 503 (Retry-After) when the part does not come within three target durations
 * (RFC 8216bis 6.2.5.2). The player retries after Retry-After and goes on with the playlist that
 * follows; it used to stop playback for good at the first 503. A held reload that never comes
 * back is given up after a limit of about three parts (not the 10 s of a plain playlist fetch)
 * and asked again at once; it used to hold the player forever.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { blockingPartReloadTimeout, type RetryNote } from '../../../player-demo/player/request-retry.js';
import { LL_MEDIA_HEAD } from './ll-media-head.js';

const MASTER = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"
v/index.m3u8
`;

/** Segment 10 complete, segment 11 in progress with `parts` parts. */
function media(parts: number): string {
  const lines = [
    ...LL_MEDIA_HEAD,
    '#EXT-X-PART:DURATION=0.5,URI="p10.0.m4s",INDEPENDENT=YES',
    '#EXTINF:0.5,',
    's10.m4s',
  ];
  for (let p = 0; p < parts; p++)
    lines.push(`#EXT-X-PART:DURATION=0.5,URI="p11.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
  lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p11.${parts}.m4s"`);
  return lines.join('\n') + '\n';
}

describe('our player retries a blocking playlist reload answered 503', () => {
  let server: Server;
  let base = '';
  /** How many blocking reloads are still answered 503 (then the part is listed). */
  let refusals = 0;
  /** How many blocking reloads are still held with no answer at all (then the part is listed). */
  let silences = 0;
  let blockingRequests = 0;
  let missingRequests = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/live/master.m3u8') return void res.end(MASTER);
      if (url.pathname === '/live/missing.m3u8') return void res.end(MASTER.replace('v/', 'gone/'));
      if (url.pathname !== '/live/v/index.m3u8') {
        if (url.pathname === '/live/gone/index.m3u8') missingRequests++;
        return void res.writeHead(404).end();
      }
      if (!url.searchParams.has('_HLS_msn')) return void res.end(media(1));
      blockingRequests++;
      if (silences > 0) {
        silences--;
        return; // held until the client gives up on it (or the server closes)
      }
      if (refusals > 0) {
        refusals--;
        return void res
          .writeHead(503, { 'retry-after': '0', 'content-type': 'application/json' })
          .end('{"error":"not available within 3 target durations"}');
      }
      res.end(media(2));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );

  it('waits out the 503s and returns the part the next playlist lists', async () => {
    const source = new HlsSource(`${base}/live/master.m3u8`, {});
    const signal = new AbortController().signal;
    await source.open(signal);
    refusals = 2;
    blockingRequests = 0;
    const part = await source.chunkAt(source.video[0].id, { msn: 11, part: 1 }, signal);
    expect(part?.url).toBe(`${base}/live/v/p11.1.m4s`);
    expect(blockingRequests).toBe(3); // two refused, the third answered
    source.close();
  });

  it('a reload the server never answers is given up after three parts and asked again at once', async () => {
    const notes: RetryNote[] = [];
    const source = new HlsSource(`${base}/live/master.m3u8`, { onRetry: (n) => notes.push(n) });
    const signal = new AbortController().signal;
    await source.open(signal);
    silences = 1;
    blockingRequests = 0;
    const t0 = performance.now();
    const part = await source.chunkAt(source.video[0].id, { msn: 11, part: 1 }, signal);
    const tookMs = performance.now() - t0;
    expect(part?.url).toBe(`${base}/live/v/p11.1.m4s`);
    expect(blockingRequests).toBe(2); // the held one, then the one answered
    // 2 s target duration, 0.5 s parts: 2 s (three parts are 1.5 s, and not under a target duration)
    const limitMs = blockingPartReloadTimeout(0.5, 2).firstByteMs;
    expect(limitMs).toBe(2000);
    expect(notes).toEqual([
      {
        url: expect.stringContaining('/live/v/index.m3u8?_HLS_msn=11&_HLS_part=1'),
        why: `no answer (no headers within ${limitMs} ms)`,
        failures: 1,
        waitMs: 0,
      },
    ]);
    expect(tookMs).toBeGreaterThanOrEqual(limitMs - 50);
    source.close();
  });

  it('a 404 is not retried: the error stands at once', async () => {
    const source = new HlsSource(`${base}/live/missing.m3u8`, {});
    await expect(source.open(new AbortController().signal)).rejects.toMatchObject({ status: 404 });
    expect(missingRequests).toBe(1);
    source.close();
  });
});
