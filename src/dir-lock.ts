import { linkSync, readFileSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StreamedgeError } from './errors.js';

/**
 * Exclusive ownership of a directory by one process: a lock file holding `pid host token`, created
 * atomically (written under a temporary name, then hard-linked into place; link() fails if the
 * lock exists, like O_EXCL). A lock left by a process that no longer exists (same host, pid not
 * alive) is stale and taken over; a live holder — including this very process — makes acquire fail
 * with the owner's error code and message.
 *
 * Owners: the edge's store (`store.lock`: lmdb's own lock allows several processes by design, so it
 * is not enough to keep two stores from appending to the same region files; read-only openers in
 * edge worker processes never take or check it) and `streamedge demo`'s directory (`demo.lock`).
 */

/** Whose lock it is, for its file name and its errors. */
export interface DirLockOwner {
  /** The lock file's name in the directory. */
  file: string;
  /** StreamedgeError code when the directory is held. */
  code: string;
  /** StreamedgeError code when the lock file cannot be created at all. */
  openCode: string;
  /** The one line when a live process holds it. */
  held(pid: number, host: string, path: string): string;
}

/** The edge store's lock (edge/store/log-store.ts). */
export const STORE_LOCK: DirLockOwner = {
  file: 'store.lock',
  code: 'STORE_LOCKED',
  openCode: 'STORE_OPEN',
  held: (pid, host, path) =>
    `store directory is in use by pid ${pid} on ${host} (lock file ${path}); stop that process or use another --store directory`,
};

export class DirLock {
  private released = false;
  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  static acquire(dir: string, owner: DirLockOwner = STORE_LOCK): DirLock {
    const path = join(dir, owner.file);
    const token = `${process.pid} ${hostname()} ${Math.random().toString(36).slice(2)}`;
    removeDeadTempFiles(dir, owner.file);
    for (let attempt = 0; attempt < 3; attempt++) {
      // Write the content first, then link() it into place: the lock file appears atomically with
      // its content (a holder killed mid-way never leaves an empty lock behind).
      const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      try {
        writeFileSync(tmp, token + '\n', { flag: 'wx', mode: 0o644 });
        try {
          linkSync(tmp, path);
          return new DirLock(path, token);
        } finally {
          unlinkSync(tmp);
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StreamedgeError(owner.openCode, `cannot create lock file ${path}: ${(e as Error).message}`, {
            cause: e,
          });
        }
      }
      const holder = readHolder(path);
      if (!holder && youngerThan(path, 2000)) {
        throw new StreamedgeError(owner.code, `${dir} is being taken by another process (lock file ${path})`);
      }
      if (holder && holderAlive(holder))
        throw new StreamedgeError(owner.code, owner.held(holder.pid, holder.host, path));
      // Stale (holder gone) or unreadable half-written lock: remove and retry.
      try {
        unlinkSync(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    throw new StreamedgeError(owner.code, `could not take the lock ${path} (another process keeps taking it)`);
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

/** Temporary lock files (`<file>.<pid>.<rand>`) left by a process killed between write and link. */
function removeDeadTempFiles(dir: string, file: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`${file}.`)) continue;
    const m = /^(\d+)\.[a-z0-9]+$/.exec(name.slice(file.length + 1));
    if (!m || holderAlive({ pid: Number(m[1]), host: hostname() })) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // someone else cleaned it
    }
  }
}
