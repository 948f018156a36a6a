/** The arithmetic of S3's limits with their real values: objects of gigabytes and terabytes, no bytes moved. */
import { describe, expect, it } from 'vitest';
import { copyRanges, s3Limits } from '../../../src/storage/s3/limits.ts';
import type { ByteRange } from '../../../src/oci/range.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

/** The ranges tile [0, size) in order, with no gap and no overlap. */
function expectTiling(ranges: ByteRange[], size: number): void {
  expect(ranges[0]?.start).toBe(0);
  expect(ranges.at(-1)?.end).toBe(size - 1);
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end + 1);
}

const longest = (ranges: ByteRange[]): number => Math.max(...ranges.map((r) => r.end - r.start + 1));

describe('copying an object over 5 GiB in ranges (S3 limits: 5 GiB per copy and part, 10,000 parts)', () => {
  it('copies 5 GiB + 1 byte in parts of partSize: 641 of 8 MiB, the last of 1 byte', () => {
    const ranges = copyRanges(5 * GiB + 1, 8 * MiB);
    expect(ranges).toHaveLength(641);
    expect(longest(ranges)).toBe(8 * MiB);
    expect(ranges.at(-1)).toEqual({ start: 5 * GiB, end: 5 * GiB });
    expectTiling(ranges, 5 * GiB + 1);
  });

  it('stays at 10,000 parts exactly at 10,000 × partSize, and grows the parts past it', () => {
    expect(copyRanges(10_000 * 8 * MiB, 8 * MiB)).toHaveLength(10_000);
    const over = copyRanges(10_000 * 8 * MiB + 1, 8 * MiB);
    expect(over.length).toBeLessThanOrEqual(s3Limits.maxParts);
    expect(longest(over)).toBeGreaterThan(8 * MiB);
    expectTiling(over, 10_000 * 8 * MiB + 1);
  });

  it('copies S3’s largest object (5 TiB) in 10,000 parts of at most 5 GiB', () => {
    const ranges = copyRanges(5 * TiB, 8 * MiB);
    expect(ranges).toHaveLength(10_000);
    expect(longest(ranges)).toBeLessThanOrEqual(s3Limits.maxPartSize);
    expectTiling(ranges, 5 * TiB);
  });

  it('refuses what 10,000 parts of 5 GiB cannot hold, before any request', () => {
    expect(() => copyRanges(10_000 * 5 * GiB + 1, 8 * MiB)).toThrow(/10000 parts of at most/);
  });
});
