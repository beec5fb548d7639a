/** The bench's readable summary: one block per trace, a column per engine (mean [95 % bounds]). */
import type { Interval, Versus } from './confidence.js';

const FORMAT: Record<string, (x: number) => string> = {
  displayedAvgBitrateBps: (x) => `${(x / 1e6).toFixed(2)}M`,
  playedAvgBitrateBps: (x) => `${(x / 1e6).toFixed(2)}M`,
  engineAvgBitrateBps: (x) => `${(x / 1e6).toFixed(2)}M`,
  rebufferRatio: (x) => `${(x * 100).toFixed(1)}%`,
  displayedTopShare: (x) => `${(x * 100).toFixed(0)}%`,
  belowHoldBackShare: (x) => `${(x * 100).toFixed(0)}%`,
  videoBytes: (x) => `${(x / 1e6).toFixed(1)}MB`,
  startupMs: (x) => `${Math.round(x)}ms`,
};
const fmt = (k: string, x: number) =>
  (FORMAT[k] ?? ((v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(2))))(x);

export function summaryTable(
  title: string,
  engines: readonly string[],
  keys: readonly string[],
  r: { summary: Record<string, Record<string, Interval | null>>; versusBest: Record<string, Versus> },
): string {
  const W = 24;
  const lines = [title, `  ${'figure'.padEnd(24)}${engines.map((e) => e.padStart(W)).join('')}   ours vs best`];
  for (const k of keys) {
    const cells = engines.map((e) => {
      const i = r.summary[e]?.[k];
      return (i ? `${fmt(k, i.mean)} [${fmt(k, i.low)}..${fmt(k, i.high)}]` : '–').padStart(W);
    });
    const v = r.versusBest[k];
    const vs = v?.ratio != null ? `${v.ratio.toFixed(2)}× ${v.best} (${v.verdict})` : '–';
    lines.push(`  ${k.padEnd(24)}${cells.join('')}   ${vs}`);
  }
  return lines.join('\n');
}
