import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleWriter, runCrashRounds } from './crash-harness.js';
import { tempDir } from './store-helpers.js';

const t = tempDir('store-crash-');
let writer: string[] = [];
beforeAll(async () => {
  writer = await bundleWriter();
});
afterAll(() => {
  t.cleanup();
  if (writer[0]) rmSync(writer[0], { force: true });
});

describe('LogStore crash safety (writer child SIGKILLed at random points)', () => {
  // 50 lives here (about 30-50 s on a loaded 2-core box); bench/store-crash.ts runs 200 through bin/run-ts.js.
  it('after every restart each indexed object reads back byte-identical and acknowledged puts survive', async () => {
    const seed = Number(process.env.STORE_CRASH_SEED ?? Date.now() % 1_000_000);
    const summary = await runCrashRounds(writer, t.dir, 50, seed);
    expect(summary.problems, `seed ${seed}`).toEqual([]);
    expect(summary.rounds).toBe(50);
    expect(summary.acked).toBeGreaterThan(150); // the writers really did work between kills
    expect(summary.maxObjects).toBeGreaterThan(20);
  }, 240_000); // ~50 s with a load average of 20; generous so an overloaded box is not a failure
});
