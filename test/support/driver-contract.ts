import { describe, expect, it } from 'vitest';
import type { Driver } from '../../src/storage/driver.ts';
import { isStorageError, type StorageError, type StorageErrorKind } from '../../src/storage/errors.ts';
import { collect, failingStream, pattern, streamOf } from './streams.ts';

const MiB = 1 << 20;
const text = new TextDecoder();
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A driver made for one case, and what removes what it needed (a mount, a bucket's quota). */
export interface Made {
  driver: Driver;
  release(): Promise<void>;
}

/**
 * What the contract needs of a driver under test. Situations a machine cannot stage (no root for
 * a tmpfs) give undefined and those cases are skipped; where CI must stage them, the maker throws.
 */
export interface ContractSubject {
  /** A driver on storage shared by every call: a second call is another process (a replica). */
  driver(): Driver;
  /** A driver whose storage has about `room` bytes left: a tmpfs, a bucket quota. */
  full(room: number): Promise<Made | undefined>;
  /** A driver whose storage refuses writes: a read-only filesystem, credentials S3 refuses. */
  refusing(): Promise<Made | undefined>;
}

/** Expects a StorageError of this kind and returns it. */
export async function failsWith(p: Promise<unknown>, kind: StorageErrorKind): Promise<StorageError> {
  const e = await p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  expect(isStorageError(e), String(e)).toBe(true);
  expect((e as StorageError).kind, (e as Error).message).toBe(kind);
  return e as StorageError;
}

let keys = 0;
/** A key no other case uses (the storage may be shared across cases and runs). */
const fresh = (label: string): string => `contract/${process.pid}-${++keys}/${label}`;

const asText = async (d: Driver, key: string): Promise<string | undefined> => {
  const b = await d.get(key);
  return b && text.decode(b);
};

/**
 * The same situations on every driver, with the same answers (issue 13): what the registry above
 * may rely on whatever stores its bytes. Each driver's own test file calls this with its subject.
 */
export function driverContract(subject: ContractSubject): void {
  describe('driver contract', () => {
    it('an append at the wrong offset is a conflict that says the real size, and changes nothing', async () => {
      const d = subject.driver();
      const key = fresh('data');
      await d.append(key, 0, streamOf(utf8('hello')));
      for (const offset of [0, 3, 10]) {
        const e = await failsWith(d.append(key, offset, streamOf(utf8('XY'))), 'conflict');
        expect(e.size, `offset ${offset}`).toBe(5);
      }
      expect(await asText(d, key)).toBe('hello');
      // Another process (replica) sees the same.
      expect((await failsWith(subject.driver().append(key, 2, streamOf(utf8('XY'))), 'conflict')).size).toBe(5);
    });

    it('an append past 0 to an object that does not exist is a conflict at size 0', async () => {
      const d = subject.driver();
      const key = fresh('data');
      expect((await failsWith(d.append(key, 4, streamOf(utf8('x'))), 'conflict')).size).toBe(0);
      expect(await d.stat(key)).toBeUndefined();
    });

    it('an append with no offset creates the object, then goes wherever it ends, on this process or another', async () => {
      const d = subject.driver();
      const key = fresh('data');
      expect(await d.append(key, undefined, streamOf(utf8('hello')))).toBe(5);
      expect(await subject.driver().append(key, undefined, streamOf(utf8(', ')))).toBe(7);
      expect(await d.append(key, undefined, streamOf(utf8('world')))).toBe(12);
      expect(await asText(d, key)).toBe('hello, world');
      const sealed = fresh('blob');
      await d.commit(key, sealed, 12);
      // Committed: there is nothing left to append to, wherever it would end.
      expect(await d.stat(key)).toBeUndefined();
    });

    it('a commit that may leave its source still commits; deleting the source is then the caller\'s', async () => {
      const d = subject.driver();
      const key = fresh('data');
      const target = fresh('blob');
      await d.append(key, 0, streamOf(utf8('left or not')));
      await d.commit(key, target, 11, { leaveSource: true });
      expect(await asText(d, target)).toBe('left or not');
      await d.deletePrefix(key);
      await d.delete(key);
      expect(await d.stat(key)).toBeUndefined();
    });

    it("a body that fails leaves the object at its offset, and its error is the body's, not storage's", async () => {
      const d = subject.driver();
      const key = fresh('data');
      await d.append(key, 0, streamOf(utf8('hello')));
      const e = await d.append(key, 5, failingStream(pattern(2 * MiB))).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(isStorageError(e)).toBe(false);
      expect(String(e)).toMatch(/connection reset/);
      expect((await d.stat(key))?.size).toBe(5);
      expect(await d.append(key, 5, streamOf(utf8('!')))).toBe(6);
      expect(await asText(d, key)).toBe('hello!');
    });

    it('a commit whose size is not the object\'s is a conflict: nothing is committed and the object can still grow', async () => {
      const d = subject.driver();
      const key = fresh('data');
      const target = fresh('blob');
      await d.append(key, 0, streamOf(utf8('same bytes')));
      expect((await failsWith(d.commit(key, target, 9), 'conflict')).size).toBe(10);
      expect(await d.stat(target)).toBeUndefined();
      expect(await d.append(key, 10, streamOf(utf8('!')))).toBe(11);
      await d.commit(key, target, 11);
      expect(await asText(d, target)).toBe('same bytes!');
      expect(await d.stat(key)).toBeUndefined();
    });

    it('a commit of an object that is not there is missing', async () => {
      const d = subject.driver();
      const target = fresh('blob');
      await failsWith(d.commit(fresh('gone'), target), 'missing');
      await failsWith(d.commit(fresh('gone'), target, 3), 'missing');
      expect(await d.stat(target)).toBeUndefined();
    });

    it('create writes only where nothing is: of racers through two drivers (two processes) exactly one wins, and its bytes stay', async () => {
      const [a, b] = [subject.driver(), subject.driver()];
      const key = fresh('tags/v1');
      const racers = ['sha256:a', 'sha256:b', 'sha256:c', 'sha256:d'];
      const won = await Promise.all(racers.map((body, i) => (i % 2 === 0 ? a : b).create(key, body)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = racers[won.indexOf(true)];
      expect(await asText(b, key)).toBe(winner);
      expect(await a.create(key, 'sha256:e')).toBe(false);
      expect(await asText(a, key)).toBe(winner);
      // Gone again, the key is free again.
      await a.delete(key);
      expect(await b.create(key, 'sha256:f')).toBe(true);
      expect(await asText(a, key)).toBe('sha256:f');
    });

    it('a prefix is not an object: get, stat and read find nothing; list names what is under it', async () => {
      const d = subject.driver();
      const base = fresh('dir');
      await d.put(`${base}/a`, '1');
      expect(await d.get(base)).toBeUndefined();
      expect(await d.stat(base)).toBeUndefined();
      expect(await d.read(base)).toBeUndefined();
      expect(await d.list(base)).toEqual(['a']);
    });

    it('refuses a key with empty, . or .. segments as invalid, in every operation', async () => {
      const d = subject.driver();
      for (const key of ['', '/a', 'a/', 'a//b', '..', 'a/../b', '.', 'a\\b']) {
        await failsWith(d.get(key), 'invalid');
        await failsWith(d.put(key, 'x'), 'invalid');
        await failsWith(d.stat(key), 'invalid');
        await failsWith(d.read(key), 'invalid');
        await failsWith(d.delete(key), 'invalid');
        await failsWith(d.deletePrefix(key), 'invalid');
        await failsWith(d.list(key), 'invalid');
        await failsWith(d.append(key, 0, streamOf(utf8('x'))), 'invalid');
        await failsWith(d.commit(fresh('data'), key), 'invalid');
        await failsWith(d.commit(key, fresh('blob')), 'invalid');
      }
    });

    it('full storage: a put or an append that does not fit fails as full, leaves nothing behind, and what fits still goes', async (ctx) => {
      const made = await subject.full(MiB);
      if (!made) return ctx.skip('this machine cannot stage full storage');
      const d = made.driver;
      try {
        const key = fresh('data');
        await d.append(key, 0, streamOf(utf8('start')));
        const big = pattern(2 * MiB);
        const put = await failsWith(d.put(fresh('manifest'), big), 'full');
        expect(put.reason).toBeTruthy();
        await failsWith(d.append(key, 5, streamOf(big)), 'full');
        expect((await d.stat(key))?.size).toBe(5);
        // What failed gave its room back: small writes still go.
        const small = pattern(64 << 10);
        const fits = fresh('link');
        await d.put(fits, small);
        expect(Buffer.from((await d.get(fits)) ?? []).equals(Buffer.from(small))).toBe(true);
        expect(await d.append(key, 5, streamOf(utf8('!')))).toBe(6);
        expect(text.decode(await collect(await d.read(key)))).toBe('start!');
      } finally {
        await made.release();
      }
    });

    it('storage that refuses writes: puts and appends fail as denied', async (ctx) => {
      const made = await subject.refusing();
      if (!made) return ctx.skip('this machine cannot stage refusing storage');
      try {
        const d = made.driver;
        await failsWith(d.put(fresh('tag'), 'sha256:0'), 'denied');
        await failsWith(d.append(fresh('data'), 0, streamOf(utf8('x'))), 'denied');
      } finally {
        await made.release();
      }
    });
  });
}
