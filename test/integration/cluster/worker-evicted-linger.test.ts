import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Frame } from '../../../edge/cluster/frames.js';
import { type FetchRequest, StoreService, type UpstreamFetched } from '../../../edge/cluster/store-service.js';
import { createEdge } from '../../../edge/server.js';
import { LogStore } from '../../../edge/store/index.js';
import { get } from '../edge/helpers.js';
import { meta, tempDir } from '../store/store-helpers.js';
import { Link } from './store-link.js';

/**
 * A worker of a multi-worker edge keeps a fill that just finished for a moment (the coalescer's
 * linger), so a request racing the commit's announcement is answered from its bytes. Once the store
 * process evicts that key, the worker must not answer it from that fill any more: the Evicted it
 * receives drops the fill with the key's RAM copies. Real store process side (StoreService over
 * its Unix socket, a LogStore of four 256 KiB regions) and a real worker edge in this process. A
 * purge applied by another worker (a Drop from the store process) drops it as well.
 */
const KiB = 1024;
const BODY = Buffer.alloc(16 * KiB, 'v');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp() {
  const tmp = tempDir('worker-evicted-');
  const dir = join(tmp.dir, 'store');
  const store = await LogStore.open({ dir, capacityBytes: 1024 * KiB, ramBytes: 0, durability: 'flush' });
  const asked: FetchRequest[] = [];
  const fetchUpstream = (req: FetchRequest): Promise<UpstreamFetched> => {
    asked.push(req);
    async function* body(): AsyncGenerator<Buffer> {
      yield await Promise.resolve(BODY);
    }
    return Promise.resolve({
      status: 200,
      headers: { 'content-length': String(BODY.length), 'cache-control': 'max-age=600' },
      body: body(),
    });
  };
  const path = join(tmp.dir, 'store.sock');
  const svc = await StoreService.listen(path, store, fetchUpstream, {
    own: () => Promise.resolve([]),
    merge: () => Promise.resolve(''),
  });
  const edge = createEdge({
    logLevel: 'silent',
    upstream: 'http://127.0.0.1:9', // the store process fetches, not the worker
    store: { dir, ramBytes: 4 * 1024 * KiB },
    worker: { index: 0, socketPath: path },
  });
  const url = await edge.listen(0, '127.0.0.1');
  cleanups.push(async () => {
    await edge.close();
    await svc.close();
    await store.close();
    tmp.cleanup();
  });
  return { store, svc, edge, url, asked, path };
}

describe('a worker’s just-finished fill and eviction', () => {
  it('a key evicted right after its fill is fetched again, never answered from the lingering fill', async () => {
    const { store, edge, url, asked } = await setUp();
    const first = await get(`${url}/victim`);
    expect(first.status).toBe(200);
    expect(first.body.equals(BODY)).toBe(true);
    await edge.whenIdle(); // the fill's commit landed: it lingers in the worker's table now
    expect(asked.map((r) => r.target)).toEqual(['/victim']);
    const hit = await get(`${url}/victim`);
    expect(hit.headers['cache-status']).toContain('; hit');
    // fill the store past capacity from the store process's side: the region holding /victim goes,
    // and each put past capacity waits until the worker acknowledged the Evicted
    const puts: Promise<boolean>[] = [];
    for (let i = 0; i < 70; i++) puts.push(store.put(`/other/${i}`, meta(), Buffer.alloc(16 * KiB, i)));
    expect((await Promise.all(puts)).every(Boolean)).toBe(true);
    expect(await store.head('/victim')).toBeUndefined();
    expect(store.stats().evictedRegions).toBeGreaterThanOrEqual(1);
    // well within the fill's linger (2 s): the worker asks upstream again rather than answer from it
    const again = await get(`${url}/victim`);
    expect(again.status).toBe(200);
    expect(again.body.equals(BODY)).toBe(true);
    expect(again.headers['cache-status']).not.toContain('; hit');
    expect(again.headers['cache-status']).not.toContain('collapsed');
    expect(asked.map((r) => r.target)).toEqual(['/victim', '/victim']);
  });

  it('a key purged by another worker right after its fill is fetched again, never answered from the lingering fill', async () => {
    const { store, edge, url, asked, path } = await setUp();
    expect((await get(`${url}/victim`)).body.equals(BODY)).toBe(true);
    await edge.whenIdle();
    // another worker's purge: the store's index first (its Call), then the Drop every worker applies
    expect(await store.delete('/victim')).toBe(true);
    const other = await Link.open(path, (fn) => cleanups.push(fn));
    other.send(Frame.DropAll, 1, { specs: [{ kind: 'url', value: '/victim', mode: 'hard' }] });
    const drop = await other.next((f) => f.type === Frame.Drop); // the asker is a worker too: it acknowledges
    other.send(Frame.DropAck, drop.id, {});
    await other.next((f) => f.type === Frame.Reply && f.id === 1); // every worker acknowledged
    const again = await get(`${url}/victim`);
    expect(again.body.equals(BODY)).toBe(true);
    expect(again.headers['cache-status']).not.toContain('collapsed');
    expect(asked.map((r) => r.target)).toEqual(['/victim', '/victim']);
  });
});
