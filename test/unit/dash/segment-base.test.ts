/**
 * src/dash/segment-base.ts: a SegmentBase Representation's sidx (its indexRange) read into
 * segments with byte ranges, counted from the first byte after the sidx plus first_offset, and
 * timed from its earliest presentation time; versions 0 and 1. A range that holds no sidx, a
 * cut one, and a hierarchical index fail with INDEX_UNREADABLE naming the file and range.
 * The sidx boxes are written by src/cmaf/writers.ts; the end-to-end proofs (ffmpeg's
 * global_sidx files played by our player and by the load tester):
 * test/browser/player-byte-range.test.ts, test/integration/loadtest/loadtest-other-packagers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { box, sidx } from '../../../src/cmaf/writers.js';
import { segmentsFromIndex } from '../../../src/dash/segment-base.js';

const refs = [
  { size: 5000, duration: 96_000, startsWithSap: true },
  { size: 4000, duration: 96_000, startsWithSap: true },
  { size: 3000, duration: 48_000, startsWithSap: true },
];

describe('SegmentBase index', () => {
  it('lists each reference as a segment: its bytes after the sidx and first_offset, its time from the earliest presentation time', () => {
    const index = sidx({
      referenceId: 1,
      timescale: 48_000,
      earliestPresentationTime: 1024,
      firstOffset: 10,
      references: refs,
    });
    const at = { offset: 800, length: index.length };
    const after = 800 + index.length + 10;
    expect(segmentsFromIndex(index, at, 'http://o/v.mp4')).toEqual([
      { startSec: 1024 / 48_000, durationSec: 2, range: { offset: after, length: 5000 } },
      { startSec: (1024 + 96_000) / 48_000, durationSec: 2, range: { offset: after + 5000, length: 4000 } },
      { startSec: (1024 + 192_000) / 48_000, durationSec: 1, range: { offset: after + 9000, length: 3000 } },
    ]);
  });

  it('reads version 1 (64-bit times and offsets) the same, and an index range longer than the sidx', () => {
    const v1 = sidx({
      referenceId: 1,
      timescale: 1000,
      earliestPresentationTime: 2 ** 33,
      firstOffset: 0,
      references: refs,
    });
    const index = Buffer.concat([v1, box('free', Buffer.alloc(16))]);
    const got = segmentsFromIndex(index, { offset: 0, length: index.length }, 'v.mp4');
    expect(got[0]).toEqual({ startSec: 2 ** 33 / 1000, durationSec: 96, range: { offset: v1.length, length: 5000 } });
    expect(got).toHaveLength(3);
  });

  it('fails by name on a range without a sidx, a cut sidx and a hierarchical index', () => {
    const good = sidx({
      referenceId: 1,
      timescale: 1000,
      earliestPresentationTime: 0,
      firstOffset: 0,
      references: refs,
    });
    const at = { offset: 100, length: good.length };
    expect(() => segmentsFromIndex(box('moof', Buffer.alloc(8)), at, 'http://o/v.mp4')).toThrow(
      /the SegmentBase index at http:\/\/o\/v\.mp4 bytes 100-\d+ holds a "moof" box, not a sidx/,
    );
    expect(() => segmentsFromIndex(good.subarray(0, good.length - 5), at, 'v.mp4')).toThrow(
      expect.objectContaining({
        code: 'INDEX_UNREADABLE',
        message: expect.stringMatching(/holds a sidx of \d+ bytes/),
      }),
    );
    expect(() => segmentsFromIndex(good.subarray(0, 6), at, 'v.mp4')).toThrow(/too short for a box/);
    const nested = sidx({
      referenceId: 1,
      timescale: 1000,
      earliestPresentationTime: 0,
      firstOffset: 0,
      references: [{ size: 100, duration: 1000, startsWithSap: true, referenceType: 1 }],
    });
    expect(() => segmentsFromIndex(nested, at, 'v.mp4')).toThrow(/a hierarchical index/);
  });
});
