/**
 * Content steering in our player (player-demo/player/pathway-steering.ts), with a scripted
 * steering server and clock: the tag starts it, the manifest's clones and priority route every
 * request, a failed Pathway goes to the penalty box for 5 minutes and the next one takes over,
 * the manifest is reloaded after its TTL (at RELOAD-URI, with `_HLS_pathway`), and a 410 stops
 * the reloads. The fetcher's retry on the next Pathway is checked here with a stubbed fetch;
 * the whole player in Chromium: test/browser/content-steering.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PathwaySteering } from '../../../player-demo/player/pathway-steering.js';
import { fetchBytes, HttpError } from '../../../player-demo/player/fetcher.js';

const MASTER =
  '#EXTM3U\n#EXT-X-CONTENT-STEERING:SERVER-URI="/steering"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n360p/index.m3u8\n';
const SEG = 'http://a.test:8080/vod/m/360p/seg-1.m4s';

function manifest(priority: string[], extra: Record<string, unknown> = {}) {
  return {
    VERSION: 1,
    TTL: 5,
    'PATHWAY-PRIORITY': priority,
    'PATHWAY-CLONES': [
      { 'BASE-ID': '.', ID: 'a', 'URI-REPLACEMENT': { HOST: 'a.test' } },
      { 'BASE-ID': '.', ID: 'b', 'URI-REPLACEMENT': { HOST: 'b.test' } },
    ],
    ...extra,
  };
}

function harness(answers: (url: string) => Response) {
  let now = 1_000_000;
  const asked: string[] = [];
  const steering = new PathwaySteering(
    (url) => {
      asked.push(url);
      return Promise.resolve(answers(url));
    },
    () => now,
  );
  return {
    steering,
    asked,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Lets the steering's pending fetch and JSON parse settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('content steering in our player', () => {
  it('without the tag: inactive, every URL its own', () => {
    const h = harness(() => json(manifest(['b'])));
    h.steering.start('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n', SEG, new AbortController().signal);
    expect(h.steering.active).toBe(false);
    expect(h.steering.route(SEG)).toBe(SEG);
    expect(h.asked).toEqual([]);
  });

  it('routes to the first Pathway of the manifest, fails over on a failure, and comes back after the penalty', async () => {
    vi.useFakeTimers();
    const h = harness(() => json(manifest(['b', 'a', '.'])));
    const stop = new AbortController();
    h.steering.start(MASTER, 'http://a.test:8080/vod/m/master.m3u8', stop.signal);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(h.asked).toEqual(['http://a.test:8080/steering?_HLS_pathway=.']);
    expect(h.steering.pathway).toBe('b');
    expect(h.steering.route(SEG)).toBe('http://b.test:8080/vod/m/360p/seg-1.m4s');
    // b fails: a takes over; a fails: "." (the playlist's own host, a.test here) is left
    expect(h.steering.failed('http://b.test:8080/vod/m/360p/seg-1.m4s', 'HTTP 502')).toBe(true);
    expect(h.steering.pathway).toBe('a');
    expect(h.steering.failed('http://a.test:8080/vod/m/360p/seg-1.m4s', 'Failed to fetch')).toBe(true);
    expect(h.steering.pathway).toBe('.');
    expect(h.steering.failed(SEG.replace('a.test', 'other.test'), 'Failed to fetch')).toBe(false);
    expect(h.steering.notes).toEqual([
      'pathway b (steering manifest)',
      'b failed: HTTP 502',
      'pathway a (failover)',
      'a failed: Failed to fetch',
      'pathway . (failover)',
      '. failed: Failed to fetch',
    ]);
    // the next manifest (TTL 5 s, asking with the current Pathway) keeps the penalty box
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(h.asked[1]).toBe('http://a.test:8080/steering?_HLS_pathway=.');
    expect(h.steering.pathway).toBe('.');
    // after 5 minutes the penalties are over: b again
    h.advance(300_000);
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(h.steering.pathway).toBe('b');
    stop.abort();
  });

  it("sends the player's throughput estimate once it has one", async () => {
    vi.useFakeTimers();
    let bps = 0;
    const asked: string[] = [];
    const steering = new PathwaySteering(
      (url) => {
        asked.push(url);
        return Promise.resolve(json(manifest(['a'])));
      },
      Date.now,
      () => bps,
    );
    steering.start(MASTER, 'http://a.test:8080/m.m3u8', new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    bps = 2_512_345.6;
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(asked).toEqual([
      'http://a.test:8080/steering?_HLS_pathway=.',
      'http://a.test:8080/steering?_HLS_pathway=a&_HLS_throughput=2512346',
    ]);
  });

  it('follows RELOAD-URI, stops on 410, retries later after an error', async () => {
    vi.useFakeTimers();
    let n = 0;
    const h = harness(() => {
      n++;
      if (n === 1) return json(manifest(['a'], { 'RELOAD-URI': '/steering/next?s=1' }));
      if (n === 2) return new Response('busy', { status: 500 });
      return new Response('gone', { status: 410 });
    });
    h.steering.start(MASTER, 'http://a.test:8080/m.m3u8', new AbortController().signal);
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(h.asked[1]).toBe('http://a.test:8080/steering/next?s=1&_HLS_pathway=a');
    expect(h.steering.notes.at(-1)).toBe('steering manifest: HTTP 500');
    await vi.advanceTimersByTimeAsync(10_000);
    await settle();
    expect(h.steering.notes.at(-1)).toBe('steering server gone (410): keeping the last priority');
    await vi.advanceTimersByTimeAsync(60_000);
    await settle();
    expect(h.asked.length).toBe(3);
    expect(h.steering.pathway).toBe('a');
  });

  it('the fetcher retries a request that failed on one Pathway on the next, never after bytes arrived', async () => {
    const h = harness(() => json(manifest(['b', 'a'])));
    const stop = new AbortController();
    h.steering.start(MASTER, 'http://a.test:8080/m.m3u8', stop.signal);
    for (let i = 0; i < 20 && h.steering.pathway !== 'b'; i++) await settle();
    expect(h.steering.pathway).toBe('b');
    const tried: string[] = [];
    vi.stubGlobal('fetch', (url: string) => {
      tried.push(new URL(url).hostname);
      if (url.includes('b.test')) return Promise.reject(new TypeError('Failed to fetch'));
      return Promise.resolve(new Response(new Uint8Array([1, 2, 3])));
    });
    const r = await fetchBytes(SEG, { signal: new AbortController().signal, steering: h.steering });
    expect([...r.bytes]).toEqual([1, 2, 3]);
    expect(tried).toEqual(['b.test', 'a.test']);
    // a 503 that says when to come back is the same everywhere: not a Pathway's failure
    vi.stubGlobal('fetch', () =>
      Promise.resolve(new Response('later', { status: 503, headers: { 'retry-after': '1' } })),
    );
    await expect(
      fetchBytes(SEG, { signal: new AbortController().signal, steering: h.steering }),
    ).rejects.toBeInstanceOf(HttpError);
    expect(h.steering.pathway).toBe('a');
    stop.abort();
  });
});
