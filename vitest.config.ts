import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Tests that run in this process (no berth server) run once, in `unit`. test/unit/test-projects.test.ts
 * checks that every test file that starts a server is in the per-runtime projects and no other is.
 */
export const inProcessTests = [
  'test/unit/**/*.test.ts',
  'test/cli/**/*.test.ts',
  'test/peers/**/*.test.ts',
  'test/auth/unit/**/*.test.ts',
  'test/s3/driver.test.ts',
  'test/s3/driver-limits.test.ts',
  'test/s3/driver-big.test.ts',
  'test/s3/unit/**/*.test.ts',
  'test/mirror/cache.test.ts',
  'test/mirror/fill.test.ts',
  'test/mirror/retention.test.ts',
  'test/mirror/router.test.ts',
  'test/conformance/accept-all.test.ts',
];

/** Tests that start berth run once per runtime; the project name ([node], [bun], [deno]) prefixes every failure. */
export const serverTests = [
  'test/http/**/*.test.ts',
  'test/clients/**/*.test.ts',
  'test/conformance/**/*.test.ts',
  'test/ops/**/*.test.ts',
  'test/auth/*.test.ts',
  'test/mirror/**/*.test.ts',
  'test/hostile/**/*.test.ts',
  'test/ui/**/*.test.ts',
  'test/retention/**/*.test.ts',
  'test/events/**/*.test.ts',
];

/**
 * Fleets of replicas on one bucket behind a balancer (issue 14): long, so on every run only on Node;
 * on Bun and Deno when asked: `TEST_REPLICAS_RUNTIMES=node,bun,deno npx vitest run test/replicas`.
 */
export const replicaTests = ['test/replicas/**/*.test.ts'];

/**
 * Races under repetition: long, so on every run only on Node (and on S3 through `node+s3`); on Bun
 * and Deno when asked: `TEST_CONCURRENCY_RUNTIMES=node,bun,deno npx vitest run test/concurrency`.
 */
export const concurrencyTests = ['test/concurrency/**/*.test.ts'];

/**
 * Server tests on S3, each against a Ceph RGW of its own: on every run on Node; on Bun and Deno
 * when asked: `TEST_S3_RUNTIMES=node,bun,deno npm test` (also the `+s3` projects below). The driver
 * is the same code under every runtime; what differs by runtime is the HTTP edge, which the
 * local-disk suites cover on all three. Running them on all three doubled the CI run's time.
 */
export const s3ServerTests = ['test/s3/!(driver).test.ts'];

/** The mirror's suites again with the mirror's own storage on S3 (issue 6: local disk and S3), and retention's (issue 17). */
const s3Tests = ['test/mirror/mirror.test.ts', 'test/mirror/eviction.test.ts', 'test/mirror/accept.test.ts', 'test/retention/**/*.test.ts'];

const list = (value: string | undefined, fallback: string): string[] => (value ?? fallback).split(',').filter(Boolean);
const runtimes = list(process.env.TEST_RUNTIMES, 'node,bun,deno');
const concurrencyRuntimes = new Set(list(process.env.TEST_CONCURRENCY_RUNTIMES, 'node'));
const replicaRuntimes = new Set(list(process.env.TEST_REPLICAS_RUNTIMES, 'node'));
const s3Runtimes = new Set(list(process.env.TEST_S3_RUNTIMES, 'node'));
const withConcurrency = (runtime: string, include: string[]): string[] => (concurrencyRuntimes.has(runtime) ? [...include, ...concurrencyTests] : include);
const withReplicas = (runtime: string, include: string[]): string[] => (replicaRuntimes.has(runtime) ? [...include, ...replicaTests] : include);
const withS3 = (runtime: string, include: string[]): string[] => (s3Runtimes.has(runtime) ? [...include, ...s3ServerTests] : include);

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Each server test is its own process; two workers fill the two cores.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: inProcessTests } },
      ...runtimes.map((runtime) => ({
        extends: true as const,
        test: { name: runtime, include: withS3(runtime, withReplicas(runtime, withConcurrency(runtime, serverTests))), exclude: [...configDefaults.exclude, ...inProcessTests], env: { TEST_RUNTIME: runtime } },
      })),
      ...runtimes.filter((runtime) => s3Runtimes.has(runtime)).map((runtime) => ({
        extends: true as const,
        test: { name: `${runtime}+s3`, include: withConcurrency(runtime, s3Tests), env: { TEST_RUNTIME: runtime, TEST_STORAGE: 's3' } },
      })),
    ],
  },
});
