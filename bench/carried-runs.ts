/**
 * Re-running one scenario of a bench without erasing the others: a scenario skipped this time
 * (size 0) keeps its result from the existing results file, marked `carriedFrom` with when it was
 * measured. Used by the load-tester benches.
 */
import { readFileSync } from 'node:fs';

/** A bench's existing results file, or undefined when there is none (or it does not parse). */
export function readPreviousResults<T extends { at?: string }>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * `current` plus every run of `previous` named in `skipped` that was not measured now (marked
 * `carriedFrom`: its own mark, else the previous file's date), sorted by `order`.
 */
export function withCarriedRuns<R extends { name: string; carriedFrom?: string }>(
  current: R[],
  previous: { runs: R[] | undefined; at: string | undefined } | undefined,
  skipped: readonly string[],
  order: readonly string[],
): R[] {
  const out = [...current];
  for (const old of previous?.runs ?? []) {
    if (skipped.includes(old.name) && !out.some((r) => r.name === old.name))
      out.push({ ...old, carriedFrom: old.carriedFrom ?? previous?.at ?? 'unknown' });
  }
  return out.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

/**
 * `out` plus every top-level field of `previous` that this bench does not write itself (repeats
 * and notes added to the file by hand, figures it only carries): kept as they were and named in
 * `keptFields`, so that re-running a bench never silently drops them.
 */
export function withKeptFields(
  out: Record<string, unknown>,
  previous: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const kept: string[] = [];
  const result: Record<string, unknown> = { ...out };
  for (const [name, value] of Object.entries(previous ?? {})) {
    if (name === 'keptFields' || name in out) continue;
    result[name] = value;
    kept.push(name);
  }
  if (kept.length > 0) result['keptFields'] = kept;
  return result;
}
