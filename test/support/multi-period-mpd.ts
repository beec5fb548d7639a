import { splitPeriods } from '../../src/dash/mpd-periods.js';

/**
 * A static MPD of three Periods as a server-side ad inserter writes it: 6 s of the programme, a
 * 4 s ad break with Representations of its own (other ids, one video rung, numbered from 1), and
 * the programme again from 10 s, its SegmentTemplate resuming at $Number$ 3 with a
 * presentationTimeOffset of 6 s (@duration templates, 2 s segments). The load tester's unit and
 * integration tests play it.
 */
export const MULTI_PERIOD_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT14S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="main-1" start="PT0S" duration="PT6S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="90000" initialization="main/$RepresentationID$/init.mp4" media="main/$RepresentationID$/seg-$Number$.m4s" startNumber="0" duration="180000"/>
      <Representation id="360p" bandwidth="900000" codecs="avc1.64001e" width="640" height="360"/>
      <Representation id="720p" bandwidth="3000000" codecs="avc1.64001f" width="1280" height="720"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
      <SegmentTemplate timescale="48000" initialization="main/audio/init.mp4" media="main/audio/seg-$Number$.m4s" startNumber="0" duration="96000"/>
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
  <Period id="ad-1" duration="PT4S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="90000" initialization="ad/$RepresentationID$/init.mp4" media="ad/$RepresentationID$/seg-$Number$.m4s" startNumber="1" duration="180000"/>
      <Representation id="ad-video" bandwidth="800000" codecs="avc1.64001e" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
      <SegmentTemplate timescale="48000" initialization="ad/audio/init.mp4" media="ad/audio/seg-$Number$.m4s" startNumber="1" duration="96000"/>
      <Representation id="ad-audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
  <Period id="main-2" start="PT10S">
    <AdaptationSet contentType="video" mimeType="video/mp4" segmentAlignment="true">
      <SegmentTemplate timescale="90000" presentationTimeOffset="540000" initialization="main/$RepresentationID$/init.mp4" media="main/$RepresentationID$/seg-$Number$.m4s" startNumber="3" duration="180000"/>
      <Representation id="360p" bandwidth="900000" codecs="avc1.64001e" width="640" height="360"/>
      <Representation id="720p" bandwidth="3000000" codecs="avc1.64001f" width="1280" height="720"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
      <SegmentTemplate timescale="48000" presentationTimeOffset="288000" initialization="main/audio/init.mp4" media="main/audio/seg-$Number$.m4s" startNumber="3" duration="96000"/>
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2"/>
    </AdaptationSet>
  </Period>
</MPD>
`;

/** What one viewer of MULTI_PERIOD_MPD on rung `rung` plays, in order: [init, segment] per segment. */
export function multiPeriodPlayOrder(rung: '360p' | '720p'): { video: string[][]; audio: string[][] } {
  const main = (r: string, n: number[]) => n.map((i) => [`main/${r}/init.mp4`, `main/${r}/seg-${i}.m4s`]);
  const ad = (r: string) => [1, 2].map((i) => [`ad/${r}/init.mp4`, `ad/${r}/seg-${i}.m4s`]);
  return {
    video: [...main(rung, [0, 1, 2]), ...ad('ad-video'), ...main(rung, [3, 4])],
    audio: [
      ...main('audio', [0, 1, 2]),
      ...[1, 2].map((i) => ['ad/audio/init.mp4', `ad/audio/seg-${i}.m4s`]),
      ...main('audio', [3, 4]),
    ],
  };
}

/**
 * A live MPD of the given Periods (`livePeriod`): availabilityStartTime at 0, refreshed every
 * `updateSec`, 4 s behind the edge suggested. Its versions, served one per reload, make Periods
 * end and new ones begin.
 */
export function liveMultiPeriodMpd(periods: string, updateSec: number): string {
  return `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" profiles="urn:mpeg:dash:profile:isoff-live:2011"
  availabilityStartTime="1970-01-01T00:00:00Z" publishTime="1970-01-01T00:00:00Z" minimumUpdatePeriod="PT${updateSec}S"
  timeShiftBufferDepth="PT30S" suggestedPresentationDelay="PT4S" minBufferTime="PT2S">
${periods}
</MPD>
`;
}

/**
 * One live Period from `start` s: `count` 2 s segments of Representation `rep` (files under
 * `folder/rep/`), numbered from `first`, its SegmentTimeline (and presentationTimeOffset) from
 * media time `t` ms.
 */
export function livePeriod(
  id: string,
  start: number,
  folder: string,
  rep: string,
  first: number,
  t: number,
  count: number,
): string {
  return `
  <Period id="${id}" start="PT${start}S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="1000" presentationTimeOffset="${t}" media="${folder}/$RepresentationID$/$Number$.m4s" initialization="${folder}/$RepresentationID$/init.mp4" startNumber="${first}">
        <SegmentTimeline><S t="${t}" d="2000" r="${count - 1}"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="${rep}" bandwidth="${rep === 'v' ? 1_000_000 : 900_000}" codecs="avc1.4d400d" width="640" height="360"/>
    </AdaptationSet>
  </Period>`;
}

/** One Period of an MPD as the live tests read it: each SegmentTimeline's segments as [start, end). */
export interface PeriodTimelines {
  id: string;
  /** Seconds. */
  start: number;
  /** Seconds, when the Period has @duration. */
  duration?: number;
  /** The Period's first SegmentTemplate's @startNumber and @timescale (the video's). */
  startNumber: number;
  timescale: number;
  /** Each SegmentTimeline of the Period, in document order: its segments' [start, end) in its timescale. */
  timelines: Array<Array<[number, number]>>;
}

/** The Periods of an MPD written with SegmentTimelines, each timeline expanded to its segments. */
export function periodTimelines(mpd: string): PeriodTimelines[] {
  return splitPeriods(mpd).map((p) => {
    const own = p.text.slice(p.text.indexOf(`<Period id="${p.key}"`));
    const body = own.slice(0, own.indexOf('</Period>'));
    const timelines = [...body.matchAll(/<SegmentTimeline>([\s\S]*?)<\/SegmentTimeline>/g)].map((m) => {
      const out: Array<[number, number]> = [];
      let t = 0;
      for (const s of m[1].matchAll(/<S\b([^>]*)\/>/g)) {
        const a = Object.fromEntries([...s[1].matchAll(/(\w+)="(\d+)"/g)].map((x) => [x[1], Number(x[2])]));
        if (a.t !== undefined) t = a.t;
        for (let i = 0; i <= (a.r ?? 0); i++, t += a.d) out.push([t, t + a.d]);
      }
      return out;
    });
    return {
      id: p.key,
      start: p.startSec,
      ...(p.durationSec !== undefined ? { duration: p.durationSec } : {}),
      startNumber: Number(/startNumber="(\d+)"/.exec(body)?.[1] ?? 1),
      timescale: Number(/<SegmentTemplate\b[^>]*\btimescale="(\d+)"/.exec(body)?.[1] ?? 1),
      timelines,
    };
  });
}
