/**
 * A live channel whose encoder restarts (killed, or the origin restarted): the new run's media
 * start later than the last run's end (the restart took 1.216 s here), which one SegmentTimeline
 * cannot show without a gap (DASH-IF timing model §9.2). The channel starts a Period at the run's
 * first segment whether or not `--live-dash-periods cues` is set: id `p<start ms>`, kept with the
 * channel's state so an origin restart lists it the same; the Period before ends with its media.
 * And the fragments' mfhd sequence numbers go on counting across runs (ISO/IEC 14496-12 §8.8.5)
 * instead of starting at the encoder's 1 again, across an origin restart too.
 *
 * The encoder is the test's (FakeEncoder): its parts are real moof boxes (tfdt, mfhd), numbered
 * as the segmenter numbers them, from the run's firstFragmentSequence.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveChannelConfig } from '../../../packager/live/channel-config.js';
import { ChannelStateStore } from '../../../packager/live/channel-state-store.js';
import { LiveChannel, type RunRequest } from '../../../packager/live/live-channel.js';
import { box, mdatHeader, mfhd, tfdt } from '../../../src/cmaf/writers.js';
import { writeMpd } from '../../../src/dash/mpd.js';
import type { Part, Segment } from '../../../src/media/presentation.js';
import { FakeEncoder } from '../origin/fake-encoder.js';
import { periodTimelines } from '../../support/multi-period-mpd.js';

/** Timescale 1000 (the fake's renditions): 1 s segments of two 500 ms parts. */
const PART = 500;
const OUTAGE = 1216;

let dir: string;
let store: ChannelStateStore;
let channel: LiveChannel | undefined;
const enc = new FakeEncoder();
/** The channel's clock: every part's PDT end is past, so none is held. */
let clock = 1_000_000;

/** A chunk as the segmenter publishes it: moof (mfhd, traf with tfdt) and mdat. */
function chunk(sequence: number, decodeTime: number): Buffer {
  const payload = Buffer.alloc(16);
  return Buffer.concat([box('moof', mfhd(sequence), box('traf', tfdt(decodeTime))), mdatHeader(16), payload]);
}

/** Each rendition's next mfhd number in the current run. */
let sequences = new Map<string, number>();

/** The run `req` produces segments from..to, its media from `startMs` on. */
function produce(req: RunRequest, from: number, to: number, startMs: number): void {
  let t = startMs;
  for (let n = from; n <= to; n++) {
    for (const r of enc.renditions) {
      const parts: Part[] = [];
      for (let p = 0; p < 2; p++) {
        const seq = sequences.get(r.id) ?? req.firstFragmentSequence(r.id);
        sequences.set(r.id, seq + 1);
        const bytes = chunk(seq, t + p * PART);
        const part: Part = { index: p, duration: PART, bytes: bytes.length, independent: true };
        parts.push(part);
        req.sink.part(r.id, n, part, bytes);
      }
      const seg: Segment = { number: n, start: t, duration: 2 * PART, bytes: 0, parts, complete: true };
      req.sink.segment(r.id, seg);
    }
    t += 2 * PART;
  }
}

function newChannel(): LiveChannel {
  return new LiveChannel(
    resolveChannelConfig({ id: 'ch', source: 'fake', segmentDuration: 1, partDuration: 0.5, dvrWindow: 30 }),
    {
      liveDir: dir,
      store,
      startRun: enc.start,
      stallTimeoutMs: 60_000,
      startTimeoutMs: 60_000,
      backoffInitialMs: 1,
      now: () => clock,
    },
  );
}

function mpd(): string {
  const p = channel!.presentation();
  expect(p).toBeDefined();
  return writeMpd(p!);
}

/** Every SegmentTimeline of every Period runs without a gap between its segments. */
function expectNoGapInsideAPeriod(xml: string): void {
  for (const period of periodTimelines(xml)) {
    for (const list of period.timelines) {
      list.forEach(([start], i) => i > 0 && expect(start, `Period ${period.id}`).toBe(list[i - 1][1]));
    }
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-live-restart-periods-'));
  store = new ChannelStateStore(join(dir, 'state.lmdb'));
  channel = newChannel();
  await channel.start();
  clock = 1e13;
});

afterAll(async () => {
  await channel?.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a live channel whose encoder restarts', () => {
  it('numbers the first run’s fragments from 1 and lists one Period', async () => {
    const run = await enc.runStarted(1);
    expect(run.firstFragmentSequence('v')).toBe(1);
    enc.init();
    produce(run, 0, 3, 0);
    expect(periodTimelines(mpd()).map((p) => p.id)).toEqual(['0']);
  });

  it('after a kill: a Period at the new run’s first segment, the one before ending with its media', async () => {
    channel!.killSource();
    const run = await enc.runStarted(2);
    // the count goes on: 4 segments of 2 fragments were 1..8
    expect(run.firstFragmentSequence('v')).toBe(9);
    expect(run.firstFragmentSequence('a')).toBe(9);
    sequences = new Map();
    enc.init();
    produce(run, 4, 7, 4000 + OUTAGE);
    const xml = mpd();
    const periods = periodTimelines(xml);
    expect(periods.map((p) => [p.id, p.start, p.duration])).toEqual([
      ['0', 0, 4],
      [`p${4000 + OUTAGE}`, (4000 + OUTAGE) / 1000, undefined],
    ]);
    expectNoGapInsideAPeriod(xml);
    expect(periods[1].timelines[0][0][0]).toBe(4000 + OUTAGE);
    expect(xml).toContain(`presentationTimeOffset="${4000 + OUTAGE}"`);
    expect(xml).not.toContain('period-continuity');
    // HLS: the same restart as a discontinuity, media sequence numbers running on
    expect(channel!.presentation()!.timelines[0].segments.find((s) => s.number === 4)!.discontinuity).toBe(true);
  });

  it('an origin restart keeps the Period’s id and start, adds one at its own run, and numbers on', async () => {
    const before = periodTimelines(mpd());
    await channel!.close();
    channel = newChannel();
    clock = 1_000_000;
    await channel.start();
    clock = 1e13;
    const run = await enc.runStarted(3);
    expect(run.firstFragmentSequence('v')).toBe(17);
    expect(run.firstFragmentSequence('a')).toBe(17);
    sequences = new Map();
    enc.init();
    produce(run, 8, 9, 8000 + OUTAGE + 3000);
    const xml = mpd();
    const periods = periodTimelines(xml);
    const third = 8000 + OUTAGE + 3000;
    expect(periods.map((p) => [p.id, p.start, p.duration])).toEqual([
      ...before.slice(0, 1).map((p) => [p.id, p.start, p.duration]),
      [before[1].id, before[1].start, 4],
      [`p${third}`, third / 1000, undefined],
    ]);
    expectNoGapInsideAPeriod(xml);
  });

  it('a new run’s first segment still in production (its end known) starts its Period as the MPD lists it, not in the Period before', async () => {
    channel!.killSource();
    const run = await enc.runStarted(4);
    sequences = new Map();
    enc.init();
    const start = 8000 + OUTAGE + 3000 + 2000 + OUTAGE;
    for (const r of enc.renditions) {
      const bytes = chunk(run.firstFragmentSequence(r.id), start);
      const part: Part = {
        index: 0,
        duration: PART,
        bytes: bytes.length,
        independent: true,
        segmentEnd: start + 2 * PART,
      };
      run.sink.part(r.id, 10, part, bytes);
    }
    const xml = mpd();
    const periods = periodTimelines(xml);
    expect(periods.at(-1)!.id).toBe(`p${start}`);
    // listed there, at its planned length; the Period before ends with its media
    expect(periods.at(-1)!.timelines[0]).toEqual([[start, start + 2 * PART]]);
    expect(periods.at(-2)!.duration).toBe(2);
    expectNoGapInsideAPeriod(xml);
  });
});
