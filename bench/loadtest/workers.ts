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
  ({ type: 'progress' } & ProgressCounters) | { type: 'done'; stats: SerializedStats; maxRssKB: number };

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

  async run(): Promise<{ stats: LoadStats; maxRssMB: number }> {
    const merged = new LoadStats();
    let maxRssMB = 0;
    const done = Array.from({ length: this.count }, (_, i) => {
      const share = Math.floor(this.o.viewers / this.count) + (i < this.o.viewers % this.count ? 1 : 0);
      const data: PoolOptions = {
        ...this.o,
        viewers: share,
        firstViewerIndex: i,
        viewerStride: this.count,
        totalViewers: this.o.viewers,
      };
      const w = new Worker(new URL('./worker-bootstrap.js', import.meta.url), { workerData: data });
      this.workers.push(w);
      return new Promise<void>((resolve, reject) => {
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'progress') {
            const { type: _type, ...counters } = m;
            this.latest[i] = counters;
          } else {
            merged.merge(m.stats);
            maxRssMB = Math.max(maxRssMB, m.maxRssKB / 1024);
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
    try {
      await Promise.all(done);
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
    return { stats: merged, maxRssMB };
  }

  stop(): void {
    for (const w of this.workers) w.postMessage({ type: 'stop' });
  }
}
