/**
 * Child process of bench/origin-bench.ts: opens N concurrent blocking-reload requests against the
 * origin (each on its own connection) and reports, per request, the epoch time (µs) at which
 * its response body was complete. A separate process so 2×N sockets fit the fd limit and the
 * client's work does not run on the origin's event loop.
 */
import { Pool } from 'undici';

interface Job {
  url: string;
  path: string;
  n: number;
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

process.on('message', async (job: Job) => {
  const pool = new Pool(job.url, { connections: job.n, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const done: number[] = new Array(job.n);
  const statuses = new Map<number, number>();
  let sent = 0;
  let errors = 0;
  const all: Promise<void>[] = [];
  // Ramp up in batches so the listen backlog is not flooded with SYNs.
  for (let i = 0; i < job.n; i++) {
    all.push(
      (async () => {
        const res = await pool.request({ path: job.path, method: 'GET' });
        sent++;
        await res.body.arrayBuffer();
        done[i] = nowUs();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      })().catch(() => {
        errors++;
      }),
    );
    if (i % 250 === 249) await new Promise((r) => setTimeout(r, 25));
  }
  await Promise.allSettled(all);
  await pool.close();
  process.send!({ done, statuses: Object.fromEntries(statuses), sent, errors });
});
