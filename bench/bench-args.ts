/**
 * The benches' command-line options: `--<name> <value>`, else the fallback. Benches are run by
 * hand (`node bin/run-ts.js bench/<name>.ts --rounds 2 …`) and take a few options each.
 */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
