import { describe, expect, it } from 'vitest';
import { judgeFrameRate, snapRate } from '../../../packager/frame-rate.js';

/** Timestamps of frames at `fps`, `count` of them, starting at `from`. */
function run(fps: number, count: number, from = 0): number[] {
  return Array.from({ length: count }, (_, i) => from + i / fps);
}

/** Shuffled as B-frames reorder packets (presentation times out of decode order). */
function reordered(ts: number[]): number[] {
  const out = [...ts];
  for (let i = 1; i + 1 < out.length; i += 3) [out[i], out[i + 1]] = [out[i + 1], out[i]];
  return out;
}

describe('judgeFrameRate', () => {
  it('keeps the stated rate of a constant-rate source, as its exact ratio', () => {
    const ts = reordered(run(30000 / 1001, 300));
    expect(judgeFrameRate(ts, [30000, 1001])).toEqual({ frameRate: [30000, 1001] });
    expect(judgeFrameRate(run(25, 100), [25, 1])).toEqual({ frameRate: [25, 1] });
  });

  it('reads 29.97 through a millisecond time base (33 and 34 ms steps) as constant', () => {
    const ts = run(30000 / 1001, 300).map((t) => Math.round(t * 1000) / 1000);
    expect(judgeFrameRate(ts, undefined)).toEqual({ frameRate: [30000, 1001] });
  });

  it('keeps the frame rate of a field-coded interlaced stream whose packets are fields', () => {
    // 25i coded as fields: a packet every 20 ms, the container states 25 frames a second
    expect(judgeFrameRate(run(50, 200), [25, 1])).toEqual({ frameRate: [25, 1] });
  });

  it('encodes a variable-rate source at its full rate, not its average', () => {
    // 1 s at 30 fps, 1 s at 15, 2 s at 30: average 26.25 (what ffprobe states), full rate 30
    const ts = [...run(30, 30), ...run(15, 15, 1), ...run(30, 60, 2)];
    const verdict = judgeFrameRate(reordered(ts), [105, 4]);
    expect(verdict.frameRate).toEqual([30, 1]);
    expect(verdict.variable!.averageFps).toBeCloseTo(104 / (ts[ts.length - 1] - ts[0]), 6);
    expect(verdict.variable!.fullFps).toBeCloseTo(30, 6);
  });

  it('reads a phone clip with dropped frames (a Matroska copy states the average) as 30', () => {
    const ts = run(30, 600).filter((_, i) => i % 7 !== 3); // one frame in seven dropped
    const verdict = judgeFrameRate(ts, [180, 7]);
    expect(verdict.frameRate).toEqual([30, 1]);
    expect(verdict.variable!.averageFps).toBeLessThan(26);
  });

  it('caps a variable source at 60 frames a second', () => {
    const ts = [...run(120, 60), ...run(30, 60, 0.5)];
    expect(judgeFrameRate(ts, undefined).frameRate).toEqual([60, 1]);
  });

  it('falls back to the stated rate when too few timestamps say anything', () => {
    expect(judgeFrameRate([0, 0.04, 0.08], [25, 1])).toEqual({ frameRate: [25, 1] });
    expect(judgeFrameRate([], undefined)).toEqual({ frameRate: [30, 1] });
    expect(judgeFrameRate([0, Number.NaN, 0.1], undefined)).toEqual({ frameRate: [30, 1] });
  });
});

describe('snapRate', () => {
  it('snaps to the nearest standard rate within 2 %, else keeps the rate to the thousandth', () => {
    expect(snapRate(29.6)).toEqual([30000, 1001]);
    expect(snapRate(30.2)).toEqual([30, 1]);
    expect(snapRate(24.01)).toEqual([24, 1]);
    expect(snapRate(59.9)).toEqual([60000, 1001]);
    expect(snapRate(10)).toEqual([10, 1]);
    expect(snapRate(12.5)).toEqual([25, 2]);
  });
});
