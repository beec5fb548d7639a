/**
 * Where our browser player joins a live LL-HLS stream (player-demo/player/hls-source.ts, run in
 * Node against a fixed playlist on a loopback server): PART-HOLD-BACK behind the newest part, then
 * back to an independent part, never the newest independent part when that is closer to the edge
 * than the playlist allows (the 1.25 s below PART-HOLD-BACK of bench/results/abr-qoe.json).
 */
import { describe, expect, it } from 'vitest';
import { useLivePlaylistServer } from './live-playlist-server.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { LL_MEDIA_HEAD } from './ll-media-head.js';

const MASTER = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"
v/index.m3u8
`;

/** 2 s segments of 4 × 0.5 s parts, key frames on part 0 only; the newest segment has one part so far. */
function media(): string {
  const lines = [...LL_MEDIA_HEAD];
  for (let msn = 10; msn <= 12; msn++) {
    for (let p = 0; p < 4; p++)
      lines.push(`#EXT-X-PART:DURATION=0.5,URI="p${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
    lines.push('#EXTINF:2.0,', `s${msn}.m4s`);
  }
  lines.push('#EXT-X-PART:DURATION=0.5,URI="p13.0.m4s",INDEPENDENT=YES');
  lines.push('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p13.1.m4s"');
  return lines.join('\n') + '\n';
}

describe('our player joins live LL-HLS at PART-HOLD-BACK', () => {
  const playlists = useLivePlaylistServer(MASTER, media);

  it('starts at the key frame at least PART-HOLD-BACK behind the newest part, not at the newest key frame', async () => {
    const source = new HlsSource(playlists.url(), {});
    const signal = new AbortController().signal;
    await source.open(signal);
    expect(source.lowLatency).toBe(true);
    expect(source.targetLatency).toBe(1.5);
    const cursor = await source.startCursor(source.video[0].id, signal);
    // newest part ends 13.0 + 0.5 s; 1.5 s back lands inside segment 12, whose key frame is part 0:
    // 2.5 s behind the edge. The newest key frame (13.0) would be only 0.5 s behind it.
    expect(cursor).toEqual({ msn: 12, part: 0 });
    source.close();
  });
});
