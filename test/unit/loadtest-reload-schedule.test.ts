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
import type { HttpGetter } from '../../bench/loadtest/http-get.js';
import type { Cursor } from '../../bench/loadtest/stream-client.js';

const SEGMENT_MS = 2000;
const RESPONSE_MS = 5;
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

/** Plays `reloads` playlist reloads at the live edge; returns when each playlist GET was sent. */
async function reloadTimes(
  joinMs: number,
  lateMs: (wait: number) => number,
  reloads: number,
  /** Time the viewer spends after getting its k-th chunk (its downloads answered late). */
  busyMs: (chunk: number) => number = () => 0,
  /** When the ramp had the viewer join (it opens at `joinMs`). */
  joinAt?: number,
): Promise<number[]> {
  let now = joinMs;
  const sent: number[] = [];
  let waits = 0;
  const http = {
    stats: { error: () => undefined },
    get: (url: string) => {
      expect(url).toBe(URL);
      sent.push(now);
      const text = playlist(now);
      now += RESPONSE_MS;
      return Promise.resolve({
        status: 200,
        bytes: text.length,
        ttfbMs: 0,
        durationMs: 0,
        burstBytes: 0,
        burstMs: 0,
        body: Buffer.from(text),
      });
    },
    wait: (ms: number) => {
      now += Math.max(0, ms) + lateMs(waits++);
      return Promise.resolve();
    },
  } as unknown as HttpGetter;
  const client = new HlsClient(http, URL, { lowLatency: false, now: () => now, joinAt });
  const signal = new AbortController().signal;
  await client.open(signal);
  let cursor: Cursor = await client.startCursor('main', signal);
  for (let k = 0; sent.length <= reloads; k++) {
    const chunk = await client.chunkAt('main', cursor, signal);
    expect(chunk).not.toBeNull();
    cursor = chunk!.next;
    now += busyMs(k);
  }
  return sent.slice(0, reloads + 1);
}

describe('plain live-HLS reload schedule (tester lateness does not move it)', () => {
  const JOIN_MS = 10_300; // 0.3 s after segment 4 completed

  it('reloads every target duration from the first load, though each timer runs 30 ms late', async () => {
    const sent = await reloadTimes(JOIN_MS, () => 30, 12);
    expect(sent).toHaveLength(13);
    for (let k = 1; k < sent.length; k++) {
      // due at join + k·2 s; sent when the late timer ran: 30 ms after, never more
      expect(sent[k] - (JOIN_MS + k * SEGMENT_MS)).toBeCloseTo(30, 6);
    }
  });

  it("after one 700 ms stall of the thread, the following reloads are back on the viewer's own phase", async () => {
    const sent = await reloadTimes(JOIN_MS, (w) => (w === 3 ? 700 : 0), 10);
    const offsets = sent.map((t, k) => t - (JOIN_MS + k * SEGMENT_MS));
    // the reload after the stalled wait is late; the others are on time
    for (let k = 0; k < offsets.length; k++) {
      if (k === 4) expect(offsets[k]).toBeCloseTo(700, 6);
      else expect(offsets[k]).toBeCloseTo(0, 6);
    }
  });

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

  it('a viewer its thread started late keeps the schedule of the time it was due to join', async () => {
    // due to join at 10.0 s, started by a busy thread at 10.3 s: reloads at 12.0 s, 14.0 s, ...
    const dueAt = JOIN_MS - 300;
    const sent = await reloadTimes(JOIN_MS, () => 0, 6, undefined, dueAt);
    expect(sent[0]).toBe(JOIN_MS);
    for (let k = 1; k < sent.length; k++) expect(sent[k]).toBeCloseTo(dueAt + k * SEGMENT_MS, 6);
  });
});
