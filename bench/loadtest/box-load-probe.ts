/**
 * What the rest of the box does to a bench run, measured beside it: the event-loop delay p99 of an
 * idle Node process (a child that only runs its loop monitor) and the whole machine's busy cores
 * (/proc/stat). A tester whose event-loop p99 is over its limit while an idle process's is too
 * was delayed by the box (other sessions' processes, the server under test), not by its own work;
 * the busy cores less the tester's and the server's are everyone else's. Linux only for the cores
 * (elsewhere null).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** The idle child: records its loop delay (10 ms resolution) until its stdin closes, then prints p99 − 10 ms. */
const IDLE_CHILD = `
const h = require('node:perf_hooks').monitorEventLoopDelay({ resolution: 10 });
h.enable();
process.stdin.resume();
process.stdin.on('end', () => {
  h.disable();
  process.stdout.write(String(Math.max(0, h.percentile(99) / 1e6 - 10)));
  process.exit(0);
});`;

export interface IdleLoopProbe {
  /** The idle process's event-loop delay p99 (ms) since it started; null if it failed. */
  stop(): Promise<number | null>;
}

export function startIdleLoopProbe(): IdleLoopProbe {
  const child = spawn(process.execPath, ['-e', IDLE_CHILD], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('exit', (code) => resolve(code === 0 && out !== '' ? Math.round(Number(out) * 100) / 100 : null));
  });
  return {
    stop: () => {
      child.stdin.end();
      return exited;
    },
  };
}

/** Busy and total jiffies of all CPUs so far (/proc/stat), or null. */
export function machineTicks(): { busy: number; total: number } | null {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    // idle and iowait are not busy
    return { busy: total - f[3] - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}

/** Busy cores of the whole machine between two machineTicks() readings. */
export function busyCores(
  a: { busy: number; total: number } | null,
  b: { busy: number; total: number } | null,
): number | null {
  if (!a || !b || b.total <= a.total) return null;
  return Math.round(((b.busy - a.busy) / (b.total - a.total)) * cpus().length * 100) / 100;
}
