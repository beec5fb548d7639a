/**
 * The player's retries (player-demo/player/request-retry.ts) against real sockets on loopback:
 * a server that answers a fixed body, behind the fault proxy that cuts bodies, closes connections
 * and answers 5xx/4xx the first times a path is asked for, or holds a request with no answer, or
 * stops a body halfway with the connection left open (the tries' time limits).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchBytes, HttpError, NetworkError } from '../../../player-demo/player/fetcher.js';
import {
  CHUNK_RETRY_DELAYS_MS,
  fetchPlaylistText,
  blockingPartReloadTimeout,
  GaveUpError,
  MAX_RETRY_AFTER_MS,
  MEDIA_TIMEOUT,
  PLAYLIST_TIMEOUT,
  retryDelayMs,
  withRetries,
  type RetryNote,
} from '../../../player-demo/player/request-retry.js';
import { delay } from '../../../player-demo/player/delay.js';
import { startFaultProxy, type FaultProxy } from '../../support/fault-proxy.js';

const BODY = Buffer.alloc(256 * 1024, 7);
let origin: Server;
let originUrl = '';
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  origin = createServer((req, res) => {
    const body = req.url?.endsWith('.m3u8') ? Buffer.from('#EXTM3U\n') : BODY;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await new Promise<void>((r) => origin.close(() => r()));
});

async function proxy(rules: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const p = await startFaultProxy(originUrl, rules);
  proxies.push(p);
  return p;
}

function fetchWithRetries(url: string, notes: RetryNote[] = []) {
  const signal = new AbortController().signal;
  return withRetries(url, () => fetchBytes(url, { signal }), { signal, onRetry: (n) => notes.push(n) });
}

describe('which failures are retried, and after how long', () => {
  const net = new NetworkError('http://x/seg-1.m4s', undefined, new TypeError('fetch failed'));
  it('no answer or a cut body: after 0.5, 1 and 2 s, then no more', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs(net, n))).toEqual([...CHUNK_RETRY_DELAYS_MS, undefined]);
  });
  it('5xx, 408 and 429 are retried; other 4xx are not', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) expect(retryDelayMs(new HttpError(s, 'u'), 1)).toBe(500);
    for (const s of [400, 401, 403, 404, 410]) expect(retryDelayMs(new HttpError(s, 'u'), 1)).toBeUndefined();
  });
  it('a Retry-After is waited for, up to a cap; a shorter one does not shorten the back-off', () => {
    expect(retryDelayMs(new HttpError(503, 'u', 3), 1)).toBe(3000);
    expect(retryDelayMs(new HttpError(429, 'u', 600), 1)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryDelayMs(new HttpError(503, 'u', 0), 2)).toBe(1000);
  });
  it('anything that is not a network failure (a bug, a bad append) is not retried', () => {
    expect(retryDelayMs(new TypeError('x is undefined'), 1)).toBeUndefined();
    expect(retryDelayMs(new DOMException('append failed', 'InvalidStateError'), 1)).toBeUndefined();
  });
});

describe('retries over real sockets', () => {
  it('a body cut off midway is fetched again whole', async () => {
    const p = await proxy([{ path: /seg-1/, fault: 'cut-body', times: 1 }]);
    const notes: RetryNote[] = [];
    const res = await fetchWithRetries(`${p.url}/seg-1.m4s`, notes);
    expect(Buffer.from(res.bytes).equals(BODY)).toBe(true);
    expect(p.requests.get('/seg-1.m4s')).toBe(2);
    expect(notes).toHaveLength(1);
    expect(notes[0].why).toMatch(/^body broke off after \d+ bytes/);
  });

  it('a connection closed with no answer, then a 502, then the body', async () => {
    const p = await proxy([
      { path: /seg-2/, fault: 'no-answer', times: 1 },
      { path: /seg-2/, fault: { status: 502 }, times: 2 },
    ]);
    const notes: RetryNote[] = [];
    const res = await fetchWithRetries(`${p.url}/seg-2.m4s`, notes);
    expect(res.bytes.byteLength).toBe(BODY.length);
    expect(notes.map((n) => n.why)).toEqual([expect.stringMatching(/^no answer/), 'HTTP 502']);
    expect(notes.map((n) => n.waitMs)).toEqual([500, 1000]);
  });

  it('a path that fails every time: four tries, then an error naming it', async () => {
    const p = await proxy([{ path: /seg-3/, fault: { status: 500 }, times: Infinity }]);
    const err = await fetchWithRetries(`${p.url}/seg-3.m4s`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GaveUpError);
    expect((err as Error).message).toBe(`HTTP 500 for ${p.url}/seg-3.m4s, gave up after 4 tries`);
    expect(p.requests.get('/seg-3.m4s')).toBe(4);
  }, 10_000);

  it('a 404 is not asked again', async () => {
    const p = await proxy([{ path: /seg-4/, fault: { status: 404 }, times: Infinity }]);
    const err = await fetchWithRetries(`${p.url}/seg-4.m4s`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(404);
    expect(p.requests.get('/seg-4.m4s')).toBe(1);
  });

  it('a bug in the caller is not mistaken for the network: thrown after one try', async () => {
    const p = await proxy([]);
    const signal = new AbortController().signal;
    let tries = 0;
    const err = await withRetries(
      `${p.url}/seg-5.m4s`,
      () => {
        tries++;
        return fetchBytes(`${p.url}/seg-5.m4s`, {
          signal,
          onChunk: () => {
            throw new TypeError('cannot read properties of undefined');
          },
        });
      },
      { signal },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(tries).toBe(1);
  });

  it('a stop during the wait ends the retries at once', async () => {
    const p = await proxy([{ path: /seg-6/, fault: { status: 503 }, times: Infinity }]);
    const stop = new AbortController();
    const url = `${p.url}/seg-6.m4s`;
    const run = withRetries(url, () => fetchBytes(url, { signal: stop.signal }), {
      signal: stop.signal,
      onRetry: () => stop.abort(),
    }).catch((e: unknown) => e);
    expect(((await run) as Error).name).toBe('AbortError');
    expect(p.requests.get('/seg-6.m4s')).toBe(1);
  });

  it('a live playlist: a closed connection and a 503 are retried (1 s apart without Retry-After), then its text', async () => {
    const p = await proxy([
      { path: /index/, fault: 'no-answer', times: 1 },
      { path: /index/, fault: { status: 503 }, times: 2 },
    ]);
    const text = await fetchPlaylistText(`${p.url}/index.m3u8`, { signal: new AbortController().signal });
    expect(text).toBe('#EXTM3U\n');
    expect(p.requests.get('/index.m3u8')).toBe(3);
  }, 10_000);

  it("a playlist's 404 stands at once", async () => {
    const p = await proxy([{ path: /gone/, fault: { status: 404 }, times: Infinity }]);
    const err = await fetchPlaylistText(`${p.url}/gone.m3u8`, { signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect((err as HttpError).status).toBe(404);
    expect(p.requests.get('/gone.m3u8')).toBe(1);
  });
});

describe('time limits on a try', () => {
  const quick = { firstByteMs: 300, totalMs: 600 };

  it('a playlist request the server holds with no answer is given up at its limit and asked again at once', async () => {
    const p = await proxy([{ path: /held/, fault: 'silent', times: 1 }]);
    const notes: RetryNote[] = [];
    const text = await fetchPlaylistText(`${p.url}/held.m3u8`, {
      signal: new AbortController().signal,
      timeout: quick,
      onRetry: (n) => notes.push(n),
    });
    expect(text).toBe('#EXTM3U\n');
    expect(p.requests.get('/held.m3u8')).toBe(2);
    expect(notes).toEqual([
      { url: `${p.url}/held.m3u8`, why: 'no answer (no headers within 300 ms)', failures: 1, waitMs: 0 },
    ]);
  });

  it('a body that stops halfway on an open connection fails at the whole-answer limit, as a body that broke off', async () => {
    const p = await proxy([{ path: /stall/, fault: 'stall-body', times: Infinity }]);
    const err = await fetchBytes(`${p.url}/stall-1.m4s`, {
      signal: new AbortController().signal,
      timeout: quick,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).timedOut).toBe(true);
    expect((err as Error).message).toMatch(/^body broke off after \d+ bytes \(not complete within 600 ms\)$/);
    expect(p.injected).toEqual([{ path: '/stall-1.m4s', fault: 'stall-body', bytesSent: BODY.length / 2 }]);
  });

  it('a media request held with no answer is retried on the chunk schedule, and succeeds', async () => {
    const p = await proxy([{ path: /seg-7/, fault: 'silent', times: 1 }]);
    const signal = new AbortController().signal;
    const notes: RetryNote[] = [];
    const url = `${p.url}/seg-7.m4s`;
    const res = await withRetries(url, () => fetchBytes(url, { signal, timeout: { ...quick, totalMs: Infinity } }), {
      signal,
      onRetry: (n) => notes.push(n),
    });
    expect(res.bytes.byteLength).toBe(BODY.length);
    expect(notes.map((n) => [n.why, n.waitMs])).toEqual([['no answer (no headers within 300 ms)', 500]]);
  });

  it("the caller's abort during a timed try is an abort, not a timeout, and is not retried", async () => {
    const p = await proxy([{ path: /seg-8/, fault: 'silent', times: 1 }]);
    const stop = new AbortController();
    const run = fetchPlaylistText(`${p.url}/seg-8.m3u8`, { signal: stop.signal, timeout: quick }).catch(
      (e: unknown) => e,
    );
    await new Promise<void>((r) => {
      const wait = () => (p.requests.get('/seg-8.m3u8') ? r() : setImmediate(wait));
      wait();
    });
    stop.abort();
    const err = await run;
    expect(err).not.toBeInstanceOf(NetworkError);
    expect((err as Error).name).toBe('AbortError');
    expect(p.requests.get('/seg-8.m3u8')).toBe(1);
  });

  it('the limits the player uses', () => {
    // a plain playlist or MPD: hls.js's playlistLoadPolicy
    expect(PLAYLIST_TIMEOUT).toEqual({ firstByteMs: 10_000, totalMs: 20_000 });
    // media: headers within 10 s; a slow body is for the ABR's emergency rule to judge
    expect(MEDIA_TIMEOUT).toEqual({ firstByteMs: 10_000, totalMs: Infinity });
    // a blocking reload for the next part: three parts, not under a target duration, at most 10 s
    expect(blockingPartReloadTimeout(1, 2)).toEqual({ firstByteMs: 3000, totalMs: 3000 });
    expect(blockingPartReloadTimeout(0.33, 4)).toEqual({ firstByteMs: 4000, totalMs: 4000 });
    expect(blockingPartReloadTimeout(2, 12)).toEqual({ firstByteMs: 10_000, totalMs: 10_000 });
  });
});

describe('delay', () => {
  it('rejects at once on a signal that has already aborted', async () => {
    const stop = new AbortController();
    stop.abort();
    await expect(delay(60_000, stop.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('takes its abort listener off the signal when the wait ends', async () => {
    const signal = new AbortController().signal;
    const removed = vi.spyOn(signal, 'removeEventListener');
    await delay(1, signal);
    expect(removed).toHaveBeenCalledWith('abort', expect.any(Function));
  });
});
