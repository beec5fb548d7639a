import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  addTokenToMpd,
  addTokenToPlaylist,
  addTokenToThumbnailVtt,
  addTokenToUri,
} from '../../../src/signing/playlist-rewrite.js';
import { validateMpd } from '../../support/xml-validate.js';

// m3u8-parser / mpd-parser ship no types; load them untyped and read only what we need.
const require = createRequire(import.meta.url);
const { Parser } = require('m3u8-parser') as {
  Parser: new () => { push(s: string): void; end(): void; manifest: unknown };
};
const mpdParser = require('mpd-parser') as { parse(xml: string, opts: { manifestUri: string }): unknown };

const TOKEN = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.eyJwZngiOiIvbGl2ZS9jaDEvIn0.c2lnbmF0dXJl-_';

function parseM3u8(text: string): unknown {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

/** Every string under a key named `uri` (or `resolvedUri`), anywhere in a parsed manifest. */
function collectUris(node: unknown, keys: readonly string[] = ['uri'], out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) collectUris(x, keys, out);
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (keys.includes(k) && typeof v === 'string') out.push(v);
      else collectUris(v, keys, out);
    }
  }
  return out;
}

function tokenOf(uri: string): string | null {
  return new URL(uri, 'https://edge.example/live/ch1/').searchParams.get('token');
}

const MASTER = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio/index.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,URI="subs/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=3200000,AVERAGE-BANDWIDTH=3000000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720,FRAME-RATE=30.000,AUDIO="aud",SUBTITLES="subs"
720p/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=1100000,CODECS="avc1.4d401e,mp4a.40.2",RESOLUTION=640x360,FRAME-RATE=30.000,AUDIO="aud",SUBTITLES="subs"
360p/index.m3u8?variant=low
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=300000,CODECS="avc1.64001f",RESOLUTION=1280x720,URI="720p/iframes.m3u8"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=120000,CODECS="avc1.4d401e",RESOLUTION=640x360,URI="360p/iframes.m3u8"
`;

// An LL-HLS media playlist shaped like RFC 8216bis's low-latency examples: parts, independent
// flags, byte-less map, a preload hint for the next part and rendition reports.
const LLHLS = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:4
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=24.0
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MEDIA-SEQUENCE:266
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2030-01-01T00:00:00.000Z
#EXTINF:4.00000,
seg-266.m4s
#EXTINF:4.00000,
seg-267.m4s
# a comment with URI="not-a-uri" stays as it is
#EXT-X-PART:DURATION=0.50000,URI="seg-268.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="seg-268.1.m4s"
#EXT-X-PART:DURATION=0.50000,URI="seg-268.2.m4s"
#EXT-X-PART:DURATION=0.50000,URI="seg-268.3.m4s"
#EXT-X-PART:DURATION=0.50000,URI="seg-268.4.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="seg-268.5.m4s"
#EXT-X-PART:DURATION=0.50000,URI="seg-268.6.m4s"
#EXT-X-PART:DURATION=0.50000,URI="seg-268.7.m4s"
#EXTINF:4.00000,
seg-268.m4s
#EXT-X-PART:DURATION=0.50000,URI="seg-269.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="seg-269.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-269.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=269,LAST-PART=1
#EXT-X-RENDITION-REPORT:URI="../audio/index.m3u8",LAST-MSN=269,LAST-PART=1
`;

describe('addTokenToPlaylist', () => {
  it('master playlist: every variant, rendition and I-frame URI carries the token', () => {
    const out = addTokenToPlaylist(MASTER, TOKEN);
    const uris = collectUris(parseM3u8(out));
    // 2 variants + 2 I-frame playlists + audio + subtitles
    expect(uris).toHaveLength(6);
    for (const u of uris) expect(tokenOf(u), u).toBe(TOKEN);
    expect(out).toContain('360p/index.m3u8?variant=low&token=');
    expect(uris.filter((u) => u.startsWith('audio/index.m3u8?token=')).length).toBe(1);
    // nothing else changed
    expect(out.replace(/[?&]token=[^"\n&]*/g, '')).toBe(MASTER);
  });

  it('LL-HLS media playlist: segments, map, parts, preload hint and rendition reports all carry it', () => {
    const out = addTokenToPlaylist(LLHLS, TOKEN);
    const before = collectUris(parseM3u8(LLHLS));
    const uris = collectUris(parseM3u8(out));
    // 3 segments + map (attached per segment by the parser) + 10 parts + 1 hint + 2 reports
    expect(new Set(before.map((u) => u)).size).toBe(17);
    expect(uris.length).toBe(before.length);
    for (const u of uris) expect(tokenOf(u), u).toBe(TOKEN);
    expect(out).toContain('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="seg-269.2.m4s?token=');
    expect(out).toContain('#EXT-X-MAP:URI="init.mp4?token=');
    expect(out).toContain('# a comment with URI="not-a-uri" stays as it is');
    expect(out.replace(/[?&]token=[^"\n&]*/g, '')).toBe(LLHLS);
  });

  it('keeps CRLF line endings, replaces an existing token, leaves other hosts and data: URIs alone', () => {
    const text =
      '#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1"\r\n#EXTINF:2,\r\nseg-1.m4s?token=OLD&x=1\r\n#EXTINF:2,\r\nhttps://other.example/seg-2.m4s\r\n#EXTINF:2,\r\nhttps://edge.example/live/ch1/seg-3.m4s\r\n#EXT-X-SESSION-DATA:DATA-ID="x",URI="data:text/plain,hi"\r\n';
    const out = addTokenToPlaylist(text, TOKEN, { sameOrigins: ['https://edge.example'] });
    expect(out.split('\r\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.example/k1"',
      '#EXTINF:2,',
      `seg-1.m4s?x=1&token=${TOKEN}`,
      '#EXTINF:2,',
      'https://other.example/seg-2.m4s',
      '#EXTINF:2,',
      `https://edge.example/live/ch1/seg-3.m4s?token=${TOKEN}`,
      '#EXT-X-SESSION-DATA:DATA-ID="x",URI="data:text/plain,hi"',
      '',
    ]);
  });

  it('delta updates (EXT-X-SKIP) and byte-range parts keep their attributes', () => {
    const text =
      '#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n#EXT-X-PART:DURATION=0.5,URI="seg-9.m4s",BYTERANGE="1000@0"\n#EXTINF:4,\nseg-9.m4s\n';
    const out = addTokenToPlaylist(text, TOKEN);
    expect(out).toBe(
      `#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n#EXT-X-PART:DURATION=0.5,URI="seg-9.m4s?token=${TOKEN}",BYTERANGE="1000@0"\n#EXTINF:4,\nseg-9.m4s?token=${TOKEN}\n`,
    );
  });
});

describe('addTokenToUri', () => {
  it('handles query, fragment, existing token, scheme-relative and absolute URIs', () => {
    expect(addTokenToUri('a.m4s', 'T')).toBe('a.m4s?token=T');
    expect(addTokenToUri('a.m4s?b=1#f', 'T')).toBe('a.m4s?b=1&token=T#f');
    expect(addTokenToUri('a.m4s?token=old', 'T')).toBe('a.m4s?token=T');
    expect(addTokenToUri('/vod/a/x', 'T')).toBe('/vod/a/x?token=T');
    expect(addTokenToUri('//cdn.example/x', 'T')).toBe('//cdn.example/x');
    expect(addTokenToUri('https://cdn.example/x', 'T')).toBe('https://cdn.example/x');
    expect(addTokenToUri('skd://key', 'T', { sameOrigins: ['https://cdn.example'] })).toBe('skd://key');
    expect(addTokenToUri('x', 'a b', { param: 'tk' })).toBe('x?tk=a%20b');
  });
});

const MPD = `<?xml version="1.0" encoding="UTF-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" minBufferTime="PT2S" mediaPresentationDuration="PT8S">
  <BaseURL>https://edge.example/vod/asset1/</BaseURL>
  <Period id="0" start="PT0S">
    <AdaptationSet id="1" contentType="video" mimeType="video/mp4" segmentAlignment="true" startWithSAP="1">
      <SegmentTemplate timescale="90000" duration="360000" startNumber="1" media="$RepresentationID$/seg-$Number$.m4s" initialization='$RepresentationID$/init.mp4?v=1&amp;w=2'/>
      <Representation id="720p" bandwidth="3000000" codecs="avc1.64001f" width="1280" height="720"/>
      <Representation id="360p" bandwidth="1000000" codecs="avc1.4d401e" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet id="2" contentType="audio" mimeType="audio/mp4" lang="en">
      <Representation id="audio" bandwidth="128000" codecs="mp4a.40.2" audioSamplingRate="48000">
        <BaseURL>audio/</BaseURL>
        <SegmentList timescale="48000" duration="192000">
          <Initialization sourceURL="init.mp4"/>
          <SegmentURL media="seg-1.m4s"/>
          <SegmentURL media="seg-2.m4s"/>
        </SegmentList>
      </Representation>
    </AdaptationSet>
  </Period>
</MPD>
`;

describe('addTokenToMpd', () => {
  const out = addTokenToMpd(MPD, TOKEN, { sameOrigins: ['https://edge.example'] });

  it('every segment and init URL resolved by mpd-parser carries the token', () => {
    const parsed = mpdParser.parse(out, { manifestUri: 'https://edge.example/vod/asset1/manifest.mpd' });
    const resolved = collectUris(parsed, ['resolvedUri']);
    // 720p and 360p: 2 media segments + init each; audio: 2 segments + init
    const before = collectUris(mpdParser.parse(MPD, { manifestUri: 'https://edge.example/vod/asset1/manifest.mpd' }), [
      'resolvedUri',
    ]);
    expect(before.length).toBeGreaterThanOrEqual(9);
    expect(resolved.length).toBe(before.length);
    for (const u of resolved) expect(new URL(u).searchParams.get('token'), u).toBe(TOKEN);
    expect(resolved.some((u) => u.endsWith(`/720p/init.mp4?v=1&w=2&token=${TOKEN}`))).toBe(true);
  });

  it('rewrites templates, SegmentURL, Initialization and BaseURL, escaping & for XML', () => {
    expect(out).toContain(`media="$RepresentationID$/seg-$Number$.m4s?token=${TOKEN}"`);
    expect(out).toContain(`initialization='$RepresentationID$/init.mp4?v=1&amp;w=2&amp;token=${TOKEN}'`);
    expect(out).toContain(`<SegmentURL media="seg-2.m4s?token=${TOKEN}"/>`);
    expect(out).toContain(`<Initialization sourceURL="init.mp4?token=${TOKEN}"/>`);
    expect(out).toContain(`<BaseURL>https://edge.example/vod/asset1/?token=${TOKEN}</BaseURL>`);
    // without naming the origin, the absolute BaseURL is left alone
    expect(addTokenToMpd(MPD, TOKEN)).toContain('<BaseURL>https://edge.example/vod/asset1/</BaseURL>');
  });

  it('a Clear Key license URL (dashif:Laurl, clearkey:Laurl) carries the token; the pssh text is left alone', () => {
    const protectedSet = (prefix: string, ns: string) =>
      `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:${prefix}="${ns}" xmlns:cenc="urn:mpeg:cenc:2013"><Period><AdaptationSet>` +
      `<ContentProtection schemeIdUri="urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e" value="ClearKey1.0">` +
      `<${prefix}:Laurl Lic_type="EME-1.0">keys/clearkey</${prefix}:Laurl><cenc:pssh>AAAANHBzc2g=</cenc:pssh>` +
      `</ContentProtection></AdaptationSet></Period></MPD>`;
    for (const [prefix, ns] of [
      ['dashif', 'https://dashif.org/CPS'],
      ['clearkey', 'http://dashif.org/guidelines/clearKey'],
    ]) {
      const rewritten = addTokenToMpd(protectedSet(prefix, ns), TOKEN);
      expect(rewritten).toContain(`<${prefix}:Laurl Lic_type="EME-1.0">keys/clearkey?token=${TOKEN}</${prefix}:Laurl>`);
      expect(rewritten).toContain('<cenc:pssh>AAAANHBzc2g=</cenc:pssh>');
    }
  });

  it('the rewritten MPD still validates against the ISO/IEC 23009-1 schema', async () => {
    const before = await validateMpd(MPD);
    expect(before.errors).toBe('');
    const after = await validateMpd(out);
    expect(after.errors).toBe('');
    expect(after.valid).toBe(true);
  });
});

describe('addTokenToThumbnailVtt', () => {
  it('every picture URL gets the token before its #xywh fragment; timings, the header and other hosts are kept', () => {
    const vtt = [
      'WEBVTT',
      '',
      '00:00:00.000 --> 00:00:04.000',
      'tile-1.jpg#xywh=0,0,240,136',
      '',
      '00:00:04.000 --> 00:00:08.000',
      'tile-1.jpg?v=2#xywh=240,0,240,136',
      '',
      '00:00:08.000 --> 00:00:12.000',
      'https://other.example/tile-2.jpg#xywh=0,0,240,136',
      '',
    ].join('\r\n');
    const out = addTokenToThumbnailVtt(vtt, 'a b');
    expect(out.split('\r\n')).toEqual([
      'WEBVTT',
      '',
      '00:00:00.000 --> 00:00:04.000',
      'tile-1.jpg?token=a%20b#xywh=0,0,240,136',
      '',
      '00:00:04.000 --> 00:00:08.000',
      'tile-1.jpg?v=2&token=a%20b#xywh=240,0,240,136',
      '',
      '00:00:08.000 --> 00:00:12.000',
      'https://other.example/tile-2.jpg#xywh=0,0,240,136',
      '',
    ]);
  });
});
