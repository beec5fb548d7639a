/**
 * Child of bench/store-bench.ts: opens an existing store in a fresh process and reports (JSON on
 * stdout) how long open took, RSS before/after, and a spot check of 1000 random keys through get().
 * usage: node bin/run-ts.js bench/store-open-probe.ts <dir> <entries>
 */
import { LogStore } from '../edge/store/index.js';
const [dir, n] = process.argv.slice(2);
const rss0 = process.memoryUsage().rss;
const t = performance.now();
let recoverMs = -1;
const logger = {
  warn() {},
  info(o: object) {
    if ('ms' in o) recoverMs = Number((o as { ms: number }).ms);
  },
};
const s = await LogStore.open({ dir, capacityBytes: 64 * 1024 ** 3, logger });
const openMs = performance.now() - t;
const rss1 = process.memoryUsage().rss;
let ok = 0;
for (let i = 0; i < 1000; i++) {
  const k = Math.floor(Math.random() * Number(n));
  const g = await s.get('/vod/bulk/' + k + '.m4s');
  if (!g) continue;
  let body = '';
  for await (const c of g.body) body += c.toString();
  if (body === 'body-' + k) ok++;
}
const objects = s.stats().objects;
await s.close();
process.stdout.write(
  JSON.stringify({
    openMs,
    recoverMs,
    objects,
    spotChecked: 1000,
    spotOk: ok,
    rssBeforeOpen: rss0,
    rssAfterOpen: rss1,
    maxRss: process.resourceUsage().maxRSS * 1024,
  }),
);
