/**
 * The file descriptors a run will hold, checked against `ulimit -n` before any socket opens, so
 * a run too big for this process fails at once with one line naming the numbers and the fix,
 * instead of EMFILE errors (and viewers failing one by one) in the middle of the ramp.
 *
 * What a viewer holds: `connectionsPerViewer` (viewer.ts) keep-alive connections at most, one
 * descriptor each. When the target listens in this very process (a test's in-process server on
 * loopback), every connection costs a second descriptor here: the server's side of it.
 *
 * Linux reads the limit from /proc/self/limits and the descriptors already open from
 * /proc/self/fd; where /proc is missing the check is skipped (null).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { StreamedgeError } from '../../src/errors.js';

/** Descriptors kept free beyond the viewers' (DNS, files of the report, worker threads' pipes). */
export const FD_RESERVE = 64;

export interface FdBudget {
  viewers: number;
  connectionsPerViewer: number;
  /** The target's server runs in this process: each connection has its server side here too. */
  serverInProcess: boolean;
  /** Descriptors open now. */
  open: number;
  /** The soft RLIMIT_NOFILE (`ulimit -n`). */
  limit: number;
}

/** Descriptors the run needs in all (the ones open now included). */
export function fdsNeeded(b: Omit<FdBudget, 'limit'>): number {
  return b.open + FD_RESERVE + b.viewers * b.connectionsPerViewer * (b.serverInProcess ? 2 : 1);
}

/** Throws a one-line StreamedgeError when the run does not fit `ulimit -n`. */
export function checkFdBudget(b: FdBudget): void {
  const need = fdsNeeded(b);
  if (need <= b.limit) return;
  const perViewer = b.connectionsPerViewer * (b.serverInProcess ? 2 : 1);
  const fit = Math.max(0, Math.floor((b.limit - b.open - FD_RESERVE) / perViewer));
  const side = b.serverInProcess ? ' (× 2: the target listens in this process, so both ends are here)' : '';
  throw new StreamedgeError(
    'FD_LIMIT',
    `${b.viewers} viewers × ${b.connectionsPerViewer} connections${side} + ${b.open} open + ${FD_RESERVE} spare = ${need} file descriptors, but ulimit -n is ${b.limit}: raise it (ulimit -n ${need}) or lower --viewers to ${fit}`,
  );
}

/** The soft limit on open files of this process, or null where /proc/self/limits is missing. */
export function readFdLimit(): number | null {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m) return null;
  return m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}

function ownFds(): string[] | null {
  try {
    return readdirSync('/proc/self/fd');
  } catch {
    return null;
  }
}

/**
 * Whether a TCP socket listening on `port` belongs to this process: its inode (from
 * /proc/net/tcp and tcp6, state 0A = LISTEN) is one of /proc/self/fd's `socket:[inode]` links.
 */
export function listensInProcess(port: number): boolean {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
      if (f.length > 9 && f[3] === '0A' && f[1].endsWith(`:${hexPort}`)) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return false;
  for (const fd of ownFds() ?? []) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1])) return true;
  }
  return false;
}

/** The most viewers of `connectionsPerViewer` that fit this process's `ulimit -n` now (target in another process). */
export function viewersThatFit(connectionsPerViewer: number): number {
  const limit = readFdLimit();
  const fds = ownFds();
  if (limit === null || fds === null) return Number.POSITIVE_INFINITY;
  return Math.max(0, Math.floor((limit - fds.length - FD_RESERVE) / connectionsPerViewer));
}

/**
 * Checks a run of `viewers` against this process's `ulimit -n` (see checkFdBudget); skipped where
 * /proc does not say. `target` is the URL the viewers will connect to.
 */
export function checkRunFits(viewers: number, connectionsPerViewer: number, target: URL): void {
  const limit = readFdLimit();
  const fds = ownFds();
  if (limit === null || fds === null) return;
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const loopback = /^(127\.|\[::1\]$|localhost$)/.test(target.hostname);
  checkFdBudget({
    viewers,
    connectionsPerViewer,
    serverInProcess: loopback && listensInProcess(port),
    open: fds.length,
    limit,
  });
}
