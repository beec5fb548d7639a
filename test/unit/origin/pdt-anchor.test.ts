/**
 * Honest PDT: the run anchor (minimum of arrival − media end over the held first segment), the
 * tfdt shift that holds that segment back, and the gate that publishes no part before its PDT
 * end. Arrival times are recorded/simulated, so the math is checked exactly (no wall-clock timing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoxStreamParser } from '../../../src/cmaf/box-stream.js';
import { parseFragment } from '../../../src/cmaf/fragment.js';
import { parseInit } from '../../../src/cmaf/init-segment.js';
import { ffmpegPath } from '../../../src/media/ffmpeg-binaries.js';
import { RunAnchor } from '../../../packager/live/run-anchor.js';
import { TimelineShift } from '../../../packager/live/timeline-shift.js';
import { AvailabilityGate } from '../../../packager/live/availability-gate.js';

const AST = 1_700_000_000_000;

describe('RunAnchor', () => {
  it('fixes the offset to the minimum of (arrival − media end) seen, so no observed fragment is early', () => {
    let now = AST;
    const a = new RunAnchor({ now: () => now, availabilityStartTime: AST, notBeforeSec: () => 0 });
    // the source starts at AST+10 s; the first fragment stalls 1.5 s (encoder start-up), later ones 0.2-0.3 s
    const arrivals: [number, number][] = [
      [0.5, 10 + 0.5 + 1.5],
      [1.0, 10 + 1.0 + 0.3],
      [1.5, 10 + 1.5 + 0.2],
      [2.0, 10 + 2.0 + 0.25],
    ];
    for (const [end, at] of arrivals) {
      now = AST + at * 1000;
      a.observe(end);
    }
    const off = a.fix();
    expect(off).toBeCloseTo(10.2, 6);
    for (const [end, at] of arrivals) expect(at - (off + end)).toBeGreaterThanOrEqual(-1e-9); // PDT end ≤ arrival
    // the naive anchor (first fragment) would have put the third fragment 1.3 s before its PDT end
    const naive = arrivals[0][1] - arrivals[0][0];
    expect(arrivals[2][1] - (naive + arrivals[2][0])).toBeCloseTo(-1.3, 6);
    // fixed once: later observations do not move it
    now = AST + 20_000;
    a.observe(9);
    expect(a.fix()).toBe(off);
    expect(a.observations).toBe(4);
  });

  it('never starts a run before the end of the previous one', () => {
    const a = new RunAnchor({ now: () => AST + 5000, availabilityStartTime: AST, notBeforeSec: () => 42 });
    a.observe(0.5);
    expect(a.fix()).toBe(42);
  });
});

describe('AvailabilityGate', () => {
  it('publishes in order and none before its time', () => {
    let now = 1000;
    const timers: { fn: () => void; at: number }[] = [];
    const gate = new AvailabilityGate({
      now: () => now,
      schedule: (fn, ms) => (timers.push({ fn, at: now + ms }), () => undefined),
    });
    const out: string[] = [];
    gate.push(900, () => out.push('p0')); // already due: at once
    expect(out).toEqual(['p0']);
    gate.push(1100, () => out.push('p1'));
    gate.push(0, () => out.push('seg-end')); // no time constraint, but after p1
    gate.push(1050, () => out.push('p2')); // due before p1 but ordered after it
    expect(out).toEqual(['p0']);
    expect(gate.pending).toBe(3);
    let drained = false;
    gate.whenDrained(() => (drained = true));
    now = 1099; // a timer firing early publishes nothing and re-arms
    timers.shift()!.fn();
    expect(out).toEqual(['p0']);
    now = timers[0].at;
    expect(now).toBeGreaterThanOrEqual(1100);
    timers.shift()!.fn();
    expect(out).toEqual(['p0', 'p1', 'seg-end', 'p2']);
    expect(drained).toBe(true);
    expect(gate.held).toBe(2);
    expect(gate.maxWaitMs).toBe(100);
  });

  it('flushNow publishes everything pending (channel stopping)', () => {
    const gate = new AvailabilityGate({ now: () => 0, schedule: () => () => undefined });
    const out: number[] = [];
    gate.push(10, () => out.push(1));
    gate.push(20, () => out.push(2));
    gate.flushNow();
    expect(out).toEqual([1, 2]);
  });
});

describe('TimelineShift holding the first segment', () => {
  let dir: string;
  let boxes: { type: string; bytes: Buffer }[];
  let timescale: number;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'se-pdt-'));
    const file = join(dir, 'frag.mp4');
    // 3 s of 160x90@30, a key frame every 0.5 s, one fragment per 0.5 s (what the live encoder emits)
    execFileSync(ffmpegPath(), [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=160x90:rate=30',
      '-t',
      '3',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      '15',
      '-keyint_min',
      '15',
      '-sc_threshold',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      'frag_keyframe+empty_moov+default_base_moof',
      '-frag_duration',
      '500000',
      '-f',
      'mp4',
      file,
    ]);
    const bytes = readFileSync(file);
    const p = new BoxStreamParser();
    boxes = [...p.push(bytes), ...p.finish()].map((b) => ({ type: b.type, bytes: Buffer.from(b.bytes) }));
    const moov = boxes.find((b) => b.type === 'moov')!;
    timescale = parseInit(Buffer.concat([boxes.find((b) => b.type === 'ftyp')!.bytes, moov.bytes])).tracks[0].timescale;
  }, 30_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('releases nothing until 1.75 s of media arrived, then everything re-timed by the minimum (arrival − end) offset', () => {
    let now = AST;
    const anchor = new RunAnchor({ now: () => now, availabilityStartTime: AST, notBeforeSec: () => 0 });
    const shift = new TimelineShift(anchor, 1.75);
    const out: Buffer[] = [];
    const ends: number[] = [];
    // simulated arrival: media end + 10 s + a delay that is large for the first fragment only
    const delays = [1.5, 0.3, 0.2, 0.25, 0.4, 0.35];
    let moofs = 0;
    let releasedAfter = -1;
    for (const b of boxes) {
      if (b.type === 'moof') {
        const t = parseFragment(b.bytes).tracks[0];
        const end = (t.baseDecodeTime + t.duration) / timescale;
        ends.push(end);
        now = AST + (10 + end + (delays[moofs] ?? 0.3)) * 1000;
        moofs++;
      }
      const got = shift.push(b.bytes);
      if (got.length > 0 && releasedAfter < 0) releasedAfter = moofs;
      out.push(...got);
    }
    out.push(...shift.finish());
    expect(ends.slice(0, 4).map((e) => Math.round(e * 10) / 10)).toEqual([0.5, 1, 1.5, 2]);
    expect(releasedAfter).toBe(4); // held until the fragment ending at 2.0 s (≥ 1.75 s)
    expect(shift.offsetSec).toBeCloseTo(10.2, 3); // min delay among the first four fragments
    expect(anchor.observations).toBe(4);
    // every box comes out, in order, moofs re-timed by the offset
    expect(out.map((b) => b.subarray(4, 8).toString('latin1'))).toEqual(boxes.map((b) => b.type));
    const shifted = out
      .filter((b) => b.subarray(4, 8).toString('latin1') === 'moof')
      .map((m) => parseFragment(m).tracks[0].baseDecodeTime);
    const original = boxes.filter((b) => b.type === 'moof').map((m) => parseFragment(m.bytes).tracks[0].baseDecodeTime);
    shifted.forEach((t, i) => expect(t - original[i]).toBe(Math.round(10.2 * timescale)));
  });

  it('a rendition whose anchor was fixed by another releases at its first fragment', () => {
    const anchor = new RunAnchor({ now: () => AST + 12_000, availabilityStartTime: AST, notBeforeSec: () => 0 });
    anchor.observe(1);
    anchor.fix(); // fixed by the other rendition: 11 s
    const shift = new TimelineShift(anchor, 1.75);
    const firstMoof = boxes.findIndex((b) => b.type === 'moof');
    const out = boxes.slice(0, firstMoof + 1).flatMap((b) => shift.push(b.bytes));
    expect(out.length).toBe(firstMoof + 1); // ftyp, moov (+ anything before) and the moof
    expect(shift.offsetSec).toBe(11);
  });
});
