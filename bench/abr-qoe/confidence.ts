/**
 * Mean and 95 % confidence bounds over a bench's repeated sessions (Student's t, two-sided), and
 * the comparison of our engine with the best of the others on each figure.
 */

/** Two-sided 97.5 % quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export interface Interval {
  n: number;
  mean: number;
  /** 95 % confidence bounds of the mean (equal to the mean when n = 1). */
  low: number;
  high: number;
  sd: number;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

export function interval(values: number[], digits = 4): Interval | null {
  const xs = values.filter((x) => Number.isFinite(x));
  const n = xs.length;
  if (n === 0) return null;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const half = n > 1 ? (T975[Math.min(n - 1, T975.length) - 1] * sd) / Math.sqrt(n) : 0;
  return {
    n,
    mean: round(mean, digits),
    low: round(mean - half, digits),
    high: round(mean + half, digits),
    sd: round(sd, digits),
  };
}

/** Intervals of the numeric `keys` over the sessions of one engine (sessions that failed are left out). */
export function summarize(sessions: object[], keys: readonly string[]): Record<string, Interval | null> {
  const out: Record<string, Interval | null> = {};
  for (const k of keys) {
    const xs: number[] = [];
    for (const s of sessions) {
      const v = (s as Record<string, unknown>)[k];
      if (typeof v === 'number') xs.push(v);
    }
    out[k] = interval(xs);
  }
  return out;
}

export interface Versus {
  /** The other engine with the best mean on this figure. */
  best: string | null;
  /** ours mean / best other mean (null when the best is 0 or missing). */
  ratio: number | null;
  /**
   * Verdict from the bounds: 'better'/'worse' when the intervals do not overlap, 'overlap' when
   * they do (the difference is not shown at 95 %), 'equal' when both are exactly the same value.
   */
  verdict: 'better' | 'worse' | 'overlap' | 'equal' | null;
}

export function versusBest(
  byEngine: Record<string, Record<string, Interval | null>>,
  ours: string,
  key: string,
  higherIsBetter: boolean,
): Versus {
  const mine = byEngine[ours]?.[key];
  let best: string | null = null;
  let bestI: Interval | null = null;
  for (const [engine, figs] of Object.entries(byEngine)) {
    if (engine === ours) continue;
    const i = figs[key];
    if (!i) continue;
    if (!bestI || (higherIsBetter ? i.mean > bestI.mean : i.mean < bestI.mean)) {
      best = engine;
      bestI = i;
    }
  }
  if (!mine || !bestI) return { best, ratio: null, verdict: null };
  const ratio = bestI.mean !== 0 ? round(mine.mean / bestI.mean, 3) : null;
  let verdict: Versus['verdict'];
  if (mine.low === mine.high && bestI.low === bestI.high && mine.mean === bestI.mean) verdict = 'equal';
  else if (mine.low > bestI.high) verdict = higherIsBetter ? 'better' : 'worse';
  else if (mine.high < bestI.low) verdict = higherIsBetter ? 'worse' : 'better';
  else verdict = 'overlap';
  return { best, ratio, verdict };
}
