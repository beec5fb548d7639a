/**
 * The live edge as PART-HOLD-BACK measures it (src/abr/live-edge.ts): the end of the newest listed
 * part as of when the playlist arrived, advanced by the wall clock. A fake LL-HLS timeline (0.5 s
 * parts listed 45 ms after their PDT end) is observed the way our player sees it: blocking reloads
 * that arrive as a part is listed, and reloads answered at once (their newest part listed a while
 * ago). Then HlsSource against a loopback playlist.
 */
import { describe, expect, it } from 'vitest';
import { useLivePlaylistServer } from './live-playlist-server.js';
import { LiveEdgeClock, newestListedEndPdt } from '../../../src/abr/live-edge.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { LL_MEDIA_HEAD } from './ll-media-head.js';

const PART_MS = 500;
const T0 = 1_800_000_000_000;

/** End PDT of the newest part listed at local time `at`, for a server listing each part `listingMs` after its end. */
function listedEnd(at: number, listingMs: number): number {
  return Math.floor((at - listingMs - T0) / PART_MS) * PART_MS + T0;
}

describe('LiveEdgeClock', () => {
  it('places the edge at the playlist end as listed, not where chunks arrive', () => {
    const clock = new LiveEdgeClock();
    expect(clock.edgePdtAt(T0)).toBeNull();
    // 20 s of reloads: every third one answered at once somewhere inside a part, the others
    // blocking (arriving 45 ms after the part's end, when it is listed). Parts themselves arrive
    // ~0.7 s after their PDT end (request + transfer + append), which must not move the edge.
    for (let i = 1; i <= 40; i++) {
      const at = i % 3 === 0 ? T0 + i * PART_MS + 45 + 300 : T0 + i * PART_MS + 45;
      clock.observe(listedEnd(at, 45), at);
    }
    const now = T0 + 40 * PART_MS + 400;
    // the true edge at `now`: the newest part listed is the one ending at T0 + 40·0.5 s, listed 45 ms later
    expect(clock.listingDelayMs()).toBe(45);
    expect(clock.edgePdtAt(now)).toBe(now - 45);
  });

  it('an answered-at-once playlist alone overstates the distance by at most a part; the next blocking one corrects it', () => {
    const clock = new LiveEdgeClock();
    const late = T0 + 10 * PART_MS + 45 + 400;
    clock.observe(listedEnd(late, 45), late);
    expect(clock.listingDelayMs()).toBe(445);
    const blocking = T0 + 11 * PART_MS + 45;
    clock.observe(listedEnd(blocking, 45), blocking);
    expect(clock.listingDelayMs()).toBe(45);
  });

  it('follows a server that became slower once the fresh observations leave the window', () => {
    const clock = new LiveEdgeClock(5_000);
    for (let i = 1; i <= 10; i++) {
      const at = T0 + i * PART_MS + 45;
      clock.observe(listedEnd(at, 45), at);
    }
    // from now on parts are listed 250 ms after their end
    let at = 0;
    for (let i = 11; i <= 30; i++) {
      at = T0 + i * PART_MS + 250;
      clock.observe(listedEnd(at, 250), at);
    }
    expect(clock.listingDelayMs()).toBe(250);
    expect(clock.edgePdtAt(at + 100)).toBe(at + 100 - 250);
  });

  it('ignores observations without a clock', () => {
    const clock = new LiveEdgeClock();
    clock.observe(Number.NaN, T0);
    expect(clock.listingDelayMs()).toBeNull();
  });

  it('newestListedEndPdt: an in-progress segment ends where its listed parts end', () => {
    expect(newestListedEndPdt({ pdtMs: T0, complete: false, durationSec: 0, partDurationsSec: [0.5, 0.5, 0.5] })).toBe(
      T0 + 1500,
    );
    expect(newestListedEndPdt({ pdtMs: T0, complete: true, durationSec: 2, partDurationsSec: [0.5, 0.5] })).toBe(
      T0 + 2000,
    );
    expect(newestListedEndPdt({ complete: true, durationSec: 2, partDurationsSec: [] })).toBeUndefined();
  });
});

describe('HlsSource: the live edge from the playlists it loads', () => {
  /** PDT of segment 10's start; the newest listed part (13.1) ends 7 s later. */
  let pdt0 = 0;

  function media(): string {
    const lines = [...LL_MEDIA_HEAD, '#EXT-X-PROGRAM-DATE-TIME:' + new Date(pdt0).toISOString()];
    for (let msn = 10; msn <= 12; msn++) {
      for (let p = 0; p < 4; p++)
        lines.push(`#EXT-X-PART:DURATION=0.5,URI="p${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
      lines.push('#EXTINF:2.0,', `s${msn}.m4s`);
    }
    lines.push('#EXT-X-PART:DURATION=0.5,URI="p13.0.m4s",INDEPENDENT=YES');
    lines.push('#EXT-X-PART:DURATION=0.5,URI="p13.1.m4s"');
    lines.push('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p13.2.m4s"');
    return lines.join('\n') + '\n';
  }

  const playlists = useLivePlaylistServer(
    '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"\nv/index.m3u8\n',
    media,
  );

  it('reports the newest listed part end, advanced by the wall clock since the playlist arrived', async () => {
    // 3 segments × 2 s + 2 parts × 0.5 s: the newest part ended 60 ms before the playlist is served
    pdt0 = Date.now() - 7000 - 60;
    const before = Date.now();
    const source = new HlsSource(playlists.url(), {});
    await source.open(new AbortController().signal);
    const after = Date.now();
    expect(source.lowLatency).toBe(true);
    const edgeNow = source.liveEdgePdtMs(after + 1000);
    expect(edgeNow).not.toBeNull();
    // observed at some arrival in [before, after]: edge(after + 1 s) = end + (after + 1 s − arrival)
    const end = pdt0 + 7000;
    expect(edgeNow!).toBeGreaterThanOrEqual(end + 1000);
    expect(edgeNow!).toBeLessThanOrEqual(end + 1000 + (after - before));
    source.close();
  });
});
