import { describe, expect, it } from 'vitest';
import { PositionWaiters, SEGMENT_END } from '../../../packager/live/position-waiters.js';

describe('PositionWaiters (the waiting list of held requests)', () => {
  it('wakes exactly the waiters whose position was reached, in the same tick', async () => {
    const w = new PositionWaiters();
    const woke: string[] = [];
    const a = w.wait(5, 1, 10_000).then((o) => woke.push(`a:${o}`));
    const b = w.wait(5, 2, 10_000).then((o) => woke.push(`b:${o}`));
    const c = w.wait(6, 0, 10_000).then((o) => woke.push(`c:${o}`));
    expect(w.size).toBe(3);
    w.advance(5, 1);
    await a;
    expect(woke).toEqual(['a:reached']);
    expect(w.size).toBe(2);
    w.advance(5, SEGMENT_END); // segment 5 complete: b (part 2 of 5) is reached, c is not
    await b;
    expect(woke).toEqual(['a:reached', 'b:reached']);
    w.advance(6, 0);
    await c;
    expect(w.size).toBe(0);
  });

  it('answers at once for a reached position, times out, aborts, and releases on close', async () => {
    const w = new PositionWaiters();
    w.advance(3, 0);
    expect(await w.wait(2, 7, 1000)).toBe('reached');
    expect(await w.wait(4, 0, 5)).toBe('timeout');
    const ac = new AbortController();
    const p = w.wait(9, 0, 10_000, ac.signal);
    ac.abort();
    expect(await p).toBe('aborted');
    const q = w.wait(9, 0, 10_000);
    w.close();
    expect(await q).toBe('closed');
    expect(w.size).toBe(0);
  });

  it('holds 10,000 waiters in one bucket and wakes them all with one advance', async () => {
    const w = new PositionWaiters();
    let changes = 0;
    w.onSizeChange = (d) => (changes += d);
    const all = Array.from({ length: 10_000 }, () => w.wait(1, 0, 60_000));
    expect(w.size).toBe(10_000);
    w.advance(1, 0);
    const out = await Promise.all(all);
    expect(out.every((o) => o === 'reached')).toBe(true);
    expect(w.size).toBe(0);
    expect(changes).toBe(0);
  });
});

describe('PositionWaiters timeouts (one timer, deadline order)', () => {
  it('times out a later, shorter wait first and keeps the longer one held; no timer is left once nobody waits', async () => {
    const w = new PositionWaiters();
    const long = w.wait(7, 0, 200);
    const short = w.wait(7, 1, 5);
    let longOutcome: string | undefined;
    void long.then((o) => (longOutcome = o));
    expect(await short).toBe('timeout');
    expect(longOutcome).toBeUndefined();
    expect(w.size).toBe(1);
    expect(await long).toBe('timeout');
    expect(w.size).toBe(0);
    // a wait answered before its deadline leaves nothing armed: reached, then a new short one times out alone
    const p = w.wait(8, 0, 10_000);
    w.advance(8, 0);
    expect(await p).toBe('reached');
    expect(await w.wait(9, 0, 1)).toBe('timeout');
  });
});
