/**
 * An abandoned download stops at once: the demo's bandwidth limiter hands back the bytes a
 * caller gave up, and the player's fetcher reads no further after its abort even from a body
 * that keeps delivering (the page's limited body served bytes it already held, so an abandoned
 * top-rung segment went on through the limited link for seconds and starved its replacement).
 * And a body that stops arriving is still reported on, so the emergency rule can give it up.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Throttle } from '../../../player-demo/player/throttle.js';
import { fetchBytes } from '../../../player-demo/player/fetcher.js';

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('Throttle', () => {
  it('an aborted take rejects at once and its unpaid bytes do not delay the next one', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const throttle = new Throttle(8_000); // 1,000 bytes/s
    const abort = new AbortController();
    const given = throttle.take(10_000, abort.signal); // 10 s of debt
    const outcome = given.then(
      () => 'paid',
      (e: unknown) => (e as Error).name,
    );
    await vi.advanceTimersByTimeAsync(1_000);
    abort.abort();
    expect(await outcome).toBe('AbortError');
    // 500 bytes take half a second, not the 9 s the given-up bytes still owed
    let done = false;
    void throttle.take(500).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(450);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    expect(done).toBe(true);
  });

  it('a take whose signal is already aborted charges nothing', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const throttle = new Throttle(8_000);
    let outcome = 'pending';
    void throttle.take(10_000, AbortSignal.abort()).then(
      () => (outcome = 'paid'),
      (e: unknown) => (outcome = (e as Error).name),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome).toBe('AbortError');
    let done = false;
    void throttle.take(500).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(550);
    expect(done).toBe(true);
  });
});

describe('fetchBytes', () => {
  it('stops reading at the abort even when the body keeps delivering', async () => {
    let pulled = 0;
    // a body that ignores the request's signal, as the page's limited body did
    vi.stubGlobal('fetch', () =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              pulled += 1;
              if (pulled > 100) controller.close();
              else controller.enqueue(new Uint8Array(16_384));
            },
          }),
        ),
      ),
    );
    const attempt = new AbortController();
    const result = fetchBytes('http://127.0.0.1:9/seg.m4s', {
      signal: attempt.signal,
      onProgress: (p) => {
        if (p.bytesLoaded >= 2 * 16_384) attempt.abort();
      },
    });
    await expect(result).rejects.toThrow(/abort/i);
    // the chunk read when the abort came, and at most the one the stream had queued ahead
    expect(pulled).toBeLessThanOrEqual(4);
  });

  it('reports a body that stops arriving, so that it can be given up', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
    // 16 kB, then nothing more: a server or a link that hangs mid-segment
    let sent = false;
    vi.stubGlobal('fetch', (_url: string, init: { signal: AbortSignal }) =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              if (!sent) controller.enqueue(new Uint8Array(16_384));
              sent = true;
              // never delivers again; the request's abort ends the body, as fetch's does
              return new Promise<void>(() => {
                init.signal.addEventListener('abort', () => controller.error(init.signal.reason));
              });
            },
          }),
          { headers: { 'content-length': '65536' } },
        ),
      ),
    );
    const seen: { bytesLoaded: number; bytesTotal?: number; elapsedMs: number; idleMs: number }[] = [];
    const attempt = new AbortController();
    const result = fetchBytes('http://127.0.0.1:9/seg.m4s', {
      signal: attempt.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.elapsedMs >= 1_000) attempt.abort();
      },
    });
    const outcome = result.then(
      () => 'finished',
      (e: unknown) => (e as Error).name,
    );
    await vi.advanceTimersByTimeAsync(1_050);
    expect(await outcome).toBe('AbortError');
    // reported while nothing arrived: the same 16 kB of 64 kB, later each time
    const late = seen.filter((p) => p.elapsedMs >= 500);
    expect(late.length).toBeGreaterThanOrEqual(5);
    for (const p of late) expect(p).toMatchObject({ bytesLoaded: 16_384, bytesTotal: 65_536 });
    // and how long nothing has come: it grows with each report (the last piece came at the start)
    for (const p of late) expect(p.idleMs).toBeGreaterThanOrEqual(p.elapsedMs - 50);
    expect(late.at(-1)!.idleMs).toBeGreaterThanOrEqual(950);
  }, 10_000);
});
