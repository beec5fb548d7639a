import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../edge/store/crc32c.js';
import { LogStore } from '../../../edge/store/index.js';
import { bodyFor, meta, tempDir, deferredCleanup } from './store-helpers.js';

/**
 * The store across processes: one writer (LogStore, holding store.lock) and read-only openers in
 * other processes (ReadOnlyStore), as the multi-worker edge uses it.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const READER = fileURLToPath(new URL('./reader-child.ts', import.meta.url));
const KiB = 1024;
const defer = deferredCleanup();

interface Child {
  proc: ChildProcessWithoutNullStreams;
  ask(line: string): Promise<string>;
}

async function startReader(dir: string): Promise<Child> {
  const proc = spawn(process.execPath, ['bin/run-ts.js', READER, dir], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(proc, 'exit');
  defer(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  const rl: Interface = createInterface({ input: proc.stdout });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  rl.on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const l = lines.shift();
      if (l !== undefined) return resolve(l);
      waiting.push(resolve);
      void exited.then(() => reject(new Error(`reader exited: ${stderr.slice(-1000)}`)));
    });
  expect(await next()).toBe('ready');
  return {
    proc,
    ask: (line) => {
      proc.stdin.write(line + '\n');
      return next();
    },
  };
}

const withGen = (gen: number) => meta(['t'], { headers: { 'x-gen': String(gen) } });
const expectHit = (body: Buffer, gen: number): string => `hit ${gen} ${body.length} ${crc32c(body)}`;

describe('store across processes: one writer, read-only openers', () => {
  it('a read-only opener works while the writer holds store.lock, and sees commits after a refresh', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const store = await LogStore.open({ dir: t.dir, capacityBytes: 4096 * KiB, regionBytes: 256 * KiB });
    defer(() => store.close());
    const a1 = bodyFor('/a', 3000);
    expect(await store.put('/a', withGen(1), a1)).toBe(true);

    const reader = await startReader(t.dir);
    expect(await reader.ask('get /a')).toBe(expectHit(a1, 1));
    // committed after the reader's snapshot: a miss refreshes once by itself
    const b = bodyFor('/b', 100 * KiB);
    expect(await store.put('/b', withGen(1), b)).toBe(true);
    expect(await reader.ask('get /b')).toBe(expectHit(b, 1));
    // an overwrite is seen after refresh (what the store process's commit announcement triggers)
    const a2 = bodyFor('/a2', 5000);
    expect(await store.put('/a', withGen(2), a2)).toBe(true);
    expect(await reader.ask('refresh')).toBe('ok');
    expect(await reader.ask('get /a')).toBe(expectHit(a2, 2));
    // a hard purge is seen after refresh too
    expect(await store.purgePrefix('/b', 'hard')).toBe(1);
    expect(await reader.ask('refresh')).toBe('ok');
    expect(await reader.ask('get /b')).toBe('miss');
    // the writer is still the only writer
    await expect(LogStore.open({ dir: t.dir, capacityBytes: 4096 * KiB })).rejects.toMatchObject({
      code: 'STORE_LOCKED',
    });
  });

  it('readerCheck() frees the slot of a reader process SIGKILLed inside a read', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const store = await LogStore.open({
      dir: t.dir,
      capacityBytes: 4096 * KiB,
      regionBytes: 1024 * KiB,
      verifyBeforeSendBytes: 16 * KiB,
    });
    defer(() => store.close());
    const big = bodyFor('/big', 600 * KiB);
    expect(await store.put('/big', withGen(1), big)).toBe(true);
    const reader = await startReader(t.dir);
    expect(await reader.ask('hold /big')).toBe('held');
    const exited = once(reader.proc, 'exit');
    reader.proc.kill('SIGKILL');
    await exited;
    expect(store.readerCheck()).toBeGreaterThanOrEqual(1);
    expect(store.readerCheck()).toBe(0);
    // and the writer goes on
    expect(await store.put('/after', withGen(1), Buffer.from('ok'))).toBe(true);
  });
});
