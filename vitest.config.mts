import { defineConfig } from 'vitest/config';

/**
 * Tests that measure the machine (memory and keeping up at accelerated speed) run on their own,
 * after everything else (`vitest run --project alone`): next to the other files they would measure
 * the other files' load, not the collector.
 */
const ALONE = ['test/soak.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start servers on loopback ports and worker threads; keep files isolated.
    pool: 'forks',
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'main', include: ['test/**/*.test.ts'], exclude: ALONE } },
      { extends: true, test: { name: 'alone', include: ALONE } },
    ],
  },
});
