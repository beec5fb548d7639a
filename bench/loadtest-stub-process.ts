/**
 * The instant live stub of bench/loadtest-tester-bench.ts in its own process (so its CPU is not
 * counted as the tester's). Prints one JSON line `{"url": ..., "epochMs": ..., "ca"?: ...}` on
 * stdout, stops on SIGTERM. With `--tls <dir>` it serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with
 * a self-signed certificate made in <dir>, and the line carries that certificate (PEM) as `ca`.
 *
 *   node bin/run-ts.js bench/loadtest-stub-process.ts [--tls <dir>]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { startStubServer } from './loadtest/stub-live-server.js';

const i = process.argv.indexOf('--tls');
const tlsDir = i === -1 ? undefined : process.argv[i + 1];
let tls: { cert: string; key: string } | undefined;
if (tlsDir) {
  const files = await createSelfSignedCertificate(join(tlsDir, 'tls'));
  tls = { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
}
const stub = await startStubServer(0, tls);
process.stdout.write(JSON.stringify({ url: stub.url, epochMs: stub.epochMs, ca: tls?.cert }) + '\n');
process.once('SIGTERM', () => {
  void stub.close().then(() => process.exit(0));
});
