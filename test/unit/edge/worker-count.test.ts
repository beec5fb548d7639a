import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { workerCount, type EdgeCliOptions } from '../../../edge/edge-cli.js';

const member = (workers?: string): Partial<EdgeCliOptions> => ({
  nats: 'nats://127.0.0.1:4222',
  pop: 'p1',
  ...(workers !== undefined ? { workers } : {}),
});

describe('workerCount (--workers)', () => {
  it('defaults to one worker per core, a fleet member (--nats) too', () => {
    expect(workerCount({})).toBe(Math.max(1, availableParallelism()));
    expect(workerCount(member())).toBe(Math.max(1, availableParallelism()));
  });

  it('accepts --workers N with --nats (the supervisor holds the one fleet membership)', () => {
    expect(workerCount(member('4'))).toBe(4);
    expect(workerCount(member('1'))).toBe(1);
    expect(workerCount({ workers: '1' })).toBe(1);
  });

  it('refuses what is not a whole number from 1 to 256, saying so', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '257', '']) {
      expect(() => workerCount({ workers: bad })).toThrow(/--workers must be a whole number from 1 to 256/);
    }
  });
});
