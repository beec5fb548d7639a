/**
 * Entry of a load-tester worker thread: runs its share of viewers and reports progress
 * (small counters, once a second) and, at the end, its serialized stats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { progressCounters } from './report.js';
import { ViewerPool, type PoolOptions } from './viewer-pool.js';

const pool = new ViewerPool(workerData as PoolOptions);
const tick = setInterval(() => {
  parentPort!.postMessage({ type: 'progress', ...progressCounters(pool.stats) });
}, 1000);
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') pool.abort();
});
const stats = await pool.run();
clearInterval(tick);
const usage = process.resourceUsage();
parentPort!.postMessage({ type: 'done', stats: stats.serialize(), maxRssKB: usage.maxRSS });
