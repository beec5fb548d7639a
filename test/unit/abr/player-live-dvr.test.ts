/**
 * When our browser player takes a live seek as DVR (player-demo/player/live-dvr.ts). The case CI
 * found: after a pause, LL-DASH's edge estimate lagged the real edge, a seek 11.4 s behind it read
 * as 2 s behind, counted as not DVR, and the far-behind check (which measures latency) resynced
 * the fetches to the edge at once: the viewer's seek was lost.
 */
import { describe, expect, it } from 'vitest';
import { isDvrSeek, secondsBehindLive } from '../../../player-demo/player/live-dvr.js';

describe('a live seek: DVR or near the edge', () => {
  const resyncLimit = 5.15; // LL: the target 2.15 + 3

  it('an edge estimate that lags (2 s behind it) but 11.4 s of latency: DVR', () => {
    expect(secondsBehindLive(2, 11.4)).toBe(11.4);
    expect(isDvrSeek(secondsBehindLive(2, 11.4), resyncLimit)).toBe(true);
  });

  it('far behind the edge as estimated, whatever the latency reads: DVR', () => {
    expect(isDvrSeek(secondsBehindLive(20, 3), resyncLimit)).toBe(true);
  });

  it('near the edge by both measures: not DVR', () => {
    expect(isDvrSeek(secondsBehindLive(2.5, 3.1), resyncLimit)).toBe(false);
  });

  it('one measure unknown (no estimate yet, or no PDT mapped there): the other decides', () => {
    expect(isDvrSeek(secondsBehindLive(null, 11.4), resyncLimit)).toBe(true);
    expect(isDvrSeek(secondsBehindLive(3, null), resyncLimit)).toBe(false);
  });

  it('neither known: not DVR (nothing says the seek left the edge)', () => {
    expect(secondsBehindLive(null, null)).toBeNull();
    expect(isDvrSeek(null, resyncLimit)).toBe(false);
  });
});
