import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistribution, type Distribution } from '../../bench/distribution.ts';
import { CATEGORIES, runConformance, tally, type CaseLevel, type CaseResult, type Category } from '../../conformance/suite.ts';

const hasDistribution = await promisify(execFile)('sh', ['-c', 'command -v docker-registry']).then(
  () => true,
  () => false,
);

const categoryLabels: Record<Category, string> = { pull: 'pull', push: 'push', discovery: 'content discovery', management: 'content management' };
const levels: CaseLevel[] = ['required', 'optional', 'berth'];

/**
 * README's comparison table as the suite's results make it: berth passes every case (held by
 * test/conformance/berth.test.ts), distribution's passes in total and per level.
 */
function comparisonTable(results: CaseResult[]): string[] {
  const cell = (passed: number, total: number, bold = false): string => {
    if (total === 0) return '—';
    return bold ? `**${passed} / ${total}**` : `${passed} / ${total}`;
  };
  const row = (label: string, keep: (r: CaseResult) => boolean, cases: number, bold = false): string => {
    const all = tally(results, keep);
    const cells = [
      cell(cases, cases, bold),
      cell(all.passed, all.passed + all.failed + all.skipped, bold),
      ...levels.map((level) => {
        const t = tally(results, (r) => keep(r) && r.level === level);
        return cell(t.passed, t.passed + t.failed + t.skipped, bold);
      }),
    ];
    return `| ${bold ? `**${label}**` : label} | ${cells.join(' | ')} |`;
  };
  return [
    ...CATEGORIES.map(({ category, cases }) => row(categoryLabels[category], (r) => r.category === category, cases.length)),
    row('total', () => true, CATEGORIES.reduce((n, c) => n + c.cases.length, 0), true),
  ];
}

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

  const failed = (level: CaseLevel, pattern: RegExp): string[] =>
    results.filter((r) => r.status === 'fail' && r.level === level && pattern.test(r.name)).map((r) => r.name);

  it('passes the basics distribution has always had', () => {
    expect(results.filter((r) => r.status === 'pass').length).toBeGreaterThan(30);
  });
  it('catches the missing sha512 support, as an optional feature', () => {
    expect(failed('optional', /sha512/i).length).toBeGreaterThan(0);
    expect(failed('required', /sha512/i)).toEqual([]);
  });
  it('catches the missing referrers API, as an optional API', () => {
    expect(failed('optional', /referrers/i).length).toBeGreaterThan(0);
    expect(failed('required', /referrers/i)).toEqual([]);
  });
  it('counts as broken requirements only what the spec requires: out-of-order chunks and tag lists', () => {
    expect(results.filter((r) => r.status === 'fail' && r.level === 'required').map((r) => r.name)).toEqual([
      'chunked upload out of order (skipping ahead) → 416; status keeps the offset; upload resumes',
      'chunked upload whose first PATCH does not start at 0 → 416',
      'chunked upload with a PATCH overlapping the previous chunk → 416',
      'tags list → 200 with the repository name and every tag in lexical order (end-8a)',
      'tags list ?n=2 → the first 2 tags (end-8b)',
      'tags list ?n=2&last=<tag> → the 2 tags after <tag>',
      'tags list ?last=<tag> (no n) → every tag after <tag>',
      'tags list ?n=0 → an empty list and no Link header',
      'tags list of a repository without tags → 200 with an empty list',
    ]);
  });
  it('matches the comparison table in the README', async () => {
    const readme = await readFile(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Conformance'), readme.indexOf('## Benchmarks'));
    const rows = section.split('\n').filter((l) => /^\| (\*\*)?(pull|push|content|total)/.test(l));
    expect(rows).toEqual(comparisonTable(results));
  });
});
