/**
 * Runs a share of the viewers in this thread: one undici Agent (keep-alive pools per origin),
 * viewers started evenly over the ramp, all stopped together at the end, bounded in time.
 */
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Agent } from 'undici';
import type { AbrConfig } from '../../src/abr/abr-controller.js';
import { LoadStats } from './load-stats.js';
import { parseProfile } from './shaping.js';
import { runViewer } from './viewer.js';

export interface PoolOptions {
  url: string;
  viewers: number;
  rampSec: number;
  /** Time after the ramp during which every viewer keeps playing. */
  durationSec: number;
  profile: string;
  latencyMs: number;
  abrConfig?: Partial<AbrConfig>;
  /** false: live HLS viewers ignore LL-HLS (whole segments, plain playlist reloads). */
  lowLatency?: boolean;
  /** This pool's viewers start at offsets i·(ramp/total) + offsetIndex… (interleaved across workers). */
  firstViewerIndex?: number;
  viewerStride?: number;
  totalViewers?: number;
}

/** How long viewers get to wind down after the stop signal before we stop waiting for them. */
const GRACE_MS = 5000;

export class ViewerPool {
  readonly stats = new LoadStats();
  private readonly stop = new AbortController();
  private readonly agent = new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
    connect: { timeout: 10_000 },
  });
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly o: PoolOptions) {
    // every viewer (and each of its requests and waits) listens on this one stop signal
    setMaxListeners(0, this.stop.signal);
  }

  /** Resolves when the run is over and every viewer has stopped (or the grace period ran out). */
  async run(): Promise<LoadStats> {
    const o = this.o;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const profile = parseProfile(o.profile);
    const total = o.totalViewers ?? o.viewers;
    const stride = o.viewerStride ?? 1;
    const first = o.firstViewerIndex ?? 0;
    const viewers: Promise<void>[] = [];
    const endAt = (o.rampSec + o.durationSec) * 1000;
    const runEnded = new Promise<void>((resolve) => {
      const t = setTimeout(() => resolve(), endAt);
      this.timers.add(t);
      this.stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const allStarted = new Promise<void>((resolve) => {
      if (o.viewers === 0) return resolve();
      let started = 0;
      for (let k = 0; k < o.viewers; k++) {
        const globalIndex = first + k * stride;
        const at = total > 1 ? (globalIndex * o.rampSec * 1000) / total : 0;
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (this.stop.signal.aborted) return;
          const p = runViewer({
            url: o.url,
            dispatcher: this.agent,
            stats: this.stats,
            profile,
            latencyMs: o.latencyMs,
            signal: this.stop.signal,
            abrConfig: o.abrConfig,
            lowLatency: o.lowLatency,
          });
          viewers.push(p);
          if (++started === o.viewers) resolve();
        }, at);
        this.timers.add(t);
      }
    });
    await Promise.race([runEnded, allStarted.then(() => runEnded)]);
    this.abort();
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(viewers),
      new Promise<void>((r) => {
        graceTimer = setTimeout(r, GRACE_MS);
      }),
    ]);
    clearTimeout(graceTimer);
    await this.agent.destroy().catch(() => undefined);
    loop.disable();
    this.stats.loopDelayP99Ms = Math.max(this.stats.loopDelayP99Ms, loop.percentile(99) / 1e6);
    return this.stats;
  }

  /** Stops every viewer now (Ctrl-C, or the end of the run). */
  abort(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!this.stop.signal.aborted) this.stop.abort(new Error('load test over'));
  }
}
