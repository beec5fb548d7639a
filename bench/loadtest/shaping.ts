/**
 * Per-viewer network shaping: a bandwidth cap that follows a profile over time, and an added
 * latency before the first byte of every response. Applied to body reads: after each chunk the
 * reader waits until the virtual link would have delivered it.
 */
import { readFileSync } from 'node:fs';
import { StreamedgeError } from '../../src/errors.js';

export interface BandwidthProfile {
  /** As given on the command line. */
  name: string;
  /** Link capacity in Mbit/s at `tSec` seconds after the viewer started; Infinity = no cap. */
  mbpsAt(tSec: number): number;
}

/** A step trace: [seconds from viewer start, Mbit/s] pairs; the last value holds. */
function stepProfile(name: string, steps: Array<[number, number]>, loopSec?: number): BandwidthProfile {
  const sorted = [...steps].sort((a, b) => a[0] - b[0]);
  return {
    name,
    mbpsAt(t: number) {
      const tt = loopSec ? t % loopSec : t;
      let v = sorted[0][1];
      for (const [at, mbps] of sorted) if (at <= tt) v = mbps;
      return v;
    },
  };
}

/** Built-in profiles. cascade: a staircase down from 8 to 0.5 Mbit/s and back up, 10 s a step. */
const BUILT_IN: Record<string, () => BandwidthProfile> = {
  unlimited: () => ({ name: 'unlimited', mbpsAt: () => Infinity }),
  cascade: () =>
    stepProfile(
      'cascade',
      [8, 4, 2, 1, 0.5, 1, 2, 4].map((mbps, i) => [i * 10, mbps] as [number, number]),
      80,
    ),
  /** spike: 6 Mbit/s with a 5 s dip to 0.4 Mbit/s every 30 s. */
  spike: () =>
    stepProfile(
      'spike',
      [
        [0, 6],
        [20, 0.4],
        [25, 6],
      ],
      30,
    ),
};

export function parseProfile(spec: string | undefined): BandwidthProfile {
  if (!spec || spec === 'unlimited' || spec === 'none') return BUILT_IN.unlimited();
  const builtIn = BUILT_IN[spec];
  if (builtIn) return builtIn();
  const fixed = /^fixed:(\d+(?:\.\d+)?)$/.exec(spec);
  if (fixed) {
    const mbps = Number(fixed[1]);
    if (!(mbps > 0))
      throw new StreamedgeError('BAD_OPTION', `--profile fixed:<Mbit/s> needs a positive rate, got "${spec}"`);
    return { name: spec, mbpsAt: () => mbps };
  }
  if (spec.endsWith('.json')) return traceProfile(spec);
  throw new StreamedgeError(
    'BAD_OPTION',
    `unknown --profile "${spec}" (use fixed:<Mbit/s>, cascade, spike, unlimited or a trace .json file)`,
  );
}

/** A trace file: [{"t": seconds, "mbps": n}, ...] or [[seconds, mbps], ...]; optional {"loop": true, "points": [...]}. */
function traceProfile(file: string): BandwidthProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new StreamedgeError('BAD_OPTION', `cannot read bandwidth trace ${file}: ${(e as Error).message}`);
  }
  const loop =
    typeof doc === 'object' && doc !== null && !Array.isArray(doc) && (doc as { loop?: unknown }).loop === true;
  const points = Array.isArray(doc) ? doc : (doc as { points?: unknown })?.points;
  if (!Array.isArray(points) || points.length === 0) {
    throw new StreamedgeError(
      'BAD_OPTION',
      `bandwidth trace ${file} must be a non-empty array of {"t": seconds, "mbps": n} or [seconds, mbps]`,
    );
  }
  const steps = points.map((p, i): [number, number] => {
    const t = Array.isArray(p) ? p[0] : (p as { t?: unknown }).t;
    const m = Array.isArray(p) ? p[1] : (p as { mbps?: unknown }).mbps;
    if (typeof t !== 'number' || typeof m !== 'number' || !(t >= 0) || !(m > 0)) {
      throw new StreamedgeError('BAD_OPTION', `bandwidth trace ${file}: point ${i} needs t ≥ 0 and mbps > 0`);
    }
    return [t, m];
  });
  const end = Math.max(...steps.map((s) => s[0]));
  return stepProfile(file, steps, loop && end > 0 ? end : undefined);
}

/** One viewer's link: a token bucket refilled at the profile's rate, shared by its requests. */
export class Shaper {
  private linkFreeAt = 0;
  constructor(
    private readonly profile: BandwidthProfile,
    readonly latencyMs: number,
    private readonly startMs: number = performance.now(),
  ) {}

  get unlimited(): boolean {
    return this.latencyMs <= 0 && this.profile.name === 'unlimited';
  }

  currentMbps(now = performance.now()): number {
    return this.profile.mbpsAt((now - this.startMs) / 1000);
  }

  /** Time (ms) to wait after receiving `bytes` so that the link rate is respected. */
  delayAfter(bytes: number, now = performance.now()): number {
    const mbps = this.currentMbps(now);
    if (!Number.isFinite(mbps)) return 0;
    const txMs = (bytes * 8) / (mbps * 1000);
    this.linkFreeAt = Math.max(now, this.linkFreeAt) + txMs;
    const wait = this.linkFreeAt - now;
    return wait >= 1 ? wait : 0;
  }
}
