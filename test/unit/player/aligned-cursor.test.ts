/**
 * Our player starts (and resyncs) audio where video starts by time, not by number: a packager
 * may number its audio apart (a DASH audio AdaptationSet from another startNumber, HLS audio
 * playlists with other media sequence numbers). Before, the audio loop was given the video's
 * number: on such a DASH MPD (video from 100, audio from 7) it asked for audio segment 100, past
 * the end, and played no sound. Numbered alike (our packager: audio segments a few ms longer than
 * video's), the same number is kept. Playlists of one folder are told apart (their ids used to
 * be the folder's name alone, so the audio playlist overwrote the video one). Run in Node
 * against a loopback server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashSource } from '../../../player-demo/player/dash-source.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { loopbackServer, type LoopbackServer } from '../../support/loopback-server.js';
import { LL_MEDIA_HEAD } from '../abr/ll-media-head.js';

const files = new Map<string, string>();
let server: LoopbackServer;
let base = '';
const signal = new AbortController().signal;

beforeAll(async () => {
  server = await loopbackServer((req, res) => {
    const body = files.get((req.url ?? '').replace(/\?.*$/, ''));
    if (body === undefined) return void res.writeHead(404).end();
    res.writeHead(200).end(body);
  });
  base = server.base;
});

afterAll(() => server.close());

const OTHER_NUMBERS_MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S"
  profiles="urn:mpeg:dash:profile:isoff-live:2011">
  <Period id="p0" start="PT0S">
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <SegmentTemplate timescale="1000" startNumber="100" media="v/$Number$.m4s" initialization="v/init.m4s">
        <SegmentTimeline><S t="0" d="2000" r="3"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="v0" bandwidth="200000" codecs="avc1.64001f" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" mimeType="audio/mp4" lang="en">
      <SegmentTemplate timescale="48000" startNumber="7" media="a/$Number$.mp4" initialization="a/init.mp4">
        <SegmentTimeline><S t="0" d="96256" r="3"/></SegmentTimeline>
      </SegmentTemplate>
      <Representation id="a0" bandwidth="64000" codecs="mp4a.40.2" audioSamplingRate="48000"/>
    </AdaptationSet>
  </Period>
</MPD>
`;

function mediaPlaylist(seq: number, durations: number[], name: string, pdtMs?: number): string {
  let t = pdtMs ?? 0;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${seq}`];
  lines.push(`#EXT-X-MAP:URI="${name}-init.mp4"`);
  durations.forEach((d, i) => {
    if (pdtMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(t).toISOString()}`);
    lines.push(`#EXTINF:${d.toFixed(3)},`, `${name}-${seq + i}.m4s`);
    t += d * 1000;
  });
  if (pdtMs === undefined) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

function master(dir: string): string {
  return (
    [
      '#EXTM3U',
      `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"`,
      '#EXT-X-STREAM-INF:BANDWIDTH=264000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=640x360,AUDIO="a"',
      'video.m3u8',
      '',
    ].join('\n') + `# ${dir}\n`
  );
}

async function hls(dir: string, video: string, audio: string): Promise<HlsSource> {
  files.set(`/${dir}/master.m3u8`, master(dir));
  files.set(`/${dir}/video.m3u8`, video);
  files.set(`/${dir}/audio.m3u8`, audio);
  const source = new HlsSource(`${base}/${dir}/master.m3u8`, {});
  await source.open(signal);
  return source;
}

describe("our player's audio start, matched to video by time", () => {
  it('DASH: audio numbered from 7 beside video from 100 starts at the audio segment of the same time', async () => {
    files.set('/dash/manifest.mpd', OTHER_NUMBERS_MPD);
    const source = new DashSource(`${base}/dash/manifest.mpd`, {});
    await source.open(signal);
    const v = source.video[0].id;
    const a = source.audio!.id;
    expect(await source.startCursor(v, signal)).toEqual({ msn: 100, part: 0 });
    expect(await source.alignedCursor(a, v, { msn: 100, part: 0 })).toEqual({ msn: 7, part: 0 });
    // video 102 starts at 4 s; audio 8 spans 2.005 to 4.011 s: from 8, so no sound is missing at 4 s
    expect(await source.alignedCursor(a, v, { msn: 102, part: 0 })).toEqual({ msn: 8, part: 0 });
    const chunk = await source.chunkAt(a, { msn: 8, part: 0 }, signal);
    expect(chunk?.url).toBe(`${base}/dash/a/8.mp4`);
  });

  it('HLS VOD: audio from media sequence 40 beside video from 0, by the EXTINF times; alike numbers kept', async () => {
    const apart = await hls(
      'vod',
      mediaPlaylist(0, [2, 2, 2, 2], 'v'),
      mediaPlaylist(40, [2.005, 2.005, 2.005, 1.985], 'a'),
    );
    const a = apart.audio!.id;
    const v = apart.video[0].id;
    // both playlists in one folder (as Shaka Packager writes them): two renditions, not one
    expect([v, a]).toEqual(['vod', 'vod/audio']);
    expect(await apart.alignedCursor(a, v, { msn: 0, part: 0 }, signal)).toEqual({ msn: 40, part: 0 });
    // video 3 starts at 6 s; audio 42 spans 4.01 to 6.015 s
    expect(await apart.alignedCursor(a, v, { msn: 3, part: 0 }, signal)).toEqual({ msn: 42, part: 0 });
    const alike = await hls(
      'vod2',
      mediaPlaylist(0, [2, 2, 2, 2], 'v'),
      mediaPlaylist(0, [2.005, 2.005, 2.005, 1.985], 'a'),
    );
    // the audio segment 3 starts 15 ms after video's: the same number, not the one before
    expect(await alike.alignedCursor(alike.audio!.id, alike.video[0].id, { msn: 3, part: 0 }, signal)).toEqual({
      msn: 3,
      part: 0,
    });
  });

  it('HLS: playlists of one folder, subtitles too, each get an id of their own', async () => {
    files.set(
      '/one/master.m3u8',
      [
        '#EXTM3U',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="English",LANGUAGE="en",URI="text_en.m3u8"',
        '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="s",NAME="Français",LANGUAGE="fr",URI="text_fr.m3u8"',
        '#EXT-X-STREAM-INF:BANDWIDTH=264000,CODECS="avc1.64001f",RESOLUTION=640x360,SUBTITLES="s"',
        'video_360p.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=564000,CODECS="avc1.64001f",RESOLUTION=854x480,SUBTITLES="s"',
        'video_480p.m3u8',
        '',
      ].join('\n'),
    );
    files.set('/one/video_360p.m3u8', mediaPlaylist(0, [2, 2], 'v360'));
    files.set('/one/video_480p.m3u8', mediaPlaylist(0, [2, 2], 'v480'));
    const source = new HlsSource(`${base}/one/master.m3u8`, {});
    await source.open(signal);
    expect(source.video.map((v) => v.id)).toEqual(['one', 'one/video_480p']);
    expect(source.textTracks.map((t) => t.id)).toEqual(['one/text_en', 'one/text_fr']);
  });

  it('HLS live: by program date-time, when the audio playlist numbers its segments 1,000 higher', async () => {
    const t0 = Date.parse('2026-12-04T10:00:00Z');
    const live = await hls(
      'live',
      mediaPlaylist(500, [2, 2, 2, 2], 'v', t0),
      mediaPlaylist(1501, [2, 2, 2], 'a', t0 + 2000),
    );
    const a = live.audio!.id;
    const v = live.video[0].id;
    // video 502 starts at t0 + 4 s: audio 1502 (t0 + 4 s)
    expect(await live.alignedCursor(a, v, { msn: 502, part: 0 }, signal)).toEqual({ msn: 1502, part: 0 });
    // the segment being produced (504, after the newest listed) starts at t0 + 8 s: past audio's newest listed
    expect(await live.alignedCursor(a, v, { msn: 504, part: 0 }, signal)).toEqual({ msn: 1504, part: 0 });
  });

  it('HLS live, joining in the segment being produced: audio starts at the same segment, whichever track starts first', async () => {
    const t0 = Date.parse('2026-12-05T10:00:00Z');
    /** LL-HLS: segment 10 whole, then 11 in production (two parts and a hint, no EXTINF yet). */
    const ll = (name: string, firstSec: number) =>
      [
        ...LL_MEDIA_HEAD,
        `#EXT-X-PROGRAM-DATE-TIME:${new Date(t0).toISOString()}`,
        `#EXTINF:${firstSec.toFixed(3)},`,
        `${name}-10.m4s`,
        `#EXT-X-PART:DURATION=0.5,URI="${name}-11.0.m4s",INDEPENDENT=YES`,
        `#EXT-X-PART:DURATION=0.5,URI="${name}-11.1.m4s"`,
        `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${name}-11.2.m4s"`,
        '',
      ].join('\n');
    // audio's segment 11 starts 5 ms before video's (before, it was taken for none: audio started
    // at 12, the segment after video's) and 10 ms after it (before: audio's 10, whose span holds it)
    for (const [dir, audioFirst] of [
      ['ll-early', 1.995],
      ['ll-late', 2.01],
    ] as const) {
      const live = await hls(dir, ll('v', 2), ll('a', audioFirst));
      const a = live.audio!.id;
      const v = live.video[0].id;
      expect(await live.alignedCursor(a, v, { msn: 11, part: 0 }, signal), dir).toEqual({ msn: 11, part: 0 });
      // a time inside the segment being produced is in it, not past the newest listed
      expect(live.cursorForPdt(a, t0 + 2400), dir).toEqual({ msn: 11, part: 0 });
    }
  });
});
