/**
 * `--workers N`: viewers spread over worker threads (viewer i goes to worker i mod N, so every
 * worker ramps over the whole ramp). Each worker posts progress counters; at the end the parent
 * merges their stats (HDR histograms included).
 */
import { Worker } from 'node:worker_threads';
import { StreamedgeError } from '../../src/errors.js';
import { LoadStats, type SerializedStats } from './load-stats.js';
import type { PoolOptions } from './viewer-pool.js';
import { zeroProgressCounters, type ProgressCounters } from './report.js';

type WorkerMessage =
  | { type: 'ready' }
  | ({ type: 'progress' } & ProgressCounters)
  | { type: 'done'; stats: SerializedStats; maxRssKB: number };

/**
 * A viewer thread's young generation (V8: three semi-spaces' worth). Viewers allocate about 7 KB
 * per request (parsed heads, promises, chunk and cursor objects), 37 MB/s at 1,000 LL-HLS viewers,
 * and almost all of it dies young; a scavenge costs what survives (the requests in flight), not
 * what died, so a young generation 4× V8's default (16 MB semi-spaces) means a quarter of the
 * scavenges for about the same pause each: fewer event-loop stalls (measured at load 16: 42
 * scavenges instead of 90 in the same 25 s run, pause p50 17 ms against 21 ms).
 */
export const YOUNG_GENERATION_MB = 192;

export class WorkerFleet {
  private readonly workers: Worker[] = [];
  private readonly latest: ProgressCounters[] = [];

  constructor(
    private readonly o: PoolOptions,
    private readonly count: number,
  ) {}

  progress(): ProgressCounters {
    const sum: ProgressCounters = zeroProgressCounters();
    for (const p of this.latest) for (const k of Object.keys(sum) as (keyof ProgressCounters)[]) sum[k] += p?.[k] ?? 0;
    return sum;
  }

  /**
   * Spawns the threads (each loads its modules) and resolves when every one of them is loaded, or
   * when all have ended (stopped while loading); rejects when one fails.
   */
  ready(): Promise<void> {
    this.spawned ??= this.spawn();
    const { ready, done } = this.spawned;
    return Promise.race([ready, done.then(() => undefined)]);
  }

  /**
   * Runs the viewers: the threads start their ramps together, once all are loaded (`onStart` is
   * called then), and the run resolves with their merged stats.
   */
  async run(onStart?: () => void): Promise<{ stats: LoadStats; maxRssMB: number }> {
    const ready = this.ready();
    const { done } = this.spawned!;
    try {
      await ready;
      for (const w of this.workers) w.postMessage({ type: 'start' });
      onStart?.();
      await done;
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
    return { stats: this.merged, maxRssMB: this.maxRssMB };
  }

  private spawned: { ready: Promise<void>; done: Promise<unknown> } | undefined;
  private readonly merged = new LoadStats();
  private maxRssMB = 0;

  private spawn(): { ready: Promise<void>; done: Promise<unknown> } {
    const readies: Promise<void>[] = [];
    const done = Array.from({ length: this.count }, (_, i) => {
      const share = Math.floor(this.o.viewers / this.count) + (i < this.o.viewers % this.count ? 1 : 0);
      const data: PoolOptions = {
        ...this.o,
        viewers: share,
        firstViewerIndex: i,
        viewerStride: this.count,
        totalViewers: this.o.viewers,
      };
      const w = new Worker(new URL('./worker-bootstrap.js', import.meta.url), {
        workerData: data,
        resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
      });
      this.workers.push(w);
      let loaded!: () => void;
      readies.push(new Promise<void>((r) => (loaded = r)));
      return new Promise<void>((resolve, reject) => {
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') loaded();
          else if (m.type === 'progress') {
            const { type: _type, ...counters } = m;
            this.latest[i] = counters;
          } else {
            this.merged.merge(m.stats);
            this.maxRssMB = Math.max(this.maxRssMB, m.maxRssKB / 1024);
            resolve();
          }
        });
        w.once('error', (e) =>
          reject(new StreamedgeError('LOADTEST_WORKER', `load-test worker ${i} failed: ${e.message}`, { cause: e })),
        );
        w.once('exit', (code) =>
          code === 0
            ? resolve()
            : reject(new StreamedgeError('LOADTEST_WORKER', `load-test worker ${i} exited with code ${code}`)),
        );
      });
    });
    const all = Promise.all(done);
    all.catch(() => undefined); // awaited by run(); a thread failing while others load is reported there
    return { ready: Promise.all(readies).then(() => undefined), done: all };
  }

  stop(): void {
    for (const w of this.workers) w.postMessage({ type: 'stop' });
  }
}
