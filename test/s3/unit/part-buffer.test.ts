import { describe, expect, it } from 'vitest';
import { PartBuffer } from '../../../src/storage/s3/part-buffer.ts';
import { pattern } from '../../support/streams.ts';

const MiB = 1 << 20;
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** A part of `size` whose first `base` bytes are "stored"; records what was fetched. */
function setup(size: number, base: number) {
  const whole = pattern(size, 7);
  const loads: Array<[number, number]> = [];
  const buffer = new PartBuffer(size);
  buffer.start(base, async (from, into) => {
    loads.push([from, into.byteLength]);
    into.set(whole.subarray(from, from + into.byteLength));
  });
  return { whole, loads, buffer };
}

describe('PartBuffer', () => {
  it('holds a small PATCH loose, fetching only the stored bytes a merge needs', async () => {
    const { whole, loads, buffer } = setup(8 * MiB, 3 * MiB);
    await buffer.write(whole.subarray(3 * MiB, 3 * MiB + 1000));
    expect(loads).toEqual([]);
    expect(buffer.end).toBe(3 * MiB + 1000);
    expect(same(await buffer.from(3 * MiB), whole.subarray(3 * MiB, 3 * MiB + 1000))).toBe(true);
    expect(same(await buffer.from(2 * MiB), whole.subarray(2 * MiB, 3 * MiB + 1000))).toBe(true);
    expect(loads).toEqual([[2 * MiB, MiB]]);
  });

  it('fetches the stored start once a PATCH grows large, and completes the part in place', async () => {
    const { whole, loads, buffer } = setup(8 * MiB, 3 * MiB);
    for (let at = 3 * MiB; at < 8 * MiB; at += 64 * 1024) await buffer.write(whole.subarray(at, at + 64 * 1024));
    expect(buffer.room).toBe(0);
    expect(loads).toEqual([[0, 3 * MiB]]);
    expect(same(await buffer.from(0), whole)).toBe(true);
    await expect(buffer.write(new Uint8Array(1))).rejects.toThrow(RangeError);
  });

  it('starts the next part from nothing and reuses its memory', async () => {
    const { whole, buffer } = setup(MiB, 0);
    await buffer.write(whole);
    expect(same(await buffer.from(0), whole)).toBe(true);
    buffer.start(0);
    await buffer.write(whole.subarray(0, 10));
    expect(same(await buffer.from(0), whole.subarray(0, 10))).toBe(true);
  });
});
