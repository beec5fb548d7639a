import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPreviousResults, withCarriedRuns, withKeptFields } from '../../../bench/carried-runs.js';

interface R {
  name: string;
  stalls: number;
  carriedFrom?: string;
}

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('bench runs carried from the previous results file', () => {
  it('keeps a skipped run with the date it was measured, never one measured now, in the given order', () => {
    const previous = {
      at: '2026-12-01T10:00:00Z',
      runs: [
        { name: 'll', stalls: 1 },
        { name: 'hls', stalls: 2, carriedFrom: '2026-11-30T09:00:00Z' },
        { name: 'll-h2', stalls: 3 },
      ],
    };
    const out = withCarriedRuns<R>([{ name: 'll-h2', stalls: 9 }], previous, ['ll', 'hls'], ['ll', 'hls', 'll-h2']);
    expect(out).toEqual([
      { name: 'll', stalls: 1, carriedFrom: '2026-12-01T10:00:00Z' },
      { name: 'hls', stalls: 2, carriedFrom: '2026-11-30T09:00:00Z' },
      { name: 'll-h2', stalls: 9 },
    ]);
  });

  it('carries nothing that was not skipped, and nothing without a previous file', () => {
    const previous = { at: 'x', runs: [{ name: 'll', stalls: 1 }] };
    expect(withCarriedRuns<R>([], previous, [], ['ll'])).toEqual([]);
    expect(withCarriedRuns<R>([], undefined, ['ll'], ['ll'])).toEqual([]);
  });

  it('reads the previous file, or nothing when it is missing or not JSON', () => {
    dir = mkdtempSync(join(tmpdir(), 'carried-'));
    const file = join(dir, 'r.json');
    expect(readPreviousResults(file)).toBeUndefined();
    writeFileSync(file, '{"at":"a","runs":[]}');
    expect(readPreviousResults<{ at?: string }>(file)?.at).toBe('a');
    writeFileSync(file, '{not json');
    expect(readPreviousResults(file)).toBeUndefined();
  });

  it('keeps the fields a bench does not write (added by hand), named in keptFields; its own fields win', () => {
    const previous = { at: 'old', runs: [1], llRateRepeats: [4098, 3472], notes: ['old'], keptFields: ['x'] };
    const out = withKeptFields({ at: 'new', runs: [2], notes: [] }, previous);
    expect(out).toEqual({
      at: 'new',
      runs: [2],
      notes: [],
      llRateRepeats: [4098, 3472],
      keptFields: ['llRateRepeats'],
    });
    expect(withKeptFields({ at: 'new' }, undefined)).toEqual({ at: 'new' });
    expect(withKeptFields({ at: 'new' }, { at: 'old' })).toEqual({ at: 'new' });
  });
});
