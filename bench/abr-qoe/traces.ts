/**
 * Deterministic bandwidth traces for the QoE bench: a list of steps (from time, Mbit/s) applied
 * to the page's limiter on schedule, time measured from the moment the stream is loaded.
 */

export interface TraceStep {
  /** Seconds after load. */
  atSec: number;
  mbps: number;
}

export interface BandwidthTrace {
  name: string;
  about: string;
  steps: TraceStep[];
}

function steady(name: string, mbps: number): BandwidthTrace {
  return { name, about: `${mbps} Mbit/s throughout`, steps: [{ atSec: 0, mbps }] };
}

/** Steps every `everySec` through `levels`. */
function cascade(name: string, levels: number[], everySec: number): BandwidthTrace {
  return {
    name,
    about: `${levels.join('→')} Mbit/s, a step every ${everySec} s`,
    steps: levels.map((mbps, i) => ({ atSec: i * everySec, mbps })),
  };
}

/** `base` Mbit/s with a `dipSec` dip to `dipMbps` every `periodSec` (first dip at periodSec). */
function spikes(
  name: string,
  base: number,
  dipMbps: number,
  periodSec: number,
  dipSec: number,
  untilSec: number,
): BandwidthTrace {
  const steps: TraceStep[] = [{ atSec: 0, mbps: base }];
  for (let t = periodSec; t < untilSec; t += periodSec) {
    steps.push({ atSec: t, mbps: dipMbps }, { atSec: t + dipSec, mbps: base });
  }
  return { name, about: `${base} Mbit/s with a ${dipSec} s dip to ${dipMbps} Mbit/s every ${periodSec} s`, steps };
}

export const VOD_TRACES: BandwidthTrace[] = [
  steady('steady-5', 5),
  cascade('cascade', [6, 3, 1.5, 0.8, 1.5, 3, 6], 3),
  spikes('spike', 6, 0.6, 5, 1, 60),
  steady('steady-1.5', 1.5),
];

/**
 * Run only when named (`--traces steady-2.5`), with long sessions on the long sample
 * (`--long-sample --duration 150`): links between two far-apart rungs (360p 0.99, 540p 2.26
 * Mbit/s), where what a player does with a full buffer decides; 20 s sessions never fill it.
 */
export const NAMED_VOD_TRACES: BandwidthTrace[] = [steady('steady-2', 2), steady('steady-2.5', 2.5)];

/**
 * The live channel's ladder tops out below 1 Mbit/s, so a steady link is the latency test; the
 * low-latency estimator's cascade is a unit test (test/unit/abr/abr-controller.test.ts).
 */
export const LIVE_TRACES: BandwidthTrace[] = [steady('live-steady-5', 5)];

/** The limit in force at `tSec`. */
export function bandwidthAt(trace: BandwidthTrace, tSec: number): number {
  let mbps = trace.steps[0].mbps;
  for (const s of trace.steps) if (s.atSec <= tSec) mbps = s.mbps;
  return mbps;
}
