/**
 * The load tester's timer wheel (bench/loadtest/timer-wheel.ts): every wait of every viewer of a
 * thread. When many entries are due at once (the thread was late), it runs them in due order but
 * a bounded batch per turn of the event loop, so I/O that arrived meanwhile is handled between
 * the batches, not after all of them.
 */
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../bench/loadtest/timer-wheel.js';

describe('TimerWheel', () => {
  it('runs 1,000 entries due at once in due order, over several turns with I/O in between', async () => {
    const wheel = new TimerWheel();
    const ran: number[] = [];
    /** How many entries had run when each "I/O" callback (setImmediate) got its turn. */
    const ioSawRan: number[] = [];
    const all = new Promise<void>((resolve) => {
      // two slots: 600 entries due at 0 ms, 400 at 15 ms; all become due while the thread is busy
      for (let i = 0; i < 1000; i++) {
        wheel.after(i < 600 ? 0 : 15, () => {
          ran.push(i);
          // what a socket read would be: queued behind the running batch
          if (i % 100 === 0) setImmediate(() => ioSawRan.push(ran.length));
          if (ran.length === 1000) resolve();
        });
      }
    });
    // the thread is late: busy for 30 ms before the wheel's timer can run
    const until = performance.now() + 30;
    while (performance.now() < until);
    await all;
    expect(ran).toEqual([...Array(1000).keys()]);
    // the I/O queued by the first entry ran long before the last entry
    expect(ioSawRan.length).toBe(10);
    expect(ioSawRan[0]).toBeLessThan(200);
    expect(wheel.pending).toBe(0);
    // the batches' lateness is kept: the last ran at least the 30 ms busy time after its slot
    expect(wheel.lateness.max / 1000).toBeGreaterThanOrEqual(15);
  });

  it('cancel() and clear() keep pending entries from running', async () => {
    const wheel = new TimerWheel();
    const ran: string[] = [];
    const a = wheel.after(0, () => ran.push('a'));
    wheel.after(0, () => ran.push('b'));
    wheel.cancel(a);
    await new Promise<void>((resolve) => wheel.after(20, resolve));
    expect(ran).toEqual(['b']);
    wheel.after(0, () => ran.push('c'));
    expect(wheel.pending).toBe(1);
    wheel.clear();
    // an entry due later, on another wheel: had 'c' (due at once) not been dropped, it ran first
    await new Promise<void>((resolve) => new TimerWheel().after(20, resolve));
    expect(ran).toEqual(['b']);
    expect(wheel.pending).toBe(0);
  });
});
