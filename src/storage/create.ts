import type { StatSync } from '../runtime/contract.ts';
import type { Driver } from './driver.ts';
import { StorageError } from './errors.ts';
import { FsDriver } from './fs/driver.ts';
import type { StorageConfig } from './schema.ts';

export interface StorageHandle {
  driver: Driver;
  /** Resolves once storage is usable; rejects with the reason when it is not. */
  ready: Promise<void>;
  /** Where the data lives, for logs and messages. */
  describe: string;
  /**
   * Checks again that storage is reachable, writable and not full (readiness probes). Answers
   * within `readinessTimeout` whatever storage does, and probes storage once at a time however
   * many callers ask.
   */
  check: () => Promise<void>;
  /** Releases what the driver holds open (S3's connection pool). */
  close: () => void;
}

/** How long a readiness check waits for storage: a probe must answer within 2 s, with room to spare. */
export const readinessTimeout = 1_500;

/**
 * Builds the configured driver; on local disk with the runtime's own stat where it has one. The S3
 * driver (and the AWS SDK, a fifth of an idle process's memory) is loaded only when S3 is configured.
 */
export async function createStorage(storage: StorageConfig, local: { statSync?: StatSync | undefined } = {}): Promise<StorageHandle> {
  if (storage.s3) {
    const { S3Driver } = await import('./s3/driver.ts');
    const driver = new S3Driver(storage.s3);
    return { driver, ready: driver.init(), describe: driver.describe, check: bounded(() => driver.init()), close: () => driver.close() };
  }
  const driver = new FsDriver(storage.fs.root, { ...storage.fs, statSync: local.statSync });
  return { driver, ready: driver.init(), describe: `fs:${storage.fs.root}`, check: bounded(() => driver.check()), close: () => undefined };
}

/**
 * A check that gives up waiting after `readinessTimeout` (storage that hangs is not ready) and
 * shares one probe among concurrent callers, so a flood of probes is one request to storage.
 */
function bounded(probe: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= probe().finally(() => (running = undefined));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StorageError('timeout', `storage did not answer the readiness check within ${readinessTimeout} ms`)), readinessTimeout);
    });
    return Promise.race([running, late]).finally(() => clearTimeout(timer));
  };
}
