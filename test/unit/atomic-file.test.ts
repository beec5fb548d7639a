/**
 * Whole-file replacement (src/atomic-file.ts): the new bytes replace the old at once, and a write
 * that fails leaves the old file and no temporary file behind.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileAtomic, writeFileAtomic } from '../../src/atomic-file.js';

const dir = mkdtempSync(join(tmpdir(), 'atomic-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('atomic file replacement', () => {
  it('writes and copies over an existing file, leaving only the target', () => {
    const target = join(dir, 'a.txt');
    writeFileSync(target, 'old');
    writeFileAtomic(target, 'new', { mode: 0o600 });
    expect(readFileSync(target, 'utf8')).toBe('new');
    const source = join(dir, 'source.txt');
    writeFileSync(source, 'copied');
    copyFileAtomic(source, target);
    expect(readFileSync(target, 'utf8')).toBe('copied');
    expect(readdirSync(dir).sort()).toEqual(['a.txt', 'source.txt']);
  });

  it('a failed replacement keeps the old file and removes its temporary file', () => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const target = join(sub, 'b.txt');
    mkdirSync(target); // a directory where the file should go: the rename fails
    writeFileSync(join(target, 'inside'), 'kept');
    expect(() => writeFileAtomic(target, 'new')).toThrow();
    expect(() => copyFileAtomic(join(dir, 'missing'), target)).toThrow();
    expect(readdirSync(sub)).toEqual(['b.txt']);
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('kept');
  });
});
