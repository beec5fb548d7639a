/**
 * Runs a share of the viewers in this thread: viewers started evenly over the ramp (one timer
 * wheel for all their waits), all stopped together at the end, bounded in time. Each viewer has
 * its own keep-alive connections, as a player has (see viewerDispatcher in viewer.ts).
 */
import { setMaxListeners } from 'node:events';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { AbrConfig } from '../../src/abr/abr-controller.js';
import { LoadStats } from './load-stats.js';
import { parseProfile } from './shaping.js';
import { TimerWheel } from './timer-wheel.js';
import { runViewer, type CmcdMode } from './viewer.js';

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
  /** Offer HTTP/2 (ALPN h2) to https targets. */
  http2?: boolean;
  /** Extra CA certificates (PEM) the viewers trust (a test edge's self-signed certificate). */
  ca?: string;
  /** CMCD (CTA-5004) data sent with each request: as a query argument, as headers, or not at all. */
  cmcd?: CmcdMode;
  /** Hosts besides loopback a viewer may be steered to (HLS content steering). */
  allowHosts?: string[];
  /** A ladder in H.264 and HEVC: the share of viewers that prefer HEVC (0–1, spread evenly); absent: each plays the first listed. */
  hevcShare?: number;
  /** This pool's viewers start at offsets i·(ramp/total) + offsetIndex… (interleaved across workers). */
  firstViewerIndex?: number;
  viewerStride?: number;
  totalViewers?: number;
}

const HEVC_FIRST: readonly string[] = ['hevc', 'avc'];
const AVC_FIRST: readonly string[] = ['avc', 'hevc'];

/** The golden ratio's fractional part: i·φ mod 1 spreads any run of viewer indices evenly over [0, 1). */
const GOLDEN = (Math.sqrt(5) - 1) / 2;

/**
 * Which codec family viewer `index` (counted over the whole run) prefers when a share of the
 * audience decodes HEVC (`--hevc-share`): those whose i·φ mod 1 falls below the share. The
 * sequence is equidistributed on every arithmetic progression of indices too, so each worker
 * thread's and each agent's viewers (every n-th one) hold the share, not only the whole run.
 */
export function videoPreference(index: number, hevcShare: number | undefined): readonly string[] | undefined {
  if (hevcShare === undefined) return undefined;
  return (index * GOLDEN) % 1 < hevcShare ? HEVC_FIRST : AVC_FIRST;
}

/** How long viewers get to wind down after the stop signal before we stop waiting for them. */
const GRACE_MS = 5000;
const LOOP_RESOLUTION_MS = 10;

export class ViewerPool {
  readonly stats = new LoadStats();
  private readonly stop = new AbortController();
  private readonly wheel = new TimerWheel();
  /** Each running viewer's stop hook (a Set: O(1) add and delete, one abort listener for all). */
  private readonly stopHooks = new Set<() => void>();
  private endTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: PoolOptions) {
    // viewers read this signal; the pool's one listener calls their stop hooks
    setMaxListeners(0, this.stop.signal);
    this.stop.signal.addEventListener(
      'abort',
      () => {
        for (const hook of [...this.stopHooks]) hook();
      },
      { once: true },
    );
  }

  /** Resolves when the run is over and every viewer has stopped (or the grace period ran out). */
  async run(): Promise<LoadStats> {
    if (this.stop.signal.aborted) return this.stats; // stopped before it started
    const o = this.o;
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    // the hold alone (as hold-mark.ts marks it): says whether a late loop was the ramp's start-ups
    const holdLoop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    const holdTimer = setTimeout(() => holdLoop.enable(), (o.rampSec + Math.min(1, o.durationSec / 2)) * 1000);
    const profile = parseProfile(o.profile);
    const total = o.totalViewers ?? o.viewers;
    const stride = o.viewerStride ?? 1;
    const first = o.firstViewerIndex ?? 0;
    const viewers: Promise<void>[] = [];
    const endAt = (o.rampSec + o.durationSec) * 1000;
    const runEnded = new Promise<void>((resolve) => {
      this.endTimer = setTimeout(resolve, endAt);
      this.stop.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const viewerOptions = {
      url: o.url,
      http2: o.http2 === true,
      ca: o.ca,
      stats: this.stats,
      profile,
      latencyMs: o.latencyMs,
      signal: this.stop.signal,
      stopHooks: this.stopHooks,
      wheel: this.wheel,
      abrConfig: o.abrConfig,
      lowLatency: o.lowLatency,
      cmcd: o.cmcd,
      allowHosts: o.allowHosts,
    };
    const rampStart = performance.now();
    for (let k = 0; k < o.viewers; k++) {
      const globalIndex = first + k * stride;
      const at = total > 1 ? (globalIndex * o.rampSec * 1000) / total : 0;
      // the viewer's schedule starts when it was due to join, however late this thread gets to it
      const joinAt = rampStart + at;
      this.wheel.after(at, () => {
        if (this.stop.signal.aborted) return;
        const preferredVideo = videoPreference(globalIndex, o.hevcShare);
        viewers.push(runViewer(preferredVideo ? { ...viewerOptions, preferredVideo } : viewerOptions, joinAt));
      });
    }
    await runEnded;
    // the loop's delay while viewers played; tearing thousands of connections down afterwards
    // (one close() each) delays the loop too, but no viewer measures anything then
    loop.disable();
    holdLoop.disable();
    clearTimeout(holdTimer);
    // the histogram holds the intervals between its own timer's runs: the delay is what exceeds the resolution
    const p99 = Math.max(
      0,
      loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS,
      // the viewers' own timers, when a late batch was spread over several short turns
      this.wheel.lateness.count > 0 ? this.wheel.lateness.percentile(99) / 1000 : 0,
    );
    this.stats.loopDelayP99Ms = Math.max(this.stats.loopDelayP99Ms, p99);
    if (holdLoop.count > 0)
      this.stats.holdLoopDelayP99Ms = Math.max(
        this.stats.holdLoopDelayP99Ms,
        holdLoop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS,
      );
    this.abort();
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(viewers),
      new Promise<void>((r) => {
        graceTimer = setTimeout(r, GRACE_MS);
      }),
    ]);
    clearTimeout(graceTimer);
    this.wheel.clear();
    return this.stats;
  }

  /** Stops every viewer now (Ctrl-C, or the end of the run). */
  abort(): void {
    clearTimeout(this.endTimer);
    if (!this.stop.signal.aborted) this.stop.abort(new Error('load test over'));
  }
}
