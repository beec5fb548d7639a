import { describe, expect, it } from 'vitest';
import { isStreamedgeError } from '../../../src/errors.js';
import { writeIFramePlaylist } from '../../../src/hls/iframe-playlist.js';
import { VIDEO_TS, vodPresentation, vodVideoDurations } from './fixture-presentations.js';
import { parseM3u8 } from './parsers.js';
import { playlistUris } from './uri-check.js';

describe('writeIFramePlaylist', () => {
  const vod = vodPresentation();
  const text = writeIFramePlaylist(vod, '720p');
  const m = parseM3u8(text);
  const segments = vod.timelines[1].segments;
  const iframes = segments.flatMap((s) => s.iframes!.map((f) => ({ ...f, number: s.number })));

  it('writes the I-frames-only header', () => {
    expect(
      text.startsWith(
        '#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-I-FRAMES-ONLY\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init.mp4"\n',
      ),
    ).toBe(true);
    expect(m.iFramesOnly).toBe(true);
    expect(m.endList).toBe(true);
  });

  it('addresses every key frame by byte range inside its segment', () => {
    expect(m.segments).toHaveLength(iframes.length);
    m.segments.forEach(
      (s: { uri: string; duration: number; byterange: { length: number; offset: number } }, i: number) => {
        const f = iframes[i];
        expect(s.uri).toBe(`seg-${f.number}.m4s`);
        expect(s.byterange).toEqual({ length: f.length, offset: f.offset });
        expect(s.duration).toBeCloseTo(f.duration / VIDEO_TS, 5);
      },
    );
    expect(text).toContain(`#EXTINF:2.00000,\n#EXT-X-BYTERANGE:${iframes[1].length}@${iframes[1].offset}\nseg-1.m4s\n`);
    const total = m.segments.reduce((sum: number, s: { duration: number }) => sum + s.duration, 0);
    expect(total).toBeCloseTo(vodVideoDurations.reduce((a, b) => a + b, 0) / VIDEO_TS, 4);
  });

  it('appends the query to the map and every entry', () => {
    const uris = playlistUris(writeIFramePlaylist(vod, '720p', { query: 'token=abc' }));
    expect(uris).toHaveLength(1 + iframes.length);
    for (const u of uris) expect(u).toMatch(/\?token=abc$/);
  });

  it('refuses renditions without key frame indexes', () => {
    try {
      writeIFramePlaylist(vod, 'audio');
      expect.unreachable();
    } catch (e) {
      expect(isStreamedgeError(e) && e.code).toBe('NO_IFRAMES');
    }
  });
});
