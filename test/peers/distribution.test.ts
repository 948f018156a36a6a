import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { runConformance, type CaseResult } from '../../conformance/suite.ts';

const hasDistribution = await promisify(execFile)('sh', ['-c', 'command -v docker-registry']).then(
  () => true,
  () => false,
);

// The suite must be able to fail: CNCF distribution 2.8 lacks sha512, the referrers API and
// some of RFC 9110's range rules, and the suite has to say so. CI installs docker-registry.
(hasDistribution || process.env.CI ? describe : describe.skip)('conformance suite against CNCF distribution 2.8', () => {
  let registry: Distribution;
  let results: CaseResult[];
  beforeAll(async () => {
    registry = await startDistribution();
    results = (await runConformance({ url: registry.url })).results;
  });
  afterAll(async () => {
    await registry?.stop();
  });

  const failed = (pattern: RegExp): string[] => results.filter((r) => r.status === 'fail' && pattern.test(r.name)).map((r) => r.name);

  it('passes the basics distribution has always had', () => {
    expect(results.filter((r) => r.status === 'pass').length).toBeGreaterThan(30);
  });
  it('catches the missing sha512 support', () => {
    expect(failed(/sha512/i).length).toBeGreaterThan(0);
  });
  it('catches the missing referrers API', () => {
    expect(failed(/referrers/i).length).toBeGreaterThan(0);
  });
});
