import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertCanPublish,
  createStaging,
  discardStaging,
  publishVersion,
  readHistory,
  releaseVersion,
  reserveVersion,
  validateAssetId,
} from '../../../packager/publish.js';
import { pruneVersions } from '../../../packager/version-retention.js';

const root = mkdtempSync(join(tmpdir(), 'se-publish-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Stages a version the way vod-job does: `<staging>/v<N>/...` plus the two entry points. */
function stageAndPublish(
  out: string,
  id: string,
  content: string,
  force: boolean,
  now?: number,
  renditions = ['360p'],
) {
  const staging = createStaging(out, id);
  const slot = reserveVersion(out, id);
  for (const r of renditions) {
    mkdirSync(join(staging, slot.name, r), { recursive: true });
    writeFileSync(join(staging, slot.name, r, 'seg-1.m4s'), content);
  }
  writeFileSync(join(staging, slot.name, 'master.m3u8'), content);
  writeFileSync(join(staging, 'master.m3u8'), `${slot.name}/${content}`);
  writeFileSync(join(staging, 'manifest.mpd'), `${slot.name}/${content}`);
  try {
    return publishVersion(out, id, staging, slot, { force, renditionIds: renditions, now });
  } catch (e) {
    discardStaging(staging);
    releaseVersion(slot);
    throw e;
  }
}

describe('publish (versioned layout)', () => {
  it('first publish: one folder renamed into place with v1, entry points and rendition links', () => {
    const out = join(root, 'a');
    const p = stageAndPublish(out, 'movie', 'one', false);
    expect(p.version).toBe('v1');
    expect(readdirSync(out)).toEqual(['movie']); // no staging left
    expect(readdirSync(join(out, 'movie')).sort()).toEqual([
      '.asset.json',
      '360p',
      'manifest.mpd',
      'master.m3u8',
      'v1',
    ]);
    expect(readlinkSync(join(out, 'movie', '360p'))).toBe(join('v1', '360p'));
    expect(readFileSync(join(out, 'movie', '360p', 'seg-1.m4s'), 'utf8')).toBe('one');
    expect(readFileSync(join(out, 'movie', 'master.m3u8'), 'utf8')).toBe('v1/one');
    expect(readHistory(join(out, 'movie')).map((e) => e.version)).toEqual([1]);
  });

  it('refuses an existing asset without force (early check and at publish time) and cleans up', () => {
    const out = join(root, 'b');
    stageAndPublish(out, 'm', 'one', false);
    expect(() => assertCanPublish(out, 'm', false)).toThrow(expect.objectContaining({ code: 'ASSET_EXISTS' }));
    expect(() => stageAndPublish(out, 'm', 'two', false)).toThrow(/already exists.*--force/);
    expect(readdirSync(out)).toEqual(['m']);
    expect(readdirSync(join(out, 'm')).filter((n) => /^v\d+$/.test(n))).toEqual(['v1']);
    expect(readFileSync(join(out, 'm', 'master.m3u8'), 'utf8')).toBe('v1/one');
  });

  it('force adds v2 beside v1: entry points and links move, v1 keeps its bytes, dropped renditions unlinked', () => {
    const out = join(root, 'c');
    stageAndPublish(out, 'm', 'one', false, undefined, ['360p', '720p']);
    const v2 = stageAndPublish(out, 'm', 'two', true, undefined, ['360p']);
    expect(v2).toMatchObject({ version: 'v2', replaced: 'v1' });
    expect(readFileSync(join(out, 'm', 'master.m3u8'), 'utf8')).toBe('v2/two');
    expect(readFileSync(join(out, 'm', 'manifest.mpd'), 'utf8')).toBe('v2/two');
    expect(readFileSync(join(out, 'm', '360p', 'seg-1.m4s'), 'utf8')).toBe('two');
    expect(readFileSync(join(out, 'm', 'v1', '360p', 'seg-1.m4s'), 'utf8')).toBe('one');
    expect(readFileSync(join(out, 'm', 'v1', '720p', 'seg-1.m4s'), 'utf8')).toBe('one');
    expect(existsSync(join(out, 'm', '720p'))).toBe(false);
    expect(readdirSync(out)).toEqual(['m']);
  });

  it('a reserved number is never reused: a failed publish gives it back, a concurrent one takes the next', () => {
    const out = join(root, 'r');
    stageAndPublish(out, 'm', 'one', false);
    const a = reserveVersion(out, 'm');
    const b = reserveVersion(out, 'm');
    expect([a.name, b.name]).toEqual(['v2', 'v3']);
    releaseVersion(a);
    releaseVersion(b);
    expect(existsSync(join(out, 'm', 'v2'))).toBe(false);
    expect(stageAndPublish(out, 'm', 'two', true).version).toBe('v2');
  });

  it('retention: keeps the newest N and anything retired less than keep-for ago, removes the rest', () => {
    const out = join(root, 'k');
    const t0 = 1_000_000;
    stageAndPublish(out, 'm', 'one', false, t0); // v1 retired at t0+10
    stageAndPublish(out, 'm', 'two', true, t0 + 10); // v2 retired at t0+20
    stageAndPublish(out, 'm', 'three', true, t0 + 20);
    // Time keeps v1 and v2 (retired less than 100 ms ago at t0+25) even though only 1 is counted.
    expect(pruneVersions(out, 'm', { keepVersions: 1, keepForMs: 100 }, t0 + 25)).toEqual([]);
    // Count keeps v2; v1 has been retired long enough.
    expect(pruneVersions(out, 'm', { keepVersions: 2, keepForMs: 100 }, t0 + 200)).toEqual(['v1']);
    expect(existsSync(join(out, 'm', 'v1'))).toBe(false);
    expect(readHistory(join(out, 'm')).map((e) => e.version)).toEqual([2, 3]);
    expect(pruneVersions(out, 'm', { keepVersions: 1, keepForMs: 0 }, t0 + 200)).toEqual(['v2']);
    expect(readdirSync(join(out, 'm')).filter((n) => /^v\d+$/.test(n))).toEqual(['v3']);
    expect(readFileSync(join(out, 'm', 'master.m3u8'), 'utf8')).toBe('v3/three');
    expect(readdirSync(out)).toEqual(['m']); // the removed folders left nothing behind
  });

  it('migrates an asset of the older symlinked layout on force', () => {
    const out = join(root, 'legacy-link');
    mkdirSync(join(out, '.versions', 'm', '20250101T000000Z-abc'), { recursive: true });
    symlinkSync(join('.versions', 'm', '20250101T000000Z-abc'), join(out, 'm'));
    expect(() => assertCanPublish(out, 'm', false)).toThrow(expect.objectContaining({ code: 'ASSET_EXISTS' }));
    const p = stageAndPublish(out, 'm', 'new', true);
    expect(p).toMatchObject({ version: 'v1', replaced: '20250101T000000Z-abc' });
    expect(lstatSync(join(out, 'm')).isDirectory()).toBe(true);
    expect(readFileSync(join(out, 'm', '360p', 'seg-1.m4s'), 'utf8')).toBe('new');
  });

  it('will not replace a plain folder, validates ids, discards staging', () => {
    const out = join(root, 'd');
    mkdirSync(join(out, 'legacy'), { recursive: true });
    expect(() => assertCanPublish(out, 'legacy', true)).toThrow(
      expect.objectContaining({ code: 'ASSET_NOT_VERSIONED' }),
    );
    expect(() => stageAndPublish(out, 'legacy', 'x', true)).toThrow(/plain folder/);
    expect(readdirSync(join(out, 'legacy'))).toEqual([]);
    expect(readdirSync(out)).toEqual(['legacy']);
    for (const bad of ['../x', '.hidden', 'a/b', '', 'x'.repeat(200)])
      expect(() => validateAssetId(bad)).toThrow(/not a valid asset id/);
    validateAssetId('Movie_2024-01.v2');
    const t = createStaging(out, 'z');
    discardStaging(t);
    expect(existsSync(t)).toBe(false);
  });

  it('refuses an output folder on procfs or sysfs at once (Node 20 spins for ever making one there)', () => {
    expect(() => createStaging('/proc/streamedge-out/assets', 'a')).toThrow(
      /--out \/proc\/streamedge-out\/assets: \/proc is on procfs, where no output can be written/,
    );
    expect(() => createStaging('/sys/streamedge-out', 'a')).toThrow(/\/sys is on sysfs/);
  });

  it('sweeps the staging folders of runs killed outright: process gone and an hour old, not a live or a recent one', () => {
    const out = join(root, 'sweep');
    mkdirSync(out);
    // a pid that existed and is gone: a child that has exited
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const hourAgo = (Date.now() - 2 * 3600_000) / 1000;
    const dead = join(out, `.tmp-a-${gone}-0badc0de`);
    const recentDead = join(out, `.tmp-b-${gone}-0badc0df`);
    const live = join(out, `.tmp-c-${process.pid}-0badc0e0`);
    for (const d of [dead, recentDead, live]) {
      mkdirSync(d);
      writeFileSync(join(d, 'seg-1.m4s'), 'bytes');
    }
    utimesSync(dead, hourAgo, hourAgo);
    utimesSync(live, hourAgo, hourAgo);
    const mine = createStaging(out, 'd');
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(recentDead)).toBe(true);
    expect(existsSync(live)).toBe(true);
    discardStaging(mine);
  });
});
