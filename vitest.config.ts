import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Servers under test are separate processes; files run in parallel within the 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
