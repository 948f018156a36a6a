import { createBucket, startS3, startS3Server } from './s3.ts';
import { startServer, type StartOptions, type TestServer } from './server.ts';

export type StorageName = 'fs' | 's3';

/** The storage the server tests run berth on: `TEST_STORAGE`, local disk by default. */
export const testStorage = (process.env.TEST_STORAGE ?? 'fs') as StorageName;

/**
 * Starts berth on `storage` (default: TEST_STORAGE). On s3 it brings its own RGW and bucket and
 * stops them with the server, so a suite written against `startServer` runs unchanged on S3.
 */
export async function startServerOn(storage: StorageName = testStorage, opts: StartOptions = {}): Promise<TestServer> {
  if (storage === 'fs') return startServer(opts);
  const s3 = await startS3();
  try {
    const server = await startS3Server(s3, await createBucket(s3, 'berth'), opts);
    return { ...server, stop: async (signal) => (await server.stop(signal), await s3.stop()) };
  } catch (e) {
    await s3.stop();
    throw e;
  }
}
