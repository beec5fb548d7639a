/**
 * Our edge (edge/server.ts) for bench/loadtest-bench.ts, in its own process. Same as
 * `streamedge edge`, plus `accept-encoding` in the cache key: the origin sends
 * `Vary: Accept-Encoding` on playlists, and the edge only shares a response whose Vary headers
 * are all keyed (the CLI has no option for key headers yet). Prints `{"url": ...}` when ready.
 *
 *   node bin/run-ts.js bench/loadtest-edge-process.ts <upstream> <storeDir>
 */
import { createEdge } from '../edge/server.js';

const [upstream, storeDir] = process.argv.slice(2);
if (!upstream || !storeDir) {
  process.stderr.write('usage: loadtest-edge-process.ts <upstream> <storeDir>\n');
  process.exit(2);
}
const edge = createEdge({
  upstream,
  keyHeaders: ['accept-encoding'],
  logLevel: 'warn',
  name: 'streamedge',
  store: { dir: storeDir, capacityBytes: 2 * 1024 ** 3, ramBytes: 256 * 1024 ** 2 },
});
const url = await edge.listen(0, '127.0.0.1');
const shutdown = () =>
  void edge.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
process.stdout.write(`${JSON.stringify({ url })}\n`);
