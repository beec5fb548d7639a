/**
 * The live origin of bench/loadtest-bench.ts, in its own process: our origin (packager/origin.ts)
 * with one live lavfi channel, plus request counting for the bench (by object type, with the
 * distinct blocking-reload URLs) at `GET /_bench/counts`. Prints one JSON line
 * `{"url": ...}` on stdout once the channel has two complete segments.
 *
 *   node bin/run-ts.js bench/loadtest-origin-process.ts <root> <ladder.json> <segmentSec> <partSec> <dvrSec> <source>
 */
import { request } from 'undici';
import { createOrigin } from '../packager/origin/server.js';

const [root, ladder, segment, part, dvr, source] = process.argv.slice(2);
if (!root || !ladder || !segment || !part || !dvr || !source) {
  process.stderr.write(
    'usage: loadtest-origin-process.ts <root> <ladder.json> <segmentSec> <partSec> <dvrSec> <source>\n',
  );
  process.exit(2);
}

export interface OriginCounts {
  master: number;
  plainPlaylist: number;
  blockingPlaylist: number;
  distinctBlocking: number;
  parts: number;
  distinctParts: number;
  segments: number;
  distinctSegments: number;
  init: number;
  other: number;
  /** Parts produced so far, all renditions (each one is a new version of its rendition's playlist). */
  partsProduced: number;
  channel: unknown;
}

const origin = await createOrigin({
  root,
  live: [
    {
      id: 'news',
      source,
      segmentDuration: Number(segment),
      partDuration: Number(part),
      dvrWindow: Number(dvr),
      ladder,
    },
  ],
  logger: { level: 'warn' },
  processMetrics: false,
});

const counts = { master: 0, plainPlaylist: 0, blockingPlaylist: 0, parts: 0, segments: 0, init: 0, other: 0 };
const blockingUrls = new Set<string>();
const partUrls = new Set<string>();
const segmentUrls = new Set<string>();
origin.app.addHook('onRequest', async (req) => {
  const url = req.raw.url ?? '';
  const path = url.split('?', 1)[0];
  if (!path.startsWith('/live/')) return;
  if (path.endsWith('/master.m3u8')) counts.master++;
  else if (path.endsWith('.m3u8')) {
    if (/[?&]_HLS_msn=/.test(url)) {
      counts.blockingPlaylist++;
      blockingUrls.add(url);
    } else counts.plainPlaylist++;
  } else if (/\/seg-\d+\.\d+\.m4s$/.test(path)) {
    counts.parts++;
    partUrls.add(path);
  } else if (/\/seg-\d+\.m4s$/.test(path)) {
    counts.segments++;
    segmentUrls.add(path);
  } else if (path.endsWith('.mp4')) counts.init++;
  else counts.other++;
});
origin.app.get('/_bench/counts', async (_req, reply) => {
  const produced = await origin.metrics.partsProduced.get();
  const body: OriginCounts = {
    ...counts,
    distinctBlocking: blockingUrls.size,
    distinctParts: partUrls.size,
    distinctSegments: segmentUrls.size,
    partsProduced: produced.values.reduce((a, v) => a + v.value, 0),
    channel: origin.channels.get('news')?.status(),
  };
  reply.header('cache-control', 'no-store');
  return body;
});

const url = await origin.listen(0, '127.0.0.1');
const shutdown = () =>
  void origin.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);

// ready once the channel has two complete segments (bounded: the encoder may be slow on a busy box)
const deadline = Date.now() + 60_000;
for (;;) {
  const res = await request(`${url}/live/news/master.m3u8`).catch(() => undefined);
  let ok = false;
  if (res) {
    const master = await res.body.text();
    const first = /^[^#\s].*\.m3u8$/m.exec(master)?.[0];
    if (res.statusCode === 200 && first) {
      const pl = await request(new URL(first, `${url}/live/news/`).href);
      ok = ((await pl.body.text()).match(/^#EXTINF:/gm) ?? []).length >= 2;
    }
  }
  if (ok) break;
  if (Date.now() > deadline) {
    process.stderr.write(
      `live channel not ready after 60 s: ${JSON.stringify(origin.channels.get('news')?.status())}\n`,
    );
    await origin.close();
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 200));
}
process.stdout.write(`${JSON.stringify({ url })}\n`);
