/**
 * Plays a stream with our player in the browser rig's page until it ends, fails, or passes a
 * time; where it stopped, as the media element and the player's stats say. For the browser tests
 * that play other packagers' and ad inserters' streams to the end.
 */
import type { BrowserRig } from './browser-rig.js';

export interface PlayedState {
  pageErrors: string[];
  retries: number;
  currentTime: number;
  duration: number;
  /** The media element's buffered ranges, [start, end] each. */
  buffered: number[][];
  ended: boolean;
}

/** Plays `src` (a manifest URL) until the video ends, the page reports an error, or it passes `stopAtSec`. */
export async function playToEnd(rig: BrowserRig, src: string, stopAtSec = Infinity): Promise<PlayedState> {
  const page = await rig.browser.newPage();
  try {
    await page.goto(`${rig.pages.url}?src=${encodeURIComponent(src)}&engine=ours`);
    await page.waitForFunction(
      (stopAt) => {
        const v = document.getElementById('video') as HTMLVideoElement;
        const s = window.__streamedge.stats() as { pageErrors: string[] };
        return s.pageErrors.length > 0 || v.ended || v.currentTime > stopAt;
      },
      // (Infinity does not survive the trip to the page)
      Number.isFinite(stopAtSec) ? stopAtSec : Number.MAX_VALUE,
      { timeout: 60_000, polling: 100 },
    );
    return await page.evaluate(() => {
      const v = document.getElementById('video') as HTMLVideoElement;
      const s = window.__streamedge.stats() as { pageErrors: string[]; retries: number };
      const buffered: number[][] = [];
      for (let i = 0; i < v.buffered.length; i++) buffered.push([v.buffered.start(i), v.buffered.end(i)]);
      return {
        pageErrors: s.pageErrors,
        retries: s.retries,
        currentTime: v.currentTime,
        duration: v.duration,
        buffered,
        ended: v.ended,
      };
    });
  } finally {
    await page.close();
  }
}
