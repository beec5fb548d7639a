/**
 * CPU time of a process and all its descendants (nginx master and workers, varnishd manager and
 * child, a node:cluster primary and workers), read from /proc/<pid>/stat (utime + stime of the
 * live processes), for CPU-seconds per request figures.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU-seconds (user + system) used so far by `root` and every live descendant. */
export function treeCpuSeconds(root: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // fields after the ")" that closes the command name: state ppid ... utime(14) stime(15)
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(d);
    parent.set(pid, Number(f[1]));
    ticks.set(pid, Number(f[11]) + Number(f[12]));
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p: number | undefined = pid, hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) {
      if (p === root) {
        total += t;
        break;
      }
    }
  }
  return total / clockTicks();
}
