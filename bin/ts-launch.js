// Starts a TypeScript entry file (the CLI, an edge child process, a load-test worker, a bench script).
//
// Loading our ~300 TypeScript modules through tsx's loader hooks costs about 2.5 CPU-seconds per
// process, and the edge starts a process per core plus its store. So the entry is bundled with
// esbuild (our code in a few files, split where the code imports lazily, as the CLI does each
// command's area; packages left to node) into node_modules/.cache/, and every later start imports
// the bundle: 0.2-0.8 CPU-seconds. The bundle is a cache, never a build step: a manifest records
// every input's size and mtime (with this file's and esbuild's), and any change makes the next start
// rebuild. Each build has a folder of its own, so a process never loads the chunks of two builds;
// folders replaced an hour ago are removed. Each module keeps its own `import.meta.url`, `dirname`
// and `filename` (written into the bundle as literals), so paths next to the sources resolve as
// they do under tsx. STREAMEDGE_LAUNCH_CACHE names another cache folder (inside the checkout: bundles import
// packages by name, found from where the bundle is). When the bundle cannot be
// built or written, or with STREAMEDGE_TSX=1, the entry runs through tsx.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = process.env.STREAMEDGE_LAUNCH_CACHE || join(ROOT, 'node_modules', '.cache', 'streamedge-launch');
const SELF = fileURLToPath(import.meta.url);
const OLD_BUILD_MS = 3_600_000;

/** Imports `entry` (a .ts path or file URL), from a fresh bundle when it can. */
export async function importTs(entry) {
  const file = entry instanceof URL ? fileURLToPath(entry) : resolve(entry);
  if (process.env.STREAMEDGE_TSX !== '1') {
    const bundle = await bundleFor(file).catch(() => undefined);
    if (bundle) {
      process.setSourceMapsEnabled(true);
      return import(pathToFileURL(bundle).href);
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return import(pathToFileURL(file).href);
}

/** The path of a fresh bundle of `file`'s entry module, built now if there is none. */
async function bundleFor(file) {
  const name = basename(file).replace(/\.[cm]?[jt]s$/, '');
  const base = join(CACHE_DIR, `${name}-${createHash('sha1').update(file).digest('hex').slice(0, 12)}`);
  const manifestPath = `${base}.json`;
  const fresh = freshBuild(manifestPath);
  // (a build folder removed by hand leaves its manifest behind: built again then)
  if (fresh && stamp(join(base, fresh, `${name}.mjs`))) return join(base, fresh, `${name}.mjs`);
  const build = await buildBundle(file, base, manifestPath);
  return join(base, build, `${name}.mjs`);
}

function stamp(path) {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? [s.size, s.mtimeMs] : null;
}

/** The build folder the manifest names, if every input it lists is unchanged. */
function freshBuild(manifestPath) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
  for (const [path, size, mtimeMs] of manifest.inputs) {
    const s = stamp(path);
    if (!s || s[0] !== size || s[1] !== mtimeMs) return undefined;
  }
  return manifest.build;
}

async function buildBundle(file, base, manifestPath) {
  const esbuild = await import('esbuild');
  const started = Date.now();
  const build = `${started.toString(36)}-${process.pid}`;
  const result = await esbuild.build({
    entryPoints: [file],
    outdir: join(base, build),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    plugins: [ownImportMeta],
  });
  const paths = [
    ...Object.keys(result.metafile.inputs).map((p) => resolve(p)),
    SELF,
    join(ROOT, 'node_modules', 'esbuild', 'package.json'),
  ];
  const inputs = paths.map((p) => [p, ...(stamp(p) ?? [-1, -1])]);
  const finished = Date.now();
  // A source saved while the bundle was built may not be in it: then record nothing, so the next
  // start builds again.
  if (inputs.every(([, size, mtimeMs]) => size >= 0 && (mtimeMs < started || mtimeMs > finished))) {
    const tmp = `${manifestPath}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ entry: file, build, inputs }));
    renameSync(tmp, manifestPath);
    removeOldBuilds(base, build);
  }
  return build;
}

/** Build folders other than `keep` last written over an hour ago (no process is still starting from them). */
function removeOldBuilds(base, keep) {
  for (const d of readdirSync(base)) {
    const path = join(base, d);
    if (d !== keep && (stamp(path)?.[1] ?? Infinity) < Date.now() - OLD_BUILD_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
}

/** Gives each of our modules its own import.meta.url/dirname/filename inside the bundle. */
const ownImportMeta = {
  name: 'own-import-meta',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?[jt]s$/ }, async (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = await readFile(args.path, 'utf8');
      const contents = source
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href))
        .replaceAll('import.meta.dirname', JSON.stringify(dirname(args.path)))
        .replaceAll('import.meta.filename', JSON.stringify(args.path));
      return { contents, loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' };
    });
  },
};
