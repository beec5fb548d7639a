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
import type { Cursor } from '../../bench/loadtest/stream-client.js';
import { JOIN_MS, SEGMENT_MS, requestTimes, sharedScheduleCases } from './loadtest-schedule-harness.js';

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

const refreshTimes = requestTimes({
  url: URL,
  document: mpd,
  viewer: (http, now, joinAt) => {
    const client = new DashClient(http, URL, { now, joinAt });
    let id: string;
    let cursor: Cursor;
    return {
      start: async (signal) => {
        await client.open(signal);
        expect(client.live).toBe(true);
        id = client.video[0].id;
        cursor = await client.startCursor(id, signal);
      },
      step: async (signal) => {
        const chunk = await client.chunkAt(id, cursor, signal);
        expect(chunk).not.toBeNull();
        cursor = chunk!.next;
      },
    };
  },
});

describe('live DASH MPD refresh schedule (tester lateness does not move it)', () => {
  sharedScheduleCases('refresh', refreshTimes);

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
