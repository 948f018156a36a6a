/**
 * berth on a store without conditional writes refuses to serve, rather than run replicas that could
 * overwrite each other's upload state: the store is Ceph RGW behind a proxy that drops
 * `If-None-Match` (and signs each request again), so everything else about it is real.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBucket, s3Available, startS3, startS3Server, type S3Server } from '../support/s3.ts';
import { startStrippingProxy, type S3Proxy } from '../support/s3-proxy.ts';

(s3Available || process.env.CI ? describe : describe.skip)('berth on a store that ignores If-None-Match', () => {
  let s3: S3Server;
  let proxy: S3Proxy;
  beforeAll(async () => {
    s3 = await startS3();
    proxy = await startStrippingProxy(s3);
  }, 240_000);
  afterAll(async () => {
    await proxy?.close();
    await s3?.stop();
  });

  it('refuses to start and says why', async () => {
    const bucket = await createBucket(s3, 'no-conditional');
    const started = startS3Server({ ...s3, endpoint: proxy.endpoint }, bucket);
    await expect(started).rejects.toThrow(/exited with 1 before listening/);
    await expect(started).rejects.toThrow(/does not support conditional writes \(PUT with If-None-Match: \*\)/);
  });

  it('starts on the same store reached directly, where they work', async () => {
    const server = await startS3Server(s3, await createBucket(s3, 'conditional'));
    try {
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
