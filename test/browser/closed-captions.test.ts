/**
 * CEA-608 closed captions kept from the source (the `captioned` fixture: "HELLO" on CC1 from
 * 0.23 s to 2 s, in the H.264's A/53 SEI), packaged by the real packager, served by a real origin
 * and played in Debian's Chromium: hls.js, told by the master playlist's CLOSED-CAPTIONS group,
 * and dash.js, told by the MPD's 608 Accessibility descriptor, each make a captions track and show
 * the cue "HELLO" from the video's own pictures.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- the players' globals, read in the page untyped */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { packageSmall, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { CAPTION_TEXT, fixture } from '../../media-fixtures/generate.js';

let rig: BrowserRig;
let scripts: ScriptPage;
let origin = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-captions-');
  mkdirSync(join(rig.dir, 'root'));
  await packageSmall(rig.dir, await fixture('captioned'), 'news');
  origin = await rig.origin({ root: join(rig.dir, 'root') });
  scripts = await startScriptPage({
    '/hls.js': 'node_modules/hls.js/dist/hls.min.js',
    '/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
  });
}, 180_000);

afterAll(async () => {
  await scripts?.close();
  await rig?.close();
});

interface CaptionsSeen {
  kind: string;
  label: string;
  cue: { text: string; startTime: number; endTime: number };
}

/**
 * Plays `src` with `engine` and waits (up to 30 s) for a captions or subtitles text track holding
 * a cue with the caption's text; fails saying which tracks and cues it had.
 */
async function captionShown(engine: 'hls.js' | 'dash.js', src: string): Promise<CaptionsSeen> {
  const page = await rig.browser.newPage();
  try {
    await page.goto(scripts.url);
    return await page.evaluate(
      async ({ engine, src, text }) => {
        const video = document.getElementById('v') as HTMLVideoElement;
        const w = window as unknown as { Hls: any; dashjs: any };
        if (engine === 'hls.js') {
          const hls = new w.Hls();
          hls.loadSource(src);
          hls.attachMedia(video);
        } else {
          const player = w.dashjs.MediaPlayer().create();
          player.initialize(video, src, true);
        }
        video.muted = true;
        void video.play().catch(() => undefined);
        const began = performance.now();
        for (;;) {
          for (const t of Array.from(video.textTracks)) {
            if (t.mode === 'disabled') t.mode = 'hidden'; // cues are only kept for tracks not disabled
            for (const c of Array.from(t.cues ?? []) as VTTCue[]) {
              if (c.text.includes(text))
                return {
                  kind: t.kind,
                  label: t.label,
                  cue: { text: c.text, startTime: c.startTime, endTime: c.endTime },
                };
            }
          }
          if (performance.now() - began > 30_000) {
            const tracks = Array.from(video.textTracks).map((t) => ({
              kind: t.kind,
              label: t.label,
              mode: t.mode,
              cues: Array.from(t.cues ?? []).map((c) => (c as VTTCue).text),
            }));
            throw new Error(`no "${text}" cue after 30 s at ${video.currentTime} s: ${JSON.stringify(tracks)}`);
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      { engine, src, text: CAPTION_TEXT },
    );
  } finally {
    await page.close();
  }
}

describe('closed captions in the players', () => {
  it('hls.js: a captions track from CLOSED-CAPTIONS, with the cue from the pictures', async () => {
    const seen = await captionShown('hls.js', `${origin}/vod/news/master.m3u8`);
    expect(seen.kind).toBe('captions');
    expect(seen.cue.text.trim()).toBe(CAPTION_TEXT);
    expect(seen.cue.startTime).toBeGreaterThan(0.1);
    expect(seen.cue.startTime).toBeLessThan(0.5);
  }, 60_000);

  it('dash.js: a captions track from the 608 Accessibility descriptor, with the same cue', async () => {
    const seen = await captionShown('dash.js', `${origin}/vod/news/manifest.mpd`);
    expect(seen.cue.text.trim()).toBe(CAPTION_TEXT);
    expect(seen.cue.startTime).toBeGreaterThan(0.1);
    expect(seen.cue.startTime).toBeLessThan(0.5);
  }, 60_000);
});
