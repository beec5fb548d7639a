// Starts a TypeScript entry file (the CLI, an edge child process, a load-test worker, a bench script).
//
// Loading our ~300 TypeScript modules through tsx's loader hooks costs about 2.5 CPU-seconds per
// process, and the edge starts a process per core plus its store. So the entry is bundled once
// with esbuild (our code in one file, packages left to node) into node_modules/.cache/, and every
// later start imports the bundle: about 0.8 CPU-seconds. The bundle is a cache, never a build
// step: beside it a manifest records every input's size and mtime (with this file's and esbuild's),
// and any change makes the next start rebuild it. Each module keeps its own `import.meta.url`,
// `dirname` and `filename` (written into the bundle as literals), so paths next to the sources
// resolve as they do under tsx. STREAMEDGE_LAUNCH_CACHE names another cache folder. When the bundle cannot be built or written, or with
// STREAMEDGE_TSX=1, the entry runs through tsx as before.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = process.env.STREAMEDGE_LAUNCH_CACHE || join(ROOT, 'node_modules', '.cache', 'streamedge-launch');
const SELF = fileURLToPath(import.meta.url);

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

async function bundleFor(file) {
  const id = createHash('sha1').update(file).digest('hex').slice(0, 12);
  const base = join(CACHE_DIR, `${basename(file).replace(/\.[cm]?[jt]s$/, '')}-${id}`);
  const out = `${base}.mjs`;
  if (isFresh(`${base}.json`)) return out;
  return build(file, out, `${base}.json`);
}

function stamp(path) {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? [s.size, s.mtimeMs] : null;
}

function isFresh(manifestPath) {
  let inputs;
  try {
    inputs = JSON.parse(readFileSync(manifestPath, 'utf8')).inputs;
  } catch {
    return false;
  }
  for (const [path, size, mtimeMs] of inputs) {
    const s = stamp(path);
    if (!s || s[0] !== size || s[1] !== mtimeMs) return false;
  }
  return true;
}

async function build(file, out, manifestPath) {
  const esbuild = await import('esbuild');
  const started = Date.now();
  const result = await esbuild.build({
    entryPoints: [file],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    sourcemap: 'linked',
    metafile: true,
    write: false,
    logLevel: 'silent',
    plugins: [ownImportMeta],
  });
  mkdirSync(CACHE_DIR, { recursive: true });
  for (const f of result.outputFiles) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
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
    writeFileSync(tmp, JSON.stringify({ entry: file, inputs }));
    renameSync(tmp, manifestPath);
  }
  return out;
}

/** Gives each of our modules its own import.meta.url/dirname/filename inside the one bundle. */
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
