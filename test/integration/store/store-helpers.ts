import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { crc32c } from '../../../edge/store/crc32c.js';
import type { ObjectMeta } from '../../../edge/store/index.js';

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
