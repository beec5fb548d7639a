/**
 * Runs one streamedge CLI command as a child process and waits for the URL it prints when it is
 * listening. Used by the demo, which composes origin and edges over HTTP, as a user would.
 */
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { createWriteStream } from 'node:fs';
import { STOP_WITH_PARENT_ENV } from '../src/cli/stop-with-parent.js';

export interface ChildService {
  name: string;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface RunOptions {
  cwd: string;
  logFile: string;
  waitForUrl: boolean;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** `node bin/streamedge.js <cliArgs>` */
export function runCli(name: string, cliArgs: string[], opts: RunOptions): Promise<ChildService> {
  return runNode(name, ['bin/streamedge.js', ...cliArgs], opts);
}

/** `node <args>` (a script and its arguments), relative to opts.cwd. */
export function runNode(name: string, args: string[], opts: RunOptions): Promise<ChildService> {
  // the IPC channel is the child's leash (src/cli/stop-with-parent.ts): should this process die
  // without stopping it (SIGKILL), the channel closes and the service stops itself
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ...opts.env, [STOP_WITH_PARENT_ENV]: '1' },
  });
  child.channel?.unref();
  const { stdout, stderr } = child as ChildProcessByStdio<null, Readable, Readable>;
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  stdout.pipe(log, { end: false });
  stderr.pipe(log, { end: false });
  let stderrTail = '';
  stderr.on('data', (d: Buffer) => (stderrTail = (stderrTail + d.toString()).slice(-2000)));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      t.unref();
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not start within ${(opts.timeoutMs ?? 60000) / 1000} s (log: ${opts.logFile})`));
    }, opts.timeoutMs ?? 60000);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      if (!opts.waitForUrl && code === 0) return resolve({ name, url: '', child, stop });
      const last = stderrTail.trim().split('\n').pop() ?? '';
      reject(new Error(`${name} exited with code ${code}: ${last} (log: ${opts.logFile})`));
    };
    child.once('exit', onExit);
    if (!opts.waitForUrl) return;
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d+/.exec(out);
      if (m) {
        clearTimeout(timer);
        child.off('exit', onExit);
        // only this listener: the pipe into the log file listens on 'data' too, and removing
        // every listener silently ended the service's log at its URL line (no access log)
        stdout.off('data', onData);
        resolve({ name, url: m[0], child, stop });
      }
    };
    stdout.on('data', onData);
  });
}
