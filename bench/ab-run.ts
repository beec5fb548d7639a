/**
 * What the A/B benches share: this checkout against a baseline checkout (`--baseline <dir>`),
 * their options read from the command line, and the two commits named in the result.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

export interface AbRun {
  /** This checkout. */
  root: string;
  /** The baseline checkout (`--baseline`). */
  baseline: string;
  /** `--<name> <value>`, when given. */
  option: (name: string) => string | undefined;
  /** The short commits of both checkouts, for the result's setup. */
  commits: () => { baseline: string; current: string };
}

export function abRun(argv = process.argv.slice(2)): AbRun {
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i === -1 ? undefined : argv[i + 1];
  };
  const baseline = option('baseline');
  if (baseline === undefined) throw new Error('--baseline <checkout dir> is required');
  const root = resolve(import.meta.dirname, '..');
  const commitOf = (dir: string) =>
    execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  return {
    root,
    baseline: resolve(baseline),
    option,
    commits: () => ({ baseline: commitOf(resolve(baseline)), current: commitOf(root) }),
  };
}
