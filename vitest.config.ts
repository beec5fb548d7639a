import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration suites spawn ffmpeg and servers: keep parallelism within a 2-core budget.
    maxWorkers: 2,
    reporters: ['default', ['json', { outputFile: process.env.VITEST_JSON ?? 'test-results/vitest.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Each browser suite runs Chromium against live channels with their own ffmpeg: two at once
        // overload a 2-core machine, so they run one file at a time, after the other suites. (Run
        // beside the node suites instead, as a second vitest process, the suite took 25 min rather
        // than 31, but with the 2 cores saturated timing-bound tests failed in both trial runs.)
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
