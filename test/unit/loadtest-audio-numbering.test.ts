/**
 * A virtual HLS viewer (bench/loadtest/hls-client.ts) whose packager numbered the audio playlist
 * apart from the video: the audio chunk for each video chunk is the one of the same media time,
 * by program date-time on live, by the first numbers on VOD without dates; numbered alike, the
 * same number. Before, the viewer asked audio for the video's number: a number below the audio
 * window jumped to its first segment, every time (the same audio segment again and again).
 * The end-to-end case (real sockets, every audio segment asked once):
 * test/integration/loadtest/loadtest-other-packagers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HlsClient } from '../../bench/loadtest/hls-client.js';
import { fakeHttpGetter } from '../support/fake-http-getter.js';

const BASE = 'http://127.0.0.1:1/hls/';
const MASTER = `#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="en",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="audio.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=426x240,AUDIO="a"
video.m3u8
`;

function media(seq: number, count: number, name: string, o: { pdtMs?: number; duration?: number } = {}): string {
  const d = o.duration ?? 2;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${seq}`];
  lines.push(`#EXT-X-MAP:URI="${name}-init.mp4"`);
  for (let i = 0; i < count; i++) {
    if (o.pdtMs !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(o.pdtMs + i * d * 1000).toISOString()}`);
    lines.push(`#EXTINF:${d.toFixed(3)},`, `${name}-${seq + i}.m4s`);
  }
  if (o.pdtMs === undefined) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

async function viewer(video: string, audio: string): Promise<HlsClient> {
  const files: Record<string, string> = { 'master.m3u8': MASTER, 'video.m3u8': video, 'audio.m3u8': audio };
  const http = fakeHttpGetter((url) => files[url.slice(BASE.length).replace(/\?.*$/, '')]);
  const client = new HlsClient(http, `${BASE}master.m3u8`, { lowLatency: false });
  await client.open(new AbortController().signal);
  return client;
}

describe('a virtual viewer whose audio playlist is numbered apart', () => {
  it('VOD: audio from 40 beside video from 0, each video segment with the audio segment of its time', async () => {
    const client = await viewer(media(0, 4, 'v'), media(40, 4, 'a', { duration: 2.005 }));
    const start = await client.startCursor(client.video[0].id, new AbortController().signal);
    expect(start).toEqual({ msn: 0, part: 0 });
    expect([0, 1, 2, 3].map((msn) => client.audioCursor({ msn, part: 0 }).msn)).toEqual([40, 41, 42, 43]);
  });

  it('live: by program date-time, audio numbered 1,000 higher and its window a segment shorter', async () => {
    const t0 = Date.parse('2026-12-04T10:00:00Z');
    const client = await viewer(media(500, 5, 'v', { pdtMs: t0 }), media(1501, 4, 'a', { pdtMs: t0 + 2000 }));
    await client.startCursor(client.video[0].id, new AbortController().signal);
    expect([501, 502, 504].map((msn) => client.audioCursor({ msn, part: 0 }).msn)).toEqual([1501, 1502, 1504]);
  });

  it('numbered alike: the same number, without a search', async () => {
    const t0 = Date.parse('2026-12-04T10:00:00Z');
    const client = await viewer(media(500, 4, 'v', { pdtMs: t0 }), media(500, 4, 'a', { pdtMs: t0 + 5 }));
    await client.startCursor(client.video[0].id, new AbortController().signal);
    const cursor = { msn: 502, part: 1 };
    expect(client.audioCursor(cursor)).toBe(cursor);
  });
});
