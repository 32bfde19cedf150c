import { defineConfig } from 'vitest/config';

/**
 * Tests that measure the machine (memory and keeping up at accelerated speed) or drive separate
 * processes on the wall clock at accelerated speed run on their own, one file at a time, after
 * everything else (`vitest run --project alone`): next to the other files they would measure the
 * other files' load, not the collector, and their waits would depend on it (collector-kill timed
 * out waiting for an event at load average 12).
 */
const ALONE = ['test/soak.test.ts', 'test/collector-kill.test.ts', 'test/depth-capture.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // One temp folder per run, removed at its end (test/global-tmp.ts).
    globalSetup: ['test/global-tmp.ts'],
    // Integration tests start servers on loopback ports and worker threads; keep files isolated.
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ALONE } },
      { extends: true, test: { name: 'alone', include: ALONE, fileParallelism: false } },
    ],
  },
});
