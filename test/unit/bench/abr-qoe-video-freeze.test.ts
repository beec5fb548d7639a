/**
 * The ABR bench counts a picture that freezes while the clock runs on: when video alone runs out,
 * Chromium plays on with the audio for up to 3 s and fires no `waiting`, so the page's stall
 * counter and the playhead both miss it. Only the video frame counter stands still.
 */
import { describe, expect, it } from 'vitest';
import { vodQoe } from '../../../bench/abr-qoe/qoe-metrics.js';
import type { PresentationMap } from '../../../bench/abr-qoe/playlist-map.js';
import type { RunSample, SessionRecord } from '../../../bench/abr-qoe/session-run.js';

const map: PresentationMap = {
  variants: [
    { index: 0, bandwidth: 3_000_000, height: 720, playlistUrl: 'http://h/720p/index.m3u8', dir: 'http://h/720p/' },
    { index: 1, bandwidth: 1_000_000, height: 360, playlistUrl: 'http://h/360p/index.m3u8', dir: 'http://h/360p/' },
  ],
  audioDirs: [],
  segments: [{ start: 0, duration: 20 }] as PresentationMap['segments'],
  segmentByUrl: new Map(),
};

/** A sample every 250 ms from 1 s (startup at 1 s): the playhead moves throughout; `frames(i)` is the frame counter. */
function session(height: (i: number) => number, frames: (i: number) => number): SessionRecord {
  const samples: RunSample[] = [];
  for (let i = 0; i <= 40; i++) {
    const t = 1 + i * 0.25;
    samples.push({
      tSec: t,
      limitMbps: 5,
      perfNow: t * 1000,
      dateNow: t * 1000,
      currentTime: i * 0.25,
      paused: false,
      ended: false,
      readyState: 4,
      videoTimestampOffset: 0,
      videoHeight: height(i),
      droppedFrames: 0,
      totalFrames: frames(i),
      stats: { startupMs: 1000, stalls: 0, stallMs: 0 },
    });
  }
  return {
    engine: 'ours',
    url: 'http://h/master.m3u8',
    trace: { name: 't', about: '', steps: [{ atSec: 0, mbps: 5 }] },
    loadPerf: 0,
    samples,
    fetches: [],
    consoleErrors: [],
    loadAvg1: 0,
    failedResponses: [],
  };
}

describe('ABR bench: a frozen picture', () => {
  it('counts the time the frame counter stood still while the playhead moved, and keeps it out of the bitrate on screen', () => {
    // 720p throughout; frames stop coming between samples 20 and 28 (2 s), the clock runs on
    const frozen = vodQoe(
      session(
        () => 720,
        (i) => 7 * Math.min(i, 20) + 7 * Math.max(0, i - 28),
      ),
      map,
    );
    expect(frozen.stalls).toBe(0);
    expect(frozen.frozenMs).toBe(0);
    expect(frozen.videoFreezeMs).toBe(2000);
    // 360p while frozen (the height the element reports) does not count as 360p on screen
    const mixed = vodQoe(
      session(
        (i) => (i > 20 && i <= 28 ? 360 : 720),
        (i) => 7 * Math.min(i, 20) + 7 * Math.max(0, i - 28),
      ),
      map,
    );
    expect(mixed.displayedAvgBitrateBps).toBe(3_000_000);
    const smooth = vodQoe(
      session(
        () => 720,
        (i) => 7 * i,
      ),
      map,
    );
    expect(smooth.videoFreezeMs).toBe(0);
  });
});
