/**
 * Epoch-locked live numbering (`origin --epoch`): the run anchor rounds a run's offset up to the
 * segment grid, so two origins that started at different times number the same wall-clock
 * interval alike; a jump in numbering (an outage of whole segments) restarts the window rather
 * than listing a hole; `--epoch` parses unix seconds and ISO-8601 and rejects the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEpoch } from '../../../packager/live/channel-config.js';
import { RunAnchor } from '../../../packager/live/run-anchor.js';
import { RenditionWindow } from '../../../packager/live/rendition-window.js';
import { SegmentFiles } from '../../../packager/live/segment-files.js';
import { rendition } from './fake-encoder.js';

const EPOCH = Date.UTC(2026, 0, 1);

/** An anchor of a run whose fragments (media end, seconds) arrived at the given epoch-relative seconds. */
function anchorAfter(arrivals: [end: number, at: number][], notBefore = 0): RunAnchor {
  let now = EPOCH;
  const a = new RunAnchor({ now: () => now, availabilityStartTime: EPOCH, notBeforeSec: () => notBefore, gridSec: 2 });
  for (const [end, at] of arrivals) {
    now = EPOCH + at * 1000;
    a.observe(end);
  }
  return a;
}

describe('epoch-locked run anchor', () => {
  it('puts runs that started at different times on the same segment grid', () => {
    // origin A's encoder started 1000.3 s after the epoch, origin B's 1003.9 s (stalls differ too)
    const a = anchorAfter([
      [0.5, 1000.3 + 0.5 + 0.9],
      [1.0, 1000.3 + 1.0 + 0.2],
    ]);
    const b = anchorAfter([
      [0.5, 1003.9 + 0.5 + 0.1],
      [1.0, 1003.9 + 1.0 + 0.4],
    ]);
    const offA = a.fix();
    const offB = b.fix();
    expect(offA).toBe(1002); // tightest 1000.5, rounded up to the grid
    expect(offB).toBe(1004); // tightest 1004.0, already on the grid
    expect(a.segmentNumber).toBe(501);
    expect(b.segmentNumber).toBe(502);
    // the same segment number means the same wall-clock interval: epoch + n × 2 s
    for (const [anchor, off] of [
      [a, offA],
      [b, offB],
    ] as const)
      expect(EPOCH + off * 1000).toBe(EPOCH + anchor.segmentNumber! * 2000);
    // rounding is up, never down: no fragment observed is published before its PDT end
    expect(offA).toBeGreaterThanOrEqual(1000.5);
    expect(offB).toBeGreaterThanOrEqual(1004.0 - 1e-9);
  });

  it('never goes back before the end of the previous run, and keeps an on-grid value as is', () => {
    const restarted = anchorAfter([[0.5, 990]], 1010);
    expect(restarted.fix()).toBe(1010);
    expect(restarted.segmentNumber).toBe(505);
    const exact = anchorAfter([[1, 1001]]);
    expect(exact.fix()).toBe(1000);
  });

  it('without an epoch the anchor is the tight value and numbers are the caller’s', () => {
    let now = EPOCH;
    const a = new RunAnchor({ now: () => now, availabilityStartTime: EPOCH, notBeforeSec: () => 0 });
    now = EPOCH + 1001_300;
    a.observe(1);
    expect(a.fix()).toBeCloseTo(1000.3, 6);
    expect(a.segmentNumber).toBeUndefined();
  });
});

describe('parseEpoch', () => {
  const now = Date.UTC(2026, 11, 1);
  it('reads unix seconds and ISO-8601 with a zone', () => {
    expect(parseEpoch('1767225600', now)).toBe(EPOCH);
    expect(parseEpoch('2026-01-01T00:00:00Z', now)).toBe(EPOCH);
    expect(parseEpoch('2026-01-01T01:00:00+01:00', now)).toBe(EPOCH);
    expect(parseEpoch('1767225600.5', now)).toBe(EPOCH + 500);
  });
  it('rejects local times, junk and the future with one clear message', () => {
    expect(() => parseEpoch('2026-01-01T00:00:00', now)).toThrow(/ISO-8601 date-time with a zone/);
    expect(() => parseEpoch('yesterday', now)).toThrow(/expected unix seconds/);
    expect(() => parseEpoch('-5', now)).toThrow(/expected unix seconds/);
    expect(() => parseEpoch('2027-01-01T00:00:00Z', now)).toThrow(/in the future/);
  });
});

describe('RenditionWindow across a numbering jump', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'se-epoch-window-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('restarts the window at the new number instead of listing a hole', async () => {
    let now = 0;
    const files = new SegmentFiles(join(dir, 'ch'));
    const w = new RenditionWindow({
      renditionId: 'v',
      segmentDuration: 1,
      dvrWindow: 30,
      files,
      availabilityStartTime: 0,
      now: () => now,
    });
    w.setInit(Buffer.from('init'), rendition('v', 'video'));
    const segment = (n: number): void => {
      w.addPart(n, { index: 0, duration: 1000, bytes: 4, independent: true }, Buffer.alloc(4, n));
      w.completeSegment({ number: n, start: n * 1000, duration: 1000, bytes: 4, parts: [], complete: true });
      now += 1000;
    };
    for (let n = 10; n < 14; n++) segment(n);
    w.markDiscontinuity();
    segment(14); // consecutive after a source restart: kept, with a discontinuity
    expect(w.segments.map((s) => s.meta.number)).toEqual([10, 11, 12, 13, 14]);
    expect(w.segments[4].meta.discontinuity).toBe(true);
    w.markDiscontinuity();
    segment(20); // the channel was down for 15..19
    expect(w.segments.map((s) => s.meta.number)).toEqual([20]);
    // both discontinuities (at 14 and before 20) now count as slid out of the window
    expect(w.discontinuitySequence).toBe(2);
    expect(w.find(12)).toBe('retired');
    segment(21);
    expect(w.segments.map((s) => s.meta.number)).toEqual([20, 21]);
    await Promise.all(w.segments.map((s) => s.written ?? Promise.resolve()));
  });
});
