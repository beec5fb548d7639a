import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogStore } from '../../../edge/store/index.js';
import { bodyFor, meta, readAll, regionFileBytes, regionFiles, deferredCleanup, storeOpener } from './store-helpers.js';

const KiB = 1024;
const defer = deferredCleanup();

const openStore = storeOpener(defer, 'store-evict-', {
  capacityBytes: 1024 * KiB,
  regionBytes: 256 * KiB,
  durability: 'flush',
});

describe('LogStore eviction', () => {
  it('stays within capacity by evicting whole regions, oldest first; never touches foreign files', async () => {
    const { store, dir } = await openStore({ ramBytes: 0 });
    writeFileSync(join(dir, 'regions', 'operator-notes.txt'), 'not ours');
    writeFileSync(join(dir, 'keep.me'), 'not ours either');
    const size = 20 * KiB;
    for (let i = 0; i < 300; i++) {
      expect(await store.put(`/vod/a/seg-${i}.m4s`, meta(), bodyFor(`k${i}`, size))).toBe(true);
      expect(regionFileBytes(dir)).toBeLessThanOrEqual(1024 * KiB);
    }
    const s = store.stats();
    expect(s.evictedRegions).toBeGreaterThan(10);
    expect(s.regions * s.regionBytes).toBeLessThanOrEqual(s.capacity);
    expect(regionFiles(dir).length).toBe(s.regions);
    // the newest objects are there, the oldest are gone, and what is indexed reads back intact
    expect(await store.get('/vod/a/seg-0.m4s')).toBeUndefined();
    let present = 0;
    for (let i = 0; i < 300; i++) {
      const g = await store.get(`/vod/a/seg-${i}.m4s`);
      if (!g) continue;
      present++;
      expect((await readAll(g.body)).equals(bodyFor(`k${i}`, size))).toBe(true);
    }
    expect(present).toBe(s.objects);
    expect((await readAll((await store.get('/vod/a/seg-299.m4s'))!.body)).length).toBe(size);
    expect(existsSync(join(dir, 'regions', 'operator-notes.txt'))).toBe(true);
    expect(existsSync(join(dir, 'keep.me'))).toBe(true);
  });

  it('a region evicted while its last write is still finishing drops that record too: the put is acknowledged and its key named to the listener', async () => {
    const { store, dir } = await openStore({ ramBytes: 0 });
    const evicted: string[] = [];
    const firstEviction = new Promise<number>((resolve) =>
      store.onEvicted((keys, region) => {
        evicted.push(...keys);
        resolve(region);
      }),
    );
    // A streamed put into the first region whose body the test holds open: the region stays busy
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const late = bodyFor('late', 16 * KiB);
    async function* lateBody() {
      yield late.subarray(0, 4 * KiB);
      await held;
      yield late.subarray(4 * KiB);
    }
    const latePut = store.put('/r/late', meta(), lateBody(), late.length);
    // fill the first three regions and start the fourth: its roll starts evicting the first,
    // which waits for the held put
    const n = 50;
    for (let i = 0; i < n; i++) expect(await store.put(`/r/k${i}`, meta(), bodyFor(`k${i}`, 16 * KiB))).toBe(true);
    expect(store.stats().regions).toBe(4);
    expect(store.stats().evictedRegions).toBe(0);
    // the held put finishes: it releases its reservation and queues for the group commit in one
    // turn, and the eviction resumes before that commit has indexed it
    release();
    expect(await latePut).toBe(true);
    const region = await firstEviction;
    for (let i = 0; i < 1000 && store.stats().evictedRegions === 0; i++) await new Promise((r) => setImmediate(r));
    expect(store.stats().evictedRegions).toBe(1);
    expect(regionFiles(dir)).not.toContain(`r-${String(region).padStart(10, '0')}.seg`);
    expect(evicted).toContain('/r/late');
    expect(evicted).toContain('/r/k0');
    expect(await store.get('/r/late')).toBeUndefined();
    // every key is either named as evicted or reads back intact
    for (let i = 0; i < n; i++) {
      const k = `/r/k${i}`;
      const g = await store.get(k);
      expect(g === undefined, k).toBe(evicted.includes(k));
      if (g) expect((await readAll(g.body)).equals(bodyFor(`k${i}`, 16 * KiB))).toBe(true);
    }
    expect(evicted.length + store.stats().objects).toBe(n + 1);
  });

  it('copy-forward keeps hot keys alive through many evictions; cold keys of the same age are dropped', async () => {
    const { store } = await openStore({ ramBytes: 0 });
    const hot = ['/vod/a/init.mp4', '/vod/a/index.m3u8', '/vod/a/master.m3u8'];
    for (const k of hot) await store.put(k, meta(), bodyFor(k, 3 * KiB));
    for (let i = 0; i < 5; i++) await store.put(`/cold-peer-${i}`, meta(), bodyFor(`cold${i}`, 3 * KiB));
    for (let i = 0; i < 400; i++) {
      await store.put(`/vod/b/seg-${i}.m4s`, meta(), bodyFor(`b${i}`, 16 * KiB));
      if (i % 20 === 0) for (const k of hot) await store.get(k); // keep them popular (ramBytes 0: disk hits)
    }
    const s = store.stats();
    expect(s.evictedRegions).toBeGreaterThan(15);
    expect(s.copiedForward).toBeGreaterThan(0);
    for (const k of hot) {
      const g = await store.get(k);
      expect(g, k).toBeDefined();
      expect((await readAll(g!.body)).equals(bodyFor(k, 3 * KiB))).toBe(true);
    }
    for (let i = 0; i < 5; i++) expect(await store.get(`/cold-peer-${i}`)).toBeUndefined();
  });

  it('hot records are copied forward although concurrent puts would fill the active region first', async () => {
    const { store } = await openStore({ ramBytes: 0 });
    const hot = ['/hot/init.mp4', '/hot/master.m3u8', '/hot/index.m3u8', '/hot/key.bin'];
    for (const k of hot) expect(await store.put(k, meta(), bodyFor(k, 3 * KiB))).toBe(true);
    for (let i = 0; i < 3; i++) for (const k of hot) expect(await store.get(k)).toBeDefined(); // disk hits: the sketch counts them
    // 80 puts of 16 KiB at once (1.25 MiB against 1 MiB): each roll wakes dozens of puts queued
    // behind it, enough to fill the new region in the same moment
    const puts = Array.from({ length: 80 }, (_, i) => store.put(`/seg/${i}`, meta(), bodyFor(`s${i}`, 16 * KiB)));
    expect((await Promise.all(puts)).every(Boolean)).toBe(true);
    const s = store.stats();
    expect(s.evictedRegions).toBeGreaterThanOrEqual(1);
    expect(s.copiedForward).toBeGreaterThanOrEqual(hot.length);
    for (const k of hot) {
      const g = await store.get(k);
      expect(g, k).toBeDefined();
      expect((await readAll(g!.body)).equals(bodyFor(k, 3 * KiB))).toBe(true);
    }
    expect(await store.get('/seg/0')).toBeUndefined(); // a cold record of the same region was dropped
  });

  it('concurrent readers during eviction never see a torn or wrong object', async () => {
    const { store } = await openStore({ ramBytes: 0, verifyBeforeSendBytes: 8 * KiB });
    const sizeOf = (i: number) => (i % 3 === 0 ? 24 * KiB : 6 * KiB); // some verified whole, some streamed
    const written: number[] = [];
    let stop = false;
    let reads = 0;
    let hits = 0;
    const reader = async (seed: number) => {
      let x = seed;
      while (!stop) {
        if (written.length === 0) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        x = (x * 1103515245 + 12345) >>> 0;
        const i = written[x % written.length];
        const g = await store.get(`/obj/${i}`);
        reads++;
        if (!g) continue;
        // Any failure (wrong bytes, or a stream error) fails the test.
        const got = await readAll(g.body);
        expect(got.equals(bodyFor(`obj${i}`, sizeOf(i)))).toBe(true);
        hits++;
      }
    };
    const readers = [1, 2, 3, 4].map(reader);
    for (let i = 0; i < 250; i++) {
      expect(await store.put(`/obj/${i}`, meta(), bodyFor(`obj${i}`, sizeOf(i)))).toBe(true);
      written.push(i);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    stop = true;
    await Promise.all(readers);
    const s = store.stats();
    expect(s.evictedRegions).toBeGreaterThan(5);
    expect(s.crcErrors).toBe(0);
    expect(reads).toBeGreaterThan(100);
    expect(hits).toBeGreaterThan(50);
  });

  it('reopening after evictions keeps counters consistent with what is readable', async () => {
    const { store, opts } = await openStore({ ramBytes: 0 });
    for (let i = 0; i < 120; i++) await store.put(`/r/${i}`, meta(['all']), bodyFor(`r${i}`, 15 * KiB));
    const before = store.stats();
    await store.close();
    const again = await LogStore.open(opts);
    defer(() => again.close());
    const after = again.stats();
    expect(after.objects).toBe(before.objects);
    expect(after.bytes).toBe(before.bytes);
    expect(after.regions).toBe(before.regions);
    expect(await again.purgeTag('all', 'hard')).toBe(before.objects);
    expect(again.stats().objects).toBe(0);
  });

  it('recovery: a lost region drops exactly its entries, a stray region file is removed, a torn tail is cut', async () => {
    const { store, dir, opts } = await openStore({ ramBytes: 0 });
    for (let i = 0; i < 40; i++) await store.put(`/rec/${i}`, meta(['rec']), bodyFor(`rec${i}`, 20 * KiB));
    const before = store.stats();
    await store.close();
    const files = regionFiles(dir);
    expect(files.length).toBeGreaterThanOrEqual(3);
    const { unlinkSync, appendFileSync, statSync } = await import('node:fs');
    unlinkSync(join(dir, 'regions', files[0])); // lose the oldest region
    const last = join(dir, 'regions', files.at(-1)!);
    const committedSize = statSync(last).size;
    appendFileSync(last, Buffer.alloc(5000, 0xab)); // a torn tail after the committed end
    writeFileSync(join(dir, 'regions', 'r-9999999999.seg'), 'stray'); // a region file the index does not know
    const again = await LogStore.open(opts);
    defer(() => again.close());
    const after = again.stats();
    expect(after.objects).toBeLessThan(before.objects);
    expect(after.objects).toBeGreaterThan(0);
    expect(again.keys().length).toBe(after.objects);
    expect(existsSync(join(dir, 'regions', 'r-9999999999.seg'))).toBe(false);
    expect(statSync(last).size).toBe(committedSize);
    for (const k of again.keys()) {
      const i = Number(k.split('/').pop());
      const g = await again.get(k);
      expect(g, `${k} ${JSON.stringify(again.stats())}`).toBeDefined();
      expect((await readAll(g!.body)).equals(bodyFor(`rec${i}`, 20 * KiB))).toBe(true);
    }
    expect(again.stats().crcErrors).toBe(0);
    // and it keeps appending after the cut tail
    expect(await again.put('/rec/new', meta(), bodyFor('new', 1000))).toBe(true);
    expect((await readAll((await again.get('/rec/new'))!.body)).equals(bodyFor('new', 1000))).toBe(true);
    expect(await again.purgeTag('rec', 'hard')).toBe(after.objects);
  });
});
