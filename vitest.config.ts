import { defineConfig } from 'vitest/config';

/** Tests that start berth run once per runtime; the project name ([node], [bun], [deno]) prefixes every failure. */
const serverTests = ['test/http/**/*.test.ts', 'test/clients/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/ops/**/*.test.ts', 'test/auth/*.test.ts', 'test/s3/!(driver).test.ts', 'test/mirror/**/*.test.ts', 'test/hostile/**/*.test.ts', 'test/ui/**/*.test.ts'];
const runtimes = (process.env.TEST_RUNTIMES ?? 'node,bun,deno').split(',').filter(Boolean);

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Each server test is its own process; two workers fill the two cores.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/peers/**/*.test.ts', 'test/auth/unit/**/*.test.ts', 'test/s3/driver.test.ts', 'test/s3/unit/**/*.test.ts'] } },
      ...runtimes.map((runtime) => ({
        extends: true as const,
        test: { name: runtime, include: serverTests, env: { TEST_RUNTIME: runtime } },
      })),
      // The mirror's suites again with the mirror's own storage on S3 (issue 6: local disk and S3).
      ...runtimes.map((runtime) => ({
        extends: true as const,
        test: { name: `${runtime}+s3`, include: ['test/mirror/mirror.test.ts', 'test/mirror/eviction.test.ts', 'test/mirror/accept.test.ts'], env: { TEST_RUNTIME: runtime, TEST_STORAGE: 's3' } },
      })),
    ],
  },
});
