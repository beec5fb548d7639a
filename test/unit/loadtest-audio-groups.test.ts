/**
 * A virtual HLS viewer (bench/loadtest/hls-client.ts) on a multivariant playlist with a stereo and
 * a 5.1 audio group (the packager lists every video variant once per group): its ladder is the
 * stereo group's variants, once each, and it plays the stereo rendition, as a stereo player does.
 */
import { describe, expect, it } from 'vitest';
import { HlsClient } from '../../bench/loadtest/hls-client.js';
import { fakeHttpGetter } from '../support/fake-http-getter.js';

const BASE = 'http://127.0.0.1:1/vod/movie/';
const MASTER = `#EXTM3U
#EXT-X-VERSION:4
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-6ch",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="6",URI="audio-5.1/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=426x240,AUDIO="audio"
240p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=854x480,AUDIO="audio"
480p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=780000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=426x240,AUDIO="audio-6ch"
240p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1480000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=854x480,AUDIO="audio-6ch"
480p/index.m3u8
`;
const MEDIA = `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-TARGETDURATION:2
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.0,
seg-1.m4s
#EXT-X-ENDLIST
`;

describe('a virtual viewer on stereo and 5.1 audio groups', () => {
  it('takes the stereo group: each video rendition once, the stereo audio playlist', async () => {
    const asked: string[] = [];
    const http = fakeHttpGetter((url) => (url.endsWith('/master.m3u8') ? MASTER : MEDIA), asked);
    const client = new HlsClient(http, `${BASE}master.m3u8`);
    await client.open(new AbortController().signal);
    expect(client.video.map((v) => v.bitrate)).toEqual([500_000, 1_200_000]);
    expect(client.audio).toBeDefined();
    await client.startCursor(client.audio!.id, new AbortController().signal);
    expect(asked).toContain(`${BASE}audio/index.m3u8`);
    expect(asked.some((u) => u.includes('audio-5.1'))).toBe(false);
  });
});
