import { linkSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StreamedgeError } from '../../src/errors.js';

/**
 * Exclusive ownership of a store directory: a lock file holding `pid host token`, created
 * atomically (written under a temporary name, then hard-linked into place; link() fails if the
 * lock exists, like O_EXCL). A lock left by a process that no longer exists (same host, pid not alive)
 * is stale and taken over; a live holder — including this very process — makes open fail with
 * StreamedgeError('STORE_LOCKED'). (lmdb's own lock allows several processes by design, so it is
 * not enough to keep two stores from appending to the same region files.)
 *
 * The lock keeps out a second *writer* only. Read-only openers (ReadOnlyStore, in edge worker
 * processes) never take or check it: they open lmdb read-only and the region files O_RDONLY.
 */
export const LOCK_FILE = 'store.lock';

export class StoreLock {
  private released = false;
  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  static acquire(dir: string): StoreLock {
    const path = join(dir, LOCK_FILE);
    const token = `${process.pid} ${hostname()} ${Math.random().toString(36).slice(2)}`;
    removeDeadTempFiles(dir);
    for (let attempt = 0; attempt < 3; attempt++) {
      // Write the content first, then link() it into place: the lock file appears atomically with
      // its content (a holder killed mid-way never leaves an empty lock behind).
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      try {
        writeFileSync(tmp, token + '\n', { flag: 'wx', mode: 0o644 });
        try {
          linkSync(tmp, path);
          return new StoreLock(path, token);
        } finally {
          unlinkSync(tmp);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StreamedgeError('STORE_OPEN', `cannot create lock file ${path}: ${(e as Error).message}`, {
            cause: e,
          });
        }
      }
      const holder = readHolder(path);
      if (!holder && youngerThan(path, 2000)) {
        throw new StreamedgeError(
          'STORE_LOCKED',
          `store directory is being opened by another process (lock file ${path})`,
        );
      }
      if (holder && holderAlive(holder)) {
        throw new StreamedgeError(
          'STORE_LOCKED',
          `store directory is in use by pid ${holder.pid} on ${holder.host} (lock file ${path}); stop that process or use another --store directory`,
        );
      }
      // Stale (holder gone) or unreadable half-written lock: remove and retry.
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new StreamedgeError('STORE_LOCKED', `could not take the lock ${path} (another process keeps taking it)`);
  }

  /** Removes the lock file if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      if (readFileSync(this.path, 'utf8').trim() === this.token) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

interface Holder {
  pid: number;
  host: string;
}

function readHolder(path: string): Holder | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, host] = text.trim().split(' ');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !host) return undefined;
  return { pid, host };
}

function holderAlive(h: Holder): boolean {
  if (h.host !== hostname()) return true; // cannot check a pid on another host: assume alive
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function youngerThan(path: string, ms: number): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

/** Temporary lock files (`store.lock.<pid>.<rand>`) left by a process killed between write and link. */
function removeDeadTempFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^store\.lock\.(\d+)\.[a-z0-9]+$/.exec(name);
    if (!m || holderAlive({ pid: Number(m[1]), host: hostname() })) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // someone else cleaned it
    }
  }
}
