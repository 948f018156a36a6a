import { describe, expect, it } from 'vitest';
import { selectTags } from '../../src/mirror/prefetch.ts';
import { parseRange, parseVersion } from '../../src/mirror/versions.ts';

const tags = ['1', '1.2', '1.2.3', 'v1.3.0', '1.10.0', '2.0.0', '2.1.0-alpine', '3.0', 'latest', 'edge'];

describe('prefetch tag filters', () => {
  it('reads plain version tags, missing parts as 0, and nothing else', () => {
    expect(parseVersion('1')).toEqual([1, 0, 0]);
    expect(parseVersion('v1.3')).toEqual([1, 3, 0]);
    expect(parseVersion('1.2.3')).toEqual([1, 2, 3]);
    for (const t of ['2.1.0-alpine', 'latest', '1.2.3.4', '']) expect(parseVersion(t)).toBeUndefined();
  });

  it('takes npm range syntax: comparators, caret, tilde, x-ranges, spaces and ||', () => {
    const pick = (range: string): string[] => selectTags({ semver: range }, tags);
    expect(pick('>=1.2 <2')).toEqual(['1.10.0', '1.2', '1.2.3', 'v1.3.0']);
    expect(pick('>1.2')).toEqual(['1.10.0', '2.0.0', '3.0', 'v1.3.0']);
    expect(pick('<=1.2')).toEqual(['1', '1.2', '1.2.3']);
    expect(pick('^1.2')).toEqual(['1.10.0', '1.2', '1.2.3', 'v1.3.0']);
    expect(pick('~1.2')).toEqual(['1.2', '1.2.3']);
    expect(pick('1.x')).toEqual(['1', '1.10.0', '1.2', '1.2.3', 'v1.3.0']);
    expect(pick('1.2.3 || 3')).toEqual(['1.2.3', '3.0']);
    expect(pick('^0.2.1')).toEqual([]);
    for (const bad of ['', 'latest', '>=1.2 <', '1.2.3.4', '||']) expect(parseRange(bad), bad).toBeUndefined();
  });

  it('matches tag patterns whole, and keeps the newest N versions, highest first', () => {
    expect(selectTags({ tags: ['1\\.2.*', 'latest'] }, tags)).toEqual(['1.2', '1.2.3', 'latest']);
    expect(selectTags({ tags: ['atest'] }, tags)).toEqual([]);
    expect(selectTags({ newest: 3 }, tags)).toEqual(['3.0', '2.0.0', '1.10.0']);
    expect(selectTags({ semver: '<2', newest: 2 }, tags)).toEqual(['1.10.0', 'v1.3.0']);
    // Tags that are not versions never count as newest.
    expect(selectTags({ tags: ['latest', 'edge'], newest: 5 }, tags)).toEqual([]);
  });
});
