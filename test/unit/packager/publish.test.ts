import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  assertCanPublish,
  createStaging,
  discardStaging,
  publishVersion,
  validateAssetId,
} from '../../../packager/publish.js';

const root = mkdtempSync(join(tmpdir(), 'se-publish-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function stage(out: string, id: string, content: string): string {
  const dir = createStaging(out, id);
  mkdirSync(join(dir, '360p'));
  writeFileSync(join(dir, 'master.m3u8'), content);
  writeFileSync(join(dir, '360p', 'seg-1.m4s'), content);
  return dir;
}

describe('publish', () => {
  it('publishes a staging folder as a version behind a relative symlink', () => {
    const out = join(root, 'a');
    const staging = stage(out, 'movie', 'one');
    expect(staging.startsWith(join(out, '.tmp-movie-'))).toBe(true);
    const p = publishVersion(out, 'movie', staging, { force: false });
    expect(existsSync(staging)).toBe(false);
    expect(lstatSync(p.link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(p.link)).toBe(join('.versions', 'movie', p.version));
    expect(readFileSync(join(out, 'movie', '360p', 'seg-1.m4s'), 'utf8')).toBe('one');
    expect(readdirSync(out).sort()).toEqual(['.versions', 'movie']);
  });

  it('refuses an existing asset without force (early check and at publish time) and cleans up', () => {
    const out = join(root, 'b');
    publishVersion(out, 'm', stage(out, 'm', 'one'), { force: false });
    expect(() => assertCanPublish(out, 'm', false)).toThrow(expect.objectContaining({ code: 'ASSET_EXISTS' }));
    const second = stage(out, 'm', 'two');
    expect(() => publishVersion(out, 'm', second, { force: false })).toThrow(/already exists.*--force/);
    expect(readdirSync(join(out, '.versions', 'm'))).toHaveLength(1);
    expect(readFileSync(join(out, 'm', 'master.m3u8'), 'utf8')).toBe('one');
  });

  it('force swaps the link to a new version; the old version keeps its bytes', () => {
    const out = join(root, 'c');
    const v1 = publishVersion(out, 'm', stage(out, 'm', 'one'), { force: false });
    const v2 = publishVersion(out, 'm', stage(out, 'm', 'two'), { force: true });
    expect(v2.replaced).toBe(v1.version);
    expect(readFileSync(join(out, 'm', 'master.m3u8'), 'utf8')).toBe('two');
    expect(readFileSync(join(v1.versionDir, '360p', 'seg-1.m4s'), 'utf8')).toBe('one');
    expect(readdirSync(out).sort()).toEqual(['.versions', 'm']);
  });

  it('will not replace a plain folder, validates ids, discards staging', () => {
    const out = join(root, 'd');
    mkdirSync(join(out, 'legacy'), { recursive: true });
    expect(() => assertCanPublish(out, 'legacy', true)).toThrow(
      expect.objectContaining({ code: 'ASSET_NOT_VERSIONED' }),
    );
    const s = stage(out, 'legacy', 'x');
    expect(() => publishVersion(out, 'legacy', s, { force: true })).toThrow(/plain folder/);
    expect(readdirSync(join(out, 'legacy'))).toEqual([]);
    for (const bad of ['../x', '.hidden', 'a/b', '', 'x'.repeat(200)])
      expect(() => validateAssetId(bad)).toThrow(/not a valid asset id/);
    validateAssetId('Movie_2024-01.v2');
    const t = createStaging(out, 'z');
    discardStaging(t);
    expect(existsSync(t)).toBe(false);
  });
});
