/**
 * bin/ts-launch.js: an entry runs from a cached esbuild bundle, rebuilt when a source changes, with
 * each module's own import.meta; through tsx when no bundle can be written. Real node processes
 * through bin/run-ts.js, on a two-module entry in a temporary folder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const RUN_TS = join(import.meta.dirname, '../../../bin/run-ts.js');
const dir = mkdtempSync(join(tmpdir(), 'se-launch-'));
const cache = join(dir, 'cache');
const entry = join(dir, 'entry.ts');
const helper = join(dir, 'where.ts');

writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
writeFileSync(
  helper,
  `import { basename } from 'node:path';
export const where: { url: string; dir: string; file: string } = { url: import.meta.url, dir: import.meta.dirname, file: import.meta.filename };
export const marker = 'first';
export const fileName = (): string => basename(import.meta.filename);
`,
);
writeFileSync(join(dir, 'lazy.ts'), 'export const lazyFile: string = import.meta.filename;\n');
writeFileSync(
  entry,
  `import { fileName, marker, where } from './where.js';
class Named {}
const { lazyFile } = await import('./lazy.js');
process.stdout.write(JSON.stringify({ where, marker, entryUrl: import.meta.url, name: Named.name, fileName: fileName(), lazyFile, argv: process.argv.slice(1) }));
`,
);

async function run(env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, [RUN_TS, entry, 'a1'], {
    env: { ...process.env, STREAMEDGE_LAUNCH_CACHE: cache, ...env },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The entry's bundle file the manifest names now. */
const bundleFile = (): string => {
  const manifest = readdirSync(cache).find((n) => n.startsWith('entry-') && n.endsWith('.json'));
  if (!manifest) throw new Error(`no manifest in ${cache}`);
  const { build } = JSON.parse(readFileSync(join(cache, manifest), 'utf8')) as { build: string };
  return join(cache, manifest.replace(/\.json$/, ''), build, 'entry.mjs');
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ts-launch', () => {
  it('runs the entry from a bundle, each module with its own import.meta, and its argv', async () => {
    const out = await run();
    expect(out.where).toEqual({ url: pathToFileURL(helper).href, dir, file: helper });
    expect(out.entryUrl).toBe(pathToFileURL(entry).href);
    expect(out.fileName).toBe('where.ts');
    expect(out.name).toBe('Named');
    expect(out.marker).toBe('first');
    expect(out.argv).toEqual([entry, 'a1']);
    // The lazily imported module is a chunk of its own beside the entry, with its own import.meta.
    expect(out.lazyFile).toBe(join(dir, 'lazy.ts'));
    const chunks = readdirSync(dirname(bundleFile())).filter((n) => n.endsWith('.mjs') && n !== 'entry.mjs');
    const lazyChunk = chunks.filter((n) => readFileSync(join(dirname(bundleFile()), n), 'utf8').includes('lazy.ts'));
    expect(lazyChunk.length).toBe(1);
    expect(readFileSync(bundleFile(), 'utf8')).not.toContain(JSON.stringify(join(dir, 'lazy.ts')));
    expect(readFileSync(bundleFile(), 'utf8')).toContain('"first"');
  });

  it('runs the same bundle again while no source changed, and rebuilds it when one does', async () => {
    // Mark the bundle itself: a second start that prints the mark ran the cached bundle.
    const b = bundleFile();
    writeFileSync(b, readFileSync(b, 'utf8').replace('"first"', '"cached"'));
    expect((await run()).marker).toBe('cached');
    writeFileSync(helper, readFileSync(helper, 'utf8').replace("'first'", "'second'"));
    expect((await run()).marker).toBe('second');
    // Same size, new mtime: rebuilt too.
    writeFileSync(b, readFileSync(b, 'utf8').replace('"second"', '"stale!"'));
    const t = new Date(Date.now() - 60_000);
    utimesSync(helper, t, t);
    expect((await run()).marker).toBe('second');
  });

  it('builds again when the build folder the manifest names is gone', async () => {
    rmSync(dirname(bundleFile()), { recursive: true, force: true });
    expect((await run()).marker).toBe('second');
    expect(readFileSync(bundleFile(), 'utf8')).toContain('"second"');
  });

  it('runs through tsx when no bundle can be written, or when STREAMEDGE_TSX=1', async () => {
    // The cache "folder" is a file: nothing can be written under it.
    const blocked = join(dir, 'not-a-folder');
    writeFileSync(blocked, '');
    const viaTsx = await run({ STREAMEDGE_LAUNCH_CACHE: join(blocked, 'cache') });
    expect(viaTsx.marker).toBe('second');
    expect(viaTsx.where).toEqual({ url: pathToFileURL(helper).href, dir, file: helper });
    writeFileSync(bundleFile(), readFileSync(bundleFile(), 'utf8').replace('"second"', '"cached"'));
    expect((await run({ STREAMEDGE_TSX: '1' })).marker).toBe('second');
    expect((await run()).marker).toBe('cached');
  });
});
