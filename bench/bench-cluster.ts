/**
 * The primary of the benches' bare node:cluster servers (bench/constant-cluster.ts,
 * bench/node-floor-cache.ts): forks `workers` copies of the same script, prints `ready` on stdout
 * once every one listens, and stops them on SIGTERM. The bench reads their CPU time from /proc.
 */
import cluster from 'node:cluster';
import { join, resolve } from 'node:path';

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
