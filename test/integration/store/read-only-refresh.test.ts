/**
 * A read-only opener (an edge worker's store) refreshes its lmdb snapshot on a miss at most once
 * per event-loop turn: the misses of a stampede read in one turn cost one refresh, not one each.
 * Proof that a commit is still found by the next turn's miss: multi-process.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LogStore, ReadOnlyStore } from '../../../edge/store/index.js';
import { deferredCleanup, tempDir } from './store-helpers.js';

const defer = deferredCleanup();

describe('read-only store: refresh on a miss', () => {
  it('refreshes once per event-loop turn however many misses it answers', async () => {
    const t = tempDir();
    defer(t.cleanup);
    const writer = await LogStore.open({ dir: t.dir, capacityBytes: 4 * 1024 * 1024, regionBytes: 256 * 1024 });
    await writer.close();
    const ro = ReadOnlyStore.open({ dir: t.dir, ramBytes: 0 });
    defer(() => ro.close());
    const index = (ro as unknown as { s: { index: { refresh(): void } } }).s.index;
    let refreshes = 0;
    const refresh = index.refresh.bind(index);
    index.refresh = () => {
      refreshes++;
      refresh();
    };
    // many misses in one turn (as the requests of one poll phase)
    const turn = await Promise.all([ro.head('/a'), ro.head('/b'), ro.get('/c'), ro.head('/d')]);
    expect(turn).toEqual([undefined, undefined, undefined, undefined]);
    expect(refreshes).toBe(1);
    await new Promise<void>((r) => setImmediate(r));
    expect(await ro.head('/a')).toBeUndefined();
    expect(refreshes).toBe(2); // a new turn: a miss refreshes again
  });
});
