/**
 * The live window as our browser player sees it (player-demo/player/hls-source.ts, run in Node
 * against a loopback playlist server): the seekable window starts at the oldest listed segment's
 * PDT, a PDT maps to the segment whose span holds it, and a playlist loaded more than three target
 * durations ago is reloaded before a chunk is taken from it. Playing back in the DVR window needs
 * no reload to find its segments, so without that the window the player knew went stale: a seek to
 * its oldest media asked for a segment the server had already dropped.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useLivePlaylistServer } from './live-playlist-server.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';

const MASTER = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"
v/index.m3u8
`;

const T0 = Date.parse('2026-12-04T12:00:00.000Z');
/** PDT of segment `msn`: 2 s segments from T0 at msn 0. */
const pdt = (msn: number) => T0 + msn * 2000;
/** The oldest segment the server lists now (five are listed). */
let first = 10;

function media(): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', `#EXT-X-MEDIA-SEQUENCE:${first}`];
  lines.push('#EXT-X-MAP:URI="init.mp4"');
  for (let msn = first; msn < first + 5; msn++) {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(pdt(msn)).toISOString()}`, '#EXTINF:2.0,', `s${msn}.m4s`);
  }
  return lines.join('\n') + '\n';
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('our player keeps the live window it seeks in', () => {
  const playlists = useLivePlaylistServer(MASTER, media);

  it('maps PDTs to segments, and reloads a playlist three target durations old before using it', async () => {
    first = 10;
    const source = new HlsSource(playlists.url(), {});
    const signal = new AbortController().signal;
    await source.open(signal);
    const id = source.video[0].id;
    await source.chunkAt(id, { msn: 10, part: 0 }, signal); // loads the media playlist
    expect(source.windowStartPdtMs(id)).toBe(pdt(10));
    expect(source.cursorForPdt(id, pdt(12) + 1500)).toEqual({ msn: 12, part: 0 });
    expect(source.cursorForPdt(id, pdt(5))).toEqual({ msn: 10, part: 0 }); // before the window: its start
    expect(source.cursorForPdt(id, pdt(40))).toEqual({ msn: 15, part: 0 }); // past it: the next one

    // 4 s later the playlist is still fresh: segment 10 comes from what was loaded
    first = 20;
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 4_000);
    expect((await source.chunkAt(id, { msn: 10, part: 0 }, signal))?.msn).toBe(10);
    // 7 s later (more than 3 × 2 s) it is reloaded first: segment 10 has left the window, the
    // chunk is the window's oldest, and the window the player offers starts there
    vi.spyOn(Date, 'now').mockReturnValue(now + 7_000);
    const chunk = await source.chunkAt(id, { msn: 10, part: 0 }, signal);
    expect(chunk?.msn).toBe(20);
    expect(chunk?.url).toMatch(/\/s20\.m4s$/);
    expect(source.windowStartPdtMs(id)).toBe(pdt(20));
    source.close();
  });
});
