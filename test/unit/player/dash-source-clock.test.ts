/**
 * Our player's DASH source on the MPD's clock (UTCTiming): the live edge, the LL join segment and
 * the availability of the segment being produced are reckoned on the server's clock, read once
 * from the MPD's UTCTiming (http-iso / http-xsdate URLs, or a direct time), not on this machine's.
 * Run in Node against a loopback server whose clock runs 30 s ahead of the local one.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { until } from '../../integration/live/live-helpers.js';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import { clockOffsetMs, readUtcTimings } from '../../../src/dash/utc-timing.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

/** How far the server's clock runs ahead of the local one. */
let skewMs = 30_000;
const SKEW_MS = 30_000;
const serverNow = () => Date.now() + skewMs;
/** availabilityStartTime: 100 s ago on the server's clock, on a whole second. */
const AST_MS = Math.floor(serverNow() / 1000) * 1000 - 100_000;

/** How /time answers: the server's clock (ISO), or a status. */
let timeAnswer: 'iso' | 404 = 'iso';
/** How many complete segments the last MPD served listed (the next is the one being produced). */
let servedComplete = 0;
let server: LoopbackServer;
let base = '';

/**
 * A live LL-DASH MPD as of the server's now: 2 s segments from AST, the newest ten complete ones
 * listed, numbered from 100 at AST (so a segment's number is 100 + its start ÷ 2 s), a target
 * latency of 2 s, and UTCTiming at /time.
 */
function liveMpd(): string {
  const complete = Math.floor((serverNow() - AST_MS) / 2000);
  servedComplete = complete;
  const first = complete - 10;
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="${new Date(AST_MS).toISOString()}" publishTime="${new Date(serverNow()).toISOString()}"
  minimumUpdatePeriod="PT2S" timeShiftBufferDepth="PT30S" maxSegmentDuration="PT2S" minBufferTime="PT1S">
  <ServiceDescription id="0"><Latency target="2000" referenceId="0"/></ServiceDescription>
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" media="s$Number$.m4s" initialization="init.m4s" startNumber="${100 + first}"
        availabilityTimeOffset="1.5" availabilityTimeComplete="false">
        <SegmentTimeline><S t="${first * 2000}" d="2000" r="9"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
  </Period>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="/time"/>
</MPD>
`;
}

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    if (req.url === '/live/manifest.mpd') return void res.writeHead(200).end(liveMpd());
    if (req.url === '/time') {
      if (timeAnswer !== 'iso') return void res.writeHead(timeAnswer).end();
      return void res.writeHead(200, { 'content-type': 'text/plain' }).end(new Date(serverNow()).toISOString());
    }
    res.writeHead(404).end();
  });
  base = `${server.base}/live/`;
});

afterAll(() => server.close());

async function open(): Promise<DashSource> {
  const source = new DashSource(`${base}manifest.mpd`, {});
  await source.open(new AbortController().signal);
  return source;
}

/** The number of the segment holding the LL join point (2 s + the 0.25 s margin behind now) on a clock. */
const joinSegment = (nowMs: number) => 100 + Math.floor(((nowMs - AST_MS) / 1000 - 2.25) / 2);

describe("our player's DASH source on the MPD's clock", () => {
  it('reads the UTCTiming clock: the live edge is now on the server, and an LL viewer joins the segment holding the target latency behind it', async () => {
    timeAnswer = 'iso';
    const source = await open();
    expect(source.lowLatency).toBe(true);
    expect(source.targetLatency).toBe(2);
    const local = Date.now();
    // the edge is the server's now (the request's midpoint stands for the answer: within loopback's round trip)
    expect(Math.abs(source.liveEdgePdtMs(local)! - (local + SKEW_MS))).toBeLessThan(250);
    const before = joinSegment(serverNow());
    const cursor = await source.startCursor(source.video[0].id, new AbortController().signal);
    const after = joinSegment(serverNow());
    expect([before, after]).toContain(cursor.msn);
    // a listed, complete segment (the target is a whole segment behind the edge), not the one being produced
    expect(cursor.msn).toBeLessThanOrEqual(100 + servedComplete - 1);
    // on the local clock it would have been 15 segments (30 s) earlier, out of the listed window
    expect(cursor.msn - joinSegment(Date.now())).toBeGreaterThanOrEqual(14);
    // the segment being produced is asked for at its availability on the server's clock (at most
    // 0.5 s from now there), not the local clock's, which would hold it 30 s: bounded by an abort
    const listedEnd = servedComplete;
    const producing = await source.chunkAt(
      source.video[0].id,
      { msn: 100 + listedEnd, part: 0 },
      AbortSignal.timeout(5000),
    );
    expect(producing).toMatchObject({ msn: 100 + listedEnd, url: `${base}s${100 + listedEnd}.m4s`, streaming: true });
  });

  it('reads the clock again at an MPD reload ten minutes on, and follows a server clock stepped meanwhile', async () => {
    // only Date is faked (moving on with real time), so the loopback server and the waits run as ever
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    try {
      const source = await open();
      const id = source.video[0].id;
      expect(Math.abs(source.liveEdgePdtMs(Date.now())! - (Date.now() + SKEW_MS))).toBeLessThan(250);
      // the server's clock is stepped 15 s on; five minutes later the source still keeps its read
      skewMs = SKEW_MS + 15_000;
      vi.setSystemTime(Date.now() + 5 * 60_000);
      await source.chunkAt(id, { msn: 100 + servedComplete - 3, part: 0 }, AbortSignal.timeout(5000));
      expect(Math.abs(source.liveEdgePdtMs(Date.now())! - (Date.now() + SKEW_MS))).toBeLessThan(250);
      // eleven minutes after the first read, the next reload reads it again (beside playback)
      vi.setSystemTime(Date.now() + 6 * 60_000);
      await source.chunkAt(id, { msn: 100 + servedComplete - 3, part: 0 }, AbortSignal.timeout(5000));
      await until(
        () => Math.abs(source.liveEdgePdtMs(Date.now())! - (Date.now() + SKEW_MS + 15_000)) < 250,
        5000,
        'the edge on the stepped clock',
      );
    } finally {
      skewMs = SKEW_MS;
      vi.useRealTimers();
    }
  });

  it('a clock it cannot read leaves the local one: the edge is the local now', async () => {
    timeAnswer = 404;
    try {
      const source = await open();
      const local = Date.now();
      expect(source.liveEdgePdtMs(local)).toBe(local);
    } finally {
      timeAnswer = 'iso';
    }
  });
});

describe('UTCTiming', () => {
  const mpdUrl = 'http://cdn.example/live/ch/manifest.mpd';

  it('reads the schemes it can use in document order, resolving URLs against the MPD and passing over the others', () => {
    const text = `<MPD>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-head:2014" value="http://a/time"/>
  <UTCTiming value="/t1 http://b.example/t2?a=1&amp;b=2" schemeIdUri="urn:mpeg:dash:utc:http-xsdate:2014"/>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="2026-12-07T10:00:00.250Z"/>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:ntp:2014" value="pool.ntp.org"/>
  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2012" value="time.txt"/>
</MPD>`;
    expect(readUtcTimings(text, mpdUrl)).toEqual([
      { kind: 'http', values: ['http://cdn.example/t1', 'http://b.example/t2?a=1&b=2'] },
      { kind: 'direct', values: ['2026-12-07T10:00:00.250Z'] },
      { kind: 'http', values: ['http://cdn.example/live/ch/time.txt'] },
    ]);
    expect(readUtcTimings('<MPD type="dynamic"/>', mpdUrl)).toEqual([]);
  });

  it('the offset: a direct time against the MPD’s arrival; an http time against the middle of its request; the next URL when one fails', async () => {
    expect(
      await clockOffsetMs(
        [{ kind: 'direct', values: ['2026-12-07T10:00:05Z'] }],
        () => Promise.reject(new Error('unused')),
        Date.parse('2026-12-07T10:00:00Z'),
      ),
    ).toBe(5000);
    let clock = 1_000_000;
    const asked: string[] = [];
    const rtts = [300, 40, 120];
    const offset = await clockOffsetMs(
      [{ kind: 'http', values: ['http://a/down', 'http://b/time'] }],
      async (url) => {
        asked.push(url);
        if (url.endsWith('/down')) {
          clock += 100;
          throw new Error('refused');
        }
        const rtt = rtts.shift()!;
        clock += rtt / 10; // the server reads its clock early in the round trip, as a busy client sees it
        const answer = new Date(clock + 10_000).toISOString().replace('Z', ''); // no zone: UTC
        clock += (rtt * 9) / 10;
        return ` ${answer} `; // with white space around it
      },
      0,
      () => clock,
    );
    // three reads of the clock that answers; the one with the shortest round trip (40 ms) is kept:
    // its midpoint is 16 ms after the server read its clock (the 300 ms read would be 120 ms off)
    expect(offset).toBe(10_000 - 16);
    expect(asked).toEqual(['http://a/down', 'http://b/time', 'http://b/time', 'http://b/time']);
    // a body that is no time: no offset
    expect(await clockOffsetMs([{ kind: 'http', values: ['http://a/'] }], async () => '<html>', 0)).toBeNull();
    expect(await clockOffsetMs([{ kind: 'direct', values: ['yesterday'] }], async () => '', 0)).toBeNull();
  });
});
