/**
 * What the hls.js interstitial tests read from the page: each interstitial's start, its asset's
 * start and end, its end and the programme's resumption, with the programme's playhead at each.
 * `installInterstitialLog` goes into the page before it loads (`page.addInitScript`); the page's
 * code then calls `window.__logInterstitials(Hls, hls, video)` for the player it made.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- hls.js's events, read in the page untyped */

export interface InterstitialSeen {
  what: 'started' | 'asset' | 'asset ended' | 'ended' | 'resumed' | 'stop';
  id?: string;
  startTime?: number;
  resumeOffset?: number;
  asset?: string;
  /** The ad asset's playhead when it ended. */
  adTime?: number;
  /** The programme's playhead when it happened. */
  primaryTime: number;
}

/** The page's side: the log, and the programme's playhead (hls.js's primary, else the element's). */
export interface InterstitialLog {
  log: InterstitialSeen[];
  primary: () => number;
}

/** Runs in the page (serialised by Playwright: it may use nothing from this module). */
export function installInterstitialLog(): void {
  (window as any).__logInterstitials = (Hls: any, hls: any, video: HTMLVideoElement) => {
    const log: InterstitialSeen[] = [];
    const primary = () => Number(hls.interstitialsManager?.primary?.currentTime ?? video.currentTime);
    const E = Hls.Events;
    hls.on(E.INTERSTITIAL_STARTED, (_: unknown, d: any) =>
      log.push({
        what: 'started',
        id: d.event.identifier,
        startTime: d.event.startTime,
        resumeOffset: d.event.resumeOffset,
        primaryTime: primary(),
      }),
    );
    hls.on(E.INTERSTITIAL_ASSET_STARTED, (_: unknown, d: any) =>
      log.push({ what: 'asset', asset: String(d.asset.uri), primaryTime: primary() }),
    );
    hls.on(E.INTERSTITIAL_ASSET_ENDED, (_: unknown, d: any) =>
      log.push({ what: 'asset ended', adTime: Number(d.player.currentTime), primaryTime: primary() }),
    );
    hls.on(E.INTERSTITIAL_ENDED, () => log.push({ what: 'ended', primaryTime: primary() }));
    hls.on(E.INTERSTITIALS_PRIMARY_RESUMED, () => log.push({ what: 'resumed', primaryTime: primary() }));
    return { log, primary } satisfies InterstitialLog;
  };
}
