/**
 * CPU seconds of a process and all its descendants (cluster workers, ffmpeg), read from /proc,
 * per command name, for benches that run servers in their own processes and must say what each
 * one used, sets a tree's nice value (`reniceTree`) and pins it to CPUs (`pinTree`). Linux only; elsewhere it returns null.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

interface Stat {
  pid: number;
  ppid: number;
  comm: string;
  cpuSec: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  // "pid (comm) state ppid ... utime stime": comm may hold spaces and parentheses
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  return { pid, ppid: Number(f[1]), comm, cpuSec: (Number(f[11]) + Number(f[12])) / USER_HZ };
}

export interface TreeCpu {
  /** Σ CPU seconds of the process and its live descendants. */
  cpuSec: number;
  /** The same by command name (node, ffmpeg, ...). */
  byCommand: Record<string, number>;
  /**
   * The same per process, keyed "<pid> <what>": the script a node process runs (its last .ts/.js
   * argument: worker-main.ts, store-main.ts, streamedge.js), else its command name.
   */
  byProcess: Record<string, number>;
  processes: number;
}

/** What a process runs, for `byProcess`: its script's file name, else `comm`. */
function processLabel(pid: number, comm: string): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const script = argv.findLast((a) => /\.(ts|js)$/.test(a));
    return script ? (script.split('/').pop() ?? comm) : comm;
  } catch {
    return comm;
  }
}

/** `rootPid` and every live descendant's stat, root first; null when /proc or the process is not there. */
function treeStats(rootPid: number): Stat[] | null {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return null;
  }
  const stats = pids.map(readStat).filter((s): s is Stat => s !== undefined);
  const children = new Map<number, Stat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return null;
  const out: Stat[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const s = todo.pop()!;
    out.push(s);
    todo.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** CPU used so far by `rootPid` and every live descendant; null when /proc is not there. */
export function treeCpu(rootPid: number): TreeCpu | null {
  const stats = treeStats(rootPid);
  if (!stats) return null;
  const out: TreeCpu = { cpuSec: 0, byCommand: {}, byProcess: {}, processes: 0 };
  for (const s of stats) {
    out.cpuSec += s.cpuSec;
    out.byCommand[s.comm] = (out.byCommand[s.comm] ?? 0) + s.cpuSec;
    out.byProcess[`${s.pid} ${processLabel(s.pid, s.comm)}`] = s.cpuSec;
    out.processes++;
  }
  return out;
}

/**
 * Sets the nice value of every thread of `rootPid` and its live descendants (Linux nice is per
 * thread: a process's libuv and V8 threads keep theirs unless each is set). Threads they create
 * later inherit it. Raising nice needs no privilege; lowering it does. Returns the threads set.
 */
export function reniceTree(rootPid: number, nice: number): number {
  let count = 0;
  for (const s of treeStats(rootPid) ?? []) {
    let tids: number[];
    try {
      tids = readdirSync(`/proc/${s.pid}/task`).map(Number);
    } catch {
      continue; // gone meanwhile
    }
    for (const tid of tids) {
      try {
        setPriority(tid, nice);
        count++;
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return count;
}

/**
 * Pins every thread of `rootPid` and its live descendants to the CPUs in `cpuList` (taskset's
 * list form: "1", "0-1"); processes and threads they start later inherit it. `rootPid` alone, not
 * its descendants, with `treeWide` false (the bench pins its own threads apart from the chain it
 * started). Returns the processes pinned; throws when taskset (util-linux) is missing.
 */
export function pinTree(rootPid: number, cpuList: string, treeWide = true): number {
  const pids = treeWide ? (treeStats(rootPid) ?? []).map((s) => s.pid) : [rootPid];
  let count = 0;
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
      count++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT')
        throw new Error('pinTree needs taskset (util-linux)', { cause: e });
      // the process ended meanwhile
    }
  }
  return count;
}

/** The CPUs a thread may run on (/proc's Cpus_allowed_list, "0-1"); undefined when it is gone. */
export function allowedCpus(tid: number): string | undefined {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${tid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** What a process tree used between two readings. */
export function cpuDelta(before: TreeCpu | null, after: TreeCpu | null): TreeCpu | null {
  if (!before || !after) return null;
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byCommand)) {
    byCommand[k] = Math.round((v - (before.byCommand[k] ?? 0)) * 100) / 100;
  }
  const byProcess: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byProcess)) {
    byProcess[k] = Math.round((v - (before.byProcess[k] ?? 0)) * 100) / 100;
  }
  return {
    cpuSec: Math.round((after.cpuSec - before.cpuSec) * 100) / 100,
    byCommand,
    byProcess,
    processes: after.processes,
  };
}

/** CPU-seconds (user + system) used so far by `root` and every live descendant (0 without /proc). */
export function treeCpuSeconds(root: number): number {
  return treeCpu(root)?.cpuSec ?? 0;
}

/** CPU seconds of this process's reaped children (cutime + cstime of /proc/self/stat): ffmpeg runs a bench waited for. */
export function childrenCpuSec(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17
  return (Number(fields[13]) + Number(fields[14])) / USER_HZ;
}

/** CPU seconds this process has used (user + system). */
export function selfCpuSec(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
