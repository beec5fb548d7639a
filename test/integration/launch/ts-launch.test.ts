/**
 * bin/ts-launch.js: an entry runs from a cached esbuild bundle, rebuilt when a source changes, with
 * each module's own import.meta; through tsx when no bundle can be written. Real node processes
 * through bin/run-ts.js, on a two-module entry in a temporary folder.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
writeFileSync(
  entry,
  `import { fileName, marker, where } from './where.js';
class Named {}
process.stdout.write(JSON.stringify({ where, marker, entryUrl: import.meta.url, name: Named.name, fileName: fileName(), argv: process.argv.slice(1) }));
`,
);

async function run(env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const { stdout } = await promisify(execFile)(process.execPath, [RUN_TS, entry, 'a1'], {
    env: { ...process.env, STREAMEDGE_LAUNCH_CACHE: cache, ...env },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const bundleFile = (): string => {
  const f = readdirSync(cache).find((n) => n.startsWith('entry-') && n.endsWith('.mjs'));
  if (!f) throw new Error(`no bundle in ${cache}`);
  return join(cache, f);
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
    expect(readFileSync(bundleFile(), 'utf8')).toContain("'first'".replaceAll("'", '"'));
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
