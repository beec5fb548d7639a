/**
 * `streamedge content-key new --file <f>` through the real CLI: a new file (mode 0600) with one
 * random key, a second run adding another (the first kept), the file read back by the same reader
 * `package` and `origin` use, and a broken file refused without being touched.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readContentKeys } from '../../../src/cenc/content-keys.js';
import { oneLine, runCli } from './cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'streamedge-content-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('content-key new', () => {
  it('creates the key file, then adds to it; each run prints the new key id', async () => {
    const file = join(dir, 'keys.json');
    const first = await runCli(['content-key', 'new', '--file', file]);
    expect(first.code, first.stderr).toBe(0);
    const kid1 = first.stdout.trim();
    expect(kid1).toMatch(/^[0-9a-f]{32}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await runCli(['content-key', 'new', '--file', file]);
    const kid2 = second.stdout.trim();
    expect(kid2).toMatch(/^[0-9a-f]{32}$/);
    const keys = readContentKeys(file);
    expect(keys.map((k) => k.kid)).toEqual([kid1, kid2]);
    expect(keys[0].key.equals(keys[1].key)).toBe(false);
    expect(keys.every((k) => k.key.length === 16)).toBe(true);
  });

  it('refuses a file that is not a key file, and leaves it as it was', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"keys": "none"}');
    const r = await runCli(['content-key', 'new', '--file', file]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toMatch(/broken\.json: expected \{"keys"/);
    expect(readFileSync(file, 'utf8')).toBe('{"keys": "none"}');
  });
});
