import { createBucket, startS3, startS3Server, type S3Server } from './s3.ts';
import { startRoundRobin, type RoundRobin } from './round-robin.ts';
import type { StartOptions, TestServer } from './server.ts';

export interface Fleet {
  s3: S3Server;
  bucket: string;
  replicas: TestServer[];
  /** The balancer in front of them all. */
  balancer: RoundRobin;
  /** `http://...` of the balancer. */
  url: string;
  stop(): Promise<void>;
}

export interface FleetOptions extends StartOptions {
  size?: number;
  storage?: Record<string, unknown>;
  /** An RGW already running (the fleet then leaves it running when it stops). */
  s3?: S3Server;
}

/**
 * `size` replicas (three by default) of berth on one bucket of a fresh RGW, behind a round-robin
 * balancer: the operator's setup the README describes.
 */
export async function startFleet(opts: FleetOptions = {}): Promise<Fleet> {
  const { size = 3, s3: given, ...start } = opts;
  const s3 = given ?? (await startS3());
  const replicas: TestServer[] = [];
  try {
    const bucket = await createBucket(s3, 'fleet');
    replicas.push(...(await Promise.all(Array.from({ length: size }, () => startS3Server(s3, bucket, start)))));
    const balancer = await startRoundRobin(replicas.map((r) => r.url));
    return {
      s3,
      bucket,
      replicas,
      balancer,
      url: balancer.url,
      stop: async () => {
        await balancer.close();
        await Promise.all(replicas.map((r) => r.stop()));
        if (!given) await s3.stop();
      },
    };
  } catch (e) {
    await Promise.all(replicas.map((r) => r.stop()));
    if (!given) await s3.stop();
    throw e;
  }
}
