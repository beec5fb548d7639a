import { describe, expect, it } from 'vitest';
import { AbrController, type AbrConfig, type DownloadProgress } from '../../../src/abr/abr-controller.js';
import { seeded, simulateLowLatency, simulateVod, switchesFrom } from './trace-simulator.js';
import { DEFAULT_ABR_CONFIG } from '../../../src/abr/config.js';

// deliberately not in index order, to prove the controller maps by Level.index
const levels = [
  { index: 4, bitrate: 6e6, height: 1080 },
  { index: 0, bitrate: 400e3, height: 234 },
  { index: 2, bitrate: 2e6, height: 540 },
  { index: 1, bitrate: 1e6, height: 360 },
  { index: 3, bitrate: 3.5e6, height: 720 },
];
const rnd = seeded(7);
const noise = Array.from({ length: 20_000 }, () => rnd());
/** ±20 % jitter every half second around a mean. */
const jittery = (mean: number) => (t: number) => mean * (0.8 + 0.4 * noise[Math.floor(t * 2)]);

/**
 * A progress event for the 3.5 Mbit/s level (index 3, 4 s segments) arriving at about 4 Mbit/s,
 * judged 2.1 s into the download (past half the segment's duration, when the emergency rule may
 * judge it), with 0.6 s of buffer: it cannot finish in time.
 */
function slowProgress(over: Partial<DownloadProgress> = {}): DownloadProgress {
  return {
    bytesLoaded: 1_000_000,
    elapsedMs: 2100,
    ttfbMs: 100,
    level: 3,
    mediaDurationSec: 4,
    bufferSec: 0.6,
    ...over,
  };
}

/** The ABR bench's ladder (bench/results/abr-qoe.json `settings.ladder`), top rung first. */
const benchLadder = [
  { index: 0, bitrate: 3_248_881, height: 720 },
  { index: 1, bitrate: 2_259_521, height: 540 },
  { index: 2, bitrate: 990_989, height: 360 },
  { index: 3, bitrate: 556_113, height: 240 },
];

/** A VOD controller that has made its start-up choice with `bufferSec` buffered. */
function startedVod(bufferSec: number, config: Partial<AbrConfig> = {}): AbrController {
  const abr = new AbrController(levels, config);
  abr.nextLevel({ bufferSec, currentLevel: -1 });
  return abr;
}

describe('AbrController on VOD traces', () => {
  it('a steady link converges to the highest sustainable level and stays there', () => {
    const r = simulateVod({ levels, capacity: () => 5e6, segments: 60 });
    expect(r.stalls).toBe(0);
    expect(r.log.at(-1)!.level).toBe(3); // 3.5 Mbit/s on a 5 Mbit/s link
    const converged = r.log.findIndex((s) => s.level === 3);
    expect(converged).toBeGreaterThan(0);
    expect(converged).toBeLessThan(15);
    expect(switchesFrom(r.log, converged)).toBe(0);
  });

  it('a link between two far-apart rungs is used by long runs on the upper one that a full buffer pays for', () => {
    // the ABR bench's ladder (360p 0.99, 540p 2.26 Mbit/s) over a steady 2 Mbit/s link, 3 minutes
    const run = (config: Partial<AbrConfig>) =>
      simulateVod({
        levels: benchLadder,
        capacity: () => 2e6,
        segments: 90,
        segmentSec: 2,
        maxBufferSec: 30,
        abr: new AbrController(benchLadder, config, 'vod'),
      });
    const meanBitrate = (r: ReturnType<typeof simulateVod>) =>
      r.log.reduce((a, s) => a + benchLadder[s.level].bitrate, 0) / r.log.length;
    const funded = run({});
    const sitting = run({ fundedClimbMinRunSec: 0 }); // BOLA-O alone: never past what the link sustains
    expect(sitting.log.slice(10).every((s) => s.level === 2)).toBe(true); // 360p for good
    expect(funded.stalls).toBe(0);
    expect(meanBitrate(funded)).toBeGreaterThan(1.5 * meanBitrate(sitting));
    expect(funded.log.filter((s) => s.level === 1).length).toBeGreaterThan(40); // 540p, most of the time
    // long runs, not an oscillation: each stretch on 540p is at least 20 chunks (40 s)
    const runs: number[] = [];
    funded.log.forEach((s, i) => {
      if (s.level !== 1) return;
      if (i > 0 && funded.log[i - 1].level === 1) runs[runs.length - 1]++;
      else runs.push(1);
    });
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.slice(0, -1).every((n) => n >= 20)).toBe(true); // the last one may end with the media
    expect(switchesFrom(funded.log, 10)).toBeLessThanOrEqual(6);
    // the buffer pays: it never falls below where BOLA leaves 540p (12.5 s with this config) by more than a chunk
    expect(Math.min(...funded.log.slice(20).map((s) => s.bufferAtStart))).toBeGreaterThan(10);
  });

  it('a run the buffer cannot pay for long enough is not started: 360p stays over a steady 1.5 Mbit/s', () => {
    const r = simulateVod({
      levels: benchLadder,
      capacity: () => 1.5e6,
      segments: 90,
      segmentSec: 2,
      maxBufferSec: 30,
    });
    expect(r.stalls).toBe(0);
    // 540p drains 0.67 s of buffer per second fetched at 1.5 × 0.9: a 30 s buffer pays for about 26 s, under 40
    expect(r.log.slice(10).every((s) => s.level === 2)).toBe(true);
  });

  it('a jittery but steady link does not oscillate (≤ 1 switch after convergence)', () => {
    for (const mean of [2.5e6, 5e6, 9e6]) {
      const r = simulateVod({ levels, capacity: jittery(mean), segments: 60 });
      expect(r.stalls).toBe(0);
      expect(switchesFrom(r.log, 20)).toBeLessThanOrEqual(1);
    }
  });

  it('live (throughput rule): a link jittering ±30 % every few seconds does not oscillate; without hysteresis it would', () => {
    const perSegmentJitter = (mean: number) => (t: number) => mean * (0.7 + 0.6 * noise[Math.floor(t / 3)]);
    let withoutHysteresis = 0;
    for (const mean of [2.5e6, 3.9e6, 5e6, 6.7e6]) {
      const live = new AbrController(levels, {}, 'live');
      const r = simulateVod({ levels, capacity: perSegmentJitter(mean), segments: 60, maxBufferSec: 10, abr: live });
      expect(r.stalls).toBe(0);
      expect(switchesFrom(r.log, 20)).toBeLessThanOrEqual(1);
      const naive = new AbrController(levels, { bandwidthUpFactor: 0.9, upSwitchHoldSec: 0 }, 'live');
      withoutHysteresis += switchesFrom(
        simulateVod({ levels, capacity: perSegmentJitter(mean), segments: 60, maxBufferSec: 10, abr: naive }).log,
        20,
      );
    }
    expect(withoutHysteresis).toBeGreaterThan(8);
  });

  it('steps down within a few segments after the link drops, without a stall', () => {
    const r = simulateVod({ levels, capacity: (t) => (t < 60 ? 8e6 : 1.5e6), segments: 60 });
    const firstAfterDrop = r.log.findIndex((s) => s.startSec >= 60);
    // 6 Mbit/s on an 8 Mbit/s link: sustained (estimate × 0.9), and the buffer is healthy
    expect(r.log[firstAfterDrop - 1].level).toBe(4);
    const down = r.log.findIndex((s, i) => i >= firstAfterDrop && s.level <= 1);
    expect(down - firstAfterDrop).toBeLessThanOrEqual(4);
    expect(r.log.at(-1)!.level).toBe(1);
    expect(r.stalls).toBe(0);
  });

  it('steps up after the link improves', () => {
    const r = simulateVod({ levels, capacity: (t) => (t < 60 ? 1.5e6 : 8e6), segments: 60 });
    const firstAfterRise = r.log.findIndex((s) => s.startSec >= 60);
    expect(r.log[firstAfterRise - 1].level).toBe(1);
    expect(r.log.at(-1)!.level).toBe(4);
    const up = r.log.findIndex((s, i) => i >= firstAfterRise && s.level >= 3);
    expect(up - firstAfterRise).toBeLessThanOrEqual(15);
    const top = r.log.findIndex((s, i) => i >= firstAfterRise && s.level === 4);
    expect(top - firstAfterRise).toBeLessThanOrEqual(20);
    expect(r.stalls).toBe(0);
  });

  /** A VOD controller configured as the browser player configures it for a 12 s buffer. */
  const playerLike = () => new AbrController(levels, { bolaTargetBufferSec: 10, bolaMinBufferSec: 10 / 3 });

  it('short dips (1 s at 0.6 Mbit/s every 5 s on 8 Mbit/s) neither abandon a download nor leave the top rung', () => {
    // the bench's spike trace: each dip is far shorter than the buffer, so nothing is at risk
    const spiky = (t: number) => (t % 5 < 1 && t > 5 ? 0.6e6 : 8e6);
    const r = simulateVod({
      levels,
      capacity: spiky,
      segments: 40,
      segmentSec: 2,
      maxBufferSec: 12,
      abr: playerLike(),
    });
    expect(r.stalls).toBe(0);
    expect(r.abandons).toHaveLength(0);
    // it climbs to the 6 Mbit/s top rung (the buffer absorbs each dip) and stays there
    const settled = r.log.slice(10);
    expect(settled.every((s) => s.level === 4)).toBe(true);
  });

  it('after the trough of a cascade the estimate recovers and the player climbs back within a few segments', () => {
    // the bench's cascade, slowed down: 6 → 3 → 1.5 → 0.8 → 1.5 → 3 → 6 Mbit/s, 12 s a step
    const steps = [6e6, 3e6, 1.5e6, 0.8e6, 1.5e6, 3e6, 6e6];
    const cascade = (t: number) => steps[Math.min(steps.length - 1, Math.floor(t / 12))];
    const r = simulateVod({
      levels,
      capacity: cascade,
      segments: 60,
      segmentSec: 2,
      maxBufferSec: 12,
      abr: playerLike(),
    });
    expect(r.stalls).toBe(0);
    const trough = r.log.filter((s) => s.startSec >= 40 && s.startSec < 48);
    expect(Math.max(...trough.map((s) => s.level))).toBeLessThanOrEqual(1);
    // the link is back at 6 Mbit/s from t = 72: the 3.5 Mbit/s rung within 6 segments (12 s of media)
    const recovered = r.log.filter((s) => s.startSec >= 72);
    expect(recovered.slice(0, 6).some((s) => s.level >= 3)).toBe(true);
  });

  it('after a harsh cut (3.7x below the top rung, from loopback speed) the next segment is at a rung the link carries', () => {
    // the demo's ladder and its page-throttle cut: ~200 Mbit/s, then 0.79 Mbit/s for video
    // (0.86 less the audio) once the player holds 12 s at the top rung
    const ladder = [0.5e6, 0.94e6, 2.2e6, 3.19e6].map((bitrate, index) => ({ index, bitrate }));
    const r = simulateVod({
      levels: ladder,
      capacity: (t) => (t < 16 ? 200e6 : 0.79e6),
      segments: 30,
      segmentSec: 2,
      maxBufferSec: 14,
      abr: new AbrController(ladder, { bolaTargetBufferSec: 10, bolaMinBufferSec: 10 / 3 }),
    });
    expect(r.stalls).toBe(0);
    // the top-rung segment in flight at the cut takes 8 s; the next choice is the lowest rung, the
    // only one under 0.79 Mbit/s (it was the 0.94 Mbit/s rung five times over while a fast history
    // held the estimate at 25, 12, 7 Mbit/s), and no rung above the link's comes after it
    const cutAt = r.log.findIndex((s) => s.endSec > 16);
    expect(r.log[cutAt].endSec - r.log[cutAt].startSec).toBeGreaterThan(7);
    const after = r.log.slice(cutAt + 1);
    expect(after.map((s) => s.level)).toEqual(after.map(() => 0));
    expect(r.log[cutAt + 1].estimateAtStart).toBeLessThan(0.94e6 * 0.9);
  });

  it('abandons a download that cannot finish before the buffer runs dry, and so avoids the stall', () => {
    const capacity = (t: number) => (t < 30 ? 8e6 : 0.6e6);
    const honoured = simulateVod({ levels, capacity, segments: 30, maxBufferSec: 12 });
    const ignored = simulateVod({ levels, capacity, segments: 30, maxBufferSec: 12, honourAbandon: false });
    expect(honoured.abandons).toHaveLength(1);
    expect(honoured.abandons[0].from).toBe(3);
    expect(honoured.abandons[0].to).toBeLessThan(3);
    expect(honoured.stalls).toBe(0);
    // the same trace, with the advice ignored, stalls
    expect(ignored.stalls).toBeGreaterThan(0);
    expect(ignored.stallSec).toBeGreaterThan(5);
  });

  it('after an abandon, the next decision is the level the emergency rule chose, not the one it gave up', () => {
    const abr = startedVod(0.6);
    const d = abr.onDownloadProgress(slowProgress());
    expect(d.abandon).toBe(true);
    expect(d.switchTo).toBe(0);
    // the link itself sustains 3.5 Mbit/s, so the throughput rule alone would fetch level 3 again
    // (and abandon it again, forever): the decision after an abandon honours the rule's choice
    expect(abr.nextLevel({ bufferSec: 0.6, currentLevel: 3 })).toBe(0);
  });

  it('an abandon forced by a thin start-up buffer on a link that sustains the level does not hold the next chunks on the emergency level', () => {
    // the ABR bench's ladder and a session of its steady 5 Mbit/s trace (Chromium's shaping gives
    // about 4.2): 720p first, then the second 720p chunk abandoned with ~1.1 s buffered, 469 of
    // ~850 kB in after 1 s (3.75 Mbit/s, which sustains 720p at the safety factor)
    const abr = new AbrController(benchLadder, { defaultEstimateBps: 4.6e6 });
    expect(abr.nextLevel({ bufferSec: 0, currentLevel: -1 })).toBe(0);
    abr.onDownloadComplete({ bytes: 722_000, durationMs: 1392, ttfbMs: 20, level: 0, mediaDurationSec: 2 });
    expect(abr.nextLevel({ bufferSec: 2, currentLevel: 0 })).toBe(0);
    const d = abr.onDownloadProgress({
      bytesLoaded: 469_000,
      bytesTotal: 850_000,
      elapsedMs: 1002,
      ttfbMs: 2,
      level: 0,
      mediaDurationSec: 2,
      bufferSec: 1.1,
    });
    expect(d.abandon).toBe(true);
    const low = d.switchTo!;
    expect(benchLadder[low].height).toBeLessThanOrEqual(360);
    expect(abr.nextLevel({ bufferSec: 1.1, currentLevel: 0 })).toBe(low); // the same chunk, lower
    abr.onDownloadComplete({ bytes: 180_000, durationMs: 380, ttfbMs: 10, level: low, mediaDurationSec: 2 });
    // the link was never the problem: the next chunk climbs (within the hysteresis band) instead of
    // three more low chunks (6 s on screen) that an up-switch hold after a down-switch gave
    const next = abr.nextLevel({ bufferSec: 2.7, currentLevel: low });
    expect(benchLadder[next].height).toBeGreaterThanOrEqual(540);
  });

  it('with a healthy buffer it climbs to the level the link carries with margin, not only when BOLA wants a fuller buffer', () => {
    // the ABR bench's ladder on a steady 4.2 Mbit/s link: 720p (3.25) is carried at 0.8 of the
    // link; BOLA alone preferred 540p with 14 s buffered, and the player stayed there
    const r = simulateVod({ levels: benchLadder, capacity: () => 4.2e6, segments: 30, segmentSec: 2 });
    expect(r.stalls).toBe(0);
    const top = r.log.findIndex((s) => s.level === 0);
    expect(top).toBeGreaterThan(0);
    expect(r.log[top].bufferAtStart).toBeLessThan(10);
    expect(switchesFrom(r.log, top)).toBe(0);
    // on a link that does not carry it with that margin (3.8 Mbit/s: 0.85), only BOLA climbs,
    // when the buffer is near its target
    const lower = simulateVod({ levels: benchLadder, capacity: () => 3.8e6, segments: 30, segmentSec: 2 });
    expect(lower.stalls).toBe(0);
    const lowerTop = lower.log.findIndex((s) => s.level === 0);
    expect(lowerTop).toBeGreaterThan(top);
    expect(lower.log[lowerTop].bufferAtStart).toBeGreaterThan(15);
  });

  it('an abandon on a link that cannot sustain the level holds the up-switch as a down-switch does', () => {
    const abr = startedVod(0.6);
    // 1 MB of the 3.5 Mbit/s level in 2 s: 4 Mbit/s sustains it; 400 kB: 1.6 Mbit/s does not
    expect(abr.onDownloadProgress(slowProgress({ bytesLoaded: 400_000 })).abandon).toBe(true);
    expect(abr.nextLevel({ bufferSec: 0.6, currentLevel: 3 })).toBe(0);
    abr.onDownloadComplete({ bytes: 200_000, durationMs: 300, ttfbMs: 20, level: 0, mediaDurationSec: 4 });
    // one fast small download after a collapse is no reason to climb yet
    expect(abr.nextLevel({ bufferSec: 4.3, currentLevel: 0 })).toBe(0);
  });

  it('the start-up choice is the level the estimate sustains, whatever level the caller names as current', () => {
    // 1.3 Mbit/s (the browser's link estimate) sustains the 1 Mbit/s level (index 1) at the
    // safety factor, but not at the narrower up factor: naming the lowest level as "current" on
    // the first call must not hold the start on it (nothing plays yet, there is nothing to keep)
    const abr = new AbrController(levels, { defaultEstimateBps: 1.3e6 });
    expect(abr.nextLevel({ bufferSec: 0, currentLevel: 0 })).toBe(1);
    // afterwards the band applies: the same estimate does not climb from the lowest level
    expect(abr.nextLevel({ bufferSec: 2, currentLevel: 0 })).toBe(0);
  });

  it('does not abandon the first download, before anything is buffered (start-up: no stall to avoid)', () => {
    const abr = new AbrController(levels, { defaultEstimateBps: 5e6 });
    const first = abr.nextLevel({ bufferSec: 0, currentLevel: -1 });
    expect(first).toBe(3);
    expect(abr.onDownloadProgress(slowProgress({ bufferSec: undefined })).abandon).toBe(false);
  });

  it('does not abandon while the buffer is not draining (playback not started or paused)', () => {
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ draining: false })).abandon).toBe(false);
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ draining: true })).abandon).toBe(true);
  });

  it('a download whose own frames are on screen is given up only once its bytes have stopped', () => {
    // the same hopeless reading (1 MB of a 4 s top-rung chunk after 2.1 s, 0.6 s buffered)
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ onScreen: false, idleMs: 0 })).abandon).toBe(true);
    // its first fragments playing and its bytes still coming: the replacement would go in under
    // the playhead (a frozen picture), so it is kept
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ onScreen: true, idleMs: 80 })).abandon).toBe(false);
    // nor judged when nobody says how long the bytes have stopped
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ onScreen: true })).abandon).toBe(false);
    // a body that hung for the configured time is given up, on screen or not
    const hung = slowProgress({ onScreen: true, idleMs: DEFAULT_ABR_CONFIG.abandonOnScreenIdleMs });
    expect(startedVod(0.6).onDownloadProgress(hung).abandon).toBe(true);
    expect(startedVod(0.6, { abandonOnScreenIdleMs: 5000 }).onDownloadProgress(hung).abandon).toBe(false);
  });

  it('does not judge a download before half its media duration has passed (a slow first burst is no verdict)', () => {
    // 30 kB of a 2 s, 2 MB-per-segment-at-top level after 250 ms: hopeless by the load rate alone,
    // but far too early to tell (one throttle burst, a short dip); with 10 s buffered, nothing to fear
    const early = { bytesLoaded: 30_000, elapsedMs: 250, ttfbMs: 20, mediaDurationSec: 2 };
    expect(startedVod(10).onDownloadProgress(slowProgress({ ...early, bufferSec: 10 })).abandon).toBe(false);
    // the same reading with a thin buffer: still too early to judge
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ ...early })).abandon).toBe(false);
    // at half the duration, with the same thin buffer and still only 30 kB in, it is abandoned
    expect(startedVod(0.6).onDownloadProgress(slowProgress({ ...early, elapsedMs: 1000 })).abandon).toBe(true);
  });

  it('a download that will finish before the buffer runs dry is never abandoned, however slow it starts', () => {
    // 1.5 Mbit/s for a 3.5 Mbit/s, 4 s segment (1.75 MB): ~9.3 s to go, 12 s buffered
    const d = startedVod(12).onDownloadProgress(
      slowProgress({ bytesLoaded: 375_000, elapsedMs: 2100, bytesTotal: 1_750_000, bufferSec: 12 }),
    );
    expect(d.abandon).toBe(false);
  });

  it('an abandon in a short dip does not pin the estimate to the dip', () => {
    const abr = startedVod(8);
    // 5 Mbit/s established over a few downloads
    for (let i = 0; i < 5; i++)
      abr.onDownloadComplete({ bytes: 1_250_000, durationMs: 2000, ttfbMs: 0, level: 3, mediaDurationSec: 4 });
    const before = abr.estimateBps;
    // a 1 s dip to 0.3 Mbit/s with a thin buffer: abandoned
    const d = abr.onDownloadProgress(
      slowProgress({ bytesLoaded: 40_000, elapsedMs: 2100, ttfbMs: 1000, bufferSec: 1.5 }),
    );
    expect(d.abandon).toBe(true);
    // the dip is one sample among the others (weighted by its second), not the new estimate
    expect(abr.estimateBps).toBeGreaterThan(before * 0.6);
  });

  it('derives the buffer from its last decision when progress events do not carry it', () => {
    const r = simulateVod({
      levels,
      capacity: (t) => (t < 30 ? 8e6 : 0.6e6),
      segments: 30,
      maxBufferSec: 12,
      reportBuffer: false,
    });
    expect(r.abandons).toHaveLength(1);
    expect(r.stalls).toBe(0);
  });

  it('a high-latency link still reaches the level its throughput sustains (TTFB does not deflate)', () => {
    const r = simulateVod({ levels, capacity: () => 5e6, segments: 30, rttMs: 400 });
    expect(r.abr.estimateBps).toBeGreaterThan(5e6 * 0.97);
    expect(r.log.at(-1)!.level).toBe(3);
  });

  it('tiny downloads do not move the estimate', () => {
    const abr = new AbrController(levels, {}, 'vod');
    abr.onDownloadComplete({ bytes: 500_000, durationMs: 1000, ttfbMs: 0, level: 2, mediaDurationSec: 2 }); // 4 Mbit/s
    const before = abr.estimateBps;
    abr.onDownloadComplete({ bytes: 200, durationMs: 0.05, ttfbMs: 0, level: 2, mediaDurationSec: 0 });
    expect(abr.estimateBps).toBe(before);
  });

  it('refuses an empty ladder or a level without a bitrate, with a typed error', () => {
    expect(() => new AbrController([])).toThrow(expect.objectContaining({ code: 'ABR_NO_LEVELS' }));
    expect(() => new AbrController([{ index: 0, bitrate: 0 }])).toThrow(
      expect.objectContaining({ code: 'ABR_BAD_LEVEL' }),
    );
  });

  it('playbackRate is 1 outside low-latency mode', () => {
    expect(new AbrController(levels, {}, 'vod').playbackRate({ latencySec: 30, bufferSec: 10 })).toBe(1);
    expect(new AbrController(levels, {}, 'live').playbackRate({ latencySec: 30, bufferSec: 10 })).toBe(1);
  });
});

describe('AbrController in low-latency mode (decisions per part)', () => {
  const target = 2.5;
  const settled = (r: ReturnType<typeof simulateLowLatency>) => r.samples.filter((s) => s.t >= 20 + 90);
  /** Two minutes of low-latency playback on `capacity`, joined `joinLatencySec` behind the edge. */
  const play = (capacity: (t: number) => number, joinLatencySec = target) =>
    simulateLowLatency({ levels, capacity, durationSec: 120, joinLatencySec, targetLatencySec: target });

  it('catches up from a late join to near the target latency, playback rate within [0.95, 1.05]', () => {
    const r = play(() => 10e6, 5);
    const rates = r.samples.map((s) => s.rate);
    expect(Math.max(...rates)).toBeGreaterThan(1.01); // it did speed up
    expect(Math.max(...rates)).toBeLessThanOrEqual(1.05);
    expect(Math.min(...rates)).toBeGreaterThanOrEqual(0.95);
    for (const s of settled(r)) expect(Math.abs(s.latency - target)).toBeLessThan(0.4);
    expect(r.stalls).toBe(0);
  });

  it('slows down from a join too close to the edge', () => {
    const r = play(() => 10e6, 1);
    expect(Math.min(...r.samples.map((s) => s.rate))).toBeLessThan(0.99);
    expect(Math.min(...r.samples.map((s) => s.rate))).toBeGreaterThanOrEqual(0.95);
    for (const s of settled(r)) expect(Math.abs(s.latency - target)).toBeLessThan(0.4);
  });

  it('switches down per part when the link drops, without stalling, and keeps latency near target', () => {
    const r = play((t) => (t < 60 ? 10e6 : 2.5e6));
    expect(r.stalls).toBe(0);
    expect(r.levels[40]).toBe(4);
    expect(r.levels.at(-1)).toBeLessThanOrEqual(2);
    for (const s of settled(r)) expect(Math.abs(s.latency - target)).toBeLessThan(0.4);
  });

  it('does not oscillate on a jittery steady link', () => {
    for (const mean of [3e6, 5e6]) {
      const r = play(jittery(mean));
      let switches = 0;
      for (let i = 41; i < r.levels.length; i++) if (r.levels[i] !== r.levels[i - 1]) switches++;
      expect(switches).toBeLessThanOrEqual(1);
      expect(r.stalls).toBe(0);
    }
  });
});

describe('AbrController in low-latency mode with parts streamed as they are produced', () => {
  /** A cascade: 10 Mbit/s, down to 1.5, then back up to 10 (the link recovers at t = 100 s). */
  const cascade = (t: number) => (t < 40 ? 10e6 : t < 70 ? 3e6 : t < 100 ? 1.5e6 : 10e6);
  const run = (reportBursts: boolean) =>
    simulateLowLatency({
      levels,
      capacity: cascade,
      durationSec: 160,
      joinLatencySec: 2.5,
      targetLatencySec: 2.5,
      paced: true,
      reportBursts,
    });
  /** Level index of the part fetched at virtual time ≈ t (parts are 0.5 s; the run starts at t = 20). */
  const levelAt = (r: ReturnType<typeof simulateLowLatency>, t: number) => r.levels[Math.round((t - 20) / 0.5)];

  it('measures the link from the bursts: steps down on the cascade and back up to the top after the link recovers', () => {
    const r = run(true);
    expect(levelAt(r, 35)).toBe(4); // 6 Mbit/s on a 10 Mbit/s link, though each part takes its 0.5 s to arrive
    expect(levelAt(r, 95)).toBeLessThanOrEqual(1); // ≤ 1 Mbit/s on 1.5 Mbit/s
    expect(levelAt(r, 150)).toBe(4); // recovered
    expect(levelAt(r, 175)).toBe(4);
    expect(r.stalls).toBe(0);
  });

  it('without the burst measurement, the same player mistakes the media rate for the link and never climbs back', () => {
    const r = run(false);
    expect(levelAt(r, 95)).toBeLessThanOrEqual(1);
    expect(levelAt(r, 175)).toBeLessThan(4);
  });
});

describe("AbrController and the server's cap (CMSD-Dynamic mb)", () => {
  /** A controller on a 20 Mbit/s link with a full buffer: left alone it plays the top level. */
  function onFastLink(mode: 'vod' | 'live'): AbrController {
    const abr = new AbrController(levels, {}, mode);
    for (let i = 0; i < 12; i++) {
      abr.onDownloadComplete({ bytes: 5_000_000, durationMs: 2000, ttfbMs: 20, level: 4, mediaDurationSec: 4 });
    }
    return abr;
  }

  for (const mode of ['vod', 'live'] as const) {
    it(`${mode}: no decision above the cap; down at once from a higher level; lifted by a response without it`, () => {
      const abr = onFastLink(mode);
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: -1 })).toBe(4);
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: 4 })).toBe(4);
      abr.onServerAdvice({ maxBitrateKbps: 2500 });
      expect(abr.serverCap).toBe(2_500_000);
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: 4 })).toBe(2); // 2 Mbit/s, the highest within 2.5
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: 2 })).toBe(2);
      // a cap below every level leaves the lowest
      abr.onServerAdvice({ maxBitrateKbps: 100 });
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: 2 })).toBe(0);
      abr.onServerAdvice({});
      expect(abr.serverCap).toBeUndefined();
      // lifted: the climb resumes once the down-switch hold has passed
      for (let i = 0; i < 3; i++) {
        abr.onDownloadComplete({ bytes: 5_000_000, durationMs: 2000, ttfbMs: 20, level: 0, mediaDurationSec: 4 });
      }
      expect(abr.nextLevel({ bufferSec: 20, currentLevel: 0 })).toBeGreaterThan(2);
    });
  }
});
