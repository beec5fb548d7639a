/**
 * Load-test DASH viewers on a low-latency MPD that lists the segment being produced (ours does,
 * from its first part on): a viewer joins that segment at the MPD's target latency and asks for
 * it at its availability (its end less availabilityTimeOffset), not one segment further on; on an
 * MPD that lists complete segments only (other packagers), the segment being produced is still
 * the one after the newest listed, named by the template.
 */
import { describe, expect, it } from 'vitest';
import { DashClient } from '../../bench/loadtest/dash-client.js';
import { fakeHttpGetter } from '../support/fake-http-getter.js';

const URL = 'http://127.0.0.1:1/live/manifest.mpd';
const signal = new AbortController().signal;

/** Segments 100–104, 2 s each from 0, availabilityTimeOffset 1.5 s, target latency 2 s; AST `ast` (epoch ms). */
function mpd(ast: number): string {
  return `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="${new Date(ast).toISOString()}" publishTime="${new Date(ast).toISOString()}"
  minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT30S" maxSegmentDuration="PT2S" minBufferTime="PT2S">
  <ServiceDescription id="0"><Latency target="2000" min="1500" max="3000"/></ServiceDescription>
  <Period id="0" start="PT0S">
    <AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" availabilityTimeOffset="1.5" availabilityTimeComplete="false"
        media="$RepresentationID$/seg-$Number$.m4s" initialization="$RepresentationID$/init.mp4" startNumber="100">
        <SegmentTimeline><S t="0" d="2000" r="4"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v" bandwidth="200000" codecs="avc1.4d400d" width="320" height="180"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

/** A viewer of mpd(ast), its waits (ms) recorded. */
async function viewer(ast: number): Promise<{ client: DashClient; waits: number[] }> {
  const waits: number[] = [];
  const http = fakeHttpGetter(() => mpd(ast));
  http.wait = (ms: number) => {
    waits.push(ms);
    return Promise.resolve();
  };
  const client = new DashClient(http, URL);
  await client.open(signal);
  return { client, waits };
}

describe('load-test DASH viewers and the segment being produced', () => {
  it('join the newest listed segment while it is being produced, asked for at its availability', async () => {
    // 8.2 s in: 104 ([8 s, 10 s)) is being produced, available from 8.5 s
    const { client, waits } = await viewer(Date.now() - 8200);
    expect(client.lowLatency).toBe(true);
    const cursor = await client.startCursor('v', signal);
    expect(cursor).toEqual({ msn: 104, part: 0 });
    const chunk = await client.chunkAt('v', cursor, signal);
    expect(chunk?.url).toBe('http://127.0.0.1:1/live/v/seg-104.m4s');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(0);
    expect(waits[0]).toBeLessThanOrEqual(300);
    // a complete one is asked for at once
    waits.length = 0;
    expect((await client.chunkAt('v', { msn: 103, part: 0 }, signal))?.url).toContain('seg-103.m4s');
    expect(waits.filter((w) => w > 0)).toEqual([]);
  });

  it('on an MPD of complete segments only, the segment being produced is the one after the newest listed', async () => {
    // 10.2 s in: 104 ended at 10 s; 105 is being produced, available from 10.5 s
    const { client, waits } = await viewer(Date.now() - 10_200);
    const cursor = await client.startCursor('v', signal);
    expect(cursor).toEqual({ msn: 105, part: 0 });
    const chunk = await client.chunkAt('v', cursor, signal);
    expect(chunk?.url).toBe('http://127.0.0.1:1/live/v/seg-105.m4s');
    expect(waits[0]).toBeGreaterThan(0);
  });
});
