/**
 * The virtual viewer's live latency (bench/loadtest/playhead.ts, steered as bench/loadtest/viewer.ts
 * does with src/abr's catch-up): the wall-clock latency splits into the distance behind the live
 * edge the player sees and the chain's listing delay; the catch-up steers the first only, toward
 * PART-HOLD-BACK, never closer than it, whatever the chain's delay.
 *
 * The chain is simulated on one fake clock: 0.5 s parts, part k covering program date-time
 * [k·500, (k+1)·500) ms and known to the viewer `listingDelayMs` after it ends (a blocking reload
 * or hinted part answered then).
 */
import { describe, expect, it } from 'vitest';
import { AbrController } from '../../src/abr/abr-controller.js';
import { holdBackSteering } from '../../src/abr/low-latency.js';
import { Playhead } from '../../bench/loadtest/playhead.js';

const PART_MS = 500;
const HOLD_BACK_SEC = 1.5;
/** What the viewer is given (bench/loadtest/viewer.ts), as the browser player is. */
const STEERING = holdBackSteering(HOLD_BACK_SEC);
/** The top of the no-correction band above the hold-back. */
const BAND_TOP_SEC = STEERING.targetLatencySec + STEERING.latencyToleranceSec;

interface Run {
  stalls: number;
  /** Behind-edge and wall-clock latency after each part from 10 s after the join on. */
  edge: number[];
  wall: number[];
  edgeFirst: number;
  /** The largest behind-edge latency seen in the first 3 s of playback. */
  edgeEarlyMax: number;
  listingDelaySec: number | undefined;
}

/**
 * A viewer joins at `joinMs`, the steering's target (PART-HOLD-BACK and a margin, as
 * hls-client.ts startCursor does) behind the newest part listed then; its first parts
 * arrive after `startupMs`, then each new part as soon as it is known. `steer` picks the latency
 * the catch-up is given.
 */
function simulate(o: {
  listingDelayMs: number;
  joinMs: number;
  startupMs: number;
  seconds: number;
  steer: (ph: Playhead, now: number) => number;
}): Run {
  let now = o.joinMs;
  const ph = new Playhead({ startThresholdSec: 1, now: () => now });
  const ctl = new AbrController([{ index: 0, bitrate: 200_000 }], STEERING, 'low-latency');
  // the newest part listed at the join: the last one known by then
  const newest = Math.floor((o.joinMs - o.listingDelayMs) / PART_MS) - 1;
  const joinPdt = (newest + 1) * PART_MS - STEERING.targetLatencySec * 1000;
  const first = Math.floor(joinPdt / PART_MS); // every part independent here
  ph.seek((joinPdt - first * PART_MS) / 1000);
  // the playlist read at the join shows that edge (first seen then, not when the chain listed it)
  ph.noteLiveEdge((newest + 1) * PART_MS, o.joinMs);
  const seenAt = (k: number) => Math.max(o.joinMs + o.startupMs, (k + 1) * PART_MS + o.listingDelayMs);
  const run: Run = { stalls: 0, edge: [], wall: [], edgeFirst: NaN, edgeEarlyMax: 0, listingDelaySec: undefined };
  const endMs = o.joinMs + o.seconds * 1000;
  for (let k = first; seenAt(k) < endMs; k++) {
    now = seenAt(k);
    ph.append(PART_MS / 1000, k * PART_MS);
    ph.noteLiveEdge((k + 1) * PART_MS, now);
    if (!ph.playing) continue;
    ph.rate = ctl.playbackRate({ latencySec: o.steer(ph, now), bufferSec: ph.bufferSec });
    const e = ph.edgeLatencySec(now)!;
    if (Number.isNaN(run.edgeFirst)) run.edgeFirst = e;
    if (now < o.joinMs + o.startupMs + 3000) run.edgeEarlyMax = Math.max(run.edgeEarlyMax, e);
    if (now >= o.joinMs + 10_000) {
      run.edge.push(e);
      run.wall.push(ph.latencySec(now)!);
    }
  }
  ph.finish();
  run.stalls = ph.stalls;
  run.listingDelaySec = ph.listingDelaySec;
  return run;
}

const behindEdge = (ph: Playhead, now: number) => ph.edgeLatencySec(now)!;
const wallClock = (ph: Playhead, now: number) => ph.latencySec(now)!;

describe('Playhead live edge', () => {
  it('splits the wall-clock latency into the distance behind the known edge and the listing delay', () => {
    const now = 0;
    const ph = new Playhead({ startThresholdSec: 1, now: () => now });
    ph.append(1, 1_000_000); // media 1_000_000 to 1_001_000
    ph.append(1, 1_001_000);
    expect(ph.listingDelaySec).toBeUndefined();
    expect(ph.edgeLatencySec(1_002_300)).toBeCloseTo(ph.latencySec(1_002_300)!, 9);
    ph.noteLiveEdge(1_002_000, 1_002_300); // the part ending at 1_002_000 became known 0.3 s later
    expect(ph.listingDelaySec).toBeCloseTo(0.3, 9);
    expect(ph.latencySec(1_002_300)).toBeCloseTo(2.3, 9);
    expect(ph.edgeLatencySec(1_002_300)).toBeCloseTo(2, 9);
    // an edge already known (a later playlist listing the same part) does not move the time it was learned
    ph.noteLiveEdge(1_002_000, 1_002_450);
    expect(ph.listingDelaySec).toBeCloseTo(0.3, 9);
    ph.noteLiveEdge(1_002_500, 1_002_560);
    expect(ph.listingDelaySec).toBeCloseTo(0.06, 9);
  });

  it('catches up from a slow start into the band above PART-HOLD-BACK and stays there, without a stall', () => {
    // joined 0.45 s after a part became known, first parts 0.4 s later: 0.35 s above the band
    const r = simulate({ listingDelayMs: 300, joinMs: 100_750, startupMs: 400, seconds: 60, steer: behindEdge });
    expect(r.stalls).toBe(0);
    expect(r.edgeEarlyMax).toBeGreaterThan(BAND_TOP_SEC + 0.2);
    const last = r.edge.at(-1)!;
    expect(last).toBeLessThanOrEqual(BAND_TOP_SEC + 0.05);
    expect(Math.min(...r.edge)).toBeGreaterThanOrEqual(HOLD_BACK_SEC - 0.01);
    // the wall-clock latency is the distance behind the edge plus the chain's delay, which stays
    expect(r.listingDelaySec).toBeCloseTo(0.3, 6);
    for (let i = 0; i < r.edge.length; i++) expect(r.wall[i] - r.edge[i]).toBeCloseTo(0.3, 6);
  });

  it('a viewer that joined on the target above the hold-back is not moved', () => {
    const r = simulate({ listingDelayMs: 300, joinMs: 100_801, startupMs: 5, seconds: 30, steer: behindEdge });
    expect(r.stalls).toBe(0);
    expect(r.edge.at(-1)!).toBeCloseTo(r.edgeFirst, 2);
    expect(r.edgeFirst).toBeGreaterThanOrEqual(HOLD_BACK_SEC);
  });

  it('never steers closer than PART-HOLD-BACK to the edge, however late the chain lists parts', () => {
    const r = simulate({ listingDelayMs: 900, joinMs: 100_950, startupMs: 5, seconds: 60, steer: behindEdge });
    expect(r.stalls).toBe(0);
    expect(Math.min(...r.edge)).toBeGreaterThanOrEqual(HOLD_BACK_SEC - 0.01);
    // steering the wall-clock latency instead (what the viewer did before) chases the chain's
    // delay and pushes the viewer under the hold-back the playlist asks for
    const before = simulate({ listingDelayMs: 900, joinMs: 100_950, startupMs: 5, seconds: 60, steer: wallClock });
    expect(Math.min(...before.edge)).toBeLessThan(HOLD_BACK_SEC - 0.1);
  });
});
