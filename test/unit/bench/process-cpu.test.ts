/**
 * bench/process-cpu.ts: the CPU of a process tree from /proc, so the viewer bench can say what
 * the origin (with its ffmpeg) and the edge (with its workers) each used.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { cpuDelta, reniceTree, treeCpu } from '../../../bench/process-cpu.js';

describe('treeCpu', () => {
  it('counts a live child in its parent tree, by command and by process, and cpuDelta gives what it used meanwhile', async () => {
    // a child (a script file: byProcess names it) that spins until it has used 0.2 s of CPU, then waits to be killed
    const dir = mkdtempSync(join(tmpdir(), 'process-cpu-'));
    const script = join(dir, 'spin.js');
    writeFileSync(
      script,
      'while (process.cpuUsage().user < 200000); process.stdout.write("done\\n"); setInterval(() => {}, 1000)',
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const before = treeCpu(process.pid);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const during = treeCpu(process.pid);
    const own = treeCpu(child.pid!);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });

    expect(before).not.toBeNull();
    expect(during!.processes).toBeGreaterThanOrEqual(2);
    expect(own!.processes).toBe(1);
    expect(own!.cpuSec).toBeGreaterThanOrEqual(0.19);
    expect(Object.keys(own!.byCommand)).toEqual(['node']);
    // most of the child's 0.2 s came after `before` (taken right after the spawn)
    const delta = cpuDelta(before, during)!;
    expect(delta.cpuSec).toBeGreaterThan(0.1);
    expect(delta.byCommand.node).toBeGreaterThan(0.1);
    // per process, named by the script it runs
    expect(Object.keys(own!.byProcess)).toEqual([`${child.pid} spin.js`]);
    expect(own!.byProcess[`${child.pid} spin.js`]).toBe(own!.cpuSec);
    expect(delta.byProcess[`${child.pid} spin.js`]).toBeGreaterThan(0.1);
  });

  it('is null for a process that does not exist', () => {
    expect(treeCpu(2 ** 22 + 12345)).toBeNull();
    expect(cpuDelta(null, null)).toBeNull();
  });
});

describe('reniceTree', () => {
  it('sets the nice value of every thread of a process and of its child, and threads started later inherit it', async () => {
    // a parent that starts a child; each starts a worker thread (a thread of its own) and reports ready
    const dir = mkdtempSync(join(tmpdir(), 'process-nice-'));
    const child = join(dir, 'child.js');
    const parent = join(dir, 'parent.js');
    const idle = `const { Worker } = require('node:worker_threads'); new Worker('setInterval(() => {}, 1000)', { eval: true }).on('online', () => process.stdout.write('ready\\n'));`;
    writeFileSync(child, `${idle} setInterval(() => {}, 1000);`);
    writeFileSync(
      parent,
      `const { spawn } = require('node:child_process'); const c = spawn(process.execPath, [${JSON.stringify(child)}], { stdio: ['ignore', 'pipe', 'ignore'] }); c.stdout.once('data', () => process.stdout.write('ready\\n')); setInterval(() => {}, 1000);`,
    );
    const p = spawn(process.execPath, [parent], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
    const threads = () =>
      treeCpu(p.pid!) === null
        ? []
        : Object.keys(treeCpu(p.pid!)!.byProcess)
            .map((k) => Number(k.split(' ')[0]))
            .flatMap((pid) => readdirSync(`/proc/${pid}/task`).map(Number));
    const before = threads();
    const set = reniceTree(p.pid!, 7);
    const niceOf = threads().map((tid) => getPriority(tid));
    const pids = Object.keys(treeCpu(p.pid!)!.byProcess).map((k) => Number(k.split(' ')[0]));
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => (p.exitCode === null ? p.once('exit', resolve) : resolve(null)));
    rmSync(dir, { recursive: true, force: true });

    expect(before.length).toBeGreaterThan(4); // two processes, each with its main, worker, libuv and V8 threads
    expect(set).toBeGreaterThanOrEqual(before.length);
    expect(niceOf.length).toBeGreaterThan(4);
    expect(niceOf.every((n) => n === 7)).toBe(true);
  });
});
