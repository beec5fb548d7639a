/**
 * Where our browser player jumps when playback cannot go on (player-demo/player/gap-skip.ts). The
 * case that kept the demo's live player frozen for good: an encoder restart left a hole, the
 * element stalled 0.09 s short of the end of the old run's media while the new run was buffered
 * beyond it, and the player only jumped with nothing at all buffered ahead.
 */
import { describe, expect, it } from 'vitest';
import { gapSkipTarget } from '../../../player-demo/player/gap-skip.js';

describe('gapSkipTarget', () => {
  const oldRun = { start: 10, end: 19.17 };
  const newRun = { start: 31, end: 35 };

  it('stalled just short of the end of a range, with media beyond a hole: jumps, live at the target behind its end', () => {
    expect(gapSkipTarget([oldRun, newRun], 19.08, { stalled: true, liveTargetSec: 2 })).toBe(33);
  });

  it('VOD: lands at the start of the media beyond the hole', () => {
    expect(gapSkipTarget([oldRun, newRun], 19.08, { stalled: true })).toBeCloseTo(31.05, 9);
  });

  it('playing with a little buffered ahead (not stalled): stays', () => {
    expect(gapSkipTarget([oldRun, newRun], 19.08, { stalled: false, liveTargetSec: 2 })).toBeNull();
  });

  it('stalled with more than a moment buffered ahead (waiting on decode, not on a hole): stays', () => {
    expect(gapSkipTarget([oldRun, newRun], 17, { stalled: true, liveTargetSec: 2 })).toBeNull();
  });

  it('stalled at the end with nothing beyond: stays (the media has not come yet)', () => {
    expect(gapSkipTarget([oldRun], 19.08, { stalled: true, liveTargetSec: 2 })).toBeNull();
  });

  it('before any buffered media (a resync): jumps, as before', () => {
    expect(gapSkipTarget([newRun], 20, { stalled: false, liveTargetSec: 2 })).toBe(33);
  });

  it('seeking a little before the only range (a live join whose media start moved on): jumps; playing there: stays', () => {
    const range = { start: 8.54, end: 69.4 };
    expect(gapSkipTarget([range], 8.446, { stalled: false, seeking: true, liveTargetSec: 2 })).toBeCloseTo(67.4, 9);
    expect(gapSkipTarget([range], 8.446, { stalled: false, seeking: true })).toBeCloseTo(8.59, 9);
    expect(gapSkipTarget([range], 8.446, { stalled: false, liveTargetSec: 2 })).toBeNull();
    expect(gapSkipTarget([range], 8.6, { stalled: false, seeking: true, liveTargetSec: 2 })).toBeNull();
  });

  it('a sliver beyond the hole (0.2 s or less) is not a place to land', () => {
    expect(gapSkipTarget([oldRun, { start: 25, end: 25.2 }], 19.08, { stalled: true, liveTargetSec: 2 })).toBeNull();
  });
});
