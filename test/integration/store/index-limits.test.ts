import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogStore } from '../../../edge/store/index.js';
import { StoreIndex, type IndexEntry } from '../../../edge/store/store-index.js';
import { meta, tempDir, deferredCleanup } from './store-helpers.js';

/**
 * Issue 12 defect 5 at the store level: an over-long key is a typed error before any database call,
 * every lmdb range scan is closed even when it throws, and freed pages are reused, so the index file
 * stays flat across many put/purge cycles.
 */
const KiB = 1024;
const defer = deferredCleanup();

const CYCLES = 10_000;
/** "Flat": the file after 10,000 cycles may exceed its size after 1,000 by at most this much. */
const SLACK = 64 * KiB;

function entry(i: number): IndexEntry {
  return { r: 1, o: i * 512, l: 512, b: 100, s: 412, m: meta([`tag-${i % 7}`]) };
}

describe('store index: limits and page reuse', () => {
  it('a range scan that throws is closed: after it, 10,000 put/remove cycles keep the index file flat', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const path = join(t.dir, 'index.lmdb');
    const index = StoreIndex.open(path, false);
    defer(() => index.close());
    // lmdb cannot encode a 5,000-byte range start: the scan throws part-way through opening its cursor.
    expect(() => index.keysWithPrefix('/p'.repeat(2500))).toThrow();
    expect(() => index.keysForTag('t'.repeat(5000))).toThrow();
    let after1k = 0;
    for (let i = 0; i < CYCLES; i++) {
      const key = `/vod/a/${i}/${'x'.repeat(200)}`;
      const e = entry(i);
      index.txn(() => index.putEntry(key, e));
      expect(index.keysWithPrefix(`/vod/a/${i}/`)).toEqual([key]);
      index.txn(() => index.removeEntry(key, e));
      if (i === 999) after1k = statSync(path).size;
    }
    const after10k = statSync(path).size;
    expect(after10k).toBeLessThanOrEqual(after1k + SLACK);
  });

  it('10,000 put/purge cycles through LogStore (prefix and tag purges of long keys) keep index.lmdb flat', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const store = await LogStore.open({
      dir: t.dir,
      capacityBytes: 1024 * KiB,
      regionBytes: 256 * KiB,
      durability: 'flush',
    });
    defer(() => store.close());
    const path = join(t.dir, 'index.lmdb');
    let after1k = 0;
    for (let i = 0; i < CYCLES; i++) {
      const key = `/live/ch/${i}/part-${'y'.repeat(300)}.m4s`;
      expect(await store.put(key, meta([`asset-${i % 5}`]), Buffer.alloc(200, i & 0xff))).toBe(true);
      if (i % 2 === 0) expect(await store.purgePrefix(`/live/ch/${i}/`, 'hard')).toBe(1);
      else expect(await store.purgeTag(`asset-${i % 5}`, 'hard'), `cycle ${i}`).toBe(1);
      if (i === 999) after1k = statSync(path).size;
    }
    expect(store.stats().objects).toBe(0);
    expect(statSync(path).size).toBeLessThanOrEqual(after1k + SLACK);
  });

  it('a key, prefix or tag over the limit is a typed error before any database call, and the store goes on', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const store = await LogStore.open({ dir: t.dir, capacityBytes: 1024 * KiB, regionBytes: 256 * KiB });
    defer(() => store.close());
    const long = '/vod/' + 'a'.repeat(5000);
    const tooLong = { name: 'StoreKeyError', code: 'STORE_KEY_TOO_LONG', bytes: Buffer.byteLength(long) };
    await expect(store.get(long)).rejects.toMatchObject(tooLong);
    await expect(store.head(long)).rejects.toMatchObject(tooLong);
    await expect(store.delete(long)).rejects.toMatchObject(tooLong);
    await expect(store.updateMeta(long, { expiresAt: 0 })).rejects.toMatchObject(tooLong);
    await expect(store.purgePrefix(long, 'hard')).rejects.toMatchObject(tooLong);
    await expect(store.purgeTag('t'.repeat(600), 'soft')).rejects.toMatchObject({ code: 'STORE_KEY_TOO_LONG' });
    expect(() => store.keys(long)).toThrow(expect.objectContaining({ code: 'STORE_KEY_TOO_LONG' }) as Error);
    // put refuses it as before (false, counted), without touching the index
    expect(await store.put(long, meta(), Buffer.from('x'))).toBe(false);
    // a key at the limit works end to end
    const atLimit = '/' + 'k'.repeat(1023);
    expect(await store.put(atLimit, meta(), Buffer.from('ok'))).toBe(true);
    expect((await store.head(atLimit))?.size).toBe(2);
    expect(await store.purgePrefix(atLimit, 'hard')).toBe(1);
    expect(store.stats().objects).toBe(0);
  });
});
