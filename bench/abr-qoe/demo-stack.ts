/**
 * Starts the whole demo stack (`streamedge demo`: packaged sample, origin with the live channel,
 * shield edge, edge, player page) as a user would, on free ports, and stops it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(fileURLToPath(import.meta.url), '..', '..', '..');

export interface DemoStack {
  pageUrl: string;
  edgeUrl: string;
  originUrl: string;
  /** Everything the demo printed (for error reports). */
  output(): string;
  stop(): Promise<void>;
}

export async function startDemoStack(dir: string, timeoutMs = 420_000): Promise<DemoStack> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      'bin/streamedge.js',
      'demo',
      '--dir',
      dir,
      '--port',
      '0',
      '--edge-port',
      '0',
      '--shield-port',
      '0',
      '--origin-port',
      '0',
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // Ctrl-C for the demo's whole process group (the demo stops its children itself).
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      return;
    }
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 15_000);
    await exited;
    clearTimeout(killer);
  };
  const urls = await new Promise<{ page: string; edge: string; origin: string }>((res, rej) => {
    const timer = setTimeout(
      () => rej(new Error(`streamedge demo printed no URL within ${timeoutMs / 1000} s:\n${out.slice(-3000)}`)),
      timeoutMs,
    );
    const check = () => {
      const page = /streamedge demo is running: (http:\/\/\S+)/.exec(out);
      const edge = /\bedge (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      const origin = /\borigin (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (page && edge && origin) {
        clearTimeout(timer);
        res({ page: page[1], edge: edge[1], origin: origin[1] });
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`streamedge demo exited (${code}) before printing its URL:\n${out.slice(-3000)}`));
    });
  }).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { pageUrl: urls.page, edgeUrl: urls.edge, originUrl: urls.origin, output: () => out, stop };
}
