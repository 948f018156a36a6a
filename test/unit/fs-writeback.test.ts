import { mkdtemp, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Writeback } from '../../src/storage/fs/writeback.ts';

/** A real file handle whose flushes are counted, and fail from the `failFrom`-th on. */
function counting(handle: FileHandle, failFrom = Infinity): { handle: FileHandle; flushes: () => number } {
  let flushes = 0;
  const wrapped = Object.create(handle) as FileHandle;
  wrapped.datasync = async () => {
    flushes++;
    if (flushes >= failFrom) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    return handle.datasync();
  };
  return { handle: wrapped, flushes: () => flushes };
}

describe('fs upload writeback', () => {
  let dir: string;
  let file: FileHandle;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-writeback-'));
    file = await open(join(dir, 'data'), 'w');
  });
  afterEach(async () => {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('flushes once per `every` bytes written, one flush at a time, and says what is left unflushed', async () => {
    const { handle, flushes } = counting(file);
    const wb = new Writeback(handle, 100);
    wb.wrote(60);
    expect(flushes()).toBe(0);
    wb.wrote(60); // 120 since the start: a flush starts
    expect(flushes()).toBe(1);
    wb.wrote(150); // a flush is under way: none more, the bytes count toward the next
    expect(flushes()).toBe(1);
    await wb.settle();
    expect(wb.unflushed).toBe(150);
    wb.wrote(1);
    expect(flushes()).toBe(2);
    await wb.settle();
    expect(wb.unflushed).toBe(0);
  });

  it('carries what earlier appends left unflushed', async () => {
    const { handle, flushes } = counting(file);
    const wb = new Writeback(handle, 100, 90);
    wb.wrote(10);
    expect(flushes()).toBe(1);
    await wb.settle();
  });

  it('never drops a failed background flush: the next write and the settle throw it', async () => {
    const { handle } = counting(file, 1);
    const wb = new Writeback(handle, 10);
    wb.wrote(10);
    await expect(wb.settle()).rejects.toMatchObject({ code: 'EIO' });
    expect(() => wb.wrote(1)).toThrow(/EIO/);
    expect(() => wb.start()).toThrow(/EIO/);
  });
});
