import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, statfs, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collectGarbage } from '../../src/maintenance/gc.ts';
import { StoredRegistry } from '../../src/registry/registry.ts';
import type { Driver } from '../../src/storage/driver.ts';
import { FsDriver } from '../../src/storage/fs/driver.ts';
import { driverContract, failsWith } from '../support/driver-contract.ts';
import { mountTmpfs } from '../support/tmpfs.ts';

const MiB = 1 << 20;
const text = new TextDecoder();
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bytes whose value depends on their position, so a misplaced read is visible. */
function pattern(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 12)) & 0xff;
  return out;
}

function streamOf(...parts: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const p of parts) c.enqueue(p);
      c.close();
    },
  });
}

/** Sends `parts`, then fails, like a client that goes away mid-body. */
function failingStream(...parts: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(c) {
      const part = parts[i++];
      if (part) c.enqueue(part);
      else c.error(new Error('connection reset'));
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array> | undefined): Promise<{ bytes: Uint8Array; chunks: number }> {
  if (!stream) throw new Error('no stream: the key is missing');
  const parts: Uint8Array[] = [];
  for await (const p of stream) parts.push(p);
  return { bytes: new Uint8Array(Buffer.concat(parts)), chunks: parts.length };
}

const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

const bytesOf = async (driver: FsDriver, key: string): Promise<string | undefined> => {
  const b = await driver.get(key);
  return b && text.decode(b);
};

/** A tmpfs of `bytes`; without root, none (the cases that need one skip), except in CI, which must run them. */
async function tmpfsOrSkip(bytes: number) {
  const mount = await mountTmpfs(bytes);
  if (!mount && process.env.CI) throw new Error('CI must be able to mount a tmpfs (run as root)');
  return mount;
}

describe('FsDriver', () => {
  let base: string;
  let root: string;
  let driver: FsDriver;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-fs-'));
    root = join(base, 'root');
    driver = new FsDriver(root);
    await driver.init();
  });
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  driverContract({
    driver: () => new FsDriver(root),
    full: async (room) => {
      const mount = await tmpfsOrSkip(room);
      if (!mount) return undefined;
      const d = new FsDriver(join(mount.dir, 'root'));
      await d.init();
      return { driver: d, release: () => mount.unmount() };
    },
    refusing: async () => {
      const mount = await tmpfsOrSkip(1 << 20);
      if (!mount) return undefined;
      const d = new FsDriver(join(mount.dir, 'root'));
      await d.init();
      await mount.remount({ ro: true });
      return { driver: d, release: () => mount.unmount() };
    },
  });

  describe('leftover temporary files', () => {
    const leave = async (name: string, ageMs: number): Promise<void> => {
      const path = join(root, '_tmp', name);
      await writeFile(path, 'half a manifest');
      const at = new Date(Date.now() - ageMs);
      await utimes(path, at, at);
    };

    it('are removed at start once old enough to be no write in flight; younger ones stay', async () => {
      await leave('crashed-long-ago', 3_600_000);
      await leave('in-flight', 1_000);
      await new FsDriver(root).init();
      expect(await readdir(join(root, '_tmp'))).toEqual(['in-flight']);
    });

    it('are removed by gc, which says how many', async () => {
      await leave('a', 120_000);
      await leave('b', 120_000);
      await mkdir(join(root, '_tmp', 'dir-of-a-dead-write'));
      await utimes(join(root, '_tmp', 'dir-of-a-dead-write'), new Date(0), new Date(0));
      const { inventory } = new StoredRegistry(driver);
      const report = await collectGarbage(inventory, { graceMs: 0 });
      expect(report.temporariesDeleted).toBe(3);
      expect(await readdir(join(root, '_tmp'))).toEqual([]);
      expect((await collectGarbage(inventory, { graceMs: 0, dryRun: true })).temporariesDeleted).toBe(0);
    });
  });

  describe('readiness', () => {
    it('passes while free space is above the floor, and fails as full below it', async () => {
      const s = await statfs(root);
      const free = Number(s.bavail) * Number(s.bsize);
      await new FsDriver(root, { minFreeSpace: 1 << 20 }).check();
      const e = await failsWith(new FsDriver(root, { minFreeSpace: free * 2 }).check(), 'full');
      expect(e.reason).toMatch(/free space is below the configured minimum/);
    });

    it('fails as denied on a read-only filesystem', async (ctx) => {
      const mount = await tmpfsOrSkip(1 << 20);
      if (!mount) return ctx.skip('cannot mount a tmpfs here');
      try {
        const d = new FsDriver(join(mount.dir, 'root'));
        await d.init();
        await mount.remount({ ro: true });
        expect((await failsWith(d.check(), 'denied')).reason).toBe('read-only file system');
      } finally {
        await mount.unmount();
      }
    });
  });

  describe('labels', () => {
    it('keeps none: a commit by label is a conflict with the real size, and the object stays to commit by size', async () => {
      // Through the interface: the note is what a caller on any driver hands over; fs ignores it.
      const any: Driver = driver;
      await any.append('up/data', 0, streamOf(new TextEncoder().encode('labelled?')), { note: () => ({ label: 'L', home: 'blob' }) });
      expect(await driver.stat('blob')).toBeUndefined();
      expect((await failsWith(driver.commit('up/data', 'blob', undefined, { label: 'L' }), 'conflict')).size).toBe(9);
      expect(await driver.stat('blob')).toBeUndefined();
      expect(await driver.commit('up/data', 'blob', 9)).toBe(9);
      expect(await bytesOf(driver, 'blob')).toBe('labelled?');
    });
  });

  describe('put, get and stat', () => {
    it('writes and reads back strings and bytes, creating parents', async () => {
      await driver.put('a/b/c', 'hello');
      await driver.put('x', new Uint8Array([0, 1, 2, 255]));
      expect(await bytesOf(driver, 'a/b/c')).toBe('hello');
      expect(same(await driver.get('x'), new Uint8Array([0, 1, 2, 255]))).toBe(true);
      expect(existsSync(join(root, 'a', 'b', 'c'))).toBe(true);
    });

    it('returns undefined for a missing key, a missing parent and a prefix', async () => {
      await driver.put('a/b', 'x');
      expect(await driver.get('nope')).toBeUndefined();
      expect(await driver.get('nope/deeper')).toBeUndefined();
      expect(await driver.get('a/b/c')).toBeUndefined(); // a/b is a file: ENOTDIR
      expect(await driver.stat('nope')).toBeUndefined();
      expect(await driver.stat('a')).toBeUndefined(); // a prefix is not an object
    });

    it('stat gives the size and the modification time', async () => {
      const before = Date.now();
      await driver.put('k', 'twelve bytes');
      const info = await driver.stat('k');
      expect(info?.size).toBe(12);
      expect(info?.modified).toBeInstanceOf(Date);
      expect(info!.modified.getTime()).toBeGreaterThanOrEqual(before - 2000);
    });

    it('replaces atomically: readers see the old or the new object, never a mix, and no temporary file stays', async () => {
      const size = 4 * MiB;
      const old = new Uint8Array(size).fill(0x61);
      const next = new Uint8Array(size).fill(0x62);
      await driver.put('obj', old);
      let writing = true;
      const put = driver.put('obj', next).finally(() => (writing = false));
      const reads: Array<Uint8Array | undefined> = [];
      while (writing) reads.push(await driver.get('obj'));
      await put;
      expect(reads.length).toBeGreaterThan(0);
      for (const got of reads) expect(same(got, old) || same(got, next)).toBe(true);
      expect(same(await driver.get('obj'), next)).toBe(true);
      expect(await readdir(join(root, '_tmp'))).toEqual([]);
    });
  });

  describe('list', () => {
    it('lists objects and sub-prefixes directly under a prefix, sorted', async () => {
      for (const k of ['p/c', 'p/a', 'p/B', 'p/b/deep', 'p/_x', 'q/other']) await driver.put(k, '1');
      expect(await driver.list('p')).toEqual(['B', '_x', 'a', 'b', 'c']);
      expect(await driver.list('p/b')).toEqual(['deep']);
    });

    it('returns [] for a missing prefix and for an object', async () => {
      await driver.put('file', '1');
      expect(await driver.list('missing')).toEqual([]);
      expect(await driver.list('missing/deeper')).toEqual([]);
      expect(await driver.list('file')).toEqual([]);
    });
  });

  describe('read', () => {
    it('streams a whole object, a range, a single byte and the last byte', async () => {
      await driver.put('k', '0123456789');
      const read = async (range?: { start: number; end: number }) => text.decode((await collect(await driver.read('k', range))).bytes);
      expect(await read()).toBe('0123456789');
      expect(await read({ start: 2, end: 5 })).toBe('2345');
      expect(await read({ start: 0, end: 0 })).toBe('0');
      expect(await read({ start: 9, end: 9 })).toBe('9');
    });

    it('returns undefined for a missing key', async () => {
      expect(await driver.read('missing')).toBeUndefined();
      expect(await driver.read('missing', { start: 0, end: 1 })).toBeUndefined();
    });

    it('streams an empty object as no bytes', async () => {
      await driver.put('empty', '');
      expect((await collect(await driver.read('empty'))).bytes.byteLength).toBe(0);
    });

    it('streams a 3 MiB object in several reads, and ranges that cross read boundaries', async () => {
      const data = pattern(3 * MiB + 123);
      await driver.put('big', data);
      const whole = await collect(await driver.read('big'));
      expect(whole.chunks).toBeGreaterThanOrEqual(3);
      expect(same(whole.bytes, data)).toBe(true);
      for (const [start, end] of [
        [MiB - 10, 2 * MiB + 10],
        [1, 3 * MiB + 122],
        [3 * MiB, 3 * MiB + 122],
      ] as const) {
        const part = await collect(await driver.read('big', { start, end }));
        expect(same(part.bytes, data.subarray(start, end + 1)), `range ${start}-${end}`).toBe(true);
      }
    });
  });

  describe('delete and deletePrefix', () => {
    it('delete removes an object and is idempotent', async () => {
      await driver.put('a/b', '1');
      await driver.delete('a/b');
      expect(await driver.get('a/b')).toBeUndefined();
      await expect(driver.delete('a/b')).resolves.toBeUndefined();
      await expect(driver.delete('never/was')).resolves.toBeUndefined();
    });

    it('deletePrefix removes everything under the prefix and nothing beside it', async () => {
      for (const k of ['a/b/c', 'a/b/d/e', 'a/bc', 'a/x']) await driver.put(k, '1');
      await driver.deletePrefix('a/b');
      expect(await driver.get('a/b/c')).toBeUndefined();
      expect(await driver.get('a/b/d/e')).toBeUndefined();
      expect(await driver.list('a')).toEqual(['bc', 'x']);
      await expect(driver.deletePrefix('a/b')).resolves.toBeUndefined();
    });
  });

  describe('append', () => {
    it('grows an object chunk by chunk and returns the new size', async () => {
      expect(await driver.append('up/data', 0, streamOf(utf8('hello')))).toBe(5);
      expect(await driver.append('up/data', 5, streamOf(utf8(' '), utf8('wor')))).toBe(9);
      expect(await driver.append('up/data', 9, streamOf())).toBe(9);
      expect(await driver.append('up/data', 9, streamOf(utf8('ld')))).toBe(11);
      expect(await bytesOf(driver, 'up/data')).toBe('hello world');
    });

    it('writes a large stream of small chunks in order', async () => {
      const data = pattern(2 * MiB + 7);
      const parts = Array.from({ length: Math.ceil(data.byteLength / 1000) }, (_, i) => data.subarray(i * 1000, (i + 1) * 1000));
      await driver.append('up/data', 0, streamOf(utf8('x')));
      expect(await driver.append('up/data', 1, streamOf(...parts))).toBe(data.byteLength + 1);
      const stored = await driver.get('up/data');
      expect(same(stored?.subarray(1), data)).toBe(true);
    });

    it('stores every chunk of a body that hands out one reused buffer', async () => {
      // Deno's request bodies (src/http/batched-body.ts) refill one buffer between chunks.
      const sizes = [1000, MiB, MiB, 5, MiB + 6];
      const data = pattern(sizes.reduce((a, b) => a + b));
      async function* reused(): AsyncGenerator<Uint8Array> {
        const buffer = new Uint8Array(2 * MiB);
        let at = 0;
        for (const size of sizes) {
          buffer.set(data.subarray(at, at + size));
          at += size;
          yield buffer.subarray(0, size);
          buffer.fill(0xee);
        }
      }
      expect(await driver.append('up/data', 0, reused())).toBe(data.byteLength);
      expect(same(await driver.get('up/data'), data)).toBe(true);
    });

    it.each([
      ['a few bytes', [utf8('partial')]],
      ['more than a write batch', [pattern(MiB), pattern(MiB + 5)]],
    ])('leaves the object at its offset when the stream fails after %s', async (_, parts) => {
      await driver.append('up/data', 0, streamOf(utf8('hello')));
      await expect(driver.append('up/data', 5, failingStream(...parts))).rejects.toThrow('connection reset');
      expect((await driver.stat('up/data'))?.size).toBe(5);
      expect(await bytesOf(driver, 'up/data')).toBe('hello');
      expect(await driver.append('up/data', 5, streamOf(utf8('!')))).toBe(6);
      expect(await bytesOf(driver, 'up/data')).toBe('hello!');
    });

    it('leaves a new object empty when its first stream fails', async () => {
      await expect(driver.append('up/data', 0, failingStream(utf8('abc')))).rejects.toThrow('connection reset');
      expect((await driver.stat('up/data'))?.size ?? 0).toBe(0);
    });

    it.each([
      ['before the end', 3],
      ['beyond the end', 10],
      ['at 0 on a non-empty object', 0],
    ])('rejects an offset %s and leaves the object as it was', async (_, offset) => {
      await driver.append('up/data', 0, streamOf(utf8('hello')));
      await expect(driver.append('up/data', offset, streamOf(utf8('XY')))).rejects.toThrow();
      expect(await bytesOf(driver, 'up/data')).toBe('hello');
    });

    it('rejects a non-zero offset on a missing object', async () => {
      await expect(driver.append('up/none', 4, streamOf(utf8('x')))).rejects.toThrow();
      expect(await driver.stat('up/none')).toBeUndefined();
    });
  });

  describe('commit', () => {
    it('moves an appended object into place', async () => {
      await driver.append('_uploads/1/data', 0, streamOf(utf8('blob')));
      await driver.commit('_uploads/1/data', 'blobs/sha256/ab/abcd');
      expect(await bytesOf(driver, 'blobs/sha256/ab/abcd')).toBe('blob');
      expect(await driver.stat('_uploads/1/data')).toBeUndefined();
    });

    it('keeps one object when the target already exists, and drops the source', async () => {
      await driver.put('blobs/x', 'same');
      await driver.append('_uploads/2/data', 0, streamOf(utf8('same')));
      await driver.commit('_uploads/2/data', 'blobs/x');
      expect(await bytesOf(driver, 'blobs/x')).toBe('same');
      expect(await driver.stat('_uploads/2/data')).toBeUndefined();
    });

    it('rejects a missing source', async () => {
      await expect(driver.commit('_uploads/none/data', 'blobs/y')).rejects.toThrow();
      expect(await driver.stat('blobs/y')).toBeUndefined();
    });
  });

  describe('keys', () => {
    const badKeys = ['', '/a', '/etc/passwd', 'a/', 'a//b', '..', '../escape', 'a/../b', 'a/../../escape', '.', 'a/./b', 'a\\b', '..\\escape', 'a\0b'];

    it.each(badKeys)('refuses %j in every operation', async (key) => {
      const ops: Array<[string, () => Promise<unknown>]> = [
        ['get', () => driver.get(key)],
        ['put', () => driver.put(key, 'x')],
        ['stat', () => driver.stat(key)],
        ['read', () => driver.read(key)],
        ['delete', () => driver.delete(key)],
        ['deletePrefix', () => driver.deletePrefix(key)],
        ['list', () => driver.list(key)],
        ['append', () => driver.append(key, 0, streamOf(utf8('x')))],
        ['commit from', () => driver.commit(key, 'ok')],
        ['commit to', () => driver.commit('ok', key)],
      ];
      await driver.put('ok', 'x');
      for (const [name, op] of ops) await expect(op(), name).rejects.toThrow(/invalid storage key/);
      expect(await readdir(base)).toEqual(['root']);
      expect(await bytesOf(driver, 'ok')).toBe('x');
    });
  });
});
