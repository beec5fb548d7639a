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
        // overload a 2-core machine, so they run one file at a time. In one `vitest run` they come
        // after the other suites; `npm test` (test/run-suites.js) runs the two projects side by side.
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
