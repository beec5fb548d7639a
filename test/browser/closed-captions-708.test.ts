/**
 * CEA-708 captions beside CEA-608 (the `captioned708` fixture: CC1 "HELLO" and, on 708 service 1,
 * "WORLD" from 0.23 s to 3 s, as an ATSC encoder writes both), packaged by the real packager,
 * served by a real origin and played in Debian's Chromium. Shaka Player (which decodes 708) is told
 * of the service by the master playlist's INSTREAM-ID="SERVICE1" and by the MPD's 708
 * Accessibility descriptor, and shows "WORLD" from the video's own pictures. Our player lists CC1
 * and SERVICE1 in its text menu and decodes both. hls.js and dash.js read 608 only.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the players' globals, read in the page untyped */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { packageSmall, startBrowserRig, type BrowserRig, type DemoTextPage } from '../support/browser-rig.js';
import { CAPTION_708_TEXT, CAPTION_TEXT, fixture } from '../../media-fixtures/generate.js';

let rig: BrowserRig;
let scripts: ScriptPage;
let origin = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-captions-708-');
  mkdirSync(join(rig.dir, 'root'));
  await packageSmall(rig.dir, await fixture('captioned708'), 'atsc', {
    captions: [
      { instreamId: 'CC1', name: 'English', language: 'en' },
      { instreamId: 'SERVICE1', name: 'Español', language: 'es' },
    ],
  });
  origin = await rig.origin({ root: join(rig.dir, 'root') });
  scripts = await startScriptPage({ '/shaka.js': 'node_modules/shaka-player/dist/shaka-player.compiled.js' });
}, 180_000);

afterAll(async () => {
  await scripts?.close();
  await rig?.close();
});

interface ShakaSeen {
  tracks: { language: string; kind: string; originalTextId: string | null }[];
  cue: { text: string; startTime: number; endTime: number };
}

/** Shaka plays `src`, picks the Spanish (708) captions, and waits up to 30 s for the 708 cue. */
async function shakaShows708(src: string): Promise<ShakaSeen> {
  const page = await rig.browser.newPage();
  try {
    await page.goto(scripts.url);
    return await page.evaluate(
      async ({ src, text }) => {
        const shaka = (window as unknown as { shaka: any }).shaka;
        const video = document.getElementById('v') as HTMLVideoElement;
        const player = new shaka.Player();
        await player.attach(video);
        await player.load(src);
        const all = player.getTextTracks() as {
          language: string;
          kind: string;
          originalTextId: string | null;
        }[];
        const tracks = all.map((t) => ({ language: t.language, kind: t.kind, originalTextId: t.originalTextId }));
        const es = all.find((t) => t.language === 'es');
        if (!es) throw new Error(`Shaka lists no Spanish captions: ${JSON.stringify(tracks)}`);
        player.selectTextTrack(es);
        video.muted = true;
        void video.play().catch(() => undefined);
        const began = performance.now();
        for (;;) {
          for (const t of Array.from(video.textTracks))
            for (const c of Array.from(t.cues ?? []) as VTTCue[])
              if (c.text.includes(text))
                return { tracks, cue: { text: c.text, startTime: c.startTime, endTime: c.endTime } };
          if (performance.now() - began > 30_000) {
            const seen = Array.from(video.textTracks).map((t) => ({
              label: t.label,
              mode: t.mode,
              cues: Array.from(t.cues ?? []).map((c) => (c as VTTCue).text),
            }));
            throw new Error(
              `no "${text}" cue after 30 s at ${video.currentTime} s: ${JSON.stringify({ tracks, seen })}`,
            );
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      { src, text: CAPTION_708_TEXT },
    );
  } finally {
    await page.close();
  }
}

describe('CEA-708 captions in Shaka Player', () => {
  for (const [protocol, path] of [
    ['HLS (INSTREAM-ID="SERVICE1")', 'master.m3u8'],
    ['DASH (urn:scte:dash:cc:cea-708:2015)', 'manifest.mpd'],
  ] as const) {
    it(`${protocol}: the service is listed in its language and its cue shown from the pictures`, async () => {
      const seen = await shakaShows708(`${origin}/vod/atsc/${path}`);
      expect(seen.tracks.map((t) => t.language).sort()).toEqual(['en', 'es']);
      // (Shaka marks up the pen's colours: `<c.white.bg_black>WORLD</c>`)
      expect(seen.cue.text.replace(/<[^>]+>/g, '').trim()).toBe(CAPTION_708_TEXT);
      expect(seen.cue.startTime).toBeGreaterThan(0.1);
      expect(seen.cue.startTime).toBeLessThan(0.5);
    }, 60_000);
  }
});

type Demo = DemoTextPage;

describe('CEA-708 captions in our player', () => {
  it('HLS: lists CC1 and SERVICE1, decodes both from the pictures, shows the 708 one when chosen', async () => {
    const page = await rig.browser.newPage();
    try {
      await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${origin}/vod/atsc/master.m3u8`)}&engine=ours`);
      await expect
        .poll(() => page.evaluate(() => (window as unknown as Demo).__streamedge.tracks().text), { timeout: 20_000 })
        .toEqual([
          { id: 'cc:CC1', language: 'en', name: 'English', active: false },
          { id: 'cc:SERVICE1', language: 'es', name: 'Español', active: false },
        ]);
      const cues = () =>
        page.evaluate(() => {
          const video = document.getElementById('video') as HTMLVideoElement;
          return Array.from(video.textTracks)
            .filter((t) => t.kind === 'captions')
            .flatMap((t) => Array.from(t.cues ?? []).map((c) => [t.label, (c as VTTCue).text, c.startTime, c.endTime]));
        });
      // both decoded as the video goes in; closed once their erasures are appended
      await expect
        .poll(async () => (await cues()).filter((c) => (c[3] as number) < 3600).length, { timeout: 20_000 })
        .toBe(2);
      const byLabel = new Map((await cues()).map((c) => [c[0], c]));
      expect(byLabel.get('English')?.[1]).toBe(CAPTION_TEXT);
      expect(byLabel.get('Español')?.[1]).toBe(CAPTION_708_TEXT);
      expect(byLabel.get('Español')?.[2]).toBeCloseTo(7 / 30, 2);
      expect(byLabel.get('Español')?.[3]).toBeCloseTo(3, 1);
      await page.evaluate(() => (window as unknown as Demo).__streamedge.setTextTrack('cc:SERVICE1'));
      await page.evaluate(() => {
        const v = document.getElementById('video') as HTMLVideoElement;
        v.pause();
        v.currentTime = 2.5;
      });
      await expect
        .poll(() => page.evaluate(() => (window as unknown as Demo).__streamedge.activeCues()), { timeout: 10_000 })
        .toEqual([CAPTION_708_TEXT]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
