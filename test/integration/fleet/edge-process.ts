/** An edge as a child process (`streamedge edge --nats ... --pop ...`), so a test can SIGKILL it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { request } from 'undici';
import { waitFor } from './wait.js';

const CLI = resolve(import.meta.dirname, '../../../bin/streamedge.js');

export interface EdgeProcess {
  url: string;
  child(): ChildProcess | undefined;
  start(): Promise<void>;
  /** SIGKILL (no clean leave) or SIGTERM (clean leave), and wait for the exit. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  stderr(): string;
}

export function edgeProcess(args: string[], port: number, env: NodeJS.ProcessEnv = {}): EdgeProcess {
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let err = '';
  return {
    url,
    child: () => child,
    stderr: () => err,
    async start() {
      const c = spawn(process.execPath, [CLI, 'edge', '--port', String(port), '--log-level', 'warn', ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...env },
      });
      child = c;
      c.stderr.on('data', (d: Buffer) => {
        if (err.length < 256 * 1024) err += d.toString('utf8');
      });
      // listening (any health answer, 200 or 503)
      await waitFor(
        `edge ${url} to listen`,
        async () => {
          if (c.exitCode !== null) throw new Error(`edge exited ${c.exitCode}: ${err}`);
          const r = await request(`${url}/_edge/health`);
          await r.body.text();
          return true;
        },
        30_000,
        50,
      );
    },
    async stop(signal) {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      process.kill(c.pid!, signal);
      await exited;
    },
  };
}
