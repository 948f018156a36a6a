import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/schema.ts';
import { isOciError } from '../../src/oci/errors.ts';
import { encodeState, pointerMetadata } from '../../src/storage/s3/append-state.ts';
import { Appendables } from '../../src/storage/s3/appendable.ts';
import { Bucket } from '../../src/storage/s3/bucket.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { driverContract, failsWith } from '../support/driver-contract.ts';
import { freePort } from '../support/net.ts';
import { createBucket, s3Available, s3Storage, setBucketQuota, startS3, type S3Server } from '../support/s3.ts';
import { collect, concat, failingStream, pattern, streamOf } from '../support/streams.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const MiB = 1 << 20;
const KiB = 1 << 10;
const partSize = 5 * MiB;
const text = new TextDecoder();
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(Buffer.from(b));

let s3: S3Server;
let bucket: string;
let uploads = 0;

function driver(extra: Record<string, unknown> = {}, server: Partial<S3Server> = {}, on = bucket): S3Driver {
  const options = parseConfig({ storage: { s3: s3Storage({ ...s3, ...server }, on, { prefix: 'reg', partSize, maxAttempts: 2, ...extra }) } })
    .storage.s3;
  if (!options) throw new Error('no s3 options');
  return new S3Driver(options);
}

/** A fresh upload data key. */
const uploadKey = (): string => `_uploads/u${++uploads}/data`;

/** The S3 object behind a driver key (prefix `reg`), read raw. */
async function raw(key: string): Promise<Buffer | undefined> {
  try {
    const r = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `reg/${key}` }));
    return Buffer.from(await r.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

/** Appends `sizes` one call each (each a stream of 64 KiB pieces); checks size after every one. */
async function appendAll(d: S3Driver, key: string, sizes: number[], data: Uint8Array): Promise<void> {
  let offset = (await d.stat(key))?.size ?? 0;
  for (const n of sizes) {
    const next = await d.append(key, offset, streamOf(data.subarray(offset, offset + n)));
    expect(next).toBe(offset + n);
    offset = next;
    expect((await d.stat(key))?.size).toBe(offset);
  }
}

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

describeS3('S3Driver on Ceph RGW', () => {
  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'driver');
  }, 240_000);
  afterAll(async () => {
    await s3?.stop();
  });

  driverContract({
    driver: () => driver(),
    full: async (room) => {
      const limited = await createBucket(s3, 'full');
      await setBucketQuota(s3, limited, room);
      return { driver: driver({}, {}, limited), release: async () => undefined };
    },
    refusing: async () => ({ driver: driver({ secretAccessKey: 'wrong-secret-key-wrong-secret-key-000000' }), release: async () => undefined }),
  });

  describe('whole objects', () => {
    it('puts, gets and stats strings and bytes; a missing key or a prefix is undefined', async () => {
      const d = driver();
      await d.put('a/b/c', 'hello');
      await d.put('x', new Uint8Array([0, 1, 2, 255]));
      expect(text.decode(await d.get('a/b/c'))).toBe('hello');
      expect(same(await d.get('x'), new Uint8Array([0, 1, 2, 255]))).toBe(true);
      expect(await d.get('nope')).toBeUndefined();
      expect(await d.stat('nope')).toBeUndefined();
      expect(await d.stat('a/b')).toBeUndefined();
      const info = await d.stat('a/b/c');
      expect(info?.size).toBe(5);
      expect(Math.abs(info!.modified.getTime() - Date.now())).toBeLessThan(60_000);
      await d.put('a/b/c', 'replaced');
      expect(text.decode(await d.get('a/b/c'))).toBe('replaced');
    });

    it('keeps keys under its prefix: another prefix in the same bucket sees nothing of them', async () => {
      await driver().put('isolated/k', '1');
      const other = driver({ prefix: 'elsewhere' });
      expect(await other.get('isolated/k')).toBeUndefined();
      expect(await other.list('isolated')).toEqual([]);
      expect(text.decode(await raw('isolated/k'))).toBe('1');
    });

    it('reads a whole object, ranges, one byte, the last byte, and an empty object', async () => {
      const d = driver();
      const data = pattern(3 * MiB + 123);
      await d.put('ranged', data);
      expect(same(await collect(await d.read('ranged')), data)).toBe(true);
      for (const [start, end] of [
        [0, 0],
        [MiB - 10, 2 * MiB + 10],
        [3 * MiB + 122, 3 * MiB + 122],
        [1, 3 * MiB + 122],
      ] as const) {
        expect(same(await collect(await d.read('ranged', { start, end })), data.subarray(start, end + 1)), `${start}-${end}`).toBe(true);
      }
      await d.put('empty', '');
      expect((await collect(await d.read('empty'))).byteLength).toBe(0);
      expect(await d.read('missing')).toBeUndefined();
      expect(await d.read('missing', { start: 0, end: 1 })).toBeUndefined();
    });

    it('lists one level, sorted, across pages of 1000', async () => {
      const d = driver();
      for (const k of ['p/c', 'p/a', 'p/B', 'p/b/deep', 'p/_x', 'q/other']) await d.put(k, '1');
      expect(await d.list('p')).toEqual(['B', '_x', 'a', 'b', 'c']);
      expect(await d.list('p/b')).toEqual(['deep']);
      expect(await d.list('missing')).toEqual([]);
      expect(await d.list('p/c')).toEqual([]);
      const names = Array.from({ length: 1005 }, (_, i) => `t${String(i).padStart(4, '0')}`);
      for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => d.put(`many/${n}`, n)));
      expect(await d.list('many')).toEqual(names);
      await d.deletePrefix('many');
      expect(await d.list('many')).toEqual([]);
    });

    it('deletes one object idempotently, and a prefix without touching its neighbours', async () => {
      const d = driver();
      for (const k of ['del/b/c', 'del/b/d/e', 'del/bc', 'del/x']) await d.put(k, '1');
      await d.delete('del/x');
      await d.delete('del/x');
      await d.delete('never/was');
      expect(await d.get('del/x')).toBeUndefined();
      await d.deletePrefix('del/b');
      await d.deletePrefix('del/b');
      expect(await d.list('del')).toEqual(['bc']);
    });

    it('refuses keys with empty, . or .. segments in every operation', async () => {
      const d = driver();
      for (const key of ['', '/a', 'a/', 'a//b', '..', 'a/../b', '.', 'a\\b']) {
        await expect(d.get(key), key).rejects.toThrow(/invalid storage key/);
        await expect(d.put(key, 'x'), key).rejects.toThrow(/invalid storage key/);
        await expect(d.append(key, 0, streamOf(utf8('x'))), key).rejects.toThrow(/invalid storage key/);
        await expect(d.deletePrefix(key), key).rejects.toThrow(/invalid storage key/);
        await expect(d.commit('ok', key), key).rejects.toThrow();
      }
    });
  });

  describe('appendable objects', () => {
    const sequences: Array<[string, number[]]> = [
      ['1 KiB PATCHes', Array.from({ length: 40 }, () => KiB)],
      ['1 KiB PATCHes across a part boundary', [partSize - 3 * KiB, ...Array.from({ length: 6 }, () => KiB)]],
      ['4 MiB PATCHes', [4 * MiB, 4 * MiB, 4 * MiB]],
      ['5 MiB PATCHes (exactly the part size)', [5 * MiB, 5 * MiB, 5 * MiB]],
      ['6 MiB PATCHes', [6 * MiB, 6 * MiB]],
      ['odd sizes', [1, 3 * MiB + 7, 2 * MiB - 5, 7 * MiB + 1, 13, 5 * MiB, 999_999]],
      ['one 17 MiB PATCH', [17 * MiB]],
    ];

    it.each(sequences)('%s grow, read back before commit, and commit to bytes that hash right', async (_, sizes) => {
      const d = driver();
      const key = uploadKey();
      const total = sizes.reduce((a, b) => a + b, 0);
      const data = randomBytes(total);
      await d.append(key, 0, streamOf(new Uint8Array(0)));
      expect((await d.stat(key))?.size).toBe(0);
      await appendAll(d, key, sizes, data);
      expect(sha256(await collect(await d.read(key)))).toBe(sha256(data));
      const middle = { start: Math.floor(total / 3), end: Math.floor((2 * total) / 3) };
      expect(same(await collect(await d.read(key, middle)), data.subarray(middle.start, middle.end + 1))).toBe(true);

      // Every full part is stored at exactly the part size: the equal parts R2 needs.
      const parts = await d.list(`${key}/p`);
      expect(parts.length).toBe(Math.floor(total / partSize));
      for (const p of parts) expect((await d.stat(`${key}/p/${p}`))?.size).toBe(partSize);

      const target = `blobs/sha256/${sha256(data).slice(0, 2)}/${sha256(data)}`;
      await d.commit(key, target, total);
      const committed = await collect(await d.read(target));
      expect(committed.byteLength).toBe(total);
      expect(sha256(committed)).toBe(sha256(data));
      expect((await d.stat(target))?.size).toBe(total);
      expect(await d.stat(key)).toBeUndefined();
      expect(await d.list(key.slice(0, key.lastIndexOf('/')))).toEqual([]);
    });

    it('keeps the tail in few pieces however small the PATCHes', async () => {
      const d = driver();
      const key = uploadKey();
      const data = randomBytes(120 * KiB);
      await appendAll(d, key, Array.from({ length: 120 }, () => KiB), data);
      // Sizes at least halve along the tail: about log2(120) pieces, not 120.
      expect((await d.list(`${key}/t`)).length).toBeLessThanOrEqual(8);
      expect(same(await d.get(key), data)).toBe(true);
    });

    it('leaves the object at its offset when the stream fails, even after whole parts went up', async () => {
      const d = driver();
      const key = uploadKey();
      expect(await d.append(key, 0, streamOf(utf8('hello')))).toBe(5);
      await expect(d.append(key, 5, failingStream(pattern(12 * MiB)))).rejects.toThrow('connection reset');
      expect((await d.stat(key))?.size).toBe(5);
      expect(text.decode(await d.get(key))).toBe('hello');
      // The failed append's parts were removed; nothing but the tail stays.
      expect(await d.list(`${key}/p`)).toEqual([]);
      expect(await d.append(key, 5, streamOf(utf8('!')))).toBe(6);
      expect(text.decode(await d.get(key))).toBe('hello!');
    });

    it('leaves a new object empty when its first stream fails', async () => {
      const d = driver();
      const key = uploadKey();
      await expect(d.append(key, 0, failingStream(utf8('abc')))).rejects.toThrow('connection reset');
      expect((await d.stat(key))?.size ?? 0).toBe(0);
    });

    it('lets a second driver (another replica) continue an append the first one started', async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      const data = randomBytes(3 * MiB + 4 * MiB + KiB + 6 * MiB);
      await a.append(key, 0, streamOf(data.subarray(0, 3 * MiB)));
      // b must fetch a's tail to complete the first part.
      expect(await b.append(key, 3 * MiB, streamOf(data.subarray(3 * MiB, 7 * MiB)))).toBe(7 * MiB);
      expect(await a.append(key, 7 * MiB, streamOf(data.subarray(7 * MiB, 7 * MiB + KiB)))).toBe(7 * MiB + KiB);
      expect(await b.append(key, 7 * MiB + KiB, streamOf(data.subarray(7 * MiB + KiB)))).toBe(data.byteLength);
      expect((await a.stat(key))?.size).toBe(data.byteLength);
      await a.commit(key, 'blobs/continued', data.byteLength);
      expect(sha256(await collect(await b.read('blobs/continued')))).toBe(sha256(data));
    });

    it('lets exactly one of two replicas racing at one offset win; the loser gets a conflict with the real size', async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      await a.append(key, 0, streamOf(utf8('base:')));
      const mine = pattern(6 * MiB, 1);
      const theirs = pattern(6 * MiB, 2);
      const results = await Promise.allSettled([a.append(key, 5, streamOf(mine)), b.append(key, 5, streamOf(theirs))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected');
      expect((lost as PromiseRejectedResult).reason).toMatchObject({ kind: 'conflict', size: 5 + 6 * MiB });
      const winner = results[0]?.status === 'fulfilled' ? mine : theirs;
      expect(same(await a.get(key), concat(utf8('base:'), winner))).toBe(true);
    });

    it('rolls forward past a pointer that lags behind the steps (a replica died after its step)', async () => {
      const d = driver();
      const key = uploadKey();
      const data = randomBytes(8 * MiB);
      await d.append(key, 0, streamOf(data.subarray(0, 2 * MiB)));
      const stale = await raw(key);
      const head = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: `reg/${key}` }));
      await head.Body?.transformToByteArray();
      await d.append(key, 2 * MiB, streamOf(data.subarray(2 * MiB, 6 * MiB)));
      await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `reg/${key}`, Body: stale, Metadata: head.Metadata }));
      expect((await d.stat(key))?.size).toBe(6 * MiB);
      expect(await d.append(key, 6 * MiB, streamOf(data.subarray(6 * MiB)))).toBe(8 * MiB);
      expect(same(await d.get(key), data)).toBe(true);
    });

    it('keeps an existing target on commit', async () => {
      const d = driver();
      const key = uploadKey();
      await d.append(key, 0, streamOf(utf8('same bytes!')));
      await d.put('blobs/existing', 'same bytes!');
      await d.commit(key, 'blobs/existing', 11);
      expect(text.decode(await d.get('blobs/existing'))).toBe('same bytes!');
      expect(await d.stat(key)).toBeUndefined();
    });

    it("answers a conflict, not a missing piece, to an append whose tail another replica replaced while it ran", async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      const base = randomBytes(100 * KiB);
      await a.append(key, 0, streamOf(base));
      // b reads the state, takes its first chunk, and waits; a takes the offset and drops the
      // tail piece b will need once its part fills.
      let started!: () => void;
      const bStarted = new Promise<void>((r) => (started = r));
      let release!: () => void;
      const bMayGoOn = new Promise<void>((r) => (release = r));
      const mine = pattern(6 * MiB, 7);
      async function* slow(): AsyncGenerator<Uint8Array> {
        yield mine.subarray(0, 64 * KiB);
        started();
        await bMayGoOn;
        for (let at = 64 * KiB; at < mine.byteLength; at += 64 * KiB) yield mine.subarray(at, at + 64 * KiB);
      }
      const loser = b.append(key, base.byteLength, slow());
      await bStarted;
      const theirs = pattern(6 * MiB, 9);
      expect(await a.append(key, base.byteLength, streamOf(theirs))).toBe(base.byteLength + theirs.byteLength);
      release();
      expect((await failsWith(loser, 'conflict')).size).toBe(base.byteLength + theirs.byteLength);
      expect(same(await b.get(key), concat(base, theirs))).toBe(true);
    });

    it('commits by label, on another replica, at the size the labelling append left, and only while it still stands there', async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      const first = randomBytes(200 * KiB);
      expect(await a.append(key, 0, streamOf(first), { note: (size) => ({ label: `L${size}` }) })).toBe(first.byteLength);
      // An append without a label leaves none: the earlier one no longer describes the object.
      const more = uploadKey();
      await a.append(more, 0, streamOf(first), { note: (size) => ({ label: `L${size}` }) });
      await a.append(more, undefined, streamOf(utf8('more')));
      expect((await failsWith(b.commit(more, 'blobs/labelled-no', undefined, { label: `L${first.byteLength}` }), 'conflict')).size).toBe(first.byteLength + 4);
      expect(await b.stat('blobs/labelled-no')).toBeUndefined();
      expect(await a.append(more, first.byteLength + 4, streamOf(utf8('!')))).toBe(first.byteLength + 5);
      // Another label, or none at all (nothing there), is not this one.
      await failsWith(b.commit(key, 'blobs/labelled', undefined, { label: 'other' }), 'conflict');
      await failsWith(b.commit(uploadKey(), 'blobs/labelled', undefined, { label: 'L0' }), 'missing');
      expect(await b.commit(key, 'blobs/labelled', undefined, { label: `L${first.byteLength}` })).toBe(first.byteLength);
      expect(same(await a.get('blobs/labelled'), first)).toBe(true);
    });

    it('commits by label past a pointer that lags, and refuses it once an append went past the label', async () => {
      const d = driver();
      const key = uploadKey();
      const appendables = new Appendables(new Bucket(s3.client, bucket, 'reg'), partSize);
      await d.append(key, 0, streamOf(utf8('abc')), { note: () => ({ label: 'three' }) });
      const found = await appendables.load(key);
      if (found?.kind !== 'appendable') throw new Error('not appendable');
      // The pointer as it was before: the step written, its pointer lost (a replica died between).
      await d.append(key, 3, streamOf(utf8('defg')), { note: () => ({ label: 'seven' }) });
      await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: `reg/${key}`, Body: encodeState(found.state), Metadata: pointerMetadata(found.state) }));
      expect((await failsWith(driver().commit(key, 'blobs/lagging', undefined, { label: 'three' }), 'conflict')).size).toBe(7);
      expect(await driver().commit(key, 'blobs/lagging', undefined, { label: 'seven' })).toBe(7);
      expect(text.decode(await d.get('blobs/lagging'))).toBe('abcdefg');
    });

    it('stores a one-piece append from the first byte at the home its note names, and commits there without copying', async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      const bytes = randomBytes(300 * KiB);
      const home = `blobs/home-${sha256(bytes)}`;
      expect(await a.append(key, 0, streamOf(bytes), { note: () => ({ label: 'whole', home }) })).toBe(bytes.byteLength);
      // At home at once, and read back through the upload as well.
      expect(same(await b.get(home), bytes)).toBe(true);
      expect(same(await b.get(key), bytes)).toBe(true);
      const listed = async (): Promise<string[]> => {
        const r = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `reg/${key}/` }));
        return (r.Contents ?? []).map((o) => o.Key ?? '');
      };
      expect((await listed()).filter((k) => k.includes('/t/'))).toEqual([]);
      expect(await b.commit(key, home, undefined, { label: 'whole' })).toBe(bytes.byteLength);
      expect(same(await a.get(home), bytes)).toBe(true);
      expect(await a.stat(key)).toBeUndefined();
      expect(await listed()).toEqual([]);
    });

    it('keeps a home piece where it is when later appends replace it, when an append loses its race, and when the upload goes', async () => {
      const a = driver();
      const b = driver();
      const key = uploadKey();
      const first = randomBytes(100 * KiB);
      const home = `blobs/home-${sha256(first)}`;
      await a.append(key, 0, streamOf(first), { note: () => ({ label: 'first', home }) });
      // The next append rewrites the tail (the home piece with it) into a piece of its own; the
      // home is not the upload's to delete. Only the first byte's append may go home.
      const second = randomBytes(50 * KiB);
      const other = `blobs/home-${sha256(second)}`;
      expect(await b.append(key, undefined, streamOf(second), { note: () => ({ label: 'both', home: other }) })).toBe(150 * KiB);
      expect(await a.stat(other)).toBeUndefined();
      expect(same(await a.get(home), first)).toBe(true);
      expect(same(await a.get(key), concat(first, second))).toBe(true);
      // A racer that also started at 0 on a fresh upload loses the step; what it stored at home stays.
      const raced = uploadKey();
      await a.append(raced, 0, streamOf(utf8('winner')));
      const appendables = new Appendables(new Bucket(s3.client, bucket, 'reg'), partSize);
      // The loser read the upload as empty before the winner took offset 0.
      const loserHome = 'blobs/home-loser';
      const bodyOf = async function* (): AsyncGenerator<Uint8Array> {
        yield utf8('loser!');
      };
      await s3.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: `reg/${raced}` }] } }));
      await failsWith(appendables.append(raced, 0, bodyOf(), () => ({ label: 'loser', home: loserHome })), 'conflict');
      expect(text.decode(await a.get(loserHome))).toBe('loser!');
      // Commit elsewhere copies; the upload's deletion leaves the home piece.
      expect(await a.commit(key, 'blobs/both', 150 * KiB)).toBe(150 * KiB);
      expect(same(await b.get('blobs/both'), concat(first, second))).toBe(true);
      expect(same(await b.get(home), first)).toBe(true);
    });

    it('refuses appends once a commit has sealed the upload, and a retried commit completes', async () => {
      const d = driver();
      const key = uploadKey();
      await d.append(key, 0, streamOf(utf8('abc')));
      // A commit that died right after sealing: appends are refused, its retry completes.
      const appendables = new Appendables(new Bucket(s3.client, bucket, 'reg'), partSize);
      const found = await appendables.load(key);
      if (found?.kind !== 'appendable') throw new Error('not appendable');
      await appendables.seal(key, found.state);
      expect((await failsWith(d.append(key, 3, streamOf(utf8('d'))), 'conflict')).size).toBe(3);
      expect((await d.stat(key))?.size).toBe(3);
      await driver().commit(key, 'blobs/sealed', 3);
      expect(text.decode(await d.get('blobs/sealed'))).toBe('abc');
    });
  });

  describe('failures', () => {
    it('is unavailable when S3 cannot be reached, and init says so', async () => {
      const d = driver({}, { endpoint: `http://127.0.0.1:${await freePort()}` });
      expect((await failsWith(d.get('k'), 'unavailable')).message).toMatch(/ECONNREFUSED|connect/);
      await failsWith(d.append(uploadKey(), 0, streamOf(utf8('x'))), 'unavailable');
      await failsWith(d.init(), 'unavailable');
    });

    it('times out, within its limits, on an S3 that takes connections and never answers', async () => {
      const proxy = await startTcpProxy(new URL(s3.endpoint));
      try {
        proxy.set('stall');
        const d = driver({ requestTimeout: '300ms', totalTimeout: '2s' }, { endpoint: proxy.url });
        const ops = [() => d.get('k'), () => d.put('k', 'v'), () => d.stat('k'), () => d.list('p'), () => d.append(uploadKey(), 0, streamOf(utf8('x'))), () => d.init()];
        for (const op of ops) expect((await failsWith(op(), 'timeout')).message).toMatch(/Timeout|within/);
        // Back up: the same driver works again.
        proxy.set('pass');
        await d.put('after-stall', 'v');
        expect(text.decode(await d.get('after-stall'))).toBe('v');
      } finally {
        await proxy.close();
      }
    });

    it('is denied, naming the credentials, when S3 refuses them, and init says so', async () => {
      const d = driver({ secretAccessKey: 'wrong-secret-key-wrong-secret-key-000000' });
      expect((await failsWith(d.get('k'), 'denied')).message).toMatch(/access denied/);
      await failsWith(d.put('k', 'x'), 'denied');
      expect((await failsWith(d.init(), 'denied')).message).toMatch(/denied/);
    });

    it('is full, saying so, every time a write passes the bucket quota', async () => {
      const limited = await createBucket(s3, 'quota');
      await setBucketQuota(s3, limited, 1 << 20);
      const d = driver({}, {}, limited);
      // RGW refuses these after it has said 100 Continue to an `Expect` header, and then closes
      // the connection under the body: the client saw a reset (unavailable) about one time in
      // five. Bodies below and above the SDK's 2 MiB `Expect` threshold, several times each.
      for (const size of [MiB + 1, 2 * MiB, partSize]) {
        for (let i = 0; i < 8; i++) {
          const e = await failsWith(d.put(`k${i}`, pattern(size)), 'full');
          expect(e.reason).toBe('quota exceeded');
        }
      }
    });

    it('init names a missing bucket, and passes for a good one', async () => {
      const d = driver();
      await expect(d.init()).resolves.toBeUndefined();
      const missing = new S3Driver({ ...parseConfig({ storage: { s3: s3Storage(s3, 'no-such-bucket-here') } }).storage.s3! });
      expect((await failsWith(missing.init(), 'unavailable')).message).toMatch(/does not exist/);
    });
  });
});
