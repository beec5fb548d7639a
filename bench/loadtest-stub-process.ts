/**
 * The instant live stub of bench/loadtest-tester-bench.ts in its own process (so its CPU is not
 * counted as the tester's). Prints one JSON line `{"url": ..., "epochMs": ...}` on stdout, stops
 * on SIGTERM.
 *
 *   node bin/run-ts.js bench/loadtest-stub-process.ts
 */
import { startStubServer } from './loadtest/stub-live-server.js';

const stub = await startStubServer();
process.stdout.write(JSON.stringify({ url: stub.url, epochMs: stub.epochMs }) + '\n');
process.once('SIGTERM', () => {
  void stub.close().then(() => process.exit(0));
});
