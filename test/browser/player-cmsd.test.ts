/**
 * An edge's cap reaches our player (CMSD-Dynamic `mb`, CTA-5006), in Debian's Chromium, through a
 * real origin and two real edges on loopback: behind the edge started with a cap of 600 kbit/s the
 * player never fetches the 360p rung (its variant needs about 830 kbit/s), from its very first
 * segment (the playlists already carry the cap) and says so in its stats; behind the same kind of
 * edge without a cap it climbs to 360p on this fast link. The page reads the header across origins
 * (the origin lists CMSD-Dynamic in Access-Control-Expose-Headers). dash.js, with the demo's
 * `streaming.cmsd.abr.applyMb`, keeps under the cap from its second segment on (it reads CMSD
 * from media responses only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fixture } from '../../media-fixtures/generate.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';

let rig: BrowserRig;
let capped = '';
let open = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-player-cmsd-');
  await packageSmall(rig.dir, await fixture('sample'), 'movie');
  const upstream = await rig.origin({ root: join(rig.dir, 'root') });
  capped = (await rig.edge(upstream, 'edge-capped', { cmsdMaxBitrateKbps: 600 })).url;
  open = (await rig.edge(upstream, 'edge-open')).url;
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

interface Stats {
  currentTime: number;
  serverCapKbps: number | null;
  pageErrors: string[];
  levels: { id: string; bitrate: number }[];
}

/** Plays the asset through `edge` with our player until 6 s have played; the video segments it fetched. */
async function play(
  edge: string,
  engine = 'ours',
): Promise<{ renditions: Set<string>; order: string[]; stats: Stats }> {
  const page = await rig.browser.newPage();
  const renditions = new Set<string>();
  const order: string[] = [];
  page.on('request', (r) => {
    const m = /\/vod\/movie\/(?:v\d+\/)?(\d+p)\/seg-\d+\.m4s$/.exec(new URL(r.url()).pathname);
    if (m) {
      renditions.add(m[1]);
      order.push(m[1]);
    }
  });
  try {
    const manifest = engine === 'dashjs' ? 'manifest.mpd' : 'master.m3u8';
    await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${edge}/vod/movie/${manifest}`)}&engine=${engine}`);
    await page.waitForFunction(
      () => (document.getElementById('video') as HTMLVideoElement).currentTime > 6,
      undefined,
      { timeout: 60_000, polling: 100 },
    );
    const stats = await page.evaluate(() =>
      (window as unknown as { __streamedge: { stats(): Stats } }).__streamedge.stats(),
    );
    return { renditions, order, stats };
  } finally {
    await page.close();
  }
}

describe("our player and the edge's CMSD cap", () => {
  it('behind the capped edge: never the 360p rung, the cap in its stats', async () => {
    const { renditions, stats } = await play(capped);
    expect(stats.pageErrors).toEqual([]);
    expect(stats.serverCapKbps).toBe(600);
    expect([...renditions]).toEqual(['240p']);
    expect(stats.levels.map((l) => l.bitrate).some((b) => b > 600_000)).toBe(true);
  }, 90_000);

  it('behind the edge without a cap: 360p on this fast link, no cap in its stats', async () => {
    const { renditions, stats } = await play(open);
    expect(stats.pageErrors).toEqual([]);
    expect(stats.serverCapKbps).toBeNull();
    expect(renditions.has('360p')).toBe(true);
  }, 90_000);

  it('dash.js (streaming.cmsd.abr.applyMb) keeps under the cap after its first segment; without it, it climbs', async () => {
    // dash.js reads CMSD from media responses only: its first segment is chosen before it has seen
    // one (360p on this link), every later one is within the cap
    const under = await play(capped, 'dashjs');
    expect(under.stats.pageErrors).toEqual([]);
    expect(under.order.length).toBeGreaterThanOrEqual(3);
    expect(new Set(under.order.slice(1))).toEqual(new Set(['240p']));
    const open_ = await play(open, 'dashjs');
    expect(open_.order.slice(1)).toContain('360p');
  }, 120_000);
});
