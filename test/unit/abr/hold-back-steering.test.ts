/**
 * The LL-HLS latency steering of our player (holdBackSteering + catchUpPlaybackRate, src/abr/
 * low-latency.ts): it aims just above PART-HOLD-BACK, measured from the playlist's end, holds it
 * against a playback that runs slow (a loaded renderer), and never settles below the hold-back.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ABR_CONFIG } from '../../../src/abr/config.js';
import { catchUpPlaybackRate, holdBackSteering } from '../../../src/abr/low-latency.js';

const HOLD = 2;
/** Chunks reach the buffer this long after the edge moves past them (request, transfer, append). */
const ARRIVAL_LAG_SEC = 0.7;

/**
 * Distance behind the edge over `seconds` of play, ticking every 250 ms as the player does: the
 * edge advances 1 s/s, the playhead `rate × speed` (speed < 1: the renderer falls behind).
 */
function steer(start: number, speed: number, seconds: number, gain?: number): number[] {
  const o = { ...DEFAULT_ABR_CONFIG, ...holdBackSteering(HOLD), ...(gain !== undefined ? { catchUpGain: gain } : {}) };
  let behind = start;
  const out: number[] = [];
  for (let t = 0; t < seconds; t += 0.25) {
    const rate = catchUpPlaybackRate({ latencySec: behind, bufferSec: behind - ARRIVAL_LAG_SEC }, o);
    behind += 0.25 * (1 - rate * speed);
    out.push(behind);
  }
  return out;
}

describe('hold-back steering (LL-HLS)', () => {
  it('aims just above the hold-back with a band whose floor is above it', () => {
    const s = holdBackSteering(HOLD);
    expect(s.targetLatencySec).toBeGreaterThan(HOLD);
    expect(s.targetLatencySec - s.latencyToleranceSec).toBeGreaterThan(HOLD);
    expect(s.targetLatencySec + s.latencyToleranceSec).toBeLessThanOrEqual(HOLD + 0.3);
  });

  it('holds the target against a playback running 2 % slow; at the default gain it settles 0.2 s higher', () => {
    const held = steer(holdBackSteering(HOLD).targetLatencySec, 0.98, 60);
    expect(held.at(-1)!).toBeLessThan(HOLD + 0.35);
    expect(Math.min(...held)).toBeGreaterThanOrEqual(HOLD);
    const weak = steer(holdBackSteering(HOLD).targetLatencySec, 0.98, 60, DEFAULT_ABR_CONFIG.catchUpGain);
    expect(weak.at(-1)!).toBeGreaterThan(HOLD + 0.4);
  });

  it('a late join converges to the band from above without dropping below the hold-back', () => {
    const path = steer(HOLD + 1.2, 1, 60);
    expect(path.at(-1)!).toBeLessThan(HOLD + 0.3);
    expect(Math.min(...path)).toBeGreaterThan(HOLD);
  });

  it('a join too close to the edge slows down back above the hold-back', () => {
    const path = steer(HOLD - 0.4, 1, 30);
    expect(path.at(-1)!).toBeGreaterThanOrEqual(HOLD);
    expect(path.at(-1)!).toBeLessThan(HOLD + 0.3);
  });
});

describe('hold-back steering: rate bound', () => {
  it('holds a playback running 5 % slow within 0.35 s of the hold-back; a ± 0.05 bound cannot hold it at all', () => {
    expect(steer(HOLD + 0.15, 0.95, 120).at(-1)!).toBeLessThan(HOLD + 0.35);
    const narrow = { ...DEFAULT_ABR_CONFIG, ...holdBackSteering(HOLD), maxPlaybackRateDelta: 0.05 };
    let behind = HOLD + 0.15;
    for (let t = 0; t < 120; t += 0.25) {
      const rate = catchUpPlaybackRate({ latencySec: behind, bufferSec: behind - ARRIVAL_LAG_SEC }, narrow);
      behind += 0.25 * (1 - rate * 0.95);
    }
    expect(behind).toBeGreaterThan(HOLD + 0.5); // and still drifting: 1.05 × 0.95 < 1
  });

  it('never leaves 1 ± 0.1', () => {
    const o = { ...DEFAULT_ABR_CONFIG, ...holdBackSteering(HOLD) };
    for (const latencySec of [0, 1, 1.9, 2.1, 2.5, 4, 10]) {
      const r = catchUpPlaybackRate({ latencySec, bufferSec: 2 }, o);
      expect(r).toBeGreaterThanOrEqual(0.9);
      expect(r).toBeLessThanOrEqual(1.1);
    }
  });
});
