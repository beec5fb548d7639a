/**
 * Subtitle tracks in real players: an asset packaged with `--subtitles en=… pt-BR=…` (real ffmpeg),
 * served by a real origin, opened in Debian's Chromium with hls.js and with dash.js. Each player
 * lists both tracks with their languages and switches to the second one, whose cues then arrive.
 * (The demo page's own track menus, for all three engines: audio-tracks.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { startScriptPage, type ScriptPage } from '../support/script-page.js';
import { fixture } from '../../media-fixtures/generate.js';
import { packageVod } from '../../packager/vod-job.js';
import { createOrigin, type Origin } from '../../packager/origin/server.js';

let dir: string;
let origin: Origin;
let originUrl = '';
let pages: ScriptPage | undefined;
let pagesUrl = '';
let browser: Browser;

const SCRIPTS: Record<string, string> = {
  '/hls.js': 'node_modules/hls.js/dist/hls.min.js',
  '/dash.js': 'node_modules/dashjs/dist/modern/umd/dash.all.min.js',
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-subs-browser-'));
  writeFileSync(join(dir, 'en.vtt'), 'WEBVTT\n\n00:00:00.200 --> 00:00:03.800\nHello from English\n');
  writeFileSync(join(dir, 'pt.srt'), '1\n00:00:00,200 --> 00:00:03,800\nOlá em português\n');
  await packageVod({
    input: await fixture('small'),
    outDir: join(dir, 'root'),
    assetId: 'movie',
    ladder: 'small',
    segmentDuration: 2,
    subtitles: [
      { language: 'en', file: join(dir, 'en.vtt') },
      { language: 'pt-BR', file: join(dir, 'pt.srt') },
    ],
  });
  origin = await createOrigin({ root: join(dir, 'root'), logger: false, processMetrics: false });
  originUrl = await origin.listen(0, '127.0.0.1');
  pages = await startScriptPage(SCRIPTS);
  pagesUrl = pages.url;
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await pages?.close();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The slice of the hls.js and dash.js globals these tests use (the pages load their UMD builds). */
interface HlsTrack {
  lang: string;
  name: string;
}
interface HlsPlayer {
  on(event: string, cb: (event: string, data: never) => void): void;
  loadSource(src: string): void;
  attachMedia(video: HTMLVideoElement): void;
  subtitleTracks: HlsTrack[];
  subtitleTrack: number;
  destroy(): void;
}
interface HlsGlobal {
  new (config: { subtitleDisplay: boolean }): HlsPlayer;
  Events: Record<'SUBTITLE_TRACKS_UPDATED' | 'SUBTITLE_TRACK_SWITCH' | 'ERROR', string>;
}
interface DashTextTrack {
  lang: string;
  labels: { text: string }[];
}
interface DashPlayer {
  on(event: string, cb: (e: { error?: { message?: string } }) => void): void;
  initialize(video: HTMLVideoElement, src: string, autoplay: boolean): void;
  getTracksFor(type: 'text'): DashTextTrack[];
  getCurrentTrackFor(type: 'text'): DashTextTrack | null;
  setInitialMediaSettingsFor(type: 'text', settings: { lang: string }): void;
  destroy(): void;
}
interface DashGlobal {
  MediaPlayer: {
    (): { create(): DashPlayer };
    events: Record<'STREAM_INITIALIZED' | 'ERROR', string>;
  };
}
interface PageGlobals {
  Hls: HlsGlobal;
  dashjs: DashGlobal;
  cuesOf: (video: HTMLVideoElement, lang: string, expected: string) => Promise<string>;
}

interface TrackResult {
  listed: { lang: string; name: string }[];
  switchedTo: string;
  cueText: string;
}

/**
 * A page with both players loaded and `cuesOf(video, lang)`: resolves with the text of the cues
 * of the video's text track in `lang` once they include `expected` (a timeout fails the test) (waits on the list's addtrack and the
 * track's cuechange events, and the video's timeupdate).
 */
async function newPage() {
  const page = await browser.newPage();
  await page.addInitScript(() => {
    (window as unknown as { cuesOf: unknown }).cuesOf = (
      video: HTMLVideoElement,
      lang: string,
      expected: string,
    ): Promise<string> =>
      new Promise((resolve) => {
        const tryTrack = (t: TextTrack): void => {
          if (t.language !== lang) return;
          const done = (): boolean => {
            const cues = [...(t.cues ?? [])].map((c) => (c as VTTCue).text);
            // dash.js may show the previous track's cues in the new track until its own file lands
            if (cues.length === 0 || !cues.join(' ').includes(expected)) return false;
            resolve(cues.join(' '));
            return true;
          };
          // Playback (muted autoplay) makes the first cue active: cuechange fires.
          if (!done()) {
            t.addEventListener('cuechange', () => void done());
            video.addEventListener('timeupdate', () => void done()); // cues loaded while already active
          }
        };
        [...video.textTracks].forEach(tryTrack);
        video.textTracks.addEventListener('addtrack', (e) => tryTrack(e.track as TextTrack));
      });
  });
  await page.goto(pagesUrl);
  return page;
}

describe('subtitle tracks in Chromium', () => {
  it('hls.js lists English and Brazilian Portuguese, switches to pt-BR and gets its cues', async () => {
    const page = await newPage();
    const result = await page.evaluate(async (src: string): Promise<TrackResult> => {
      const { Hls: HlsCtor, cuesOf } = window as unknown as PageGlobals;
      const video = document.getElementById('v') as HTMLVideoElement;
      const hls = new HlsCtor({ subtitleDisplay: false });
      const tracks = await new Promise<{ lang: string; name: string }[]>((resolve, reject) => {
        hls.on(HlsCtor.Events.SUBTITLE_TRACKS_UPDATED, (_e: string, d: { subtitleTracks: HlsTrack[] }) =>
          resolve(d.subtitleTracks.map((t) => ({ lang: t.lang, name: t.name }))),
        );
        hls.on(
          HlsCtor.Events.ERROR,
          (_e: string, d: { fatal: boolean; details: string }) => d.fatal && reject(new Error(d.details)),
        );
        hls.loadSource(src);
        hls.attachMedia(video);
      });
      const switched = new Promise<string>((resolve) =>
        hls.on(HlsCtor.Events.SUBTITLE_TRACK_SWITCH, (_e: string, d: { id: number }) =>
          resolve(hls.subtitleTracks[d.id].lang),
        ),
      );
      hls.subtitleTrack = tracks.findIndex((t) => t.lang === 'pt-BR');
      void video.play().catch(() => undefined);
      const cue = cuesOf(video, 'pt-BR', 'Olá');
      const [switchedTo, cueText] = await Promise.all([switched, cue]);
      hls.destroy();
      return { listed: tracks, switchedTo, cueText };
    }, `${originUrl}/vod/movie/master.m3u8`);
    expect(result.listed).toEqual([
      { lang: 'en', name: 'English' },
      { lang: 'pt-BR', name: 'Brazilian Portuguese' },
    ]);
    expect(result.switchedTo).toBe('pt-BR');
    expect(result.cueText).toContain('Olá em português');
    await page.close();
  }, 60_000);

  it('dash.js lists both text tracks with lang and shows the pt-BR cues when pt-BR is chosen', async () => {
    const page = await newPage();
    const result = await page.evaluate(async (src: string): Promise<TrackResult> => {
      const { dashjs, cuesOf } = window as unknown as PageGlobals;
      const video = document.getElementById('v') as HTMLVideoElement;
      const player = dashjs.MediaPlayer().create();
      const initialized = new Promise<void>((resolve, reject) => {
        player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => resolve());
        player.on(dashjs.MediaPlayer.events.ERROR, (e) => reject(new Error(e.error?.message ?? 'dash.js error')));
      });
      // the pt-BR track is chosen by language before loading (dash.js's own initial-settings API);
      // switching with setTextTrack after start raced with dash.js adding its text tracks
      player.initialize(video, src, false);
      player.setInitialMediaSettingsFor('text', { lang: 'pt-BR' });
      await initialized;
      const tracks = player.getTracksFor('text');
      const current = player.getCurrentTrackFor('text');
      void video.play().catch(() => undefined);
      const cueText = await cuesOf(video, 'pt-BR', 'Olá');
      player.destroy();
      return {
        listed: tracks.map((t) => ({ lang: t.lang, name: t.labels[0]?.text ?? '' })),
        switchedTo: current?.lang ?? '',
        cueText,
      };
    }, `${originUrl}/vod/movie/manifest.mpd`);
    expect(result.listed).toEqual([
      { lang: 'en', name: 'English' },
      { lang: 'pt-BR', name: 'Brazilian Portuguese' },
    ]);
    expect(result.switchedTo).toBe('pt-BR');
    expect(result.cueText).toContain('Olá em português');
    await page.close();
  }, 60_000);
});
