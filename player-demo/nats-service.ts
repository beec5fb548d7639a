/**
 * nats-server with JetStream for `streamedge demo --fleet` (`npm start -- --fleet`): on loopback,
 * its store in the demo folder; says how to install it when it is missing.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StreamedgeError } from '../src/errors.js';
import type { ChildService } from './child-service.js';
import { STOP_WITH_PARENT_ENV } from '../src/cli/stop-with-parent.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));

export const NATS_INSTALL_HINT =
  'the fleet demo needs nats-server (NATS with JetStream): on Debian/Ubuntu `sudo apt-get update && sudo apt-get install nats-server`, elsewhere https://github.com/nats-io/nats-server/releases';

export async function startNatsServer(dir: string, logFile: string, port: number): Promise<ChildService> {
  if (spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new StreamedgeError('NO_NATS', NATS_INSTALL_HINT);
  }
  const store = join(dir, 'nats');
  mkdirSync(store, { recursive: true });
  // on the demo's leash (player-demo/leash.ts): stopped with the demo even when the demo is killed
  const child = spawn(
    process.execPath,
    [
      join(REPO, 'bin', 'run-ts.js'),
      join(REPO, 'player-demo', 'leash.ts'),
      'nats-server',
      ...['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store],
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, [STOP_WITH_PARENT_ENV]: '1' } },
  );
  child.channel?.unref();
  const { stderr } = child as ChildProcessByStdio<null, null, Readable>;
  const log = createWriteStream(logFile, { flags: 'a' });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`nats-server did not start within 10 s (log: ${logFile})`));
    }, 10_000);
    stderr.on('data', (d: Buffer) => {
      log.write(d);
      if (text.length < 64 * 1024) text += d.toString();
      if (text.includes('Server is ready')) {
        clearTimeout(timer);
        resolve({ name: 'nats', url: `nats://127.0.0.1:${port}`, child, stop });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with code ${code} (port ${port} taken?) (log: ${logFile})`));
    });
  });
}
