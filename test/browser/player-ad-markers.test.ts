/**
 * Our player in Debian's Chromium shows the ad breaks a live channel signals with SCTE 35: a
 * real origin (lavfi source encoded by ffmpeg, 1 s segments) with the ad-break API on, a break
 * cued while the player plays. On LL-HLS (EXT-X-DATERANGE) and LL-DASH (an SCTE 35 EventStream)
 * alike, the break is placed on the media timeline: the player says it is in the break only once
 * the playhead's PROGRAM-DATE-TIME has reached the break's start, a hidden `metadata` text track
 * ("ad breaks") holds a cue that is active then, and the break ends as long after its start as
 * the origin's return says.
 */
import type { AdBreakStat } from '../../player-demo/player/ad-cues.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { playbackStarted, startBrowserRig, type BrowserRig } from '../support/browser-rig.js';
import { writeTinyLadder } from '../integration/live/live-helpers.js';

const CREDENTIAL = 'cue-credential-for-browser-tests-42';
let rig: BrowserRig;
let originUrl = '';

beforeAll(async () => {
  rig = await startBrowserRig('se-player-ads-');
  const root = join(rig.dir, 'live-ads');
  mkdirSync(root);
  originUrl = await rig.origin({
    root,
    live: [
      {
        id: 'ch',
        source: 'lavfi:testsrc2=size=320x180:rate=30',
        segmentDuration: 1,
        partDuration: 0.5,
        dvrWindow: 30,
        ladder: writeTinyLadder(rig.dir),
      },
    ],
    cueCredential: CREDENTIAL,
  });
}, 180_000);

afterAll(async () => {
  await rig?.close();
});

interface Seen {
  adBreak: AdBreakStat;
  currentTime: number;
  /** The playhead's PDT (epoch ms), from the player's latency at the same moment. */
  playheadPdtMs: number;
  activeCues: string[];
  pageErrors: string[];
}

/** Waits until the player reports break `id` as `playing` (or not), and what it showed then. */
function whenBreak(page: Page, id: string, playing: boolean): Promise<Seen> {
  return page
    .waitForFunction(
      ([want, on]) => {
        const s = window.__streamedge.stats() as {
          adBreaks?: AdBreakStat[];
          currentTime: number;
          latencySec: number | null;
          pageErrors: string[];
        };
        const b = s.adBreaks?.find((x) => x.id === want);
        if (!b || b.playing !== on || s.latencySec === null || (!on && !b.returned)) return false;
        const track = [...document.querySelector('video')!.textTracks].find((t) => t.label === 'ad breaks');
        return {
          adBreak: b,
          currentTime: s.currentTime,
          playheadPdtMs: Date.now() - s.latencySec * 1000,
          activeCues: [...(track?.activeCues ?? [])].map((c) => c.id),
          pageErrors: s.pageErrors,
        };
      },
      [id, playing] as const,
      { timeout: 45_000, polling: 50 },
    )
    .then((h) => h.jsonValue() as Promise<Seen>);
}

async function cue(durationSec: number): Promise<{ eventId: number; startDate: string }> {
  const res = await fetch(`${originUrl}/_live/ch/ad-breaks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CREDENTIAL}`, 'content-type': 'application/json' },
    body: JSON.stringify({ duration: durationSec }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { eventId: number; startDate: string };
}

describe('our player shows live ad breaks (SCTE 35)', () => {
  for (const [name, manifest] of [
    ['LL-HLS (EXT-X-DATERANGE)', 'master.m3u8'],
    ['LL-DASH (EventStream)', 'manifest.mpd'],
  ] as const) {
    it(`${name}: the break is entered when the playhead reaches its start, as a metadata cue, and left after its duration`, async () => {
      const page = await rig.browser.newPage();
      try {
        await page.goto(`${rig.pages.url}?src=${encodeURIComponent(`${originUrl}/live/ch/${manifest}`)}&engine=ours`);
        await playbackStarted(page);
        const b = await cue(3);
        // one id on both: the DATERANGE ID, and on DASH the splice_event_id in the Events' splice_insert
        const id = `splice-${b.eventId}`;
        const start = Date.parse(b.startDate);
        const entered = await whenBreak(page, id, true);
        expect(entered.pageErrors).toEqual([]);
        // not before the playhead reached the break's start (a tick of 250 ms may pass after it)
        expect(entered.playheadPdtMs).toBeGreaterThanOrEqual(start - 100);
        expect(entered.playheadPdtMs).toBeLessThan(start + 1500);
        expect(entered.currentTime).toBeGreaterThanOrEqual(entered.adBreak.startSec!);
        expect(entered.activeCues).toContain(id);
        // the page says so too
        await page.waitForFunction(
          (want) => document.getElementById('c-adbreak')?.textContent?.startsWith(`${want}: on`),
          id,
          {
            timeout: 5_000,
            polling: 50,
          },
        );
        const left = await whenBreak(page, id, false);
        expect(left.adBreak.returned).toBe(true);
        // 3 s planned on 1 s segments: the return 3 s after the start
        expect(left.adBreak.endSec! - left.adBreak.startSec!).toBeCloseTo(3, 2);
        expect(left.currentTime).toBeGreaterThanOrEqual(left.adBreak.endSec!);
        expect(left.activeCues).not.toContain(id);
      } finally {
        await page.close();
      }
    }, 120_000);
  }
});
