import { describe, expect, it } from 'vitest';
import { tagMatcher } from '../../src/config/patterns.ts';
import { compareVersions, parseRange, parseVersion } from '../../src/config/semver.ts';

const satisfies = (version: string, range: string): boolean => {
  const r = parseRange(range);
  if (!r) throw new Error(`not a range: ${range}`);
  const v = parseVersion(version);
  return v !== undefined && r(v);
};

describe('semver versions', () => {
  it('reads whole versions, with or without v, with a pre-release; nothing else', () => {
    expect(parseVersion('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [] });
    expect(parseVersion('v10.0.1-rc.1')).toEqual({ major: 10, minor: 0, patch: 1, prerelease: ['rc', 1] });
    for (const t of ['1.2', 'latest', '1.2.3.4', '01.2.3', '1.2.3-', 'v', '1.2.3-01', 'sha256-abc.sig']) expect(parseVersion(t), t).toBeUndefined();
  });

  it('orders by precedence, pre-releases below their release', () => {
    const sorted = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.1.0', '2.0.0'];
    const parsed = sorted.map((s) => parseVersion(s)!);
    const shuffled = [...parsed].reverse().sort(compareVersions);
    expect(shuffled).toEqual(parsed);
  });
});

describe('semver ranges (npm syntax)', () => {
  it.each([
    ['1.2.3', '>=1.2.3 <2', true],
    ['2.0.0', '>=1.2.3 <2', false],
    ['1.9.9', '^1.2', true],
    ['1.1.0', '^1.2', false],
    ['0.2.9', '^0.2.3', true],
    ['0.3.0', '^0.2.3', false],
    ['0.0.4', '^0.0.3', false],
    ['1.2.9', '~1.2.3', true],
    ['1.3.0', '~1.2.3', false],
    ['1.9.0', '~1', true],
    ['3.4.5', '1.x || >=3', true],
    ['2.4.5', '1.x || >=3', false],
    ['1.2.0', '1.2.*', true],
    ['1.3.0', '1.2.*', false],
    ['1.5.0', '1.2 - 2.3.4', true],
    ['2.3.5', '1.2 - 2.3.4', false],
    ['2.3.9', '1.2 - 2.3', true],
    ['2.4.0', '1.2 - 2.3', false],
    ['9.9.9', '*', true],
    ['1.2.3', '1.2.3', true],
    ['1.2.4', '=1.2.3', false],
    ['1.2.0', '>1.1', true],
    ['1.1.9', '>1.1', false],
    ['1.1.9', '<=1.1', true],
    ['1.2.0', '<=1.1', false],
    ['0.9.0', '< 1', true],
    ['v2.0.0', '>= 2.0.0', true],
  ])('%s in %s: %s', (version, range, expected) => {
    expect(satisfies(version, range)).toBe(expected);
  });

  it('admits a pre-release only where a comparator names one of the same version', () => {
    expect(satisfies('1.3.0-rc.1', '^1.2')).toBe(false);
    expect(satisfies('1.3.0-rc.2', '>=1.3.0-rc.1 <2')).toBe(true);
    expect(satisfies('1.4.0-rc.2', '>=1.3.0-rc.1 <2')).toBe(false);
    expect(satisfies('2.0.0-rc.1', '^1.2')).toBe(false);
  });

  it('refuses what is not a range', () => {
    for (const r of ['>=a', '1.2.3.4', '1.x.3', '>> 1', '1 - 2 - 3', 'latest']) expect(parseRange(r), r).toBeUndefined();
  });
});

describe('tag selectors', () => {
  it('anchors patterns at both ends and combines them with a range', () => {
    const v = tagMatcher({ patterns: ['v\\d+\\..*'] });
    expect(v('v1.2')).toBe(true);
    expect(v('dev-v1.2')).toBe(false);
    const both = tagMatcher({ patterns: ['v.*'], semver: '>=1' });
    expect(both('v1.0.0')).toBe(true);
    expect(both('1.0.0')).toBe(false);
    expect(both('v0.9.0')).toBe(false);
    expect(both('vlatest')).toBe(false);
    expect(tagMatcher({})('anything')).toBe(true);
  });
});
