import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RenditionWindow, MIN_WINDOW_SEGMENTS } from '../../../packager/live/rendition-window.js';
import { SegmentFiles } from '../../../packager/live/segment-files.js';
import { rendition } from './fake-encoder.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'se-window-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('RenditionWindow', () => {
  it('keeps the DVR window (at least six segments) and deletes files after window + retention: disk stays flat', async () => {
    let now = 0;
    const files = new SegmentFiles(join(dir, 'ch'));
    const w = new RenditionWindow({
      renditionId: 'v',
      segmentDuration: 1,
      dvrWindow: 10,
      files,
      availabilityStartTime: 0,
      now: () => now,
    });
    w.setInit(Buffer.from('init'), rendition('v', 'video'));
    const counts: number[] = [];
    for (let n = 0; n < 60; n++) {
      for (let p = 0; p < 2; p++)
        w.addPart(n, { index: p, duration: 500, bytes: 10, independent: p === 0 }, Buffer.alloc(10, n));
      w.completeSegment({ number: n, start: n * 1000, duration: 1000, bytes: 20, parts: [], complete: true });
      now += 1000;
      await Promise.all(w.segments.map((s) => s.written ?? Promise.resolve()));
      await w.deletionsSettled();
      counts.push(readdirSync(files.renditionDir('v')).filter((f) => f.endsWith('.m4s')).length);
    }
    // window: 10 s of DVR → 10 segments; retention: segment + DVR = 11 s more on disk
    expect(w.segments.length).toBe(10);
    expect(w.segments.length).toBeGreaterThanOrEqual(MIN_WINDOW_SEGMENTS);
    expect(w.segments[0].meta.number).toBe(50);
    const steady = counts.slice(30);
    expect(Math.max(...steady)).toBeLessThanOrEqual(10 + 12);
    expect(Math.min(...steady)).toBe(Math.max(...steady));
    // retired but retained segments are still servable; long-gone ones are not
    expect(w.find(45)).toBe('retired');
    expect(w.find(10)).toBeUndefined();
    // part bytes are kept only for the recent segments
    expect(w.partBytes(59, 1)).toBeDefined();
    expect(w.partBytes(53, 0)).toBeUndefined();
  });

  it('marks the first segment after a source restart as a discontinuity and counts it out of the window', async () => {
    let now = 0;
    const files = new SegmentFiles(join(dir, 'ch2'));
    const w = new RenditionWindow({
      renditionId: 'v',
      segmentDuration: 1,
      dvrWindow: 1,
      files,
      availabilityStartTime: 0,
      now: () => now,
    });
    w.setInit(Buffer.from('init'), rendition('v', 'video'));
    const seg = (n: number) => {
      w.addPart(n, { index: 0, duration: 1000, bytes: 4, independent: true }, Buffer.alloc(4));
      w.completeSegment({ number: n, start: n * 1000, duration: 1000, bytes: 4, parts: [], complete: true });
      now += 1000;
    };
    seg(0);
    w.markDiscontinuity();
    seg(1);
    expect(w.segments[1].meta.discontinuity).toBe(true);
    expect(w.discontinuitySequence).toBe(0);
    for (let n = 2; n < 10; n++) seg(n);
    expect(w.discontinuitySequence).toBe(1);
    await Promise.all(w.segments.map((s) => s.written ?? Promise.resolve()));
  });
});
