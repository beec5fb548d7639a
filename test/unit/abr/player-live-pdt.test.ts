/**
 * Where our browser player dates live LL-HLS media (player-demo/player/hls-source.ts, run in Node
 * against a fixed playlist on a loopback server) when the segment still being produced follows a
 * discontinuity: an encoder restart leaves a gap in the timeline, and the in-progress segment's
 * own EXT-X-PROGRAM-DATE-TIME, not the previous segment's end, says when its parts happened.
 * Dated by the previous segment, every part of it (and the live edge) came out a whole outage
 * early, so the player reported the outage as extra latency while it looked in step with the edge.
 */
import { describe, expect, it } from 'vitest';
import { useLivePlaylistServer } from './live-playlist-server.js';
import { HlsSource } from '../../../player-demo/player/hls-source.js';
import { LL_MEDIA_HEAD } from './ll-media-head.js';

const MASTER = `#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.64001f"
v/index.m3u8
`;

const OUTAGE_MS = 13_000;
/** The in-progress segment 13 starts OUTAGE_MS after segment 12 ends; its newest part ends 2 s ago. */
let restartPdt = 0;

function media(): string {
  const t0 = restartPdt - OUTAGE_MS - 6_000; // segments 10–12 end where the outage starts
  const lines = [...LL_MEDIA_HEAD];
  for (let msn = 10; msn <= 12; msn++) {
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(t0 + (msn - 10) * 2000).toISOString()}`);
    for (let p = 0; p < 4; p++)
      lines.push(`#EXT-X-PART:DURATION=0.5,URI="p${msn}.${p}.m4s"${p === 0 ? ',INDEPENDENT=YES' : ''}`);
    lines.push('#EXTINF:2.0,', `s${msn}.m4s`);
  }
  lines.push('#EXT-X-DISCONTINUITY', `#EXT-X-PROGRAM-DATE-TIME:${new Date(restartPdt).toISOString()}`);
  lines.push('#EXT-X-PART:DURATION=0.5,URI="p13.0.m4s",INDEPENDENT=YES');
  lines.push('#EXT-X-PART:DURATION=0.5,URI="p13.1.m4s"');
  lines.push('#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p13.2.m4s"');
  return lines.join('\n') + '\n';
}

describe('our player dates live media by its PDT, the in-progress segment after a discontinuity by its own', () => {
  const playlists = useLivePlaylistServer(MASTER, media);

  it('parts and the live edge carry the listed PDT, not the end of the segment before the gap', async () => {
    restartPdt = Date.now() - 3_000; // two 0.5 s parts listed: the newest ends 2 s ago
    const source = new HlsSource(playlists.url(), {});
    const signal = new AbortController().signal;
    const opened = Date.now();
    await source.open(signal);
    const id = source.video[0].id;
    const part = await source.chunkAt(id, { msn: 13, part: 1 }, signal);
    expect(part?.part).toBe(1);
    expect(part?.programDateTime).toBe(restartPdt + 500);
    // the edge: the newest part's PDT end (restartPdt + 1 s), advanced by the wall clock since it arrived
    const edge = source.liveEdgePdtMs(Date.now())!;
    expect(edge).toBeGreaterThanOrEqual(restartPdt + 1_000);
    expect(edge).toBeLessThanOrEqual(restartPdt + 1_000 + (Date.now() - opened));
    source.close();
  });

  it('each live chunk says its discontinuity sequence, its PDT as where it starts, and its init segment, so media times that start again are placed by PDT', async () => {
    restartPdt = Date.now() - 3_000;
    const source = new HlsSource(playlists.url(), {});
    const signal = new AbortController().signal;
    await source.open(signal);
    const id = source.video[0].id;
    const init = new URL('v/init.mp4', playlists.url()).href;
    const before = await source.chunkAt(id, { msn: 12, part: 0 }, signal);
    const t12 = restartPdt - OUTAGE_MS - 2_000;
    expect(before?.part).toBeUndefined(); // the whole segment
    expect(before?.discontinuity).toEqual({ sequence: 0, startSec: t12 / 1000 });
    expect(before?.init?.url).toBe(init);
    const mid = await source.chunkAt(id, { msn: 12, part: 2 }, signal);
    expect(mid?.discontinuity).toEqual({ sequence: 0, startSec: (t12 + 1_000) / 1000 });
    // the in-progress segment follows the discontinuity: the next sequence, from its own PDT
    const after = await source.chunkAt(id, { msn: 13, part: 1 }, signal);
    expect(after?.discontinuity).toEqual({ sequence: 1, startSec: (restartPdt + 500) / 1000 });
    expect(after?.init?.url).toBe(init);
    source.close();
  });
});
