/**
 * Our player's DASH source names segments by the MPD's SegmentTemplate, not by our packager's
 * file names: an LL-DASH MPD from another packager (zero-padded $Number%05d$, its own names, a
 * startNumber of 100, $Time$ instead of $Number$, a literal $$ in a query) gives the segment
 * numbers, the init segment and the URL of the segment being produced that the template says.
 * A SegmentList with mediaRange gives each segment (and the init) as a range of the one file.
 * Run in Node against a loopback server that answers the MPD under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import { readSegmentInfo, segmentUrl } from '../../../src/dash/segment-template.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';

/**
 * A live LL-DASH MPD, its segments 2 s long from t=0; `timeline` is the SegmentTimeline's content;
 * `ast` its availabilityStartTime (long past unless given).
 */
function mpd(
  media: string,
  timeline: string,
  init = 'init-$RepresentationID$.m4s',
  ast = '2026-01-01T00:00:00Z',
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="${ast}" publishTime="2026-01-01T00:00:10Z" minimumUpdatePeriod="PT2S"
  timeShiftBufferDepth="PT30S" maxSegmentDuration="PT2S" minBufferTime="PT1S">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" media="${media}" initialization="${init}" startNumber="100"
        availabilityTimeOffset="1.5" availabilityTimeComplete="false">
        <SegmentTimeline>${timeline}</SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
}

let served = '';
let server: LoopbackServer;
let base = '';

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    if (!req.url?.startsWith('/live/manifest.mpd')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/dash+xml' }).end(served);
  });
  base = `${server.base}/live/`;
});

afterAll(() => server.close());

async function open(text: string): Promise<DashSource> {
  served = text;
  const source = new DashSource(`${base}manifest.mpd`, {});
  await source.open(new AbortController().signal);
  return source;
}

describe("our player's DASH source follows the MPD's SegmentTemplate", () => {
  it('numbers, the init segment and the segment being produced, with a zero-padded $Number$ from 100', async () => {
    const source = await open(mpd('chunk-$RepresentationID$-$Number%05d$.m4s', '<S t="0" d="2000" r="4"/>'));
    const signal = new AbortController().signal;
    const v = source.video[0];
    expect(v.initUrl).toBe(`${base}init-v0.m4s`);
    expect(source.lowLatency).toBe(true);
    // five listed (100-104): a low-latency viewer joins the one being produced
    expect(await source.startCursor(v.id, signal)).toEqual({ msn: 105, part: 0 });
    const listed = await source.chunkAt(v.id, { msn: 102, part: 0 }, signal);
    expect(listed).toMatchObject({ msn: 102, url: `${base}chunk-v0-00102.m4s` });
    expect(listed?.streaming).toBeUndefined();
    const producing = await source.chunkAt(v.id, { msn: 105, part: 0 }, signal);
    expect(producing).toMatchObject({ msn: 105, url: `${base}chunk-v0-00105.m4s`, streaming: true, duration: 2 });
  });

  it('the newest listed segment, its end to come, is the one being produced: asked at its availability, streamed', async () => {
    // 8.2 s into the presentation: 104 ([8 s, 10 s)) is being produced, available from 8.5 s (10 - 1.5)
    const ast = Date.now() - 8200;
    const source = await open(
      mpd('chunk-$Number$.m4s', '<S t="0" d="2000" r="4"/>', undefined, new Date(ast).toISOString()),
    );
    const signal = new AbortController().signal;
    const v = source.video[0].id;
    const done = await source.chunkAt(v, { msn: 103, part: 0 }, signal);
    expect(done?.streaming).toBeUndefined();
    const producing = await source.chunkAt(v, { msn: 104, part: 0 }, signal);
    expect(Date.now()).toBeGreaterThanOrEqual(ast + 8500); // not asked before its availability
    expect(producing).toMatchObject({ msn: 104, url: `${base}chunk-104.m4s`, streaming: true, duration: 2 });
  });

  it('a $Time$ template: the segment being produced is named by its start time', async () => {
    const source = await open(mpd('$RepresentationID$/t$Time$.m4s', '<S t="0" d="2000" r="4"/>'));
    const signal = new AbortController().signal;
    const producing = await source.chunkAt(source.video[0].id, { msn: 105, part: 0 }, signal);
    expect(producing?.url).toBe(`${base}v0/t10000.m4s`);
  });

  it('an MPD that lists no segment yet still gives the init segment', async () => {
    const source = await open(mpd('chunk-$Number$.m4s', ''));
    expect(source.video[0].initUrl).toBe(`${base}init-v0.m4s`);
  });

  it('segments numbered by one @duration (no SegmentTimeline): numbers from the time, from startNumber', async () => {
    const text = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S" minBufferTime="PT1S"
  profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="90000" duration="180000" startNumber="7" media="s$Number$.m4s" initialization="i.mp4"/>
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
    const source = await open(text);
    const signal = new AbortController().signal;
    const id = source.video[0].id;
    expect(await source.startCursor(id, signal)).toEqual({ msn: 7, part: 0 });
    expect(await source.chunkAt(id, { msn: 9, part: 0 }, signal)).toMatchObject({ msn: 9, url: `${base}s9.m4s` });
    expect(source.cursorForTime(id, 9.5)).toEqual({ msn: 11, part: 0 });
  });

  it('identifiers: $Bandwidth$, a width on $Time$, a literal $$, an identifier it does not know left as is', () => {
    const text = mpd('b$Bandwidth$/$Time%08d$.m4s?sig=a$$b&x=$Other$', '<S t="0" d="2000"/>');
    const t = readSegmentInfo(text, `${base}manifest.mpd`).templates.get('v0')!;
    expect(segmentUrl(t, 101, 2)).toBe(`${base}b800000/00002000.m4s?sig=a$b&x=$Other$`);
  });
});

describe("our player's DASH source follows a SegmentList", () => {
  it('with mediaRange: each segment a range of the one file, the init segment too', async () => {
    const source = await open(`<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT4S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360">
        <BaseURL>v0.mp4</BaseURL>
        <SegmentList timescale="1000" duration="2000">
          <Initialization sourceURL="v0.mp4" range="0-799"/>
          <SegmentURL media="v0.mp4" mediaRange="800-5799"/>
          <SegmentURL media="v0.mp4" mediaRange="5800-9999"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`);
    const signal = new AbortController().signal;
    const v = source.video[0];
    expect(v.initUrl).toBe(`${base}v0.mp4`);
    expect(v.initByteRange).toEqual({ offset: 0, length: 800 });
    const first = await source.chunkAt(v.id, await source.startCursor(v.id, signal), signal);
    expect(first).toMatchObject({ url: `${base}v0.mp4`, byteRange: { offset: 800, length: 5000 } });
    const second = await source.chunkAt(v.id, first!.next, signal);
    expect(second).toMatchObject({ url: `${base}v0.mp4`, byteRange: { offset: 5800, length: 4200 } });
    expect(await source.chunkAt(v.id, second!.next, signal)).toBeNull();
  });
});

describe("our player's DASH source on a Period whose media times do not start at 0", () => {
  it('moves the media to the presentation time (timestampOffset −presentationTimeOffset), where seeking looks', async () => {
    // one Period, as a live-to-VOD cut writes it: the media's times run from 6 s (its SegmentTimeline
    // and presentationTimeOffset), the presentation from 0
    const source = await open(`<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="1000" presentationTimeOffset="6000" media="v-$Time$.m4s" initialization="v-init.m4s">
        <SegmentTimeline><S t="6000" d="2000" r="2"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
  </Period>
</MPD>
`);
    const signal = new AbortController().signal;
    expect(source.vodDurationSec('v0')).toBe(6);
    const at = async (t: number) => (await source.chunkAt('v0', source.cursorForTime('v0', t), signal))!;
    // 3 s into the presentation is media time 9 s: the segment at 8 s, appended 6 s earlier
    expect(await at(3)).toMatchObject({ url: `${base}v-8000.m4s`, timestampOffset: -6 });
    expect(await at(0)).toMatchObject({ url: `${base}v-6000.m4s`, timestampOffset: -6 });
    expect(await at(5)).toMatchObject({ url: `${base}v-10000.m4s`, timestampOffset: -6 });
  });
});

describe("our player's DASH source joins a live MPD (not low-latency)", () => {
  it('at the segment holding suggestedPresentationDelay behind now, not the newest but one', async () => {
    // 2 s segments listed up to 30 s of a channel that started 30.5 s ago; 6 s of delay asked
    const ast = new Date(Date.now() - 30_500).toISOString();
    const source = await open(`<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="${ast}" publishTime="${ast}" minimumUpdatePeriod="PT2S" suggestedPresentationDelay="PT6S"
  timeShiftBufferDepth="PT60S" maxSegmentDuration="PT2S" minBufferTime="PT1S">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="1000" media="v-$Time$.m4s" initialization="v-init.m4s">
        <SegmentTimeline><S t="0" d="2000" r="14"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="800000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
  </Period>
</MPD>
`);
    const signal = new AbortController().signal;
    expect(source.live).toBe(true);
    expect(source.lowLatency).toBe(false);
    expect(source.targetLatency).toBe(6);
    const first = await source.chunkAt('v0', await source.startCursor('v0', signal), signal);
    // now − 6 s is 24.5 s into the channel: the segment from 24 s (the newest but one starts at 26 s)
    expect(first?.url).toBe(`${base}v-24000.m4s`);
  });
});
