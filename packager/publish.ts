/**
 * Atomic, versioned VOD publishing. The disk layout mirrors the URL space the origin serves:
 *
 *   <outDir>/.tmp-<asset>-<pid>-<rand>/     staging: everything is written here first
 *   <outDir>/<asset>/v<N>/                  published version N: never modified afterwards
 *                                            (served immutable at /vod/<asset>/v<N>/...)
 *   <outDir>/<asset>/master.m3u8            entry points of the current version (URIs "v<N>/...";
 *   <outDir>/<asset>/manifest.mpd             the MPD has BaseURL "v<N>/"); short-lived when served
 *   <outDir>/<asset>/<rendition> -> v<N>/<rendition>   the unversioned URL forms, kept working
 *   <outDir>/<asset>/.asset.json            version history (publish times), for retention
 *
 * First publish: the whole asset folder is built in staging and renamed into place (fails if the
 * asset exists: no race). Re-publish (force): version N is reserved up front (mkdir of an empty
 * `v<N>`, so two publishers never share a number), the finished version is renamed onto it, then
 * each entry point and rendition link is replaced by rename(2) (atomic per file; each names a
 * complete version). Old versions stay until retention (version-retention.ts) removes them.
 *
 * Assets published before versioned URLs (`<outDir>/<asset>` a symlink into
 * `<outDir>/.versions/<asset>/<stamp>`) are still served; re-packaging one migrates it to this
 * layout (its old folder under .versions is left for the operator to remove).
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  rmdirSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../src/atomic-file.js';
import { StreamedgeError } from '../src/errors.js';
import { paths } from '../src/media/presentation.js';

export const LOGS_DIR = '.logs';
export const STAGING_PREFIX = '.tmp-';
/** Version history of a versioned asset (hidden: never served). */
export const ASSET_HISTORY = '.asset.json';
/** A version folder name: v1, v2, ... */
export const VERSION_NAME = /^v[1-9][0-9]*$/;

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

export function versionName(n: number): string {
  return `v${n}`;
}

type Layout = 'none' | 'versioned' | 'legacy-link' | 'plain' | 'file';

function layoutOf(outDir: string, assetId: string): Layout {
  const dir = assetPath(outDir, assetId);
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return 'none';
  }
  if (st.isSymbolicLink()) return 'legacy-link';
  if (!st.isDirectory()) return 'file';
  try {
    lstatSync(join(dir, ASSET_HISTORY));
    return 'versioned';
  } catch {
    return 'plain';
  }
}

function assetExistsError(outDir: string, assetId: string): StreamedgeError {
  return new StreamedgeError(
    'ASSET_EXISTS',
    `asset "${assetId}" already exists in ${outDir}; use --force to publish a new version (the old one stays servable)`,
  );
}

/** Throws ASSET_EXISTS unless force (checked early, before spending time encoding). */
export function assertCanPublish(outDir: string, assetId: string, force: boolean): void {
  const layout = layoutOf(outDir, assetId);
  if (layout === 'none') return;
  if (!force) throw assetExistsError(outDir, assetId);
  if (layout === 'plain' || layout === 'file') {
    throw new StreamedgeError(
      'ASSET_NOT_VERSIONED',
      `${assetPath(outDir, assetId)} is a ${layout === 'file' ? 'file' : 'plain folder'}, not a published asset; move it away before re-packaging "${assetId}"`,
    );
  }
}

/** A staging folder left by a killed run is swept once its run is gone and it is this old. */
const DEAD_STAGING_AGE_MS = 3600_000;

/**
 * Removes staging folders left by runs killed outright (SIGKILL, the OOM killer: no cleanup ran),
 * never published nor served but holding up to a whole encode's bytes. Only a folder whose process
 * is gone from this machine and that has not changed for an hour (another machine's run on
 * shared storage keeps writing to its own).
 */
function sweepDeadStaging(outDir: string, now = Date.now()): void {
  let names: string[];
  try {
    names = readdirSync(outDir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\.tmp-.+-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (!m || processAlive(Number(m[1]))) continue;
    const dir = join(outDir, name);
    try {
      if (now - lstatSync(dir).mtimeMs < DEAD_STAGING_AGE_MS) continue;
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** statfs f_type of the kernel's pseudo file systems, where no folder of ours can be made. */
const PSEUDO_FILE_SYSTEMS = new Map([
  [0x9fa0, 'procfs'],
  [0x62656572, 'sysfs'],
]);

/**
 * Refuses an output folder on procfs or sysfs (`--out /proc/x`), named by the nearest folder of
 * the path that exists: Node 20's recursive mkdirSync spins for ever there, where a plain
 * mkdir fails with ENOENT.
 */
function refusePseudoFileSystem(outDir: string): void {
  let at = resolve(outDir);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  let type: number;
  try {
    type = Number(statfsSync(at).type);
  } catch {
    return; // the mkdir that follows says what is wrong
  }
  const fs = PSEUDO_FILE_SYSTEMS.get(type);
  if (fs) throw new StreamedgeError('BAD_OPTION', `--out ${outDir}: ${at} is on ${fs}, where no output can be written`);
}

/**
 * Creates a fresh staging folder inside outDir (same file system, so publishing is a rename),
 * first sweeping the ones runs killed outright left behind.
 */
export function createStaging(outDir: string, assetId: string): string {
  refusePseudoFileSystem(outDir);
  mkdirSync(outDir, { recursive: true });
  sweepDeadStaging(outDir);
  const dir = join(outDir, `${STAGING_PREFIX}${assetId}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

export function discardStaging(stagingDir: string): void {
  rmSync(stagingDir, { recursive: true, force: true });
}

export interface HistoryEntry {
  version: number;
  /** Epoch ms when this version became current. */
  publishedAt: number;
}

export function readHistory(assetDir: string): HistoryEntry[] {
  try {
    const parsed = JSON.parse(readFileSync(join(assetDir, ASSET_HISTORY), 'utf8')) as { versions?: HistoryEntry[] };
    return (parsed.versions ?? [])
      .filter((e) => Number.isInteger(e.version) && e.version > 0 && Number.isFinite(e.publishedAt))
      .sort((a, b) => a.version - b.version);
  } catch {
    return [];
  }
}

/** Writes the history atomically (temporary file + rename) into dir. */
export function writeHistory(dir: string, versions: HistoryEntry[]): void {
  writeFileAtomic(join(dir, ASSET_HISTORY), JSON.stringify({ versions }, null, 2) + '\n');
}

/** The version number a publish will use; `reserved` is the empty folder holding it (re-publish). */
export interface VersionSlot {
  number: number;
  name: string;
  reserved?: string;
}

/**
 * Picks the version number of the next publish. For a versioned asset the number is reserved at
 * once with an exclusive mkdir of `<asset>/v<N>` (empty: nothing is served from it yet).
 */
export function reserveVersion(outDir: string, assetId: string): VersionSlot {
  if (layoutOf(outDir, assetId) !== 'versioned') return { number: 1, name: versionName(1) };
  const dir = assetPath(outDir, assetId);
  const taken = readdirSync(dir)
    .filter((n) => VERSION_NAME.test(n))
    .map((n) => Number(n.slice(1)));
  const recorded = readHistory(dir).map((e) => e.version);
  let n = Math.max(0, ...taken, ...recorded) + 1;
  for (;;) {
    const reserved = join(dir, versionName(n));
    try {
      mkdirSync(reserved);
      return { number: n, name: versionName(n), reserved };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      n++;
    }
  }
}

/** Gives a reserved but unused version number back (on failure). */
export function releaseVersion(slot: VersionSlot): void {
  if (!slot.reserved) return;
  try {
    rmdirSync(slot.reserved); // only if still empty
  } catch {
    /* published after all, or already gone */
  }
}

export interface Published {
  /** "v<N>" */
  version: string;
  /** <outDir>/<asset>/v<N> */
  versionDir: string;
  /** <outDir>/<asset> */
  link: string;
  /** The version that was current before (force), if any. */
  replaced?: string;
}

/**
 * Publishes a complete staging folder laid out as `<staging>/v<N>/...` (the version) plus
 * `<staging>/master.m3u8` and `<staging>/manifest.mpd` (the entry points naming `v<N>/`).
 */
export function publishVersion(
  outDir: string,
  assetId: string,
  stagingDir: string,
  slot: VersionSlot,
  opts: { force: boolean; renditionIds: string[]; now?: number },
): Published {
  const dir = assetPath(outDir, assetId);
  const now = opts.now ?? Date.now();
  const layout = layoutOf(outDir, assetId);
  const versionDir = join(dir, slot.name);
  if (layout !== 'none' && !opts.force) throw assetExistsError(outDir, assetId);
  if (layout === 'plain' || layout === 'file') assertCanPublish(outDir, assetId, true); // throws the clear error

  if (layout === 'versioned') {
    if (!slot.reserved) throw new StreamedgeError('PUBLISH_RACE', `asset "${assetId}" appeared while packaging; retry`);
    const history = readHistory(dir);
    const replaced = history.length > 0 ? versionName(history[history.length - 1].version) : undefined;
    renameSync(join(stagingDir, slot.name), slot.reserved); // onto the empty reserved folder
    writeHistory(dir, [...history, { version: slot.number, publishedAt: now }]);
    for (const entry of [paths.master, paths.mpd]) renameSync(join(stagingDir, entry), join(dir, entry));
    relinkRenditions(dir, slot.name, opts.renditionIds);
    discardStaging(stagingDir);
    return { version: slot.name, versionDir, link: dir, replaced };
  }

  // A whole new asset folder, renamed into place in one step.
  for (const id of opts.renditionIds) symlinkSync(join(slot.name, id), join(stagingDir, id), 'dir');
  writeHistory(stagingDir, [{ version: slot.number, publishedAt: now }]);
  let replaced: string | undefined;
  if (layout === 'legacy-link') {
    // Migration from the symlinked layout: a directory cannot be renamed over a symlink, so the
    // old link goes first (a request in that instant sees 404, never mixed bytes).
    replaced = basename(readlinkSync(dir));
    unlinkSync(dir);
  }
  try {
    renameSync(stagingDir, dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') throw assetExistsError(outDir, assetId);
    throw e;
  }
  return { version: slot.name, versionDir, link: dir, replaced };
}

/** Points `<asset>/<rendition>` at the new version, and drops links to renditions it no longer has. */
function relinkRenditions(dir: string, version: string, renditionIds: string[]): void {
  for (const id of renditionIds) {
    const tmp = join(dir, `${STAGING_PREFIX}link-${id}-${randomBytes(4).toString('hex')}`);
    symlinkSync(join(version, id), tmp, 'dir');
    renameSync(tmp, join(dir, id));
  }
  const keep = new Set(renditionIds);
  for (const name of readdirSync(dir)) {
    if (keep.has(name) || VERSION_NAME.test(name) || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (lstatSync(p).isSymbolicLink() && VERSION_NAME.test(readlinkSync(p).split('/')[0])) unlinkSync(p);
  }
}
