import type { StorageConfig } from './schema.ts';
import type { Driver } from './driver.ts';
import { FsDriver } from './fs/driver.ts';
import { S3Driver } from './s3/driver.ts';

export interface StorageHandle {
  driver: Driver;
  /** Resolves once storage is usable; rejects with the reason when it is not. */
  ready: Promise<void>;
  /** Where the data lives, for logs and messages. */
  describe: string;
  /** Checks again that storage is reachable and writable (readiness probes). */
  check: () => Promise<void>;
  /** Releases what the driver holds open (S3's connection pool). */
  close: () => void;
}

/** Builds the configured driver. */
export function createStorage(storage: StorageConfig): StorageHandle {
  if (storage.s3) {
    const driver = new S3Driver(storage.s3);
    return { driver, ready: driver.init(), describe: driver.describe, check: () => driver.init(), close: () => driver.close() };
  }
  const driver = new FsDriver(storage.fs.root);
  return { driver, ready: driver.init(), describe: `fs:${storage.fs.root}`, check: () => driver.init(), close: () => undefined };
}
