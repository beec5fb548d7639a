/**
 * bench/process-cpu.ts: the CPU of a process tree from /proc, so the viewer bench can say what
 * the origin (with its ffmpeg) and the edge (with its workers) each used.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuDelta, treeCpu } from '../../../bench/process-cpu.js';

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
