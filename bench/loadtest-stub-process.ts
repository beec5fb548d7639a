/**
 * The instant live stub of bench/loadtest-tester-bench.ts in its own process (so its CPU is not
 * counted as the tester's). Prints one JSON line `{"url": ..., "epochMs": ..., "ca"?: ...}` on
 * stdout, stops on SIGTERM. With `--tls <dir>` it serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with
 * a self-signed certificate made in <dir>, and the line carries that certificate (PEM) as `ca`.
 *
 * `--processes N` (N > 1): N stub processes (node:cluster) share one port and one channel (the
 * same epoch, so every process lists the same parts at the same instant): each holds the
 * connections the primary hands it (round-robin), within its own `ulimit -n` and on its own
 * thread, so 10,000 plain-HLS viewers (2 connections each) do not meet one process's descriptor
 * limit or its one core. Held requests are held by the process that got them; `/stats` answers
 * the counts of one process.
 *
 *   node bin/run-ts.js bench/loadtest-stub-process.ts [--tls <dir>] [--processes N]
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelfSignedCertificate } from '../src/tls/self-signed.js';
import { stubEpochMs } from './loadtest/stub-channel.js';
import { startStubServer } from './loadtest/stub-live-server.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
};
const tlsDir = arg('--tls');
const processes = Number(arg('--processes') ?? 1);
if (!Number.isInteger(processes) || processes < 1 || processes > 16)
  throw new Error(`--processes must be 1..16, got ${arg('--processes')}`);

async function tlsFiles(): Promise<{ cert: string; key: string } | undefined> {
  if (!tlsDir) return undefined;
  const files = await createSelfSignedCertificate(join(tlsDir, 'tls'));
  return { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
}

if (processes > 1 && cluster.isPrimary) {
  // the primary only accepts and hands connections over; the certificate is made once, here
  const tls = await tlsFiles();
  const epochMs = stubEpochMs();
  const env = { SE_STUB_EPOCH_MS: String(epochMs), ...(tls ? { SE_STUB_CERT: tls.cert, SE_STUB_KEY: tls.key } : {}) };
  // the workers run this file through the TypeScript runner, as this process does
  cluster.setupPrimary({
    exec: join(import.meta.dirname, '..', 'bin', 'run-ts.js'),
    args: [import.meta.filename, ...process.argv.slice(2)],
  });
  const workers = Array.from({ length: processes }, () => cluster.fork(env));
  const urls = await Promise.all(
    workers.map(
      (w) =>
        new Promise<string>((resolve, reject) => {
          w.once('message', (m: { url: string }) => resolve(m.url));
          w.once('exit', (code) => reject(new Error(`stub process exited (${code}) before listening`)));
        }),
    ),
  );
  if (new Set(urls).size !== 1) throw new Error(`stub processes listen on different ports: ${urls.join(' ')}`);
  process.stdout.write(JSON.stringify({ url: urls[0], epochMs, ca: tls?.cert, processes }) + '\n');
  process.once('SIGTERM', () => {
    for (const w of workers) w.process.kill('SIGTERM');
    process.exit(0);
  });
} else if (cluster.isWorker) {
  const e = process.env;
  const tls = e.SE_STUB_CERT && e.SE_STUB_KEY ? { cert: e.SE_STUB_CERT, key: e.SE_STUB_KEY } : undefined;
  // port 0 in every cluster worker: the primary binds one free port and shares it
  const stub = await startStubServer(0, tls, Number(e.SE_STUB_EPOCH_MS));
  process.send!({ url: stub.url });
  process.once('SIGTERM', () => {
    void stub.close().then(() => process.exit(0));
  });
} else {
  const tls = await tlsFiles();
  const stub = await startStubServer(0, tls);
  process.stdout.write(JSON.stringify({ url: stub.url, epochMs: stub.epochMs, ca: tls?.cert }) + '\n');
  process.once('SIGTERM', () => {
    void stub.close().then(() => process.exit(0));
  });
}
