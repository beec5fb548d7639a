/**
 * Writes test/file-durations.json (what DurationSequencer orders a fresh clone's run by) from the
 * durations in vitest's local cache, i.e. this checkout's last run of each file. Files under 2 s
 * are left out (their order hardly matters), and so are files no longer in the tree.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DURATIONS_FILE } from './duration-sequencer.js';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');
const CACHE = join(REPO, 'node_modules', '.vite', 'vitest');

const seconds: Record<string, number> = {};
for (const d of readdirSync(CACHE)) {
  let results: [string, { duration?: number }][];
  try {
    results = (JSON.parse(readFileSync(join(CACHE, d, 'results.json'), 'utf8')) as { results: typeof results }).results;
  } catch {
    continue;
  }
  for (const [key, r] of results) {
    const file = key.slice(key.indexOf(':') + 1);
    if ((r.duration ?? 0) >= 2000 && existsSync(join(REPO, file))) seconds[key] = Math.round(r.duration! / 100) / 10;
  }
}
const sorted = Object.fromEntries(Object.entries(seconds).sort((a, b) => b[1] - a[1]));
writeFileSync(DURATIONS_FILE, JSON.stringify({ seconds: sorted }, null, 2) + '\n');
process.stdout.write(`${Object.keys(sorted).length} file durations written to ${DURATIONS_FILE}\n`);
