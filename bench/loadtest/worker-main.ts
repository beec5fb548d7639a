/**
 * Entry of a load-tester worker thread: runs its share of viewers and reports progress
 * (small counters, once a second) and, at the end, its serialized stats.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ViewerPool, type PoolOptions } from './viewer-pool.js';

const pool = new ViewerPool(workerData as PoolOptions);
const tick = setInterval(() => {
  const t = pool.stats.totals;
  parentPort!.postMessage({
    type: 'progress',
    started: t.started,
    playing: t.playing,
    ended: t.ended,
    requests: pool.stats.requests,
    stalls: t.stalls,
    errors: Object.values(pool.stats.errors).reduce((a, b) => a + b, 0),
  });
}, 1000);
parentPort!.on('message', (m: { type: string }) => {
  if (m.type === 'stop') pool.abort();
});
const stats = await pool.run();
clearInterval(tick);
const usage = process.resourceUsage();
parentPort!.postMessage({ type: 'done', stats: stats.serialize(), maxRssKB: usage.maxRSS });
