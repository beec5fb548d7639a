import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../edge/helpers.js';
import {
  ADMIN_TOKEN,
  type Answer,
  type SupervisedEdge,
  eventually,
  get,
  startSupervisedEdge,
} from './supervised-edge.js';

/**
 * `streamedge edge --workers 2` with a store small enough to evict (1 MiB: four 256 KiB regions):
 * hits served only by the workers reach the store process's W-TinyLFU sketch (a hot key is copied
 * forward at eviction, a cold one of the same region dropped), and eviction is acknowledged by every
 * worker while both serve hits on evicted and live keys (no 5xx, no wrong byte).
 */
const OBJECT_BYTES = 16 * 1024;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The bytes the origin always sends for `path` (so any answer can be checked byte for byte). */
function bodyOf(path: string): Buffer {
  const seed = createHash('sha256').update(path).digest();
  const out = Buffer.alloc(OBJECT_BYTES);
  for (let i = 0; i < out.length; i += seed.length) seed.copy(out, i);
  return out;
}

async function origin(): Promise<Upstream> {
  const up = await startUpstream((req, res) => {
    const body = bodyOf(req.url ?? '/');
    res.writeHead(200, {
      'content-type': 'video/mp4',
      'cache-control': 'max-age=600',
      'content-length': String(body.length),
    });
    res.end(body);
  });
  cleanups.push(() => up.close());
  return up;
}

async function smallEdge(up: Upstream): Promise<SupervisedEdge> {
  const edge = await startSupervisedEdge(up.url, 2, ['--store-size', '1MiB']);
  cleanups.push(() => edge.stop());
  return edge;
}

interface HealthStore {
  evictedRegions: number;
  copiedForward: number;
  hitsReported: number;
}

/** The store process's figures as a worker reports them (/_edge/health with the admin token). */
async function storeStats(base: string): Promise<HealthStore> {
  const r = await get(base, '/_edge/health', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (JSON.parse(r.body.toString()) as { store: HealthStore }).store;
}

function isHit(a: Answer): boolean {
  return String(a.headers['cache-status']).includes('; hit');
}

function expectIntact(a: Answer, path: string): void {
  expect(a.status, path).toBe(200);
  expect(a.body.equals(bodyOf(path)), `${path}: body bytes`).toBe(true);
}

/** Fills `/fill/<from..to>` one after the other (each a miss, stored). */
async function fill(base: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) expectIntact(await get(base, `/fill/${i}`), `/fill/${i}`);
}

describe('edge --workers 2, eviction', () => {
  it('a key hit only on the workers is hot in the store process: copied forward at eviction, a cold key of its region dropped', async () => {
    const up = await origin();
    const edge = await smallEdge(up);
    // both land in the first region
    expectIntact(await get(edge.url, '/hot'), '/hot');
    expectIntact(await get(edge.url, '/cold'), '/cold');
    const before = (await storeStats(edge.url)).hitsReported;
    for (let i = 0; i < 12; i++) {
      const a = await get(edge.url, '/hot');
      expectIntact(a, '/hot');
      expect(isHit(a)).toBe(true);
    }
    // the workers report their hits every second: the store process's sketch has them
    await eventually(
      async () => ((await storeStats(edge.url)).hitsReported >= before + 4 ? true : undefined),
      'hits reported to the store process',
    );
    // fill past capacity (16 KiB objects, 256 KiB regions): the first region is evicted
    let next = 0;
    await eventually(
      async () => {
        await fill(edge.url, next, next + 8);
        next += 8;
        return (await storeStats(edge.url)).evictedRegions >= 1 ? true : undefined;
      },
      'an eviction',
      60_000,
    );
    const st = await storeStats(edge.url);
    expect(st.copiedForward).toBeGreaterThanOrEqual(1);
    // the hot key survived (a hit, never fetched again); the cold one was dropped (a miss, fetched again)
    for (let i = 0; i < 4; i++) {
      const a = await get(edge.url, '/hot');
      expectIntact(a, '/hot');
      expect(isHit(a), 'the hot key is still stored').toBe(true);
    }
    expect(up.count('/hot')).toBe(1);
    // (within 2 s of its fill a worker may answer it from that fill's bytes: a miss as well)
    const cold: Answer[] = [];
    await eventually(async () => {
      cold.push(await get(edge.url, '/cold'));
      return up.count('/cold') === 2 ? true : undefined;
    }, 'the cold key fetched again');
    for (const a of cold) {
      expectIntact(a, '/cold');
      expect(isHit(a)).toBe(false);
    }
  });

  it('evictions under hits from both workers: every answer intact, evicted keys fetched again, every worker acknowledged', async () => {
    const up = await origin();
    const edge = await smallEdge(up);
    const live = ['/live/a', '/live/b', '/live/c'];
    await fill(edge.url, 0, 12);
    for (const p of live) expectIntact(await get(edge.url, p), p);
    // readers on both workers (one connection per request) over the early keys (soon evicted) and
    // the live ones, while the fill goes on past capacity
    let filling = true;
    const answers: Array<{ path: string; a: Answer }> = [];
    const reader = async (): Promise<void> => {
      for (let i = 0; filling && i < 5_000; i++) {
        const path = i % 2 === 0 ? `/fill/${i % 12}` : live[i % live.length];
        answers.push({ path, a: await get(edge.url, path) });
      }
    };
    const readers = [reader(), reader()];
    try {
      let next = 100;
      await eventually(
        async () => {
          await fill(edge.url, next, next + 16);
          next += 16;
          return (await storeStats(edge.url)).evictedRegions >= 2 ? true : undefined;
        },
        'two evictions',
        60_000,
      );
      // and more, so that the region holding the first of those keys is evicted too
      await fill(edge.url, next, next + 80);
    } finally {
      filling = false;
      await Promise.all(readers);
    }
    expect(answers.length).toBeGreaterThan(20);
    expect(new Set(answers.map((x) => x.a.worker))).toEqual(new Set(['0', '1']));
    for (const { path, a } of answers) expectIntact(a, path);
    const st = await storeStats(edge.url);
    expect(st.evictedRegions).toBeGreaterThanOrEqual(2);
    // an evicted key that was not read meanwhile is a miss, fetched again, then a hit. (For up to 2 s
    // after its fill a worker may still answer it from that fill's bytes, "collapsed": a miss too.)
    const gone = '/fill/100';
    const before = up.count(gone);
    const misses: Answer[] = [];
    await eventually(async () => {
      misses.push(await get(edge.url, gone));
      return up.count(gone) === before + 1 ? true : undefined;
    }, 'the evicted key fetched again');
    for (const m of misses) {
      expectIntact(m, gone);
      expect(isHit(m), 'an evicted key is not a hit').toBe(false);
    }
    const again = await eventually(async () => {
      const a = await get(edge.url, gone);
      return isHit(a) ? a : undefined;
    }, 'the refetched key as a hit');
    expectIntact(again, gone);
    // every eviction was acknowledged by both workers (none went ahead on the timeout)
    expect(edge.logs.filter((l) => String(l.msg).includes('eviction not acknowledged'))).toEqual([]);
  });
});
