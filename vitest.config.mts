import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start servers on loopback ports and worker threads; keep files isolated.
    pool: 'forks',
    reporters: ['default'],
  },
});
