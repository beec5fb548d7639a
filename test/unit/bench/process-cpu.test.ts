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
import { allowedCpus, cpuDelta, pinTree, reniceTree, treeCpu } from '../../../bench/process-cpu.js';

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

/** A parent that starts a child; each starts a worker thread (a thread of its own) and reports ready. */
async function parentWithChild(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
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
  const pids = () => Object.keys(treeCpu(p.pid!)?.byProcess ?? {}).map((k) => Number(k.split(' ')[0]));
  const threads = () => pids().flatMap((pid) => readdirSync(`/proc/${pid}/task`).map(Number));
  const done = async () => {
    for (const pid of pids()) process.kill(pid, 'SIGKILL');
    await new Promise((resolve) => (p.exitCode === null ? p.once('exit', resolve) : resolve(null)));
    rmSync(dir, { recursive: true, force: true });
  };
  return { p, threads, done };
}

describe('reniceTree', () => {
  it('sets the nice value of every thread of a process and of its child, and threads started later inherit it', async () => {
    const { p, threads, done } = await parentWithChild('process-nice-');
    const before = threads();
    const set = reniceTree(p.pid!, 7);
    const niceOf = threads().map((tid) => getPriority(tid));
    await done();

    expect(before.length).toBeGreaterThan(4); // two processes, each with its main, worker, libuv and V8 threads
    expect(set).toBeGreaterThanOrEqual(before.length);
    expect(niceOf.length).toBeGreaterThan(4);
    expect(niceOf.every((n) => n === 7)).toBe(true);
  });
});

describe('pinTree', () => {
  it('pins every thread of a process and of its child to the CPUs given, and can pin them back', async () => {
    const { p, threads, done } = await parentWithChild('process-pin-');
    const all = allowedCpus(p.pid!)!;
    const pinned = pinTree(p.pid!, '0');
    const onZero = threads().map(allowedCpus);
    const back = pinTree(p.pid!, all);
    const after = threads().map(allowedCpus);
    const own = pinTree(p.pid!, '0', false);
    const ownOnly = threads().map(allowedCpus);
    await done();

    expect(pinned).toBe(2); // the parent and its child
    expect(onZero.length).toBeGreaterThan(4);
    expect(onZero.every((c) => c === '0')).toBe(true);
    expect(back).toBe(2);
    expect(after.every((c) => c === all)).toBe(true);
    // treeWide false: the parent's threads only
    expect(own).toBe(1);
    expect(ownOnly.filter((c) => c === '0').length).toBeGreaterThan(1);
    expect(ownOnly.filter((c) => c === all).length).toBeGreaterThan(1); // the child's threads kept theirs
  });
});
