import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Frame, json } from '../../../edge/cluster/frames.js';
import { meta } from '../store/store-helpers.js';
import type { LogStore } from '../../../edge/store/index.js';
import { type Link, serviceWithTwoLinks } from './store-link.js';

/**
 * The store process's side of eviction and hit reports over its real Unix socket, with a real
 * LogStore (1 MiB: four 256 KiB regions) and raw links speaking frames.ts as workers would.
 */
const KiB = 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp() {
  const { store, svc, a, b, dir } = await serviceWithTwoLinks({
    prefix: 'store-service-evict-',
    defer: (fn) => cleanups.push(fn),
    capacityBytes: 1024 * KiB,
  });
  const regionFile = (id: number): string => join(dir, 'regions', `r-${String(id).padStart(10, '0')}.seg`);
  return { store, svc, a, b, regionFile };
}

/** Waits (bounded) until `cond` holds, checking on each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

/** Acknowledges every Evicted `l` receives (except `skip`, acknowledged by the test itself). */
function autoAck(l: Link, skip?: number): void {
  const acked = new Set<number>(skip === undefined ? [] : [skip]);
  const ack = (): void => {
    for (const f of l.frames)
      if (f.type === Frame.Evicted && !acked.has(f.id)) {
        acked.add(f.id);
        l.send(Frame.EvictedAck, f.id, {});
      }
  };
  l.sock.on('data', () => setImmediate(ack));
  ack();
}

const body = (k: string): Buffer => Buffer.alloc(16 * KiB, k);

/** Puts `/k<from..to>` one after the other, without waiting (the puts past capacity wait for eviction). */
function putMany(store: LogStore, from: number, to: number): Promise<boolean[]> {
  const out: Promise<boolean>[] = [];
  for (let i = from; i < to; i++) out.push(store.put(`/k${i}`, meta(), body(`k${i}`)));
  return Promise.all(out);
}

describe('StoreService: eviction acknowledged by every worker, hit counts into the sketch', () => {
  it('the evicted region file stays until every connected worker sent EvictedAck', async () => {
    const { store, a, b, regionFile } = await setUp();
    const puts = putMany(store, 0, 70); // > 1 MiB: the first region must go
    const evA = await a.next((f) => f.type === Frame.Evicted);
    const evB = await b.next((f) => f.type === Frame.Evicted);
    const { region, keys } = json<{ region: number; keys: string[] }>(evA.payload);
    expect(evA.id).toBeGreaterThan(0);
    expect(keys.length).toBeGreaterThan(0);
    expect(existsSync(regionFile(region))).toBe(true);
    a.send(Frame.EvictedAck, evA.id, {});
    // one ack of two: the file is still there (each turn gives the store the chance to go wrong)
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    expect(existsSync(regionFile(region))).toBe(true);
    expect(store.stats().evictedRegions).toBe(0);
    b.send(Frame.EvictedAck, evB.id, {});
    await until(() => !existsSync(regionFile(region)));
    await until(() => store.stats().evictedRegions >= 1);
    // the rest acknowledged as they come, so the puts finish
    autoAck(a, evA.id);
    autoAck(b, evB.id);
    expect((await puts).every(Boolean)).toBe(true);
  });

  it('a worker that is gone is not waited for', async () => {
    const { store, a, b, regionFile } = await setUp();
    const puts = putMany(store, 0, 70);
    const evA = await a.next((f) => f.type === Frame.Evicted);
    await b.next((f) => f.type === Frame.Evicted);
    const { region } = json<{ region: number }>(evA.payload);
    a.send(Frame.EvictedAck, evA.id, {});
    b.sock.destroy(); // b dies without acknowledging
    await until(() => !existsSync(regionFile(region)));
    // b is gone for the next evictions too; a acknowledges them
    autoAck(a, evA.id);
    expect((await puts).every(Boolean)).toBe(true);
  });

  it('HitCounts from a worker reach the sketch: the reported keys are copied forward at eviction although the puts run all at once, an unreported one dropped', async () => {
    const { store, a, b } = await setUp();
    autoAck(a);
    autoAck(b);
    expect(await store.put('/hot', meta(), body('hot'))).toBe(true);
    expect(await store.put('/hot2', meta(), body('hot2'))).toBe(true);
    expect(await store.put('/cold', meta(), body('cold'))).toBe(true);
    // worker a served /hot and /hot2 5 times each (its RAM tier: the store process never saw a read)
    a.send(Frame.HitCounts, 0, { keys: ['/hot', '/hot2'], counts: [5, 5] });
    await until(() => store.stats().hitsReported === 10);
    // all at once: the puts that wake with each roll must not take the room the copy needs
    expect((await putMany(store, 0, 70)).every(Boolean)).toBe(true);
    const st = store.stats();
    expect(st.evictedRegions).toBeGreaterThanOrEqual(1);
    expect(st.copiedForward).toBeGreaterThanOrEqual(2);
    expect(await store.head('/hot')).toBeDefined();
    expect(await store.head('/hot2')).toBeDefined();
    expect(await store.head('/cold')).toBeUndefined();
  });

  it('a malformed HitCounts frame drops that link, not the store process', async () => {
    const { store, a, b } = await setUp();
    const closed = new Promise<void>((r) => a.sock.once('close', () => r()));
    a.send(Frame.HitCounts, 0, { keys: ['/x'], counts: 'many' });
    await closed;
    autoAck(b);
    expect(await store.put('/after', meta(), body('after'))).toBe(true);
    expect(store.stats().hitsReported).toBe(0);
  });
});
