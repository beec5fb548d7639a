/**
 * The load tester's viewers play what other packagers write, as a player does. Byte-range HLS
 * (one file per rendition: EXT-X-MAP BYTERANGE and EXT-X-BYTERANGE, offsets left out where they
 * follow on): each init segment and segment is a Range request for exactly the range listed, so
 * the load it puts on the chain (and the bytes it reports) are the presentation's, not the whole
 * file once per segment, as before. DASH with names of their own (zero-padded numbers from 100,
 * another template for audio): the segments asked for are the ones the templates name, each once.
 * HLS whose audio playlist is numbered apart from the video (from 40 beside 0, in one folder): the
 * audio segment asked with each video segment is the one of its time, each once.
 * DASH's on-demand profile (SegmentBase: one file, its sidx at indexRange): the viewer reads the
 * index, then asks for the init range and each indexed segment's range, each once.
 * HLS with an ad break (EXT-X-DISCONTINUITY and a new EXT-X-MAP before and after it, the ad's
 * files elsewhere): each init segment and segment once, in play order.
 * DASH of several Periods (an ad break with Representations of its own between two Periods of the
 * programme, the second resuming with a presentationTimeOffset): each Period's segments and init
 * segments once, in the order they play.
 * Real sockets on loopback; the server answers Range with 206.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../../../bench/loadtest/run.js';
import { sidx } from '../../../src/cmaf/writers.js';
import { loopbackServer, sendRange, type LoopbackServer } from '../../support/loopback-server.js';
import { MULTI_PERIOD_MPD, multiPeriodPlayOrder } from '../../support/multi-period-mpd.js';

/** One rendition's file: a 500-byte init segment, then four 2 s segments of 4,000 bytes. */
const FILE = Buffer.alloc(500 + 4 * 4000, 1);
const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=200000,CODECS="avc1.64001f"\nv/br.m3u8\n';
const MEDIA = [
  '#EXTM3U',
  '#EXT-X-VERSION:7',
  '#EXT-X-TARGETDURATION:2',
  '#EXT-X-PLAYLIST-TYPE:VOD',
  '#EXT-X-MAP:URI="all.mp4",BYTERANGE="500@0"',
  ...[0, 1, 2, 3].flatMap((i) => [
    '#EXTINF:2.0,',
    // the first with its offset, the others following on
    i === 0 ? '#EXT-X-BYTERANGE:4000@500' : '#EXT-X-BYTERANGE:4000',
    'all.mp4',
  ]),
  '#EXT-X-ENDLIST',
  '',
].join('\n');
const LISTED = ['bytes=0-499', 'bytes=500-4499', 'bytes=4500-8499', 'bytes=8500-12499', 'bytes=12500-16499'];

/** A static MPD as another packager writes it: 3 segments of 2 s, numbered from 100, audio named otherwise. */
const MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="1000" startNumber="100" media="video/chunk-$RepresentationID$-$Number%05d$.m4s"
        initialization="video/init-$RepresentationID$.m4s">
        <SegmentTimeline><S t="0" d="2000" r="2"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="200000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
      <SegmentTemplate timescale="48000" startNumber="7" media="audio/$RepresentationID$_$Number$.mp4"
        initialization="audio/$RepresentationID$_init.mp4">
        <SegmentTimeline><S t="0" d="96000" r="2"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="a0" bandwidth="64000" codecs="mp4a.40.2" audioSamplingRate="48000"/>
    </AdaptationSet>
  </Period>
</MPD>
`;
const dashAsked: string[] = [];

/** On-demand DASH: a 500-byte init segment, a sidx indexing three 2 s segments of 3,000 bytes, those. */
const INDEX = sidx({
  referenceId: 1,
  timescale: 1000,
  earliestPresentationTime: 0,
  firstOffset: 0,
  references: [0, 1, 2].map(() => ({ size: 3000, duration: 2000, startsWithSap: true })),
});
const OD_FILE = Buffer.concat([Buffer.alloc(500, 3), INDEX, Buffer.alloc(3 * 3000, 4)]);
const OD_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT6S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <Representation id="v0" bandwidth="200000" codecs="avc1.64001f" width="640" height="360">
        <BaseURL>v0.mp4</BaseURL>
        <SegmentBase indexRange="500-${500 + INDEX.length - 1}"><Initialization range="0-499"/></SegmentBase>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;
const odAsked: (string | undefined)[] = [];

/** HLS VOD, both playlists in one folder: video numbered from 0, audio from 40. */
function apartPlaylist(seq: number, name: string): string {
  const segs = [0, 1, 2, 3].flatMap((i) => ['#EXTINF:2.0,', `${name}-${seq + i}.m4s`]);
  return ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-PLAYLIST-TYPE:VOD']
    .concat([`#EXT-X-MEDIA-SEQUENCE:${seq}`, `#EXT-X-MAP:URI="${name}-init.mp4"`, ...segs, '#EXT-X-ENDLIST', ''])
    .join('\n');
}
const APART: Record<string, string> = {
  'master.m3u8': [
    '#EXTM3U',
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"',
    '#EXT-X-STREAM-INF:BANDWIDTH=200000,CODECS="avc1.64001f,mp4a.40.2",AUDIO="a"',
    'video.m3u8',
    '',
  ].join('\n'),
  'video.m3u8': apartPlaylist(0, 'v'),
  'audio.m3u8': apartPlaylist(40, 'a'),
};
const apartAsked: string[] = [];
const periodsAsked: string[] = [];

/** HLS VOD with an ad break after the programme's second segment: `name` is the rendition (v or a). */
function adBreakPlaylist(name: string): string {
  const seg = (uri: string) => ['#EXTINF:2.0,', uri];
  return [
    ...['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-PLAYLIST-TYPE:VOD'],
    `#EXT-X-MAP:URI="${name}-init.mp4"`,
    ...seg(`${name}-1.m4s`),
    ...seg(`${name}-2.m4s`),
    '#EXT-X-DISCONTINUITY',
    `#EXT-X-MAP:URI="../ads/${name}-init.mp4"`,
    ...seg(`../ads/${name}-1.m4s`),
    ...seg(`../ads/${name}-2.m4s`),
    '#EXT-X-DISCONTINUITY',
    `#EXT-X-MAP:URI="${name}-init.mp4"`,
    ...seg(`${name}-3.m4s`),
    '#EXT-X-ENDLIST',
    '',
  ].join('\n');
}
const AD_BREAK: Record<string, string> = {
  'ssai/master.m3u8': APART['master.m3u8'],
  'ssai/video.m3u8': adBreakPlaylist('v'),
  'ssai/audio.m3u8': adBreakPlaylist('a'),
};
const adBreakAsked: string[] = [];

let server: LoopbackServer;
let base: string;
const asked: (string | undefined)[] = [];

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const path = (req.url ?? '/').replace(/\?.*$/, '');
    if (path.startsWith('/hls-ads/')) {
      const name = path.slice('/hls-ads/'.length);
      if (AD_BREAK[name]) return void res.writeHead(200).end(AD_BREAK[name]);
      adBreakAsked.push(name);
      return void res.writeHead(200, { 'content-length': 1000 }).end(Buffer.alloc(1000, 4));
    }
    if (path === '/periods/manifest.mpd') {
      res.writeHead(200, { 'content-type': 'application/dash+xml' });
      return void res.end(MULTI_PERIOD_MPD);
    }
    if (path.startsWith('/periods/')) {
      periodsAsked.push(path.slice('/periods/'.length));
      return void res.writeHead(200, { 'content-length': 1000 }).end(Buffer.alloc(1000, 3));
    }
    if (path.startsWith('/apart/')) {
      const name = path.slice('/apart/'.length);
      if (APART[name]) return void res.writeHead(200).end(APART[name]);
      apartAsked.push(name);
      return void res.writeHead(200, { 'content-length': 1000 }).end(Buffer.alloc(1000, 5));
    }
    if (path.endsWith('master.m3u8') || path.endsWith('br.m3u8')) {
      res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl' });
      return void res.end(path.endsWith('master.m3u8') ? MASTER : MEDIA);
    }
    // (the tester also asks for the edge's metrics: not media, and not here)
    if (path === '/dash/manifest.mpd') {
      res.writeHead(200, { 'content-type': 'application/dash+xml' });
      return void res.end(MPD);
    }
    if (path === '/od/manifest.mpd' || path === '/od-no-range/manifest.mpd') {
      res.writeHead(200, { 'content-type': 'application/dash+xml' });
      return void res.end(OD_MPD);
    }
    if (path === '/od-no-range/v0.mp4' || path === '/od/v0.mp4') {
      odAsked.push(req.headers.range);
      if (path.startsWith('/od-no-range/'))
        return void res.writeHead(200, { 'content-length': OD_FILE.length }).end(OD_FILE);
      return sendRange(req, res, OD_FILE);
    }
    if (path.startsWith('/dash/')) {
      dashAsked.push(path.slice('/dash/'.length));
      return void res.writeHead(200, { 'content-length': 1000 }).end(Buffer.alloc(1000, 2));
    }
    if (path !== '/v/all.mp4') return void res.writeHead(404).end();
    asked.push(req.headers.range);
    sendRange(req, res, FILE);
  });
  base = server.base;
});

afterAll(() => server.close());

/** One short load test of `path` on the server above: `viewers` viewers at once, for 2 s, in this thread. */
function loadTest(path: string, viewers = 1): ReturnType<typeof runLoadTest> {
  return runLoadTest({ url: `${base}${path}`, viewers, rampSec: 0, durationSec: 2, workers: 0 });
}

describe('load tester viewers on byte-range HLS', () => {
  it('ask for each listed range once per viewer, and count those bytes, not the whole file', async () => {
    const report = await loadTest('/master.m3u8', 2);
    expect(report.errors).toEqual({});
    expect(report.viewers).toMatchObject({ started: 2, failed: 0 });
    // every media request a Range request, for a listed range: the init once, every segment once
    expect(asked.filter((r) => r === undefined)).toEqual([]);
    expect([...asked].sort()).toEqual([...LISTED, ...LISTED].sort());
    // two playlists and the media for each of 2 viewers: 500 + 4 × 4,000 bytes of media each
    expect(report.requests.bytes).toBe(2 * (MASTER.length + MEDIA.length + FILE.length));
  });
});

describe('load tester viewers on DASH from another packager', () => {
  it("ask for the segments each Representation's template names, from its startNumber, each once", async () => {
    const report = await loadTest('/dash/manifest.mpd');
    expect(report.errors).toEqual({});
    expect([...dashAsked].sort()).toEqual(
      [
        'video/init-v0.m4s',
        'video/chunk-v0-00100.m4s',
        'video/chunk-v0-00101.m4s',
        'video/chunk-v0-00102.m4s',
        'audio/a0_init.mp4',
        'audio/a0_7.mp4',
        'audio/a0_8.mp4',
        'audio/a0_9.mp4',
      ].sort(),
    );
  });
});

describe('load tester viewers on DASH on-demand (SegmentBase)', () => {
  it('read the index, then ask for the init range and each indexed segment once, and count those bytes', async () => {
    const report = await loadTest('/od/manifest.mpd');
    expect(report.errors).toEqual({});
    expect(report.viewers).toMatchObject({ started: 1, failed: 0 });
    const media = 500 + INDEX.length;
    expect([...odAsked].sort()).toEqual(
      [
        `bytes=500-${media - 1}`,
        'bytes=0-499',
        `bytes=${media}-${media + 2999}`,
        `bytes=${media + 3000}-${media + 5999}`,
        `bytes=${media + 6000}-${media + 8999}`,
      ].sort(),
    );
    expect(report.requests.bytes).toBe(OD_MPD.length + OD_FILE.length);
  });

  it('from a server that ignores Range (200, the whole file): the index is cut out of it, and the viewer plays', async () => {
    odAsked.length = 0;
    const report = await loadTest('/od-no-range/manifest.mpd');
    expect(report.errors).toEqual({});
    expect(report.viewers).toMatchObject({ started: 1, failed: 0 });
    // the same five ranges asked for (each answered with the whole file)
    expect(odAsked).toHaveLength(5);
    expect(odAsked).toContain(`bytes=500-${500 + INDEX.length - 1}`);
  });
});

describe('load tester viewers on HLS whose audio is numbered apart', () => {
  it('ask with each video segment for the audio segment of its time, each once', async () => {
    const report = await loadTest('/apart/master.m3u8');
    expect(report.errors).toEqual({});
    expect([...apartAsked].sort()).toEqual(
      [
        'v-init.mp4',
        'v-0.m4s',
        'v-1.m4s',
        'v-2.m4s',
        'v-3.m4s',
        'a-init.mp4',
        'a-40.m4s',
        'a-41.m4s',
        'a-42.m4s',
        'a-43.m4s',
      ].sort(),
    );
  });
});

describe('load tester viewers on DASH of several Periods (an ad break stitched in)', () => {
  it("ask for each Period's segments once, in play order, with each Period's init segment", async () => {
    const report = await loadTest('/periods/manifest.mpd');
    expect(report.errors).toEqual({});
    expect(report.viewers).toMatchObject({ started: 1, failed: 0 });
    // the video rung may change between segments (the ABR climbs on loopback): each position of
    // the play order is asked once, on one rung or the other
    const video = periodsAsked.filter((p) => !p.includes('audio') && p.endsWith('.m4s'));
    const low = multiPeriodPlayOrder('360p').video.map(([, seg]) => seg);
    const high = multiPeriodPlayOrder('720p').video.map(([, seg]) => seg);
    expect(video).toHaveLength(low.length);
    video.forEach((p, i) => expect([low[i], high[i]]).toContain(p));
    // audio: the programme's, the ad break's, the programme's again, each once, in that order
    const audio = periodsAsked.filter((p) => p.includes('audio') && p.endsWith('.m4s'));
    expect(audio).toEqual(multiPeriodPlayOrder('360p').audio.map(([, seg]) => seg));
    // the ad break's init segments, each once
    expect(periodsAsked.filter((p) => p.startsWith('ad/') && p.endsWith('init.mp4')).sort()).toEqual([
      'ad/ad-video/init.mp4',
      'ad/audio/init.mp4',
    ]);
  });
});

describe('load tester viewers on HLS with an ad break (discontinuities, a new EXT-X-MAP)', () => {
  it("ask for each init segment and segment once, the ad break's from its own folder, in play order", async () => {
    const report = await loadTest('/hls-ads/ssai/master.m3u8');
    expect(report.errors).toEqual({});
    expect(report.viewers).toMatchObject({ started: 1, failed: 0 });
    for (const name of ['v', 'a'])
      expect(adBreakAsked.filter((p) => p.includes(`${name}-`))).toEqual([
        `ssai/${name}-init.mp4`,
        `ssai/${name}-1.m4s`,
        `ssai/${name}-2.m4s`,
        `ads/${name}-init.mp4`,
        `ads/${name}-1.m4s`,
        `ads/${name}-2.m4s`,
        `ssai/${name}-3.m4s`,
      ]);
  });
});
