import { openSync, readFileSync, readSync, writeSync, closeSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamedgeError } from '../../../src/errors.js';
import { LogStore } from '../../../edge/store/index.js';
import { bodyFor, meta, readAll, regionFiles, tempDir, deferredCleanup, storeOpener } from './store-helpers.js';

const KiB = 1024;
const defer = deferredCleanup();

const openStore = storeOpener(defer, 'store-', { capacityBytes: 4 * 1024 * KiB, regionBytes: 256 * KiB });

async function* chunks(buf: Buffer, size: number, failAfter?: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) {
    if (failAfter !== undefined && i >= failAfter) throw new Error('upstream reset');
    yield buf.subarray(i, i + size);
  }
}

/** Overwrites one byte of the region file where `needle` first occurs (plus `delta`). */
function flipByteOf(dir: string, needle: Buffer, delta = 0): void {
  for (const name of regionFiles(dir)) {
    const path = join(dir, 'regions', name);
    const data = readFileSync(path);
    const at = data.indexOf(needle);
    if (at < 0) continue;
    const fd = openSync(path, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at + delta);
    b[0] = b[0] ^ 0x5a;
    writeSync(fd, b, 0, 1, at + delta);
    closeSync(fd);
    return;
  }
  throw new Error('needle not found in any region file');
}

describe('LogStore basics (real lmdb, real region files)', () => {
  it('put/get/head/delete round-trip, with every meta field', async () => {
    const { store } = await openStore({ ramBytes: 0 });
    const m = meta(['asset-1', 'rendition-720'], {
      status: 404,
      staleUntil: 1_700_000_090_000,
      headers: { etag: '"abc"', 'content-type': 'text/plain' },
    });
    const body = bodyFor('/vod/a/seg-1.m4s', 10_000);
    expect(await store.put('/vod/a/seg-1.m4s', m, body)).toBe(true);
    const got = await store.get('/vod/a/seg-1.m4s');
    expect(got).toBeDefined();
    expect(got!.fromRam).toBe(false);
    expect(got!.size).toBe(10_000);
    expect(got!.meta).toEqual(m);
    expect((await readAll(got!.body)).equals(body)).toBe(true);
    expect(await store.head('/vod/a/seg-1.m4s')).toEqual({ meta: m, size: 10_000 });
    expect(await store.delete('/vod/a/seg-1.m4s')).toBe(true);
    expect(await store.delete('/vod/a/seg-1.m4s')).toBe(false);
    expect(await store.get('/vod/a/seg-1.m4s')).toBeUndefined();
    expect(await store.head('/vod/a/seg-1.m4s')).toBeUndefined();
    expect(store.stats()).toMatchObject({ objects: 0, diskHits: 1, misses: 1 });
  });

  it('overwrite replaces body, meta and tags (in RAM and on disk)', async () => {
    const { store } = await openStore();
    await store.put('k', meta(['old']), Buffer.from('first version'));
    expect((await readAll((await store.get('k'))!.body)).toString()).toBe('first version');
    await store.put('k', meta(['new']), Buffer.from('second'));
    const g = await store.get('k');
    expect((await readAll(g!.body)).toString()).toBe('second');
    expect(g!.meta.tags).toEqual(['new']);
    expect(await store.purgeTag('old', 'hard')).toBe(0);
    expect(store.stats().objects).toBe(1);
    expect(await store.purgeTag('new', 'hard')).toBe(1);
    expect(await store.get('k')).toBeUndefined();
  });

  it('empty bodies and streamed bodies with expectedLength', async () => {
    const { store } = await openStore();
    expect(await store.put('empty', meta(), Buffer.alloc(0))).toBe(true);
    const e = await store.get('empty');
    expect(e!.size).toBe(0);
    expect((await readAll(e!.body)).length).toBe(0);
    const big = bodyFor('streamed', 200 * KiB);
    expect(await store.put('streamed', meta(), chunks(big, 16 * KiB), big.length)).toBe(true);
    expect((await readAll((await store.get('streamed'))!.body)).equals(big)).toBe(true);
    // no expectedLength: collected, still stored
    expect(await store.put('collected', meta(), chunks(big.subarray(0, 5000), 1000))).toBe(true);
    expect((await readAll((await store.get('collected'))!.body)).equals(big.subarray(0, 5000))).toBe(true);
  });

  it('a body stream that fails midway or ends early indexes nothing and rejects', async () => {
    const { store, dir, opts } = await openStore({ ramBytes: 0 });
    const body = bodyFor('x', 100 * KiB);
    await expect(store.put('failing', meta(['t']), chunks(body, 8 * KiB, 40 * KiB), body.length)).rejects.toThrow(
      'upstream reset',
    );
    await expect(
      store.put('short', meta(['t']), chunks(body.subarray(0, 50 * KiB), 8 * KiB), body.length),
    ).rejects.toMatchObject({ code: 'STORE_BODY_LENGTH' });
    await expect(store.put('long', meta(['t']), chunks(body, 8 * KiB), 10 * KiB)).rejects.toMatchObject({
      code: 'STORE_BODY_LENGTH',
    });
    await expect(store.put('buf', meta(), body, 5)).rejects.toBeInstanceOf(StreamedgeError);
    for (const k of ['failing', 'short', 'long', 'buf']) {
      expect(await store.get(k)).toBeUndefined();
      expect(await store.head(k)).toBeUndefined();
    }
    expect(await store.purgeTag('t', 'hard')).toBe(0);
    expect(store.stats().objects).toBe(0);
    // and the store still works after the failures, also across a reopen
    expect(await store.put('ok', meta(), body.subarray(0, 1000))).toBe(true);
    await store.close();
    const again = await LogStore.open(opts);
    defer(() => again.close());
    expect(again.stats().objects).toBe(1);
    expect((await readAll((await again.get('ok'))!.body)).equals(body.subarray(0, 1000))).toBe(true);
    expect(await again.get('failing')).toBeUndefined();
    expect(existsSync(dir)).toBe(true);
  });

  it('updateMeta refreshes freshness fields and headers; survives reopen', async () => {
    const { store, opts } = await openStore();
    await store.put('m', meta(['a']), Buffer.from('body'));
    expect(
      await store.updateMeta('m', { expiresAt: 42, staleUntil: 43, storedAt: 41, headers: { etag: '"v2"' } }),
    ).toBe(true);
    expect(await store.updateMeta('missing', { expiresAt: 1 })).toBe(false);
    const expected = { ...meta(['a']), expiresAt: 42, staleUntil: 43, storedAt: 41, headers: { etag: '"v2"' } };
    expect((await store.get('m'))!.meta).toEqual(expected); // RAM copy updated
    await store.close();
    const again = await LogStore.open({ ...opts, ramBytes: 0 });
    defer(() => again.close());
    const g = await again.get('m');
    expect(g!.fromRam).toBe(false);
    expect(g!.meta).toEqual(expected);
  });

  it('tag purge: soft marks stale, hard drops; only tagged keys are touched', async () => {
    const { store } = await openStore();
    await store.put('/live/c/1.m4s', meta(['chan-c', 'seg']), Buffer.from('1'));
    await store.put('/live/c/2.m4s', meta(['chan-c']), Buffer.from('2'));
    await store.put('/live/d/1.m4s', meta(['chan-d', 'seg']), Buffer.from('3'));
    expect(await store.purgeTag('chan-c', 'soft')).toBe(2);
    expect((await store.head('/live/c/1.m4s'))!.meta.expiresAt).toBe(0);
    expect((await store.get('/live/c/2.m4s'))!.meta.expiresAt).toBe(0);
    expect((await store.head('/live/d/1.m4s'))!.meta.expiresAt).toBe(meta().expiresAt);
    expect(await store.purgeTag('seg', 'hard')).toBe(2);
    expect(await store.get('/live/c/1.m4s')).toBeUndefined();
    expect(await store.get('/live/d/1.m4s')).toBeUndefined();
    expect((await readAll((await store.get('/live/c/2.m4s'))!.body)).toString()).toBe('2');
    expect(await store.purgeTag('nothing', 'hard')).toBe(0);
  });

  it('prefix purge: soft and hard, exact prefix boundaries', async () => {
    const { store } = await openStore({ ramBytes: 0 });
    for (const k of ['/vod/a/1', '/vod/a/2', '/vod/ab/1', '/vod/b/1']) await store.put(k, meta(), Buffer.from(k));
    expect(await store.purgePrefix('/vod/a/', 'soft')).toBe(2);
    expect((await store.head('/vod/a/1'))!.meta.expiresAt).toBe(0);
    expect((await store.head('/vod/ab/1'))!.meta.expiresAt).not.toBe(0);
    expect(await store.purgePrefix('/vod/a', 'hard')).toBe(3);
    expect(await store.get('/vod/a/2')).toBeUndefined();
    expect(await store.get('/vod/ab/1')).toBeUndefined();
    expect((await readAll((await store.get('/vod/b/1'))!.body)).toString()).toBe('/vod/b/1');
  });

  it('a purge or delete during an in-flight put wins over the put', async () => {
    const { store } = await openStore();
    const body = bodyFor('slow', 64 * KiB);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slow(): AsyncGenerator<Buffer> {
      yield body.subarray(0, 1000);
      await gate;
      yield body.subarray(1000);
    }
    const p1 = store.put('/live/x/seg.m4s', meta(['x']), slow(), body.length);
    await store.purgeTag('x', 'hard');
    release();
    expect(await p1).toBe(false);
    expect(await store.get('/live/x/seg.m4s')).toBeUndefined();
  });

  it('range reads: small (verified whole) and large (verified while streaming), end clamped', async () => {
    const { store } = await openStore({ ramBytes: 0, verifyBeforeSendBytes: 64 * KiB, regionBytes: 512 * KiB });
    const small = bodyFor('small', 10_000);
    const large = bodyFor('large', 300 * KiB);
    await store.put('small', meta(), small);
    await store.put('large', meta(), large);
    const r1 = await store.get('small', { start: 100, end: 199 });
    expect(r1!.size).toBe(10_000);
    expect(r1!.range).toEqual({ start: 100, end: 199 });
    expect((await readAll(r1!.body)).equals(small.subarray(100, 200))).toBe(true);
    const r2 = await store.get('large', { start: 1024 * 1024 - 5, end: 10 * 1024 * 1024 }).catch((e: unknown) => e);
    expect(r2).toMatchObject({ code: 'STORE_RANGE' });
    const r3 = await store.get('large', { start: 200_000, end: 10_000_000 });
    expect(r3!.range).toEqual({ start: 200_000, end: large.length - 1 });
    expect((await readAll(r3!.body)).equals(large.subarray(200_000))).toBe(true);
    const r4 = await store.get('large');
    expect((await readAll(r4!.body)).equals(large)).toBe(true);
  });

  it('flipping a byte in a region file: small object → miss + crcErrors, entry dropped', async () => {
    const { store, dir } = await openStore({ ramBytes: 0 });
    const body = bodyFor('victim', 20_000);
    await store.put('victim', meta(), body);
    await store.put('bystander', meta(), bodyFor('bystander', 20_000));
    flipByteOf(dir, body.subarray(5000, 5032), 7);
    expect(await store.get('victim')).toBeUndefined();
    expect(store.stats().crcErrors).toBe(1);
    expect(await store.head('victim')).toBeUndefined(); // dropped
    expect((await readAll((await store.get('bystander'))!.body)).equals(bodyFor('bystander', 20_000))).toBe(true);
  });

  it('flipping a byte in a record header or key is also a miss', async () => {
    const { store, dir } = await openStore({ ramBytes: 0 });
    await store.put('/k/header-victim', meta(), Buffer.from('some body'));
    flipByteOf(dir, Buffer.from('/k/header-victim'), 3); // inside the key bytes
    expect(await store.get('/k/header-victim')).toBeUndefined();
    expect(store.stats().crcErrors).toBe(1);
  });

  it('flipping a byte in a large streamed object: the stream errors with STORE_CRC, never silently', async () => {
    const { store, dir } = await openStore({ ramBytes: 0, verifyBeforeSendBytes: 64 * KiB });
    const body = bodyFor('big', 200 * KiB);
    await store.put('big', meta(), body);
    flipByteOf(dir, body.subarray(150 * KiB, 150 * KiB + 32), 0);
    const g = await store.get('big');
    expect(g).toBeDefined();
    await expect(readAll(g!.body)).rejects.toMatchObject({ code: 'STORE_CRC' });
    expect(store.stats().crcErrors).toBe(1);
    expect(await store.get('big')).toBeUndefined();
  });

  it('two opens of one directory → STORE_LOCKED; after close it opens again; a dead holder is taken over', async () => {
    const { store, opts, dir } = await openStore();
    await expect(LogStore.open(opts)).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    await store.close();
    const again = await LogStore.open(opts);
    await again.close();
    // a lock left by a process that no longer exists
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dir, 'store.lock'), `${dead} ${(await import('node:os')).hostname()} stale\n`);
    const third = await LogStore.open(opts);
    defer(() => third.close());
    expect(third.stats().admitting).toBe(true);
  });

  it('rejects what it cannot store without throwing: oversized records, bad keys, closed store', async () => {
    const { store } = await openStore();
    expect(await store.put('huge', meta(), Buffer.alloc(300 * KiB))).toBe(false);
    expect(await store.put('', meta(), Buffer.from('x'))).toBe(false);
    expect(await store.put('a'.repeat(5000), meta(), Buffer.from('x'))).toBe(false);
    expect(await store.put('k', meta(['bad\u0000tag']), Buffer.from('x'))).toBe(false);
    expect(store.stats().admissionRejects).toBe(4);
    await store.close();
    expect(await store.put('k', meta(), Buffer.from('x'))).toBe(false);
    expect(await store.get('k')).toBeUndefined();
  });

  it('too small a capacity is a clear config error', async () => {
    const t = tempDir();
    defer(t.cleanup);
    await expect(LogStore.open({ dir: t.dir, capacityBytes: 100_000 })).rejects.toMatchObject({ code: 'STORE_CONFIG' });
  });

  it('an I/O error stops admission but reads keep working', async () => {
    const { store, dir } = await openStore({ ramBytes: 0, admissionRetryMs: 0 });
    await store.put('before', meta(), Buffer.from('still readable'));
    // Simulate the disk failing: the next region cannot be created because a directory sits where its file goes.
    const stats = store.stats();
    const { mkdirSync } = await import('node:fs');
    const nextId = stats.regions + 1;
    mkdirSync(join(dir, 'regions', `r-${String(nextId).padStart(10, '0')}.seg`));
    let ok = true;
    for (let i = 0; i < 20 && ok; i++) ok = await store.put(`fill-${i}`, meta(), Buffer.alloc(100 * KiB, 1));
    expect(ok).toBe(false);
    const s = store.stats();
    expect(s.admitting).toBe(false);
    expect(s.writeErrors).toBeGreaterThan(0);
    expect(s.lastError).toMatch(/create region/);
    expect((await readAll((await store.get('before'))!.body)).toString()).toBe('still readable');
    expect(await store.put('after', meta(), Buffer.from('x'))).toBe(false);
    store.setAdmitting(true);
  });

  it('RAM tier: hot small objects stay in RAM through a scan of one-hit wonders', async () => {
    const { store } = await openStore({
      ramBytes: 256 * KiB,
      ramMaxObjectBytes: 64 * KiB,
      capacityBytes: 16 * 1024 * KiB,
      durability: 'flush',
    });
    const hot = Array.from({ length: 20 }, (_, i) => `/live/ch/${i}/index.m3u8`);
    for (const k of hot) await store.put(k, meta(), bodyFor(k, 4 * KiB));
    for (let r = 0; r < 4; r++) for (const k of hot) await readAll((await store.get(k))!.body);
    for (let i = 0; i < 300; i++) {
      const k = `/vod/scan/seg-${i}.m4s`;
      await store.put(k, meta(), bodyFor(k, 8 * KiB)); // 2.4 MB of one-hit wonders through a 256 KiB tier
      await readAll((await store.get(k))!.body);
    }
    let fromRam = 0;
    for (const k of hot) {
      const g = await store.get(k);
      if (g!.fromRam) fromRam++;
      expect((await readAll(g!.body)).equals(bodyFor(k, 4 * KiB))).toBe(true);
    }
    expect(fromRam).toBeGreaterThanOrEqual(18);
    expect(store.stats().ramBytes).toBeLessThanOrEqual(256 * KiB);
    expect(store.stats().ramHits).toBeGreaterThan(80);
  });
});
