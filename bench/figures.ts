/**
 * `npm run figures`: regenerates the README's figures table from bench/results/*.json (between the
 * `<!-- figures:begin -->` and `<!-- figures:end -->` markers). `--check` changes nothing and
 * exits 1 when the README is out of date (the test suite runs the same check).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderFigures, type BenchResult } from './figures-table.js';

const ROOT = resolve(import.meta.dirname, '..');
const BEGIN = '<!-- figures:begin -->';
const END = '<!-- figures:end -->';

export function loadResults(dir = join(ROOT, 'bench', 'results')): BenchResult[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown> }));
}

/** The README with its figures block replaced by the one generated from the results. */
export function withFigures(readme: string, results: BenchResult[]): string {
  const b = readme.indexOf(BEGIN);
  const e = readme.indexOf(END);
  if (b < 0 || e < b) throw new Error(`README.md has no ${BEGIN} … ${END} block`);
  return readme.slice(0, b + BEGIN.length) + '\n' + renderFigures(results) + readme.slice(e);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const file = join(ROOT, 'README.md');
  const before = readFileSync(file, 'utf8');
  const after = withFigures(before, loadResults());
  if (process.argv.includes('--check')) {
    if (before !== after) {
      process.stderr.write('README.md figures are out of date: run `npm run figures`\n');
      process.exit(1);
    }
  } else if (before !== after) {
    writeFileSync(file, after);
    process.stdout.write('README.md figures updated\n');
  } else {
    process.stdout.write('README.md figures already current\n');
  }
}
