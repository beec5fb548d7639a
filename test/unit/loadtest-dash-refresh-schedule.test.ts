/**
 * A live DASH virtual viewer (bench/loadtest/dash-client.ts) fetches a dynamic MPD again no later
 * than minimumUpdatePeriod after the previous fetch BEGAN (ISO/IEC 23009-1 5.4), on its own
 * schedule: when the tester's thread is late to run the viewer's timer, that one refresh is late,
 * the next ones are back on the viewer's own phase (bench/loadtest/reload-schedule.ts). Counted
 * from when the late timer ran (or when the response arrived), every hiccup would shift the viewer
 * for good, and viewers hit by the same hiccup would refresh together from then on.
 *
 * One viewer on a fake clock against a fake 2 s-segment dynamic MPD (minimumUpdatePeriod PT2S,
 * explicit SegmentTimeline): its waits end `late` ms after they were due, each MPD response takes
 * 5 ms.
 */
import { describe, expect, it } from 'vitest';
import { DashClient } from '../../bench/loadtest/dash-client.js';
import type { HttpGetter } from '../../bench/loadtest/http-get.js';
import type { Cursor } from '../../bench/loadtest/stream-client.js';

const SEGMENT_MS = 2000;
const RESPONSE_MS = 5;
const URL = 'http://127.0.0.1:1/live/manifest.mpd';

/** The MPD at `nowMs`: the last 6 complete segments (segment k covers [k·2 s, (k+1)·2 s)). */
function mpd(nowMs: number): string {
  const last = Math.floor(nowMs / SEGMENT_MS) - 1;
  const first = Math.max(0, last - 5);
  return `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="1970-01-01T00:00:00Z" publishTime="1970-01-01T00:00:00Z" minimumUpdatePeriod="PT2S"
  timeShiftBufferDepth="PT12S" suggestedPresentationDelay="PT4S" minBufferTime="PT2S">
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" media="$RepresentationID$/$Number$.m4s" initialization="$RepresentationID$/init.mp4" startNumber="${first}">
        <SegmentTimeline><S t="${first * SEGMENT_MS}" d="${SEGMENT_MS}" r="${last - first}"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v" bandwidth="200000" codecs="avc1.4d400d" width="320" height="180"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

/** Plays `refreshes` MPD refreshes at the live edge; returns when each MPD GET was sent. */
async function refreshTimes(
  joinMs: number,
  lateMs: (wait: number) => number,
  refreshes: number,
  /** Time the viewer spends after getting its k-th segment (its downloads answered late). */
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
      const text = mpd(now);
      now += RESPONSE_MS;
      return Promise.resolve({
        status: 200,
        bytes: text.length,
        ttfbMs: 0,
        durationMs: 0,
        burstBytes: 0,
        burstMs: 0,
        text,
      });
    },
    wait: (ms: number) => {
      now += Math.max(0, ms) + lateMs(waits++);
      return Promise.resolve();
    },
  } as unknown as HttpGetter;
  const client = new DashClient(http, URL, { now: () => now, joinAt });
  const signal = new AbortController().signal;
  await client.open(signal);
  expect(client.live).toBe(true);
  const id = client.video[0].id;
  let cursor: Cursor = await client.startCursor(id);
  for (let k = 0; sent.length <= refreshes; k++) {
    const chunk = await client.chunkAt(id, cursor, signal);
    expect(chunk).not.toBeNull();
    cursor = chunk!.next;
    now += busyMs(k);
  }
  return sent.slice(0, refreshes + 1);
}

describe('live DASH MPD refresh schedule (tester lateness does not move it)', () => {
  const JOIN_MS = 10_300; // 0.3 s after segment 4 completed

  it('refreshes every minimumUpdatePeriod from the first fetch, though each timer runs 30 ms late', async () => {
    const sent = await refreshTimes(JOIN_MS, () => 30, 12);
    expect(sent).toHaveLength(13);
    for (let k = 1; k < sent.length; k++) {
      // due at join + k·2 s; sent when the late timer ran: 30 ms after, never more
      expect(sent[k] - (JOIN_MS + k * SEGMENT_MS)).toBeCloseTo(30, 6);
    }
  });

  it("after one 700 ms stall of the thread, the following refreshes are back on the viewer's own phase", async () => {
    const sent = await refreshTimes(JOIN_MS, (w) => (w === 3 ? 700 : 0), 10);
    const offsets = sent.map((t, k) => t - (JOIN_MS + k * SEGMENT_MS));
    for (let k = 0; k < offsets.length; k++) {
      if (k === 4) expect(offsets[k]).toBeCloseTo(700, 6);
      else expect(offsets[k]).toBeCloseTo(0, 6);
    }
  });

  it('a viewer that reaches its refresh late refreshes at once and is back on its phase after it', async () => {
    // the viewer is busy 2.3 s after one segment: that refresh goes out late, the next on time
    const sent = await refreshTimes(
      JOIN_MS,
      () => 0,
      10,
      (k) => (k === 5 ? 2300 : 0),
    );
    const offsets = sent.map((t, k) => t - (JOIN_MS + k * SEGMENT_MS));
    const late = offsets.findIndex((o) => Math.abs(o) > 1e-6);
    expect(late).toBeGreaterThan(0);
    expect(offsets[late]).toBeGreaterThan(0);
    expect(offsets[late]).toBeLessThan(SEGMENT_MS);
    for (let k = 0; k < offsets.length; k++) if (k !== late) expect(offsets[k]).toBeCloseTo(0, 6);
  });

  it('a viewer its thread started late keeps the schedule of the time it was due to join', async () => {
    const dueAt = JOIN_MS - 300;
    const sent = await refreshTimes(JOIN_MS, () => 0, 6, undefined, dueAt);
    expect(sent[0]).toBe(JOIN_MS);
    for (let k = 1; k < sent.length; k++) expect(sent[k]).toBeCloseTo(dueAt + k * SEGMENT_MS, 6);
  });

  it('a viewer a whole period or more behind its schedule starts a new one from then', async () => {
    // busy 4.5 s after a segment: that refresh is more than a period late, the next ones keep its new phase
    const sent = await refreshTimes(
      JOIN_MS,
      () => 0,
      8,
      (k) => (k === 5 ? 4500 : 0),
    );
    const late = sent.findIndex((t, k) => Math.abs(t - (JOIN_MS + k * SEGMENT_MS)) > 1e-6);
    expect(late).toBeGreaterThan(0);
    expect(sent[late] - sent[late - 1]).toBeGreaterThan(2 * SEGMENT_MS);
    for (let k = late + 1; k < sent.length; k++) expect(sent[k] - sent[k - 1]).toBeCloseTo(SEGMENT_MS, 6);
  });
});
