/**
 * The load tester's timer wheel (bench/loadtest/timer-wheel.ts): every wait of every viewer of a
 * thread. When many entries are due at once (the thread was late), it runs them all in due order
 * and records how late it ran them (counted in the tester's event-loop figure).
 */
import { describe, expect, it } from 'vitest';
import { TimerWheel } from '../../bench/loadtest/timer-wheel.js';

describe('TimerWheel', () => {
  it('runs 1,000 entries due at once in due order and records how late it ran them', async () => {
    const wheel = new TimerWheel();
    const ran: number[] = [];
    const all = new Promise<void>((resolve) => {
      // two slots: 600 entries due at 0 ms, 400 at 15 ms; all become due while the thread is busy
      for (let i = 0; i < 1000; i++) {
        wheel.after(i < 600 ? 0 : 15, () => {
          ran.push(i);
          if (ran.length === 1000) resolve();
        });
      }
    });
    // the thread is late: busy for 60 ms before the wheel's timer can run
    const until = performance.now() + 60;
    while (performance.now() < until);
    await all;
    expect(ran).toEqual([...Array(1000).keys()]);
    expect(wheel.pending).toBe(0);
    // the last slot (15 ms, rounded up to at most 25 ms) ran at least 35 ms after it was due
    expect(wheel.lateness.max / 1000).toBeGreaterThanOrEqual(30);
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

  it('runDue() runs the entries already due from an I/O callback, before the wheel timer can, and only those', () => {
    const wheel = new TimerWheel();
    const ran: string[] = [];
    const t0 = performance.now();
    wheel.after(0, () => ran.push('due'));
    wheel.after(50, () => ran.push('later'));
    // still inside this synchronous turn: the wheel's own timer cannot have run; an I/O callback
    // 20 ms on (its performance.now()) finds the first entry due and runs it, not the second.
    // Before t0 nothing is due (the first entry's slot is t0 rounded up to 10 ms, so whether
    // t0 + 5 is already due depends on t0's phase within a slot: not asserted)
    wheel.runDue(t0 - 1);
    expect(ran).toEqual([]);
    wheel.runDue(t0 + 20);
    expect(ran).toEqual(['due']);
    expect(wheel.pending).toBe(1);
    expect(wheel.lateness.count).toBe(1);
    // from inside an entry (a turn running) it does nothing: no turn within a turn
    wheel.after(0, () => {
      wheel.runDue(t0 + 1e9);
      ran.push('outer');
    });
    wheel.runDue(t0 + 30);
    expect(ran).toEqual(['due', 'outer']);
    wheel.clear();
  });
});
