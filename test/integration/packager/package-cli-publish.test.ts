/**
 * The real CLI publishing: Ctrl-C (SIGINT) mid-encode publishes nothing; re-packaging is refused
 * without --force; --force publishes a new version beside the old (byte-for-byte intact) and prints
 * the purge for the entry points; retention (--keep-versions, --keep-for) removes old versions.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
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

  it('publishes, refuses to overwrite without --force; --force adds a version beside the old, prints the purge, retention removes', async () => {
    const input = await fixture('small');
    const out = join(root, 'versions');
    const asset = join(out, 'movie');
    const args = ['package', input, '--out', out, '--id', 'movie', '--ladder', 'small', '--segment', '2'];

    const first = await runCli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/published movie → .*movie \(version v1\)/);
    expect(first.stdout).toMatch(/duration 4\.\d\d s, 2 segments of 2 s/);
    expect(first.stdout).toMatch(/360p\s+640x360\s+avc1\.4d401e/);
    expect(first.stdout).not.toContain('purge');
    const before = hashTree(join(asset, 'v1'));
    expect(before.size).toBeGreaterThan(8);
    const entry = readFileSync(join(asset, 'master.m3u8'), 'utf8');

    const again = await runCli(args);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toMatch(/asset "movie" already exists in .*; use --force/);
    expect(readFileSync(join(asset, 'master.m3u8'), 'utf8')).toBe(entry);
    expect(versions(asset)).toEqual(['v1']);

    const forced = await runCli([...args, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('(version v2, replaces v1)');
    // Only the two entry points need purging: printed as runnable commands.
    expect(forced.stdout).toContain('streamedge purge --edge <edge-url> /vod/movie/master.m3u8\n');
    expect(forced.stdout).toContain('streamedge purge --edge <edge-url> /vod/movie/manifest.mpd\n');
    // The old version is still there, byte for byte; the new one is complete; the entry points moved.
    expect(hashTree(join(asset, 'v1'))).toEqual(before);
    expect([...hashTree(join(asset, 'v2')).keys()].sort()).toEqual([...before.keys()].sort());
    const entry2 = readFileSync(join(asset, 'master.m3u8'), 'utf8');
    expect(entry).toContain('\nv1/360p/index.m3u8\n');
    expect(entry2).toContain('\nv2/360p/index.m3u8\n');
    expect(entry2).not.toContain('v1/');
    expect(readdirSync(out)).toEqual(['movie']);

    // A third version with the default retention (2 newest, 24 h) keeps v2 and v1 (retired just now).
    const third = await runCli([...args, '--force']);
    expect(third.code, third.stderr).toBe(0);
    expect(versions(asset)).toEqual(['v1', 'v2', 'v3']);
    // Keep 1, no grace time: the older ones go, the current one stays whole.
    const fourth = await runCli([...args, '--force', '--keep-versions', '1', '--keep-for', '0']);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect(fourth.stdout).toContain('removed old versions: v1, v2, v3');
    expect(versions(asset)).toEqual(['v4']);
    expect([...hashTree(join(asset, 'v4')).keys()].sort()).toEqual([...before.keys()].sort());
    expect(readdirSync(out)).toEqual(['movie']);

    const bad = await runCli([...args, '--force', '--keep-versions', '0']);
    expect(bad.code).toBe(1);
    expect(oneLine(bad.stderr)).toMatch(/--keep-versions 0: use a whole number of at least 1/);
  });
});

function versions(asset: string): string[] {
  return readdirSync(asset)
    .filter((n) => /^v\d+$/.test(n))
    .sort();
}
