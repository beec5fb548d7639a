import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32c } from '../../../edge/store/crc32c.js';
import { afterEach } from 'vitest';
import { LogStore, type ObjectMeta, type StoreOptions } from '../../../edge/store/index.js';

export function tempDir(prefix = 'store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function meta(tags: string[] = [], extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return {
    status: 200,
    headers: { 'content-type': 'video/mp4' },
    storedAt: 1_700_000_000_000,
    expiresAt: 1_700_000_060_000,
    tags,
    ...extra,
  };
}

/** Deterministic body bytes derived from the key (so a checker can recompute them). */
export function bodyFor(key: string, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = crc32c(Buffer.from(key)) || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Sum of the sizes of the region files on disk. */
export function regionFileBytes(dir: string): number {
  const rd = join(dir, 'regions');
  return readdirSync(rd).reduce((a, n) => a + statSync(join(rd, n)).size, 0);
}

export function regionFiles(dir: string): string[] {
  return readdirSync(join(dir, 'regions'))
    .filter((n) => n.endsWith('.seg'))
    .sort();
}

type Cleanup = () => Promise<void> | void;

/** Registers an afterEach that runs, last first, every clean-up handed to the returned `defer`. */
export function deferredCleanup(): (fn: Cleanup) => void {
  const fns: Cleanup[] = [];
  afterEach(async () => {
    for (const c of fns.splice(0).reverse()) await c();
  });
  return (fn) => void fns.push(fn);
}

/**
 * `openStore(extra)` for one test file: a fresh temp folder and a LogStore opened on it with
 * `defaults` then `extra`; both are closed and removed after the test through `defer`.
 */
export function storeOpener(
  defer: (fn: Cleanup) => void,
  prefix: string,
  defaults: Omit<StoreOptions, 'dir'>,
): (extra?: Partial<StoreOptions>) => Promise<{ store: LogStore; dir: string; opts: StoreOptions }> {
  return async (extra = {}) => {
    const t = tempDir(prefix);
    const opts: StoreOptions = { dir: t.dir, ...defaults, ...extra };
    const store = await LogStore.open(opts);
    defer(t.cleanup);
    defer(() => store.close());
    return { store, dir: t.dir, opts };
  };
}
