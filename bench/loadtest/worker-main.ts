/**
 * Entry of a load-tester worker thread: says when it is loaded, runs its share of viewers once
 * told to start, and reports progress (small counters, once a second) and, at the end, its
 * serialized stats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { progressCounters } from './report.js';
import { ViewerPool, type PoolOptions } from './viewer-pool.js';

const pool = new ViewerPool(workerData as PoolOptions);
const tick = setInterval(() => {
  parentPort!.postMessage({ type: 'progress', ...progressCounters(pool.stats) });
}, 1000);
// loaded: tell the fleet, and start the ramp when every thread is loaded too (a thread still
// compiling its modules would take the CPU from the first ones' viewers)
let start!: () => void;
const started = new Promise<void>((r) => (start = r));
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'start') start();
  else if (m.type === 'stop') {
    pool.abort();
    start(); // stopped before it started: run() returns at once
  }
});
parentPort!.postMessage({ type: 'ready' });
await started;
const stats = await pool.run();
clearInterval(tick);
const usage = process.resourceUsage();
parentPort!.postMessage({ type: 'done', stats: stats.serialize(), maxRssKB: usage.maxRSS });
