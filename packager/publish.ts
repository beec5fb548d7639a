/**
 * Atomic VOD publishing.
 *
 *   <outDir>/.tmp-<asset>-<pid>-<rand>/     staging: everything is written here first
 *   <outDir>/.versions/<asset>/<version>/   a published version; never modified afterwards
 *   <outDir>/<asset> -> .versions/<asset>/<version>   what the origin serves at /vod/<asset>/
 *
 * Publishing renames the staging folder to a new version folder, then points the asset symlink at
 * it: without force with symlink(2) (fails if the asset exists: no race), with force by renaming a
 * fresh symlink over the old one (rename(2) is atomic). Old versions stay on disk untouched, so a
 * player or edge fill in the middle of reading old bytes keeps reading the same bytes.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, renameSync, rmSync, rmdirSync, symlinkSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StreamedgeError } from '../src/errors.js';

export const VERSIONS_DIR = '.versions';
export const LOGS_DIR = '.logs';
export const STAGING_PREFIX = '.tmp-';

const ASSET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function validateAssetId(assetId: string): void {
  if (!ASSET_ID.test(assetId) || assetId.includes('..')) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `--id "${assetId}" is not a valid asset id (letters, digits, '.', '_' or '-', starting with a letter or digit, at most 128)`,
    );
  }
}

export function assetPath(outDir: string, assetId: string): string {
  return join(outDir, assetId);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function assetExistsError(outDir: string, assetId: string): StreamedgeError {
  return new StreamedgeError(
    'ASSET_EXISTS',
    `asset "${assetId}" already exists in ${outDir}; use --force to publish a new version (the old one stays intact)`,
  );
}

/** Throws ASSET_EXISTS unless force (checked early, before spending time encoding). */
export function assertCanPublish(outDir: string, assetId: string, force: boolean): void {
  const link = assetPath(outDir, assetId);
  if (!exists(link)) return;
  if (!force) throw assetExistsError(outDir, assetId);
  if (!lstatSync(link).isSymbolicLink()) {
    throw new StreamedgeError(
      'ASSET_NOT_VERSIONED',
      `${link} is a plain folder, not a published version link; move it away before re-packaging "${assetId}"`,
    );
  }
}

/** Creates a fresh staging folder inside outDir (same file system, so publishing is a rename). */
export function createStaging(outDir: string, assetId: string): string {
  mkdirSync(outDir, { recursive: true });
  const dir = join(outDir, `${STAGING_PREFIX}${assetId}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

export function discardStaging(stagingDir: string): void {
  rmSync(stagingDir, { recursive: true, force: true });
}

/** A sortable, unique version name: UTC time stamp plus a random suffix. */
export function newVersionName(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export interface Published {
  version: string;
  /** <outDir>/.versions/<asset>/<version> */
  versionDir: string;
  /** <outDir>/<asset> (a symlink) */
  link: string;
  /** The version the link pointed at before (force), if any. */
  replaced?: string;
}

/** Moves a complete staging folder into place and points the asset link at it, atomically. */
export function publishVersion(
  outDir: string,
  assetId: string,
  stagingDir: string,
  opts: { force: boolean },
): Published {
  const version = newVersionName();
  const versionsOfAsset = join(outDir, VERSIONS_DIR, assetId);
  mkdirSync(versionsOfAsset, { recursive: true });
  const versionDir = join(versionsOfAsset, version);
  renameSync(stagingDir, versionDir);
  const target = join(VERSIONS_DIR, assetId, version); // relative: the tree can be moved as a whole
  const link = assetPath(outDir, assetId);

  const undo = (): void => {
    rmSync(versionDir, { recursive: true, force: true });
    try {
      rmdirSync(versionsOfAsset); // only if empty
    } catch {
      /* other versions remain */
    }
  };

  if (!opts.force) {
    try {
      symlinkSync(target, link, 'dir');
    } catch (e) {
      undo();
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw assetExistsError(outDir, assetId);
      throw e;
    }
    return { version, versionDir, link };
  }

  let replaced: string | undefined;
  if (exists(link)) {
    if (!lstatSync(link).isSymbolicLink()) {
      undo();
      assertCanPublish(outDir, assetId, true); // throws the clear error
    }
    replaced = basename(readlinkSync(link));
  }
  const tmpLink = join(outDir, `${STAGING_PREFIX}link-${assetId}-${randomBytes(4).toString('hex')}`);
  try {
    symlinkSync(target, tmpLink, 'dir');
    renameSync(tmpLink, link);
  } catch (e) {
    try {
      unlinkSync(tmpLink);
    } catch {
      /* not created */
    }
    undo();
    throw e;
  }
  return { version, versionDir, link, replaced };
}
