import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirLock } from '../../src/dir-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lock-'));
  dirs.push(d);
  return d;
}

describe('DirLock', () => {
  it('is exclusive while held (even within one process) and free after release', () => {
    const d = dir();
    const a = DirLock.acquire(d);
    expect(readFileSync(join(d, 'store.lock'), 'utf8')).toContain(String(process.pid));
    expect(() => DirLock.acquire(d)).toThrow(expect.objectContaining({ code: 'STORE_LOCKED' }));
    a.release();
    expect(existsSync(join(d, 'store.lock'))).toBe(false);
    DirLock.acquire(d).release();
  });

  it('takes over a lock whose holder process is gone', () => {
    const d = dir();
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(d, 'store.lock'), `${deadPid} ${hostname()} old\n`);
    const l = DirLock.acquire(d);
    l.release();
  });

  it('does not release a lock that was taken over by someone else', () => {
    const d = dir();
    const a = DirLock.acquire(d);
    writeFileSync(join(d, 'store.lock'), `1 ${hostname()} someone-else\n`);
    a.release();
    expect(existsSync(join(d, 'store.lock'))).toBe(true);
  });

  it('cleans up temporary lock files left by a holder killed between writing and linking', () => {
    const d = dir();
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const stray = join(d, `store.lock.${deadPid}.abc123`);
    writeFileSync(stray, `${deadPid} ${hostname()} x\n`);
    const l = DirLock.acquire(d);
    expect(existsSync(stray)).toBe(false);
    l.release();
  });
});

describe('DirLock for another owner', () => {
  it("uses the owner's file name, error code and message", () => {
    const d = dir();
    const owner = {
      file: 'demo.lock',
      code: 'DEMO_RUNNING',
      openCode: 'DEMO_DIR',
      held: (pid: number, host: string) => `held by ${pid} on ${host}`,
    };
    const a = DirLock.acquire(d, owner);
    expect(existsSync(join(d, 'demo.lock'))).toBe(true);
    expect(existsSync(join(d, 'store.lock'))).toBe(false);
    expect(() => DirLock.acquire(d, owner)).toThrow(
      expect.objectContaining({ code: 'DEMO_RUNNING', message: `held by ${process.pid} on ${hostname()}` }),
    );
    // the store's lock in the same directory is another lock
    DirLock.acquire(d).release();
    a.release();
    DirLock.acquire(d, owner).release();
  });
});
