/**
 * The order test files start in: longest first within each project group, vitest's cached
 * duration before the recorded one, files known to neither last; groups and projects in order.
 */
import type { TestSpecification, Vitest } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { DurationSequencer } from '../../support/duration-sequencer.js';

const ROOT = '/repo';

function spec(project: string, groupOrder: number, path: string): TestSpecification {
  return {
    moduleId: `${ROOT}/${path}`,
    project: { name: project, config: { isolate: true, sequence: { groupOrder } } },
  } as unknown as TestSpecification;
}

function sequencer(cachedMs: Record<string, number>): DurationSequencer {
  const ctx = {
    config: { root: ROOT },
    cache: {
      getFileTestResults: (key: string) =>
        cachedMs[key] === undefined ? undefined : { duration: cachedMs[key], failed: false },
      getFileStats: () => undefined,
    },
  };
  return new DurationSequencer(ctx as unknown as Vitest);
}

const names = (specs: TestSpecification[]): string[] =>
  specs.map((s) => `${s.project.name}:${s.moduleId.slice(ROOT.length + 1)}`);

describe('DurationSequencer', () => {
  it('with no cache (a fresh clone), starts the files test/file-durations.json records as long first', async () => {
    const files = [
      spec('node', 0, 'test/unit/new-and-unknown.test.ts'),
      spec('node', 0, 'test/integration/live/redundant-origins.test.ts'),
      spec('node', 0, 'test/integration/live/preload-hints-true.test.ts'),
    ];
    expect(names(await sequencer({}).sort(files))).toEqual([
      'node:test/integration/live/preload-hints-true.test.ts',
      'node:test/integration/live/redundant-origins.test.ts',
      'node:test/unit/new-and-unknown.test.ts',
    ]);
  });

  it("prefers this checkout's cached durations, and keeps groups and projects in order", async () => {
    const files = [
      spec('browser', 1, 'test/browser/b.test.ts'),
      spec('browser', 1, 'test/browser/a.test.ts'),
      spec('node', 0, 'test/integration/live/preload-hints-true.test.ts'),
      spec('node', 0, 'test/unit/quick.test.ts'),
    ];
    const cached = {
      'browser:test/browser/a.test.ts': 90_000,
      'browser:test/browser/b.test.ts': 10_000,
      'node:test/unit/quick.test.ts': 120_000, // longer here than the recorded preload-hint file
    };
    expect(names(await sequencer(cached).sort(files))).toEqual([
      'node:test/unit/quick.test.ts',
      'node:test/integration/live/preload-hints-true.test.ts',
      'browser:test/browser/a.test.ts',
      'browser:test/browser/b.test.ts',
    ]);
  });
});
