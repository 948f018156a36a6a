/**
 * S3's size limits on Ceph RGW, scaled down: an object "over the single-copy limit" is copied in
 * ranged part copies, an object "past 10,000 parts" gets fewer, larger parts, an upload past
 * maxParts × partSize is refused, and a commit whose multipart upload fails aborts it.
 *
 * What is real: RGW, its multipart uploads (CreateMultipartUpload, UploadPartCopy with ranges,
 * CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads), and the bytes, read back and
 * hashed. What is scaled: the limits (5 GiB per CopyObject → 12 MiB, 10,000 parts → 3), so objects
 * of tens of MiB take the paths objects of gigabytes take; the arithmetic with the real limits is
 * in test/s3/unit/limits.test.ts. The store's support for conditional writes, which replicas rely
 * on, is probed at init: RGW has it, a proxy that drops If-None-Match plays a store that has not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/schema.ts';
import { storageFailure } from '../../src/registry/failures.ts';
import { isStorageError } from '../../src/storage/errors.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { s3Limits, type S3Limits } from '../../src/storage/s3/limits.ts';
import { createBucket, s3Available, s3Storage, startS3, type S3Server } from '../support/s3.ts';
import { startStrippingProxy } from '../support/s3-proxy.ts';
import { collect, streamOf } from '../support/streams.ts';

const MiB = 1 << 20;
const partSize = 5 * MiB;
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

let s3: S3Server;
let bucket: string;
let uploads = 0;

function driver(limits: Partial<S3Limits> = {}, endpoint?: string): S3Driver {
  const options = parseConfig({ storage: { s3: s3Storage({ ...s3, ...(endpoint ? { endpoint } : {}) }, bucket, { prefix: 'reg', partSize, maxAttempts: 2 }) } }).storage.s3;
  if (!options) throw new Error('no s3 options');
  return new S3Driver(options, undefined, { ...s3Limits, ...limits });
}

const uploadKey = (): string => `_uploads/l${++uploads}/data`;

/** The ETag of a committed object: `"<md5>-<parts>"` when a multipart upload made it. */
async function partsOf(key: string): Promise<number | undefined> {
  const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: `reg/${key}` }));
  const m = /-(\d+)"?$/.exec(head.ETag ?? '');
  return m ? Number(m[1]) : undefined;
}

async function rawKeys(prefix: string): Promise<string[]> {
  const r = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `reg/${prefix}` }));
  return (r.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
}

async function expectContent(d: S3Driver, key: string, bytes: Uint8Array): Promise<void> {
  const stream = await d.read(key);
  expect(stream).toBeDefined();
  const got = await collect(stream!);
  expect({ size: got.byteLength, sha256: sha256(got) }).toEqual({ size: bytes.byteLength, sha256: sha256(bytes) });
}

const describeS3 = s3Available || process.env.CI ? describe : describe.skip;

describeS3('S3 limits, scaled down, on Ceph RGW', () => {
  beforeAll(async () => {
    s3 = await startS3();
    bucket = await createBucket(s3, 'limits');
  }, 240_000);
  afterAll(async () => {
    await s3?.stop();
  });

  describe('copying an object over the single-copy limit', () => {
    const bytes = randomBytes(23 * MiB + 5);

    it('copies it in ranged part copies of partSize, bytes verified', async () => {
      const d = driver({ singleCopy: 12 * MiB });
      const key = uploadKey();
      await d.put(key, bytes); // a plain object: the path a commit of one takes
      await d.commit(key, 'blobs/over-limit', bytes.byteLength);
      expect(await partsOf('blobs/over-limit')).toBe(5); // 4 × 5 MiB + 3 MiB + 5 bytes
      await expectContent(d, 'blobs/over-limit', bytes);
      expect(await d.stat(key)).toBeUndefined();
    });

    it('uses fewer, larger parts when partSize would need more than maxParts', async () => {
      const d = driver({ singleCopy: 12 * MiB, maxParts: 3 });
      const key = uploadKey();
      await d.put(key, bytes);
      await d.commit(key, 'blobs/few-parts', bytes.byteLength);
      expect(await partsOf('blobs/few-parts')).toBe(3);
      await expectContent(d, 'blobs/few-parts', bytes);
    });

    it('copies an object under the limit in one CopyObject', async () => {
      const d = driver();
      const key = uploadKey();
      await d.put(key, bytes);
      await d.commit(key, 'blobs/one-copy', bytes.byteLength);
      expect(await partsOf('blobs/one-copy')).toBeUndefined();
      await expectContent(d, 'blobs/one-copy', bytes);
    });
  });

  it('refuses an upload past maxParts × partSize with 413, and commits one at the limit from maxParts parts', async () => {
    const d = driver({ maxParts: 3 });
    const key = uploadKey();
    const bytes = randomBytes(3 * partSize);
    expect(await d.append(key, 0, streamOf(bytes))).toBe(3 * partSize);
    const refused = await d.append(key, 3 * partSize, streamOf(new Uint8Array(1))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStorageError(refused) && refused.kind).toBe('limit');
    const answered = isStorageError(refused) ? storageFailure(refused) : undefined;
    expect(answered && { code: answered.code, status: answered.status }).toEqual({ code: 'BLOB_UPLOAD_INVALID', status: 413 });
    await d.commit(key, 'blobs/at-limit', bytes.byteLength);
    expect(await partsOf('blobs/at-limit')).toBe(3);
    await expectContent(d, 'blobs/at-limit', bytes);
  });

  it('aborts the multipart upload of a commit that fails, leaving no parts behind', async () => {
    const d = driver();
    const key = uploadKey();
    const bytes = randomBytes(2 * partSize + 123);
    await d.append(key, 0, streamOf(bytes));
    // One stored part disappears (an operator's lifecycle rule, a bug): its UploadPartCopy fails.
    const [part] = await rawKeys(`${key}/p/`);
    expect(part).toBeDefined();
    await s3.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: part }));
    await expect(d.commit(key, 'blobs/failed', bytes.byteLength)).rejects.toThrow();
    const open = await s3.client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'reg/blobs/' }));
    expect(open.Uploads ?? []).toEqual([]);
    expect(await d.stat('blobs/failed')).toBeUndefined();
  });

  describe('conditional writes (If-None-Match: *), which replicas rely on', () => {
    it('finds them on RGW at init and leaves no probe object', async () => {
      await expect(driver().init()).resolves.toBeUndefined();
      expect(await rawKeys('_probe/')).toEqual([]);
    });

    it('refuses a store that ignores them, saying what is missing', async () => {
      const proxy = await startStrippingProxy(s3);
      try {
        const d = driver({}, proxy.endpoint);
        await expect(d.init()).rejects.toThrow(/does not support conditional writes \(PUT with If-None-Match: \*\): a second create-only write of the same key replaced the first/);
        expect(proxy.stripped).toBeGreaterThanOrEqual(2);
        // Everything else went through: the same driver reads and writes.
        await d.put('through/proxy', 'ok');
        expect(new TextDecoder().decode(await d.get('through/proxy'))).toBe('ok');
        expect(await rawKeys('_probe/')).toEqual([]);
      } finally {
        await proxy.close();
      }
    });
  });
});
