/**
 * The real CLI publishing: Ctrl-C (SIGINT) mid-encode publishes nothing; re-packaging is refused
 * without --force, and --force publishes a new version while the old files stay byte-for-byte intact.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../../../media-fixtures/generate.js';
import { hashTree, listing, oneLine, runCli } from './cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'se-pkg-cli-pub-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('streamedge package (CLI): interrupt and versions', () => {
  it('SIGINT mid-encode: exits 130 with one line, publishes nothing, removes its staging folder', async () => {
    const out = join(root, 'interrupted');
    const r = await runCli(['package', await fixture('sample'), '--out', out, '--id', 'int'], {
      interruptWhen: (stdout) => /int: \d+%/.test(stdout),
    });
    expect(r.stdout).toMatch(/int: \d+%/);
    expect(r.stdout).not.toContain('published');
    expect(r.code).toBe(130);
    expect(oneLine(r.stderr)).toBe('streamedge: packaging interrupted; nothing was published');
    expect(listing(out)).toEqual([]);
  });

  it('publishes, refuses to overwrite without --force, and --force adds a version without touching the old bytes', async () => {
    const input = await fixture('small');
    const out = join(root, 'versions');
    const args = ['package', input, '--out', out, '--id', 'movie', '--ladder', 'small', '--segment', '2'];

    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/published movie → .*movie \(version \S+\)/);
    expect(first.stdout).toMatch(/duration 4\.\d\d s, 2 segments of 2 s/);
    expect(first.stdout).toMatch(/360p\s+640x360\s+avc1\.4d401e/);
    const v1 = readlinkSync(join(out, 'movie'));
    const before = hashTree(join(out, v1));
    expect(before.size).toBeGreaterThan(8);

    const again = await runCli(args);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toMatch(/asset "movie" already exists in .*; use --force/);
    expect(readlinkSync(join(out, 'movie'))).toBe(v1);

    const forced = await runCli([...args, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    const v2 = readlinkSync(join(out, 'movie'));
    expect(v2).not.toBe(v1);
    expect(forced.stdout).toContain(`replaces ${v1.split('/').pop()}`);
    // The old version is still there, byte for byte; the new one is complete.
    expect(hashTree(join(out, v1))).toEqual(before);
    expect([...hashTree(join(out, v2)).keys()].sort()).toEqual([...before.keys()].sort());
    expect(readdirSync(join(out, '.versions', 'movie'))).toHaveLength(2);
    expect(readdirSync(out).sort()).toEqual(['.versions', 'movie']);
  });
});
