import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32c } from '../../../edge/store/crc32c.js';
import { LogStore, type ObjectMeta, type StoreOptions } from '../../../edge/store/index.js';

/**
 * The crash-safety experiment shared by the vitest suite (≥50 rounds) and bench/store-crash.ts
 * (200 rounds): a writer child does sustained puts and is SIGKILLed at a random point; then the
 * store is reopened here and every indexed object must read back byte-identical (body derived from
 * key + generation), acknowledged puts of the killed round must be there, and no CRC error may occur.
 */
export const CRASH_STORE_OPTIONS: Omit<StoreOptions, 'dir'> = {
  capacityBytes: 4 * 1024 * 1024,
  regionBytes: 256 * 1024,
  ramBytes: 0, // read-backs in the writer must hit the region files, not RAM
  verifyBeforeSendBytes: 64 * 1024, // 100 kB bodies take the streamed, verify-while-reading path
  // A SIGKILL loses nothing the kernel has accepted, so fsync adds nothing to what this experiment can
  // observe (only a power cut could), while it makes every life wait on a shared, busy disk.
  // STORE_CRASH_DURABILITY=fsync runs the same lives through the fsync path (index commit on lmdb's write thread).
  durability: (process.env.STORE_CRASH_DURABILITY as 'fsync' | undefined) ?? 'flush',
};

export function crashBody(key: string, gen: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = crc32c(Buffer.from(`${key}#${gen}`)) || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function crashMeta(key: string, gen: number): ObjectMeta {
  const idx = Number(key.slice(key.lastIndexOf('k') + 1));
  return {
    status: 200,
    headers: { 'x-gen': String(gen) },
    storedAt: gen,
    expiresAt: gen + 1,
    tags: ['crash', `g${idx % 5}`],
  };
}

export interface CrashSummary {
  rounds: number;
  acked: number;
  verifiedObjects: number;
  maxObjects: number;
  killedBeforeReady: number;
  problems: string[];
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The writer as the project runs TypeScript: `node bin/run-ts.js test/integration/store/crash-writer.ts`. */
export const WRITER_VIA_RUN_TS = ['bin/run-ts.js', fileURLToPath(new URL('./crash-writer.ts', import.meta.url))];

/**
 * The same writer pre-bundled with esbuild (lmdb left external), so a life starts in ~0.5 s instead
 * of ~2 s on a loaded 2-core box. Written under node_modules/.cache so `lmdb` and the native CRC32C resolve.
 */
export async function bundleWriter(): Promise<string[]> {
  const { build } = await import('esbuild');
  const out = join(ROOT, 'node_modules', '.cache', 'streamedge-store-test', `crash-writer-${process.pid}.mjs`);
  await build({
    entryPoints: [WRITER_VIA_RUN_TS[1]],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['lmdb', '@node-rs/crc32'],
    outfile: out,
    logLevel: 'silent',
  });
  return [out];
}

/** Reopens the store and checks every indexed object. Returns problems found (empty = healthy). */
export async function verifyStore(
  dir: string,
  mustHave: Map<string, number>,
): Promise<{ objects: number; problems: string[] }> {
  const problems: string[] = [];
  const store = await LogStore.open({ dir, ...CRASH_STORE_OPTIONS });
  try {
    const keys = store.keys();
    if (keys.length !== store.stats().objects)
      problems.push(`keys() lists ${keys.length} but stats says ${store.stats().objects}`);
    for (const key of keys) {
      const g = await store.get(key);
      if (!g) {
        problems.push(`${key}: indexed but not readable`);
        continue;
      }
      const gen = Number(g.meta.headers['x-gen']);
      let body: Buffer;
      try {
        const parts: Buffer[] = [];
        for await (const c of g.body) parts.push(c as Buffer);
        body = Buffer.concat(parts);
      } catch (e) {
        problems.push(`${key}: read failed: ${String(e)}`);
        continue;
      }
      if (body.length !== g.size || !body.equals(crashBody(key, gen, g.size)))
        problems.push(`${key}: body differs from what was put (gen ${gen})`);
    }
    for (const [key, gen] of mustHave) {
      const h = await store.head(key);
      const got = h ? Number(h.meta.headers['x-gen']) : undefined;
      if (got === undefined || got < gen)
        problems.push(`${key}: acknowledged gen ${gen} but found ${got ?? 'nothing'}`);
    }
    const s = store.stats();
    if (s.crcErrors !== 0) problems.push(`crcErrors = ${s.crcErrors}`);
    return { objects: keys.length, problems };
  } finally {
    await store.close();
  }
}

/** Runs one writer life: spawn, wait for the chosen event, SIGKILL. Returns acks that must survive. */
async function oneLife(
  writer: string[],
  dir: string,
  seed: number,
  round: number,
  killAt: number,
): Promise<{ mustHave: Map<string, number>; acked: number; beforeReady: boolean; badLines: string[] }> {
  const child = spawn(process.execPath, [...writer, dir, String(seed), String(round)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const mustHave = new Map<string, number>();
  const purgeLog: { tag: string; hard: boolean }[] = [];
  const keyOf = (k: string) => `g${Number(k.slice(k.lastIndexOf('k') + 1)) % 5}`;
  let acked = 0;
  const badLines: string[] = [];
  let killed = false;
  let beforeReady = false;
  const kill = () => {
    if (!killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  };
  const rl = createInterface({ input: child.stdout });
  for await (const line of rl) {
    const [what, a, b, c] = line.split(' ');
    if (what === 'opening' && killAt < 0) {
      beforeReady = true;
      kill();
    } else if (what === 'ready' && killAt === 0) {
      kill();
    } else if (what === 'ack' && !killed) {
      const startEpoch = Number(c);
      const purgedSince = purgeLog.slice(startEpoch).some((p) => p.hard && p.tag === keyOf(a));
      if (purgedSince) mustHave.delete(a);
      else mustHave.set(a, Number(b));
      if (++acked >= killAt) kill();
    } else if (what === 'del') {
      mustHave.delete(a);
    } else if (what === 'purge') {
      purgeLog.push({ tag: a, hard: b === 'hard' });
      if (b === 'hard') for (const k of [...mustHave.keys()]) if (keyOf(k) === a) mustHave.delete(k);
    } else if (what === 'bad') {
      badLines.push(line);
    } else if (what === 'done') {
      kill();
    }
  }
  const [code, signal] = (await exited) as [number | null, string | null];
  if (!killed || signal !== 'SIGKILL') {
    throw new Error(`writer exited by itself (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`);
  }
  return { mustHave, acked, beforeReady, badLines };
}

/** `writer`: node arguments that start the writer (WRITER_VIA_RUN_TS or the result of bundleWriter()). */
export async function runCrashRounds(
  writer: string[],
  dir: string,
  rounds: number,
  seed: number,
  onRound?: (r: number, objects: number) => void,
): Promise<CrashSummary> {
  let x = seed >>> 0 || 1;
  const rand = (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const summary: CrashSummary = {
    rounds: 0,
    acked: 0,
    verifiedObjects: 0,
    maxObjects: 0,
    killedBeforeReady: 0,
    problems: [],
  };
  for (let r = 1; r <= rounds; r++) {
    // 1 in 10 lives dies while opening (during recovery), the rest after a random number of acks.
    const killAt = rand(10) === 0 ? -1 : rand(21);
    const life = await oneLife(writer, dir, rand(1 << 30) + 1, r, killAt);
    summary.acked += life.acked;
    if (life.beforeReady) summary.killedBeforeReady++;
    for (const b of life.badLines) summary.problems.push(`round ${r}, in the writer: ${b}`);
    const v = await verifyStore(dir, life.mustHave);
    summary.rounds++;
    summary.verifiedObjects += v.objects;
    summary.maxObjects = Math.max(summary.maxObjects, v.objects);
    for (const p of v.problems) summary.problems.push(`round ${r}: ${p}`);
    onRound?.(r, v.objects);
    if (summary.problems.length > 20) break;
  }
  return summary;
}
