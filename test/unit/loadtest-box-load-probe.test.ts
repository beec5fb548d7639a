/**
 * bench/loadtest/box-load-probe.ts: the busy cores between two /proc/stat readings, and an idle child
 * process that reports its event-loop delay p99 when stopped.
 */
import { cpus } from 'node:os';
import { describe, expect, it } from 'vitest';
import { busyCores, machineTicks, startIdleLoopProbe } from '../../bench/loadtest/box-load-probe.js';

describe('box load probe', () => {
  it('busy cores: the busy share of the ticks between two readings, times the cores', () => {
    const n = cpus().length;
    expect(busyCores({ busy: 100, total: 1000 }, { busy: 350, total: 1500 })).toBeCloseTo(0.5 * n, 2);
    expect(busyCores({ busy: 100, total: 1000 }, { busy: 100, total: 1000 })).toBeNull();
    expect(busyCores(null, { busy: 1, total: 2 })).toBeNull();
  });

  it('reads /proc/stat where there is one, busy never above total', () => {
    const t = machineTicks();
    if (t === null) return; // not Linux
    expect(t.busy).toBeGreaterThan(0);
    expect(t.busy).toBeLessThanOrEqual(t.total);
  });

  it('an idle child reports a delay p99 in ms when stopped', async () => {
    const probe = startIdleLoopProbe();
    const p99 = await probe.stop();
    expect(p99).not.toBeNull();
    expect(p99!).toBeGreaterThanOrEqual(0);
    expect(p99!).toBeLessThan(60_000);
  });
});
