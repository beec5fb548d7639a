/**
 * What a read-only opener (an edge worker's store) puts in its RAM tier, so that the edge's
 * one-write hit path finds it there: a body-less record (a vary record) on head(), and a record
 * read by many concurrent get()s after ONE region read.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogStore, ReadOnlyStore } from '../../../edge/store/index.js';
import { Region } from '../../../edge/store/region-file.js';
import { bodyFor, deferredCleanup, meta, tempDir } from './store-helpers.js';

const defer = deferredCleanup();
afterEach(() => {
  vi.restoreAllMocks();
});

async function storeWith(puts: [string, Buffer, Record<string, string>?][]): Promise<string> {
  const t = tempDir();
  defer(t.cleanup);
  const writer = await LogStore.open({ dir: t.dir, capacityBytes: 4 * 1024 * 1024, regionBytes: 256 * 1024 });
  for (const [key, body, headers] of puts) {
    expect(await writer.put(key, meta([], headers ? { headers } : {}), body)).toBe(true);
  }
  await writer.close();
  return t.dir;
}

describe('read-only store: RAM tier', () => {
  it('keeps a body-less record (a vary record) in RAM once head() read it from the index', async () => {
    const dir = await storeWith([
      ['/p.m3u8', Buffer.alloc(0), { ':vary': 'accept-encoding' }],
      ['/q.m3u8', Buffer.from('#EXTM3U\n')],
    ]);
    const ro = ReadOnlyStore.open({ dir });
    defer(() => ro.close());
    expect(ro.ramEntry('/p.m3u8', false)).toBeUndefined();
    const head = await ro.head('/p.m3u8');
    expect(head?.size).toBe(0);
    const ram = ro.ramEntry('/p.m3u8', false);
    expect(ram?.meta.headers[':vary']).toBe('accept-encoding');
    expect(ram?.body.length).toBe(0);
    // a record with a body is not put in RAM by head() (its bytes are unread, unverified)
    await ro.head('/q.m3u8');
    expect(ro.ramEntry('/q.m3u8', false)).toBeUndefined();
    // a commit announced for the key drops the copy (the next head reads the index again)
    ro.forget(['/p.m3u8']);
    expect(ro.ramEntry('/p.m3u8', false)).toBeUndefined();
  });

  it('answers concurrent get()s of a record not in RAM with one region read', async () => {
    const body = bodyFor('/seg-1.m4s', 50_000);
    const dir = await storeWith([['/seg-1.m4s', body]]);
    const ro = ReadOnlyStore.open({ dir });
    defer(() => ro.close());
    const reads = vi.spyOn(Region.prototype, 'read');
    const got = await Promise.all([ro.get('/seg-1.m4s'), ro.get('/seg-1.m4s'), ro.get('/seg-1.m4s')]);
    expect(reads).toHaveBeenCalledTimes(1);
    for (const o of got) expect(o?.buffer?.equals(body)).toBe(true);
    const st = ro.stats();
    expect(st.diskHits).toBe(1);
    expect(st.ramHits).toBe(2);
    // a range asked for while the read runs gets its slice from the RAM copy
    ro.forget(['/seg-1.m4s']);
    const [whole, part] = await Promise.all([ro.get('/seg-1.m4s'), ro.get('/seg-1.m4s', { start: 100, end: 199 })]);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(whole?.buffer?.equals(body)).toBe(true);
    expect(part?.buffer?.equals(body.subarray(100, 200))).toBe(true);
  });
});
