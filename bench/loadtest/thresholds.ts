/**
 * Pass/fail thresholds in the manner of k6, so a run can gate a release:
 *
 *   stalls==0   errors<10   failed==0   rebuffer<0.01   bitrate>1.5Mbps   loop.p99<20ms
 *   latency.p95<3s   startup.p50<=800ms   ttfb.part.p99<500ms   download.segment.p95<2s
 *   partlag.p99<100ms   requests.rate>1000
 *
 * A metric with a percentile (`name.pNN`, or `name.kind.pNN` for ttfb/download per object type)
 * reads the run's HDR histogram; durations take ms or s (bare numbers are ms). Bitrates take
 * bps, kbps or Mbps. An unknown metric, operator or unit is a BAD_OPTION before the run starts.
 */
import { StreamedgeError } from '../../src/errors.js';
import { OBJECT_KINDS, type LoadStats } from './load-stats.js';
import type { LoadReport } from './report.js';

type Op = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Threshold {
  spec: string;
  metric: string;
  op: Op;
  /** In the metric's base unit: ms for durations, bit/s for bitrates, plain numbers otherwise. */
  value: number;
}

export interface ThresholdResult {
  threshold: string;
  /** The run's value in the threshold's base unit (null: no data, which fails the threshold). */
  actual: number | null;
  /** The run's value as a person reads it, with its unit: `4.22 s`, `2.98 Mbit/s`, `3`. */
  actualText: string;
  ok: boolean;
}

const COUNTERS = ['stalls', 'errors', 'failed', 'rebuffer', 'switches', 'abandons'] as const;
const TIMED = ['latency', 'startup', 'partlag'] as const;
const PER_KIND = ['ttfb', 'download'] as const;

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000 };
const BITRATE_UNITS: Record<string, number> = { '': 1, bps: 1, kbps: 1e3, mbps: 1e6 };

function bad(spec: string, why: string): never {
  throw new StreamedgeError('BAD_OPTION', `--threshold '${spec}': ${why}`);
}

export function parseThreshold(spec: string): Threshold {
  const m = /^\s*([a-z][a-z0-9.]*)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(spec);
  if (!m) bad(spec, 'expected <metric><op><value>, e.g. stalls==0, latency.p95<3s, ttfb.part.p99<500ms');
  const metric = m[1].toLowerCase();
  const op = m[2] as Op;
  const num = Number(m[3]);
  const unit = m[4].toLowerCase();
  const parts = metric.split('.');
  let scale: number | undefined;
  if ((COUNTERS as readonly string[]).includes(metric)) scale = unit === '' ? 1 : undefined;
  else if (metric === 'bitrate') scale = BITRATE_UNITS[unit];
  else if (metric === 'requests.rate') scale = unit === '' ? 1 : undefined;
  else if (metric === 'loop.p99') scale = DURATION_UNITS[unit];
  else if ((TIMED as readonly string[]).includes(parts[0]) && parts.length === 2 && isPercentile(parts[1]))
    scale = DURATION_UNITS[unit];
  else if (
    (PER_KIND as readonly string[]).includes(parts[0]) &&
    parts.length === 3 &&
    (OBJECT_KINDS as string[]).includes(parts[1]) &&
    isPercentile(parts[2])
  )
    scale = DURATION_UNITS[unit];
  else
    bad(
      spec,
      `unknown metric "${metric}" (use ${COUNTERS.join(', ')}, bitrate, requests.rate, loop.p99, ${TIMED.map((t) => `${t}.pNN`).join(', ')}, ttfb|download.<${OBJECT_KINDS.join('|')}>.pNN)`,
    );
  if (scale === undefined) bad(spec, `unit "${unit}" does not fit ${metric}`);
  return { spec: spec.trim(), metric, op, value: num * scale };
}

function isPercentile(p: string): boolean {
  const m = /^p(\d{1,2}(?:\.\d+)?|100)$/.exec(p);
  return m !== null && Number(m[1]) > 0 && Number(m[1]) <= 100;
}

function actualOf(t: Threshold, stats: LoadStats, report: LoadReport): number | null {
  const parts = t.metric.split('.');
  switch (t.metric) {
    case 'stalls':
      return report.stalls;
    case 'errors':
      return Object.values(report.errors).reduce((a, b) => a + b, 0);
    case 'failed':
      return report.viewers.failed;
    case 'rebuffer':
      return report.rebufferRatio;
    case 'switches':
      return report.switches;
    case 'abandons':
      return report.abandons;
    case 'bitrate':
      return report.averageBitrateBps;
    case 'requests.rate':
      return report.requests.perSec;
  }
  if (t.metric === 'loop.p99') return report.loadTester.eventLoopDelayP99Ms;
  const p = Number(parts[parts.length - 1].slice(1));
  const histogram = parts[0] === 'partlag' ? 'partLag' : parts.slice(0, -1).join('.');
  return stats.percentileMs(histogram, p);
}

function holds(actual: number, op: Op, value: number): boolean {
  switch (op) {
    case '<':
      return actual < value;
    case '<=':
      return actual <= value;
    case '>':
      return actual > value;
    case '>=':
      return actual >= value;
    case '==':
      return actual === value;
    case '!=':
      return actual !== value;
  }
}

/** A value in `metric`'s base unit (ms, bit/s or plain) as a person reads it. */
function readable(metric: string, v: number): string {
  const round = (x: number) => String(Math.round(x * 100) / 100);
  if (metric === 'bitrate') return v >= 1e6 ? `${round(v / 1e6)} Mbit/s` : `${round(v / 1e3)} kbit/s`;
  const timed = metric === 'loop.p99' || /^(latency|startup|partlag|ttfb|download)\./.test(metric);
  if (timed) return Math.abs(v) >= 1000 ? `${round(v / 1000)} s` : `${round(v)} ms`;
  if (metric === 'requests.rate') return `${round(v)}/s`;
  return round(v);
}

export function evaluateThresholds(list: Threshold[], stats: LoadStats, report: LoadReport): ThresholdResult[] {
  return list.map((t) => {
    const actual = actualOf(t, stats, report);
    return {
      threshold: t.spec,
      actual,
      actualText: actual === null ? 'no data' : readable(t.metric, actual),
      ok: actual !== null && holds(actual, t.op, t.value),
    };
  });
}
