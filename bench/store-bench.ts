/**
 * Benchmark of the edge's log-structured store (edge/store), with baselines measured in the same run.
 *
 *   node bin/run-ts.js bench/store-bench.ts [--entries 1000000] [--quick]
 *
 * (--startup-only prints just the startup measurement as JSON.)
 * Writes bench/results/store.json and prints a summary:
 *  - put/get throughput (MiB/s) for 1 MiB and 1 KiB objects, as a ratio to plain fs.writeFile /
 *    fs.readFile of the same data (one file per object) and to raw sequential writes into one file;
 *  - get latency p50/p99 for 1 KiB, 200 KiB and 2 MiB objects from RAM and from disk;
 *  - startup time and RSS of a fresh process opening a store with N entries (default 1M, bulk-loaded
 *    in the store's own record format, then spot-checked through get());
 *  - hit ratio of the W-TinyLFU RAM tier vs plain LRU at the same capacity on a Zipf(0.9) trace
 *    mixed with a one-pass scan;
 *  - peak RSS of this process;
 *  - put vs a raw sequential write of the same bytes with the same durability (`putVsRaw`): 1 MiB
 *    objects, ABBA rounds (raw, store, store, raw), for 'flush' (written to the kernel) and 'fsync'
 *    (fdatasync before the object is acknowledged: the raw side syncs after every object, the
 *    store's group commit syncs once per batch, which is what makes it cheaper).
 *
 * --put-only runs just putVsRaw (for profiling: `node --cpu-prof --cpu-prof-dir=DIR bin/run-ts.js
 * bench/store-bench.ts --put-only`); --top-frames FILE.cpuprofile prints the top self-time frames.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile, readFile, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CountMinSketch } from '../edge/store/count-min-sketch.js';
import { crc32c } from '../edge/store/crc32c.js';
import { LogStore, type ObjectMeta, type StoreOptions } from '../edge/store/index.js';
import { RamTier } from '../edge/store/ram-tier.js';
import { HEADER_BYTES, encodeHeader, encodeMeta } from '../edge/store/record-format.js';
import type { RegionState } from '../edge/store/region-file.js';
import { StoreIndex, type IndexEntry } from '../edge/store/store-index.js';

/**
 * CPU profile of the put path (`node --cpu-prof ... --put-only`, then --top-frames), before and after
 * tuning, filled in by hand from those two runs.
 */
const PROFILE_NOTES = {
  command:
    'node --cpu-prof --cpu-prof-dir=/tmp/store-prof bin/run-ts.js bench/store-bench.ts --put-only --quick; node bin/run-ts.js bench/store-bench.ts --top-frames /tmp/store-prof/<file>.cpuprofile',
  loadAverage: 'about 14-16 (1-minute) on 2 cores during both profiles: the box was shared and busy',
  before: {
    code: 'pure-JS CRC32C (STREAMEDGE_CRC32C=js, as on main), index commit with its sync inline on the event loop',
    putVsRaw: 'flush 0.88x, fsync 1.71x (128 x 1 MiB, ABBA)',
    top: [
      '57.7% (idle)',
      '18.0% crc32cJs edge/store/crc32c.ts',
      '6.0% waitForWorker node:internal/modules/esm/hooks (tsx loader, start-up)',
      '4.1% makeSyncRequest node:internal/modules/esm/hooks (tsx loader, start-up)',
      '3.7% finishTxn node_modules/lmdb/write.js (commit + sync on the main thread)',
      '1.9% writeBuffer',
      '1.7% writeBuffers',
    ],
  },
  after: {
    code: "native CRC32C (@node-rs/crc32); with durability fsync the index commit runs on lmdb's write thread",
    putVsRaw: 'flush 0.88x, fsync 1.73x (128 x 1 MiB, ABBA)',
    top: [
      '79.6% (idle)',
      '4.7% waitForWorker node:internal/modules/esm/hooks (tsx loader, start-up)',
      '3.1% writeBuffer',
      '2.0% crc32c edge/store/crc32c.ts (native)',
      '1.6% writeBuffers',
      '1.2% makeSyncRequest node:internal/modules/esm/hooks (tsx loader, start-up)',
      '0.6% finishTxn node_modules/lmdb/write.js',
    ],
  },
};

const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const entriesArg = args.indexOf('--entries');
const ENTRIES = entriesArg >= 0 ? Number(args[entriesArg + 1]) : quick ? 100_000 : 1_000_000;
const CONCURRENCY = 8;

const meta = (): ObjectMeta => ({
  status: 200,
  headers: { 'content-type': 'video/mp4' },
  storedAt: Date.now(),
  expiresAt: Date.now() + 3_600_000,
  tags: ['bench'],
});

async function drain(s: Readable): Promise<number> {
  let n = 0;
  for await (const c of s) n += (c as Buffer).length;
  return n;
}

async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function mibps(bytes: number, ms: number): number {
  return Math.round((bytes / MiB / (ms / 1000)) * 10) / 10;
}

function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000;
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

// ------------------------------------------------------------------ throughput

interface Throughput {
  objectBytes: number;
  objects: number;
  putMiBps: {
    storeFlush: number;
    storeFsync: number;
    writeFile: number;
    writeFileFdatasync: number;
    rawSequential: number;
  };
  getMiBps: { storeDisk: number; storeRam: number; readFile: number };
  ratios: {
    putFlushVsWriteFile: number;
    putFsyncVsWriteFileFdatasync: number;
    putFlushVsRawSequential: number;
    getDiskVsReadFile: number;
    getRamVsReadFile: number;
  };
}

async function throughput(objectBytes: number, objects: number): Promise<Throughput> {
  const work = mkdtempSync(join(tmpdir(), 'store-bench-'));
  try {
    const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(objectBytes, i + 1));
    const total = objectBytes * objects;
    const capacity = Math.max(256 * MiB, total * 3);
    const storeOpts = (sub: string, extra: Partial<StoreOptions>): StoreOptions => ({
      dir: join(work, sub),
      capacityBytes: capacity,
      regionBytes: 64 * MiB,
      ...extra,
    });

    // baselines
    mkdirSync(join(work, 'files'));
    let t = performance.now();
    await pool(objects, (i) => writeFile(join(work, 'files', `o${i}`), bodies[i % 16]));
    const writeFileMs = performance.now() - t;
    mkdirSync(join(work, 'files-sync'));
    t = performance.now();
    await pool(objects, async (i) => {
      const fh = await openFile(join(work, 'files-sync', `o${i}`), 'w');
      await fh.writeFile(bodies[i % 16]);
      await fh.datasync();
      await fh.close();
    });
    const writeFileSyncMs = performance.now() - t;
    t = performance.now();
    const seq = await openFile(join(work, 'sequential.bin'), 'w');
    for (let i = 0; i < objects; i++) await seq.write(bodies[i % 16]);
    await seq.close();
    const rawSeqMs = performance.now() - t;
    t = performance.now();
    await pool(objects, (i) => readFile(join(work, 'files', `o${i}`)));
    const readFileMs = performance.now() - t;

    // store, flush durability (then reads from disk with the RAM tier off)
    let store = await LogStore.open(storeOpts('store-flush', { durability: 'flush', ramBytes: 0 }));
    t = performance.now();
    await pool(objects, (i) => store.put(`/o/${i}`, meta(), bodies[i % 16]));
    const putFlushMs = performance.now() - t;
    t = performance.now();
    await pool(objects, async (i) => drain((await store.get(`/o/${i}`))!.body));
    const getDiskMs = performance.now() - t;
    await store.close();

    // store, fsync durability (default); then RAM reads (tier large enough for all, warmed once)
    const ramBytes = Math.min(total * 2, 512 * MiB);
    store = await LogStore.open(storeOpts('store-fsync', { ramBytes, ramMaxObjectBytes: 4 * MiB }));
    t = performance.now();
    await pool(objects, (i) => store.put(`/o/${i}`, meta(), bodies[i % 16]));
    const putFsyncMs = performance.now() - t;
    for (let i = 0; i < objects; i++) await drain((await store.get(`/o/${i}`))!.body);
    t = performance.now();
    await pool(objects, async (i) => drain((await store.get(`/o/${i}`))!.body));
    const getRamMs = performance.now() - t;
    const ramHitShare = store.stats().ramHits / objects;
    await store.close();
    if (ramHitShare < 0.9) console.warn(`note: only ${Math.round(ramHitShare * 100)}% of the RAM pass were RAM hits`);

    const r: Throughput = {
      objectBytes,
      objects,
      putMiBps: {
        storeFlush: mibps(total, putFlushMs),
        storeFsync: mibps(total, putFsyncMs),
        writeFile: mibps(total, writeFileMs),
        writeFileFdatasync: mibps(total, writeFileSyncMs),
        rawSequential: mibps(total, rawSeqMs),
      },
      getMiBps: {
        storeDisk: mibps(total, getDiskMs),
        storeRam: mibps(total, getRamMs),
        readFile: mibps(total, readFileMs),
      },
      ratios: {
        putFlushVsWriteFile: ratio(writeFileMs, putFlushMs),
        putFsyncVsWriteFileFdatasync: ratio(writeFileSyncMs, putFsyncMs),
        putFlushVsRawSequential: ratio(rawSeqMs, putFlushMs),
        getDiskVsReadFile: ratio(readFileMs, getDiskMs),
        getRamVsReadFile: ratio(readFileMs, getRamMs),
      },
    };
    return r;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ latency

interface Latency {
  objectBytes: number;
  ramMs: { p50: number; p99: number };
  diskMs: { p50: number; p99: number };
}

async function latency(objectBytes: number, samples: number): Promise<Latency> {
  const work = mkdtempSync(join(tmpdir(), 'store-lat-'));
  try {
    const keys = 64;
    const body = Buffer.alloc(objectBytes, 7);
    const out: Latency = { objectBytes, ramMs: { p50: 0, p99: 0 }, diskMs: { p50: 0, p99: 0 } };
    for (const where of ['ram', 'disk'] as const) {
      const store = await LogStore.open({
        dir: join(work, where),
        capacityBytes: 1024 * MiB,
        regionBytes: 64 * MiB,
        durability: 'flush',
        ramBytes: where === 'ram' ? 256 * MiB : 0,
        ramMaxObjectBytes: 4 * MiB,
      });
      for (let i = 0; i < keys; i++) await store.put(`/l/${i}`, meta(), body);
      for (let i = 0; i < keys; i++) await drain((await store.get(`/l/${i}`))!.body);
      const ms: number[] = [];
      for (let s = 0; s < samples; s++) {
        const t = performance.now();
        await drain((await store.get(`/l/${s % keys}`))!.body);
        ms.push(performance.now() - t);
      }
      const st = store.stats();
      if (where === 'ram' && st.ramHits < samples) console.warn(`note: RAM latency pass had ${st.diskHits} disk hits`);
      await store.close();
      out[where === 'ram' ? 'ramMs' : 'diskMs'] = { p50: pct(ms, 50), p99: pct(ms, 99) };
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ startup with N entries

/**
 * Bulk-loads N small records (in the store's own record format: real region files, real lmdb
 * entries, tag and byRegion rows, region counters) — far faster than N put() calls — then opens
 * the store in a fresh child process that reports open time, RSS and a spot check through get().
 */
function bulkLoad(dir: string, n: number): void {
  mkdirSync(join(dir, 'regions'), { recursive: true });
  const index = StoreIndex.open(join(dir, 'index.lmdb'), false);
  const regionBytes = 64 * MiB;
  let regionId = 1;
  let parts: Buffer[] = [];
  let off = 0;
  let state: RegionState = {
    id: 1,
    size: regionBytes,
    end: 0,
    sealed: false,
    liveBytes: 0,
    liveCount: 0,
    createdAt: Date.now(),
  };
  let batch: [string, IndexEntry][] = [];
  const flushBatch = () => {
    index.txn(() => {
      for (const [k, e] of batch) index.putEntry(k, e);
      index.putRegion(state);
      index.setNextRegionId(regionId + 1);
    });
    batch = [];
  };
  const sealRegion = () => {
    writeFileSync(join(dir, 'regions', `r-${String(regionId).padStart(10, '0')}.seg`), Buffer.concat(parts));
    state.end = off;
    flushBatch();
    state.sealed = true;
    index.txn(() => index.putRegion(state));
  };
  const m = meta();
  for (let i = 0; i < n; i++) {
    const key = `/vod/bulk/${i}.m4s`;
    const keyBuf = Buffer.from(key);
    const metaBuf = encodeMeta(m);
    const body = Buffer.from(`body-${i}`);
    const total = HEADER_BYTES + keyBuf.length + metaBuf.length + body.length;
    if (off + total > regionBytes) {
      sealRegion();
      regionId++;
      parts = [];
      off = 0;
      state = {
        id: regionId,
        size: regionBytes,
        end: 0,
        sealed: false,
        liveBytes: 0,
        liveCount: 0,
        createdAt: Date.now(),
      };
    }
    const crc = crc32c(body, crc32c(metaBuf, crc32c(keyBuf)));
    parts.push(
      encodeHeader({
        keyHash: crc32c(keyBuf),
        keyLength: keyBuf.length,
        metaLength: metaBuf.length,
        bodyLength: body.length,
        storedAt: m.storedAt,
        crc,
      }),
      keyBuf,
      metaBuf,
      body,
    );
    batch.push([key, { r: regionId, o: off, l: total, b: total - body.length, s: body.length, m }]);
    off += total;
    state.liveCount++;
    state.liveBytes += total;
    state.end = off;
    if (batch.length >= 50_000) flushBatch();
  }
  writeFileSync(join(dir, 'regions', `r-${String(regionId).padStart(10, '0')}.seg`), Buffer.concat(parts));
  flushBatch();
  void index.close();
}

interface Startup {
  entries: number;
  bulkLoadMs: number;
  openMs: number;
  /** Part of openMs spent matching region rows with files (the rest: lock + lmdb open). */
  recoverMs: number;
  objects: number;
  spotOk: number;
  rssAfterOpenMiB: number;
  rssGrowthByOpenMiB: number;
  rssAfter1000GetsMaxMiB: number;
}

function startup(n: number): Startup {
  const dir = mkdtempSync(join(tmpdir(), 'store-startup-'));
  try {
    const t = performance.now();
    bulkLoad(dir, n);
    const bulkLoadMs = performance.now() - t;
    {
      const r = spawnSync(process.execPath, ['bin/run-ts.js', 'bench/store-open-probe.ts', dir, String(n)], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`open probe failed: ${r.stderr}`);
      const p = JSON.parse(r.stdout) as {
        openMs: number;
        recoverMs: number;
        objects: number;
        spotOk: number;
        rssBeforeOpen: number;
        rssAfterOpen: number;
        maxRss: number;
      };
      return {
        entries: n,
        bulkLoadMs: Math.round(bulkLoadMs),
        openMs: Math.round(p.openMs * 10) / 10,
        recoverMs: p.recoverMs,
        objects: p.objects,
        spotOk: p.spotOk,
        rssAfterOpenMiB: Math.round(p.rssAfterOpen / MiB),
        rssGrowthByOpenMiB: Math.round((p.rssAfterOpen - p.rssBeforeOpen) / MiB),
        rssAfter1000GetsMaxMiB: Math.round(p.maxRss / MiB),
      };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ hit ratio

class PlainLru {
  private readonly map = new Map<string, number>();
  private bytes = 0;
  constructor(private readonly cap: number) {}
  access(key: string, size: number): boolean {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
      return true;
    }
    this.map.set(key, size);
    this.bytes += size;
    for (const [k, s] of this.map) {
      if (this.bytes <= this.cap) break;
      this.map.delete(k);
      this.bytes -= s;
    }
    return false;
  }
}

function zipfSampler(n: number, s: number, seed: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const u = x / 4294967296;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface HitRatio {
  trace: string;
  requests: number;
  capacityObjects: number;
  wTinyLfu: number;
  lru: number;
  differencePoints: number;
}

function hitRatio(): HitRatio {
  const universe = 100_000;
  const requests = 1_000_000;
  const size = 1024;
  const capacityObjects = 2_000;
  const next = zipfSampler(universe, 0.9, 42);
  const sketch = new CountMinSketch(capacityObjects * 4);
  const tiny = new RamTier<true>(sketch, { capacityBytes: capacityObjects * size });
  const lru = new PlainLru(capacityObjects * size);
  let hitsTiny = 0;
  let hitsLru = 0;
  const scanAt = requests / 2;
  const scanLength = 200_000;
  let scanned = 0;
  let total = 0;
  for (let i = 0; total < requests + scanLength; i++) {
    // Halfway through, a one-pass scan of never-repeated keys is interleaved 1:1 with the Zipf stream.
    const inScan = i >= scanAt && scanned < scanLength && i % 2 === 0;
    const key = inScan ? `/scan/${scanned++}` : `/z/${next()}`;
    total++;
    sketch.increment(key);
    if (tiny.get(key) !== undefined) hitsTiny++;
    else tiny.set(key, true, size);
    if (lru.access(key, size)) hitsLru++;
  }
  const wt = hitsTiny / total;
  const l = hitsLru / total;
  return {
    trace: `Zipf(0.9) over ${universe} keys, ${requests} requests, plus a one-pass scan of ${scanLength} keys interleaved halfway`,
    requests: total,
    capacityObjects,
    wTinyLfu: Math.round(wt * 10000) / 10000,
    lru: Math.round(l * 10000) / 10000,
    differencePoints: Math.round((wt - l) * 1000) / 10,
  };
}

// ------------------------------------------------------------------ put vs raw write, same durability

interface PutVsRaw {
  objectBytes: number;
  objects: number;
  rounds: string;
  flush: { rawMiBps: number; storeMiBps: number; ratio: number };
  fsync: { rawMiBps: number; storeMiBps: number; ratio: number };
}

async function putVsRaw(objectBytes: number, objects: number): Promise<PutVsRaw> {
  const work = mkdtempSync(join(tmpdir(), 'store-put-'));
  const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(objectBytes, i + 1));
  const total = objectBytes * objects;
  let run = 0;
  const raw = async (durability: 'flush' | 'fsync'): Promise<number> => {
    const fh = await openFile(join(work, `raw-${run++}.bin`), 'w');
    const t = performance.now();
    let pos = 0;
    for (let i = 0; i < objects; i++) {
      const b = bodies[i % 16];
      await fh.write(b, 0, b.length, pos);
      pos += b.length;
      if (durability === 'fsync') await fh.datasync(); // acknowledged = on disk, like an acked put
    }
    const ms = performance.now() - t;
    await fh.close();
    return ms;
  };
  const store = async (durability: 'flush' | 'fsync'): Promise<number> => {
    const s = await LogStore.open({
      dir: join(work, `store-${run++}`),
      capacityBytes: Math.max(256 * MiB, total * 2),
      regionBytes: 64 * MiB,
      durability,
      ramBytes: 0,
    });
    const t = performance.now();
    await pool(objects, (i) => s.put(`/vod/a/720p/seg-${i}.m4s`, meta(), bodies[i % 16]));
    const ms = performance.now() - t;
    await s.close();
    return ms;
  };
  try {
    const out = { objectBytes, objects, rounds: 'ABBA: raw, store, store, raw; MiB/s over the sums' } as PutVsRaw;
    for (const d of ['flush', 'fsync'] as const) {
      const r1 = await raw(d);
      const s1 = await store(d);
      const s2 = await store(d);
      const r2 = await raw(d);
      out[d] = {
        rawMiBps: mibps(2 * total, r1 + r2),
        storeMiBps: mibps(2 * total, s1 + s2),
        ratio: ratio(r1 + r2, s1 + s2),
      };
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Top self-time frames of a V8 .cpuprofile, as "share% function file:line". */
function topFrames(file: string, n = 12): string[] {
  interface Node {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[] };
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const counts = new Map<string, number>();
  for (const id of prof.samples) {
    const cf = byId.get(id)?.callFrame;
    if (!cf) continue;
    const where = cf.url ? `${cf.url.replace(/^.*\/(node_modules|edge|bench|src)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const k = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, c]) => `${((100 * c) / prof.samples.length).toFixed(1)}% ${k}`);
}

// ------------------------------------------------------------------ main

const started = Date.now();
const topArg = args.indexOf('--top-frames');
if (topArg >= 0) {
  console.log(topFrames(args[topArg + 1]).join('\n'));
  process.exit(0);
}
if (args.includes('--put-only')) {
  console.log(JSON.stringify(await putVsRaw(MiB, quick ? 32 : 128), null, 2));
  process.exit(0);
}
if (args.includes('--startup-only')) {
  console.log(JSON.stringify(startup(ENTRIES)));
  process.exit(0);
}
// First, before the other sections leave the disk busy writing back their files.
console.log('store bench: put vs raw write, same durability ...');
const loadBefore = loadavg();
const putRaw = await putVsRaw(MiB, 128);
console.log('store bench: throughput 1 MiB ...');
const big = await throughput(MiB, quick ? 32 : 128);
console.log('store bench: throughput 1 KiB ...');
const small = await throughput(KiB, quick ? 5_000 : 20_000);
console.log('store bench: latency ...');
const lat = [await latency(KiB, 500), await latency(200 * KiB, 300), await latency(2 * MiB, 100)];
console.log('store bench: hit ratio ...');
const hits = hitRatio();
console.log(`store bench: startup with ${ENTRIES} entries (bulk load first) ...`);
const boot = startup(ENTRIES);
const result = {
  bench: 'edge/store',
  date: new Date(started).toISOString(),
  node: process.version,
  concurrency: CONCURRENCY,
  note: 'Baselines run in the same process on the same disk right before the store runs; page cache is warm for reads on both sides.',
  loadAverage: { beforePutVsRaw: loadBefore.map((x) => Math.round(x * 100) / 100), atEnd: [] as number[] },
  putVsRaw: putRaw,
  profileNotes: PROFILE_NOTES,
  throughput: [big, small],
  latency: lat,
  hitRatio: hits,
  startup: boot,
  peakRssMiB: Math.round((process.resourceUsage().maxRSS * 1024) / MiB),
  durationS: Math.round((Date.now() - started) / 1000),
};
result.loadAverage.atEnd = loadavg().map((x) => Math.round(x * 100) / 100);
const outPath = join(ROOT, 'bench', 'results', 'store.json');
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n');

const line = (t: Throughput) =>
  `${t.objectBytes >= MiB ? '1 MiB' : '1 KiB'} x ${t.objects}: put ${t.putMiBps.storeFlush} MiB/s (flush) / ${t.putMiBps.storeFsync} (fsync) vs writeFile ${t.putMiBps.writeFile}, ` +
  `writeFile+fdatasync ${t.putMiBps.writeFileFdatasync}, raw sequential ${t.putMiBps.rawSequential} → ratios ${t.ratios.putFlushVsWriteFile} / ${t.ratios.putFsyncVsWriteFileFdatasync} / ${t.ratios.putFlushVsRawSequential}\n` +
  `   get ${t.getMiBps.storeDisk} MiB/s (disk) / ${t.getMiBps.storeRam} (RAM) vs readFile ${t.getMiBps.readFile} → ratios ${t.ratios.getDiskVsReadFile} / ${t.ratios.getRamVsReadFile}`;
console.log('\n== edge/store bench ==');
console.log(line(big));
console.log(line(small));
console.log(
  `put vs raw sequential write, 1 MiB x ${putRaw.objects} (ABBA): flush ${putRaw.flush.storeMiBps} vs ${putRaw.flush.rawMiBps} MiB/s = ${putRaw.flush.ratio}x; fsync ${putRaw.fsync.storeMiBps} vs ${putRaw.fsync.rawMiBps} MiB/s = ${putRaw.fsync.ratio}x`,
);
for (const l of lat)
  console.log(
    `get latency ${l.objectBytes / KiB} KiB: RAM p50 ${l.ramMs.p50} ms p99 ${l.ramMs.p99} ms | disk p50 ${l.diskMs.p50} ms p99 ${l.diskMs.p99} ms`,
  );
console.log(
  `hit ratio (${hits.capacityObjects} objects): W-TinyLFU ${(hits.wTinyLfu * 100).toFixed(1)}% vs LRU ${(hits.lru * 100).toFixed(1)}% (${hits.differencePoints >= 0 ? '+' : ''}${hits.differencePoints} points)`,
);
console.log(
  `startup with ${boot.entries} entries: open ${boot.openMs} ms, spot check ${boot.spotOk}/1000 ok, RSS after open ${boot.rssAfterOpenMiB} MiB (+${boot.rssGrowthByOpenMiB} MiB by open), max ${boot.rssAfter1000GetsMaxMiB} MiB`,
);
console.log(`peak RSS of the bench process: ${result.peakRssMiB} MiB; wrote ${outPath}`);
