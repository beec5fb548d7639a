import { afterEach, describe, expect, it, vi } from 'vitest';
import { FILL_STORED, Frame, json } from '../../../edge/cluster/frames.js';
import type { FetchRequest, UpstreamFetched } from '../../../edge/cluster/store-service.js';
import { meta } from '../store/store-helpers.js';
import { type Got, type Link, serviceWithTwoLinks } from './store-link.js';

/**
 * The store process's fill table over its real Unix socket, with a real LogStore, and two raw
 * links speaking frames.ts as two workers would. The upstream is a test double whose body the test
 * releases, so the moments around a fill's end and its commit are reached on purpose, not by luck.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An upstream double: each fetch sends `first`, then waits for release() and sends `rest` (or fails). */
function upstreamDouble(headers: Record<string, string> = {}) {
  const asked: FetchRequest[] = [];
  let release!: (fail?: Error) => void;
  let gate = new Promise<Error | undefined>((r) => (release = r));
  const fetchUpstream = (req: FetchRequest): Promise<UpstreamFetched> => {
    asked.push(req);
    const mine = gate;
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.from('abc');
      const fail = await mine;
      if (fail) throw fail;
      yield Buffer.from('def');
    }
    return Promise.resolve({ status: 200, headers: { 'content-length': '6', ...headers }, body: body() });
  };
  return {
    asked,
    fetchUpstream,
    release(fail?: Error) {
      release(fail);
      gate = new Promise<Error | undefined>((r) => (release = r));
    },
  };
}

async function setUp(headers: Record<string, string> = {}) {
  const up = upstreamDouble(headers);
  const { store, svc, a, b } = await serviceWithTwoLinks({
    prefix: 'store-service-',
    defer: (fn) => cleanups.push(fn),
    fetchUpstream: up.fetchUpstream,
  });
  // pushed last, so run first: the service's close() waits for the fetches in flight
  cleanups.push(() => up.release(new Error('test over')));
  return { store, up, svc, a, b };
}

/** Waits (bounded) until `cond` holds, checking on each turn of the event loop. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  expect(cond()).toBe(true);
}

const fetchOf = (key: string, seen: number) => ({ key, dedupe: '', target: key, headers: {}, fromPeer: false, seen });
const failOf = (f: Got) => json<{ code?: string }>(f.payload).code;

/** Worker `a` fetches `key` (id 1) and asks to store it (Commit, id 2) as soon as the head arrives. */
async function fetchAndCommit(a: Link, key: string): Promise<void> {
  a.send(Frame.Fetch, 1, fetchOf(key, 0));
  await a.next((f) => f.type === Frame.Head && f.id === 1);
  a.send(Frame.Commit, 2, { fetch: 1, key, meta: meta() });
}

describe('StoreService: the window between a fill’s end and its commit’s announcement', () => {
  it('a worker that looked the key up before the commit is told FILL_STORED, after the Committed; never a second fetch', async () => {
    const { store, up, a, b } = await setUp();
    await fetchAndCommit(a, '/k');
    up.release();
    await a.next((f) => f.type === Frame.End && f.id === 1);
    const reply = await a.next((f) => f.type === Frame.Reply && f.id === 2);
    expect(json<{ value: boolean }>(reply.payload).value).toBe(true);
    const committed = await b.next((f) => f.type === Frame.Committed);
    const seq = json<{ seq: number }>(committed.payload).seq;
    expect(seq).toBeGreaterThan(0);
    // b asks having applied no Committed yet (its lookup ran before the commit was visible)
    b.send(Frame.Fetch, 1, fetchOf('/k', seq - 1));
    const answer = await b.next((f) => f.id === 1 && f.type !== Frame.Stats && f.type !== Frame.Committed);
    expect(answer.type).toBe(Frame.Fail);
    expect(failOf(answer)).toBe(FILL_STORED);
    expect(b.index(committed)).toBeLessThan(b.index(answer));
    expect(up.asked).toHaveLength(1);
    expect((await store.head('/k'))?.size).toBe(6);
    // a worker that had applied the commit and still misses (expired, say) gets a fetch of its own
    b.send(Frame.Fetch, 2, fetchOf('/k', seq));
    await b.next((f) => f.type === Frame.Head && f.id === 2);
    expect(up.asked).toHaveLength(2);
  });

  it('a worker that asks while the finished fetch is being committed waits for the commit and is told FILL_STORED', async () => {
    const { store, up, svc, a, b } = await setUp();
    let landPut!: () => void;
    const putGate = new Promise<void>((r) => (landPut = r));
    const realPut = store.put.bind(store);
    const putCalled = new Promise<void>((called) => {
      vi.spyOn(store, 'put').mockImplementation(async (...args) => {
        called();
        await putGate;
        return realPut(...args);
      });
    });
    await fetchAndCommit(a, '/w');
    up.release();
    await a.next((f) => f.type === Frame.End && f.id === 1);
    await putCalled;
    b.send(Frame.Fetch, 7, fetchOf('/w', 0));
    // b's Fetch joins the finished fetch before the put lands
    await until(() => svc.counters.joined === 1);
    landPut();
    const answer = await b.next((f) => f.id === 7);
    expect(answer.type).toBe(Frame.Fail);
    expect(failOf(answer)).toBe(FILL_STORED);
    const committed = await b.next(
      (f) => f.type === Frame.Committed && json<{ keys: string[] }>(f.payload).keys[0] === '/w',
    );
    expect(b.index(committed)).toBeLessThan(b.index(answer));
    expect(up.asked).toHaveLength(1);
  });

  it('a failed fetch is never stored and never answered FILL_STORED: the next asker fetches anew', async () => {
    const { store, up, a, b } = await setUp();
    await fetchAndCommit(a, '/f');
    up.release(new Error('upstream reset'));
    const failed = await a.next((f) => f.type === Frame.Fail && f.id === 1);
    expect(failOf(failed)).not.toBe(FILL_STORED);
    const reply = await a.next((f) => f.type === Frame.Reply && f.id === 2);
    expect(json<{ value: boolean }>(reply.payload).value).toBe(false);
    expect(await store.head('/f')).toBeUndefined();
    b.send(Frame.Fetch, 1, fetchOf('/f', 0));
    await b.next((f) => f.type === Frame.Head && f.id === 1);
    expect(up.asked).toHaveLength(2);
  });

  it('after a purge a late asker fetches anew (the purged bytes are never what it is told about)', async () => {
    const { up, a, b } = await setUp();
    await fetchAndCommit(a, '/p');
    up.release();
    await a.next((f) => f.type === Frame.Reply && f.id === 2);
    a.send(Frame.Call, 3, { op: 'purgePrefix', prefix: '/p', mode: 'hard' });
    await a.next((f) => f.type === Frame.Reply && f.id === 3);
    b.send(Frame.Fetch, 1, fetchOf('/p', 0));
    await b.next((f) => f.type === Frame.Head && f.id === 1);
    expect(up.asked).toHaveLength(2);
  });
});

describe('StoreService: a response meant for one asker', () => {
  for (const [what, headers] of [
    ['private', { 'cache-control': 'private, max-age=60' }],
    ['no-store', { 'cache-control': 'no-store' }],
    ['Set-Cookie', { 'cache-control': 'max-age=60', 'set-cookie': 'sid=1' }],
  ] as const) {
    it(`${what}: a second worker asking meanwhile is fetched its own, not given the first one's`, async () => {
      const { up, a, b } = await setUp(headers);
      a.send(Frame.Fetch, 1, fetchOf('/mine', 0));
      await a.next((f) => f.type === Frame.Head && f.id === 1);
      b.send(Frame.Fetch, 1, fetchOf('/mine', 0));
      await b.next((f) => f.type === Frame.Head && f.id === 1);
      expect(up.asked).toHaveLength(2);
      up.release();
      await a.next((f) => f.type === Frame.End && f.id === 1);
      await b.next((f) => f.type === Frame.End && f.id === 1);
    });
  }

  it('a response any asker may have is still fetched once for both workers', async () => {
    const { up, a, b } = await setUp({ 'cache-control': 'max-age=60' });
    a.send(Frame.Fetch, 1, fetchOf('/shared', 0));
    await a.next((f) => f.type === Frame.Head && f.id === 1);
    b.send(Frame.Fetch, 1, fetchOf('/shared', 0));
    await b.next((f) => f.type === Frame.Head && f.id === 1);
    expect(up.asked).toHaveLength(1);
    up.release();
    await b.next((f) => f.type === Frame.End && f.id === 1);
  });
});
