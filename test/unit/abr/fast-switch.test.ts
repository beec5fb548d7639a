import { describe, expect, it } from 'vitest';
import { AbrController } from '../../../src/abr/abr-controller.js';
import { DEFAULT_ABR_CONFIG } from '../../../src/abr/config.js';
import {
  chooseReplacement,
  replacementSeconds,
  replacementStillWorth,
  type BufferedChunk,
  type FastSwitchQuery,
} from '../../../src/abr/fast-switch.js';
import { simulateVod, type CapacityTrace, type VodSimResult } from './trace-simulator.js';

const opts = { minLeadSec: 2, minBufferSec: 4, safetyFactor: 0.8 };

/** 2 s chunks from `from`, one per level given, at these bitrates. */
function chunks(from: number, bitrates: number[]): BufferedChunk[] {
  return bitrates.map((bitrate, i) => ({ startSec: from + 2 * i, endSec: from + 2 * i + 2, bitrate }));
}

function query(over: Partial<FastSwitchQuery>): FastSwitchQuery {
  return {
    playheadSec: 10.5,
    bufferAheadSec: 11.5, // chunks below run 10–22
    chunks: chunks(10, [2.2e6, 2.2e6, 2.2e6, 2.2e6, 3.19e6, 3.19e6]),
    targetBitrate: 3.19e6,
    estimateBps: 6e6,
    ttfbMs: 20,
    ...over,
  };
}

describe('fast switching rule (chooseReplacement)', () => {
  it('names the earliest lower-rung chunk that starts beyond the lead plus the time its replacement takes', () => {
    // playing chunk 0 (10–12); chunk 1 starts 1.5 s ahead: inside the 2 s lead; chunk 2 starts
    // 3.5 s ahead: lead 2 + 1.35 s for 2 s of 3.19 Mbit/s at 6 × 0.8 Mbit/s fits
    expect(replacementSeconds(3.19e6, 2, 6e6, 20, 0.8)).toBeCloseTo(1.35, 2);
    expect(chooseReplacement(query({}), opts)).toBe(2);
  });

  it('never names the chunk playing or one starting within the lead', () => {
    const q = query({ chunks: chunks(10, [2.2e6, 2.2e6, 3.19e6, 3.19e6, 3.19e6, 3.19e6]) });
    expect(chooseReplacement(q, opts)).toBe(-1);
    // with no lead at all the next chunk would be named (so the lead is what keeps it)
    expect(chooseReplacement(q, { ...opts, minLeadSec: 0 })).toBe(1);
  });

  it('skips chunks already at the new rung or above', () => {
    const q = query({ chunks: chunks(10, [2.2e6, 2.2e6, 3.19e6, 3.19e6, 0.94e6, 3.19e6]) });
    expect(chooseReplacement(q, opts)).toBe(4);
  });

  it('replaces nothing when the link does not sustain the new rung with the margin', () => {
    // 3.9 × 0.8 = 3.12 < 3.19 (the throughput rule's 0.9 would still keep that rung)
    expect(chooseReplacement(query({ estimateBps: 3.9e6 }), opts)).toBe(-1);
    expect(chooseReplacement(query({ estimateBps: 4.1e6 }), opts)).toBeGreaterThanOrEqual(0);
  });

  it('replaces nothing when the download would leave less than the floor buffered', () => {
    // 5 s buffered − 1.35 s download < 4 s floor
    const q = query({ bufferAheadSec: 5, chunks: chunks(10, [2.2e6, 2.2e6, 2.2e6]) });
    expect(chooseReplacement(q, opts)).toBe(-1);
    // the same chunks with 5.5 s buffered (to 16 s): 4.15 s would remain, chunk 2 is named
    expect(chooseReplacement({ ...q, bufferAheadSec: 5.5 }, opts)).toBe(2);
    // and with a 4.5 s floor, not
    expect(chooseReplacement({ ...q, bufferAheadSec: 5.5 }, { ...opts, minBufferSec: 4.5 })).toBe(-1);
  });

  it('does not judge chunks past the contiguous buffer (after a hole)', () => {
    const q = query({ bufferAheadSec: 3.5, chunks: chunks(10, [3.19e6, 3.19e6, 2.2e6, 2.2e6]) });
    expect(chooseReplacement(q, { ...opts, minBufferSec: 0 })).toBe(-1);
  });

  it('gives a replacement under way up once the playhead nears its chunk or the buffer runs thin', () => {
    const o = { minLeadSec: 2, minBufferSec: 4 };
    expect(replacementStillWorth({ playheadSec: 10, bufferAheadSec: 8, chunkStartSec: 14 }, o)).toBe(true);
    expect(replacementStillWorth({ playheadSec: 13.2, bufferAheadSec: 8, chunkStartSec: 14 }, o)).toBe(false);
    expect(replacementStillWorth({ playheadSec: 10, bufferAheadSec: 1.9, chunkStartSec: 14 }, o)).toBe(false);
  });
});

describe('AbrController.replacementFor', () => {
  const levels = [0.5e6, 0.94e6, 2.2e6, 3.19e6].map((bitrate, index) => ({ index, bitrate }));
  const buffered = [10, 12, 14, 16, 18].map((s) => ({ startSec: s, endSec: s + 2, level: 2 }));
  const fast = (abr: AbrController) => {
    for (let i = 0; i < 4; i++)
      abr.onDownloadComplete({ bytes: 800_000, durationMs: 1000, ttfbMs: 20, level: 3, mediaDurationSec: 2 });
    return abr;
  };

  it('uses the estimate and the levels: a fast link names a 540p chunk for 720p, a slow one none', () => {
    const abr = fast(new AbrController(levels, {}, 'vod'));
    expect(abr.replacementFor({ playheadSec: 10.5, bufferSec: 9.5, chunks: buffered, level: 3 })).toBe(2);
    const slow = new AbrController(levels, {}, 'vod');
    for (let i = 0; i < 4; i++)
      slow.onDownloadComplete({ bytes: 800_000, durationMs: 2000, ttfbMs: 20, level: 3, mediaDurationSec: 2 });
    expect(slow.replacementFor({ playheadSec: 10.5, bufferSec: 9.5, chunks: buffered, level: 3 })).toBe(-1);
  });

  it('never replaces on live, nor when switched off by its config', () => {
    const live = fast(new AbrController(levels, {}, 'live'));
    expect(live.replacementFor({ playheadSec: 10.5, bufferSec: 9.5, chunks: buffered, level: 3 })).toBe(-1);
    const off = fast(new AbrController(levels, { fastSwitchSafetyFactor: 0 }, 'vod'));
    expect(off.replacementFor({ playheadSec: 10.5, bufferSec: 9.5, chunks: buffered, level: 3 })).toBe(-1);
    expect(DEFAULT_ABR_CONFIG.fastSwitchSafetyFactor).toBeGreaterThan(0);
  });
});

describe('fast switching in the trace simulator (the demo ladder, 2 s segments, the player’s 12 s buffer)', () => {
  const levels = [0.5e6, 0.94e6, 2.2e6, 3.19e6].map((bitrate, index) => ({ index, bitrate }));
  const run = (capacity: CapacityTrace, fastSwitch: boolean): VodSimResult =>
    simulateVod({
      levels,
      capacity,
      segments: 25,
      segmentSec: 2,
      maxBufferSec: 14,
      rttMs: 20,
      fastSwitch,
      // as the player configures it for vodBufferAhead 12, with a browser link estimate at start
      abr: new AbrController(
        levels,
        { bolaTargetBufferSec: 10, bolaMinBufferSec: 10 / 3, defaultEstimateBps: 5e6, defaultEstimateWeightSec: 3 },
        'vod',
      ),
    });
  const onScreenMbps = (r: VodSimResult, fromSec: number, toSec: number) => {
    const w = r.onScreen.filter((x) => x.t >= fromSec && x.t < toSec);
    return w.reduce((s, x) => s + levels[x.level].bitrate, 0) / w.length / 1e6;
  };

  it('after a dip and recovery, the bitrate on screen rises: buffered lower-rung chunks are replaced, no stall', () => {
    const dip: CapacityTrace = (t) => (t >= 10 && t < 16 ? 1.5e6 : 6e6);
    const without = run(dip, false);
    const withFs = run(dip, true);
    expect(without.replacements).toEqual([]);
    expect(withFs.replacements.length).toBeGreaterThan(0);
    expect(withFs.replacements.every((r) => r.to > r.from)).toBe(true);
    // the forward fetches are the same rungs: the difference is what reaches the screen
    expect(withFs.log.map((l) => l.level)).toContain(2);
    expect(onScreenMbps(withFs, 15, 35)).toBeGreaterThan(onScreenMbps(without, 15, 35) + 0.1);
    expect(withFs.stalls).toBe(0);
    expect(without.stalls).toBe(0);
  });

  it('on the bench’s spike trace (1 s dips to 0.6 every 5 s) the first 20 s show more of the top rung', () => {
    const spike: CapacityTrace = (t) => (t >= 5 && t % 5 < 1 ? 0.6e6 : 5.5e6);
    const without = run(spike, false);
    const withFs = run(spike, true);
    expect(onScreenMbps(withFs, 0, 20)).toBeGreaterThan(onScreenMbps(without, 0, 20) + 0.2);
    expect(withFs.stalls).toBe(0);
  });
});
