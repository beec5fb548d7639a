/**
 * What the Chromium tests share: a temporary folder, the player built, the demo page server,
 * Debian's Chromium, and the servers a test starts on loopback (origins, edges with the suite's
 * small stores). `close()` stops them all, the last started first, and removes the folder.
 * Packaging differs from test to test and stays in each; `packageSmall` is the common case.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../bench/chromium-launch.js';
import { packageVod, type PackageVodOptions } from '../../packager/vod-job.js';
import { createOrigin, type ChannelConfig, type OriginOptions } from '../../packager/origin/server.js';
import { createEdge, type Edge, type EdgeServerOptions } from '../../edge/server.js';
import { buildPlayer } from '../../player-demo/build.js';
import { startPageServer, type PageServer } from '../../player-demo/page-server.js';

export interface BrowserRig {
  dir: string;
  browser: Browser;
  /** The demo page, with no streams listed: a test opens it with `?src=…&engine=…`. */
  pages: PageServer;
  /** A silent origin (no process metrics) on a free loopback port; its URL. */
  origin(opts: OriginOptions): Promise<string>;
  /**
   * An origin with one live channel `ch` (its own root under dir): ffmpeg's lavfi test card at
   * 320x180, 2 s segments of 0.5 s parts, a 30 s window; `channel` adds to it (the ladder, say),
   * `more` to the origin (content keys, say).
   */
  liveOrigin(channel: Partial<ChannelConfig>, more?: Partial<OriginOptions>): Promise<string>;
  /** A silent edge in front of `upstream`, its store in `<dir>/<name>` (64 MiB, 16 MiB of RAM). */
  edge(upstream: string, name: string, extra?: Partial<EdgeServerOptions>): Promise<{ url: string; edge: Edge }>;
  close(): Promise<void>;
}

/** Packages `input` as `assetId` under `<dir>/root` with the small two-rung ladder and 2 s segments. */
export async function packageSmall(
  dir: string,
  input: string,
  assetId: string,
  extra: Partial<PackageVodOptions> = {},
): Promise<void> {
  await packageVod({ input, outDir: join(dir, 'root'), assetId, ladder: 'small', segmentDuration: 2, ...extra });
}

/** Builds the player, starts the page server and Chromium; `prefix` names the temporary folder. */
export async function startBrowserRig(prefix: string): Promise<BrowserRig> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const closers: (() => Promise<unknown> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  let liveOrigins = 0;
  try {
    await buildPlayer();
    const pages = await startPageServer({ port: 0, streams: [] });
    closers.push(() => pages.close());
    const browser = await launchChromium();
    closers.push(() => browser.close());
    const origin = async (opts: OriginOptions): Promise<string> => {
      const o = await createOrigin({ logger: false, processMetrics: false, ...opts });
      closers.push(() => o.close());
      return o.listen(0, '127.0.0.1');
    };
    return {
      dir,
      browser,
      pages,
      origin,
      async liveOrigin(channel, more = {}) {
        const root = join(dir, `live-${++liveOrigins}`);
        mkdirSync(root);
        const ch = { id: 'ch', source: 'lavfi:testsrc2=size=320x180:rate=30', segmentDuration: 2, partDuration: 0.5 };
        return origin({ ...more, root, live: [{ ...ch, dvrWindow: 30, ...channel }] });
      },
      async edge(upstream, name, extra = {}) {
        const edge = createEdge({
          upstream,
          name,
          logLevel: 'silent',
          store: { dir: join(dir, name), capacityBytes: 64 * 1024 * 1024, ramBytes: 16 * 1024 * 1024 },
          ...extra,
        });
        closers.push(() => edge.close());
        return { url: await edge.listen(0, '127.0.0.1'), edge };
      },
      close: () => closeAll(closers),
    };
  } catch (e) {
    await closeAll(closers);
    throw e;
  }
}

async function closeAll(closers: (() => Promise<unknown> | void)[]): Promise<void> {
  while (closers.length) await closers.pop()!();
}

/** Waits until the page's player has started and played half a second (up to a minute). */
export async function playbackStarted(page: Page): Promise<void> {
  await page.waitForFunction(
    () => {
      const s = window.__streamedge.stats() as { startupMs: number | null; currentTime: number };
      return s.startupMs !== null && s.currentTime > 0.5;
    },
    undefined,
    { timeout: 60_000, polling: 100 },
  );
}

/**
 * What the element and the page's player saw, as one line for a failure's message: position,
 * readiness, buffered and seekable ranges, each SourceBuffer's ranges, the player's latest notes
 * and errors, and its newest requests.
 */
export function whatThePageSaw(page: Page): Promise<string> {
  return page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const s = window.__streamedge.stats() as {
      errors?: string[];
      latencyNotes?: string[];
      startupMs?: number | null;
      requests?: { url: string; status: number }[];
      protection?: unknown;
      trackRanges?: unknown;
    };
    const ranges = (r: TimeRanges) => Array.from({ length: r.length }, (_, i) => [r.start(i), r.end(i)]);
    return JSON.stringify({
      currentTime: v.currentTime,
      readyState: v.readyState,
      paused: v.paused,
      seeking: v.seeking,
      buffered: ranges(v.buffered),
      seekable: ranges(v.seekable),
      mediaError: v.error?.message ?? v.error?.code ?? null,
      trackRanges: s.trackRanges,
      startupMs: s.startupMs,
      errors: s.errors,
      latencyNotes: s.latencyNotes?.slice(-8),
      protection: s.protection,
      // (the page lists its requests newest first)
      newestRequests: s.requests?.slice(0, 8).map((r) => `${r.status} ${r.url}`),
    });
  });
}

/** A text track as the demo page's `window.__streamedge.tracks()` lists it. */
export interface DemoTextTrack {
  id: string;
  language: string;
  name: string;
  active: boolean;
}

/** The demo page's text-track calls (`window.__streamedge`), as the caption tests use them. */
export interface DemoTextPage {
  __streamedge: {
    tracks(): { text: DemoTextTrack[] };
    setTextTrack(id: string | null): void;
    activeCues(): string[];
  };
}
