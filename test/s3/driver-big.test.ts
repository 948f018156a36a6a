/**
 * An object past S3's real single-copy limit (5 GiB) on Ceph RGW: uploaded through the driver's
 * appends, committed by the ranged part-copy path (CopyObject refuses more than 5 GiB), then read
 * back and hashed. The bytes are a repeated random block with each copy's position stamped into
 * it, so a part copied from the wrong range changes the hash. test/s3/driver-limits.test.ts covers
 * the same paths with the limits scaled down; this one runs them at their real sizes.
 *
 * Not in `npm test`: RGW's memstore holds the upload and the copy at once in RAM, with its own
 * overhead about 20 GiB at the peak, which would take a CI machine's memory from every other test.
 * Run it alone: `TEST_S3_BIG=1 npx vitest run --project unit test/s3/driver-big.test.ts` (~3 min).
 */
import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/schema.ts';
import { S3Driver } from '../../src/storage/s3/driver.ts';
import { createBucket, s3Available, s3Storage, startS3, type S3Server } from '../support/s3.ts';

const MiB = 1 << 20;
const GiB = 1024 * MiB;
const block = 64 * MiB;
/** Past 5 GiB by a block and an odd tail. */
const size = 5 * GiB + block + 12_345;

/** The object's bytes, block by block: the random block with its index in its first 8 bytes. */
async function* content(seed: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < size; at += block, i++) {
    const piece = Buffer.from(seed.subarray(0, Math.min(block, size - at)));
    piece.writeBigUInt64BE(BigInt(i), 0);
    yield piece;
  }
}

async function hashOf(chunks: AsyncIterable<Uint8Array>): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of chunks) {
    h.update(c);
    bytes += c.byteLength;
  }
  return { bytes, sha256: h.digest('hex') };
}

const describeS3 = process.env.TEST_S3_BIG === '1' && s3Available ? describe : describe.skip;

describeS3('an object over 5 GiB on Ceph RGW', () => {
  let s3: S3Server;
  let bucket: string;
  beforeAll(async () => {
    // The upload's parts and the committed copy are both held at once: room for two and change.
    s3 = await startS3({ memstoreBytes: 14 * GiB });
    bucket = await createBucket(s3, 'big');
  }, 240_000);
  afterAll(async () => {
    await s3?.stop();
  });

  it('is committed by ranged part copies and reads back byte for byte', async () => {
    const options = parseConfig({ storage: { s3: s3Storage(s3, bucket, { prefix: 'reg', partSize: '64MiB' }) } }).storage.s3;
    if (!options) throw new Error('no s3 options');
    const d = new S3Driver(options);
    try {
      const seed = randomBytes(block);
      const expected = await hashOf(content(seed));
      expect(await d.append('_uploads/big/data', 0, content(seed))).toBe(size);
      await d.commit('_uploads/big/data', 'blobs/big', size);
      expect((await d.stat('blobs/big'))?.size).toBe(size);
      // A multipart object ("<md5>-<parts>"), not one CopyObject: parts of partSize, the last shorter.
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'reg/blobs/big' }));
      expect(head.ETag).toMatch(new RegExp(`-${Math.ceil(size / block)}"?$`));
      expect(await d.stat('_uploads/big/data')).toBeUndefined();
      const stream = await d.read('blobs/big');
      expect(stream).toBeDefined();
      expect(await hashOf(stream!)).toEqual(expected);
    } finally {
      await d.delete('blobs/big').catch(() => undefined);
      d.close();
    }
  }, 900_000);
});
