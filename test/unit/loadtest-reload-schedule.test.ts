/**
 * A plain live-HLS virtual viewer (bench/loadtest/hls-client.ts, no LL-HLS) reloads its playlist
 * a target duration after the previous load BEGAN (RFC 8216bis 6.3.4), on its own schedule: when
 * the tester's thread is late to run the viewer's timer (a GC pause, a busy turn, a core taken by
 * the server under test), that one reload is late, the next ones are back on the viewer's own
 * phase. Counted from when the late timer ran (or when the response arrived), every hiccup would
 * shift the viewer for good, and viewers hit by the same hiccup would reload together from then
 * on: the spread of a ramp would clump into bursts.
 *
 * One viewer on a fake clock against a fake 2 s-segment live channel: its waits end `late` ms
 * after they were due, and each playlist response takes 5 ms.
 */
import { describe, expect, it } from 'vitest';
import { HlsClient } from '../../bench/loadtest/hls-client.js';
import type { Cursor } from '../../bench/loadtest/stream-client.js';
import { JOIN_MS, RESPONSE_MS, SEGMENT_MS, requestTimes, sharedScheduleCases } from './loadtest-schedule-harness.js';

const URL = 'http://127.0.0.1:1/live/index.m3u8';

/** The live playlist at `nowMs`: the last 6 complete segments (segment k covers [k·2 s, (k+1)·2 s)). */
function playlist(nowMs: number): string {
  const last = Math.floor(nowMs / SEGMENT_MS) - 1;
  const first = Math.max(0, last - 5);
  let text = `#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:${first}\n#EXT-X-MAP:URI="init.mp4"\n`;
  for (let k = first; k <= last; k++) {
    text += `#EXT-X-PROGRAM-DATE-TIME:${new Date(k * SEGMENT_MS).toISOString()}\n#EXTINF:2.0,\nseg${k}.m4s\n`;
  }
  return text;
}

const reloadTimes = requestTimes({
  url: URL,
  document: playlist,
  viewer: (http, now, joinAt) => {
    const client = new HlsClient(http, URL, { lowLatency: false, now, joinAt });
    let cursor: Cursor;
    return {
      start: async (signal) => {
        await client.open(signal);
        cursor = await client.startCursor('main', signal);
      },
      step: async (signal) => {
        const chunk = await client.chunkAt('main', cursor, signal);
        expect(chunk).not.toBeNull();
        cursor = chunk!.next;
      },
    };
  },
});

describe('plain live-HLS reload schedule (tester lateness does not move it)', () => {
  sharedScheduleCases('reload', reloadTimes);

  it('a viewer that reaches its reload late reloads at once and is back on its phase after it', async () => {
    // chunks 0-2 come from the join's playlist; chunk 5 is the one of reload 3 (sent at join + 6 s):
    // the viewer is busy 2.3 s after it, so reload 4 (due at join + 8 s) goes out 0.305 s late
    const sent = await reloadTimes(
      JOIN_MS,
      () => 0,
      10,
      (k) => (k === 5 ? 2300 : 0),
    );
    const offsets = sent.map((t, k) => t - (JOIN_MS + k * SEGMENT_MS));
    for (let k = 0; k < offsets.length; k++) {
      if (k === 4) expect(offsets[k]).toBeCloseTo(RESPONSE_MS + 2300 - SEGMENT_MS, 6);
      else expect(offsets[k]).toBeCloseTo(0, 6);
    }
  });
});
