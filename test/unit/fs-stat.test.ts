import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsDriver } from '../../src/storage/fs/driver.ts';
import { StatCalls } from '../../src/storage/fs/stat.ts';

/** A clock that moves `step` ms each time it is read: every synchronous stat then "takes" `step` ms. */
function steppingClock(step: number): { now: () => number; step: number; t: number } {
  const clock = {
    t: 0,
    step,
    now: () => {
      clock.t += clock.step;
      return clock.t;
    },
  };
  return clock;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-stat-'));
  await writeFile(join(dir, 'file'), 'four');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('fs stat calls', () => {
  it('answers as stat(2) does, synchronous or not', async () => {
    for (const step of [0, 5]) {
      const calls = new StatCalls(steppingClock(step).now);
      // Enough slow calls to have moved to the thread pool (step 5), none with step 0.
      for (let i = 0; i < 10; i++) await calls.stat(join(dir, 'file'));
      expect(calls.synchronous).toBe(step === 0);
      expect((await calls.stat(join(dir, 'file')))?.size).toBe(4);
      expect(await calls.stat(join(dir, 'missing'))).toBeUndefined();
      // A file where a directory should be is nothing there, as a missing one.
      expect(await calls.stat(join(dir, 'file', 'below'))).toBeUndefined();
      expect((await calls.stat(dir))?.isDirectory()).toBe(true);
      // Other failures are the caller's to report.
      const [a, b] = [join(dir, `a${step}`), join(dir, `b${step}`)];
      await symlink(b, a);
      await symlink(a, b);
      await expect(calls.stat(a)).rejects.toMatchObject({ code: 'ELOOP' });
    }
  });

  it('stays on the loop while stats are fast, and through an odd slow one', async () => {
    const clock = steppingClock(0.001);
    const calls = new StatCalls(clock.now);
    for (let i = 0; i < 200; i++) {
      // Seven slow calls in every 64 (a descheduled process, the first stats at start): not enough.
      clock.step = i % 64 < 7 ? 5 : 0.001;
      await calls.stat(join(dir, 'file'));
      expect(calls.synchronous).toBe(true);
    }
  });

  it('moves to the thread pool when the filesystem is slow, and tries the loop again later', async () => {
    const clock = steppingClock(2);
    const calls = new StatCalls(clock.now);
    for (let i = 0; i < 7; i++) await calls.stat(join(dir, 'file'));
    expect(calls.synchronous).toBe(true);
    await calls.stat(join(dir, 'file'));
    expect(calls.synchronous).toBe(false);
    clock.t += 29_000;
    expect(calls.synchronous).toBe(false);
    clock.t += 1_000;
    expect(calls.synchronous).toBe(true);
    // A fresh count: one slow call does not send it back.
    await calls.stat(join(dir, 'file'));
    expect(calls.synchronous).toBe(true);
  });
});

describe('fs driver stat', () => {
  it('sees at once what another process changed: nothing is remembered between calls', async () => {
    const driver = new FsDriver(dir);
    await mkdir(join(dir, 'blobs'));
    const key = 'blobs/b';
    expect(await driver.stat(key)).toBeUndefined();
    await writeFile(join(dir, key), 'abc');
    expect((await driver.stat(key))?.size).toBe(3);
    await writeFile(join(dir, key), 'abcdef');
    expect((await driver.stat(key))?.size).toBe(6);
    // What gc does to a blob's bytes, from another process.
    await rm(join(dir, key));
    expect(await driver.stat(key)).toBeUndefined();
    // A directory under the key is not an object.
    await mkdir(join(dir, key));
    expect(await driver.stat(key)).toBeUndefined();
  });
});
