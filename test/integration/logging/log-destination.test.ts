/**
 * The log destination of the edge and the origin (src/logging/log-destination.ts): lines leave once per event-loop turn (or
 * at once past 64 KiB pending), in order, in writes of whole lines of at most 4096 bytes (a pipe
 * shared by the edge's processes takes each whole), none lost when the process exits in the same
 * turn; partial writes are finished, a full pipe (EAGAIN) waited out up to a second, then that
 * turn's lines dropped and counted; a standard output nobody reads any more (EPIPE) drops lines,
 * counted, without failing the process.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LogDestination } from '../../../src/logging/log-destination.js';

const root = resolve(import.meta.dirname, '../../..');
const child = fileURLToPath(new URL('./log-destination-child.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edge-log-dest-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runChild(
  mode: 'exit' | 'gone',
  lines: number,
): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; proc: ReturnType<typeof spawn> } {
  const proc = spawn(process.execPath, [join(root, 'bin/run-ts.js'), child, mode, String(lines)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) =>
    proc.on('close', (code) => r({ code, stdout, stderr })),
  );
  return { done, proc };
}

const numbers = (text: string): number[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { n: number }).n);

describe('edge log destination', () => {
  it('writes the lines of a turn together, after the turn, in order', async () => {
    const file = join(dir, 'turn.log');
    const fd = openSync(file, 'w');
    try {
      const d = new LogDestination(fd);
      for (let i = 0; i < 100; i++) d.write(`line ${i}\n`);
      expect(readFileSync(file, 'utf8')).toBe(''); // still pending in this turn
      await new Promise<void>((r) => setImmediate(r));
      expect(readFileSync(file, 'utf8')).toBe(Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
      expect(d.dropped).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('writes at once when 64 KiB are pending', () => {
    const file = join(dir, 'big.log');
    const fd = openSync(file, 'w');
    try {
      const d = new LogDestination(fd);
      const line = `${'é'.repeat(1023)}\n`; // 1 KiB of UTF-16 units, 2 KiB of UTF-8
      for (let i = 0; i < 64; i++) d.write(line);
      expect(readFileSync(file, 'utf8')).toBe(line.repeat(64));
      d.write('last\n');
      d.flushSync();
      expect(readFileSync(file, 'utf8')).toBe(`${line.repeat(64)}last\n`);
    } finally {
      closeSync(fd);
    }
  });

  it('writes whole lines, at most 4096 bytes a write, a longer line alone; finishes partial writes', () => {
    const writes: Buffer[] = []; // what each write(2) was given
    let out = '';
    // the system call as a pipe might answer: at most 1000 bytes taken per call
    const d = new LogDestination(99, (_fd, data, offset, length) => {
      if (writes.at(-1) !== data) writes.push(data);
      const n = Math.min(length, 1000);
      out += data.subarray(offset, offset + n).toString();
      return n;
    });
    const lines = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(3, '0')} ${'x'.repeat(295)}\n`);
    const long = `long ${'y'.repeat(6000)}\n`;
    const all = [...lines.slice(0, 20), long, ...lines.slice(20)];
    for (const l of all) d.write(l);
    d.flush();
    expect(out).toBe(all.join(''));
    // 13 lines of 300 bytes (3,900) fit under 4,096, then the other 7; the long line alone
    expect(writes.map((w) => w.length)).toEqual([3900, 2100, long.length, 3900, 2100]);
    expect(writes.every((w) => w.toString().endsWith('\n'))).toBe(true);
    expect(d.dropped).toBe(0);
  });

  it('waits out a full pipe (EAGAIN), then drops that turn’s lines and counts them', () => {
    let busy = 2;
    let out = '';
    const again = Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
    const d = new LogDestination(99, (_fd, data, offset, length) => {
      if (busy-- > 0) throw again;
      out += data.subarray(offset, offset + length).toString();
      return length;
    });
    d.write('a\n');
    d.flush();
    expect(out).toBe('a\n');
    const stuck = new LogDestination(99, () => {
      throw again;
    });
    const started = Date.now();
    stuck.write('b\n');
    stuck.write('c\n');
    stuck.flush();
    expect(stuck.dropped).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  });

  it('loses no line when the process exits in the turn that wrote them', async () => {
    const { done } = runChild('exit', 5_000);
    const r = await done;
    expect(r.code).toBe(0);
    expect(numbers(r.stdout)).toEqual(Array.from({ length: 5_000 }, (_, i) => i));
  }, 30_000);

  it('drops and counts lines once nobody reads standard output, and the process carries on', async () => {
    const { done, proc } = runChild('gone', 1_000);
    proc.stdout!.destroy(); // the reader goes away
    proc.stdin!.write('x');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('dropped 1000');
  }, 30_000);
});
