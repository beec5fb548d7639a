/**
 * The primary of the benches' bare node:cluster servers (bench/constant-cluster.ts,
 * bench/node-floor-cache.ts): forks `workers` copies of the same script, prints `ready` on stdout
 * once every one listens, and stops them on SIGTERM. The bench reads their CPU time from /proc.
 * `startConstantCluster` is the benches' side: it starts bench/constant-cluster.ts and waits for
 * that `ready`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.js';

/** The command line both servers share: `--port <p> --workers <n>`, and `opt(name)` for the rest. */
export function clusterArgs(args: string[]): {
  opt: (name: string) => string | undefined;
  port: number;
  workers: number;
} {
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i === -1 ? undefined : args[i + 1];
  };
  return { opt, port: Number(opt('port')), workers: Math.max(1, Number(opt('workers') ?? 1)) };
}

/**
 * Runs `script` (its `import.meta.filename`) with `args` in `workers` cluster workers.
 * `schedulingPolicy`: node:cluster's (SCHED_NONE / SCHED_RR); node's own default when omitted.
 */
export function runClusterPrimary(script: string, args: string[], workers: number, schedulingPolicy?: number): void {
  if (schedulingPolicy !== undefined) cluster.schedulingPolicy = schedulingPolicy;
  const root = resolve(import.meta.dirname, '..');
  cluster.setupPrimary({ exec: join(root, 'bin/run-ts.js'), args: [script, ...args] });
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', () => {
    if (++listening === workers) process.stdout.write('ready\n');
  });
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
}

/**
 * Starts bench/constant-cluster.ts (plain node:http workers answering a constant buffer: the
 * per-core limit) with `workers` workers on a free port; resolves once every worker listens.
 */
export async function startConstantCluster(workers: number): Promise<{ proc: ChildProcess; url: string }> {
  const root = resolve(import.meta.dirname, '..');
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      join(root, 'bin/run-ts.js'),
      join(root, 'bench/constant-cluster.ts'),
      '--port',
      String(port),
      '--workers',
      String(workers),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((ready, fail) => {
    let text = '';
    proc.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('ready\n')) ready();
    });
    proc.once('exit', (code) => fail(new Error(`the node:http cluster exited (${code}) before it was ready`)));
  });
  return { proc, url: `http://127.0.0.1:${port}` };
}
