import { defineConfig } from 'vitest/config';
import { DurationSequencer } from './test/support/duration-sequencer.js';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Integration suites spawn ffmpeg and servers: keep parallelism within a 2-core budget.
    maxWorkers: 2,
    // the longest files first, so none starts last and runs on alone (test/support/duration-sequencer.ts)
    sequence: { sequencer: DurationSequencer },
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
        // The browser suites (Chromium, most with a live channel and its ffmpeg) run after the
        // others, two files at a time: one at a time they used 45 % of the 2 cores and took 1,020 s;
        // two at a time 69 % and 709 s, each file about a third longer. (Run beside the node suites
        // instead, as a second vitest process, with both cores saturated, timing-bound tests failed
        // in both trial runs.)
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
