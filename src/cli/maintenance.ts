import type { Config } from '../config/schema.ts';
import { errorFields, type Logger } from '../observability/log.ts';
import { purgeUploads } from '../registry/gc.ts';
import type { Driver } from '../storage/driver.ts';

const hour = 3_600_000;

/** Background chores of a serving registry: for now, purging abandoned upload sessions hourly. */
export function startMaintenance(driver: Driver, config: Config, logger: Logger): () => void {
  const purge = async (): Promise<void> => {
    try {
      const purged = await purgeUploads(driver, config.uploads.purgeAfter);
      if (purged > 0) logger.info('purged stale uploads', { purged });
    } catch (e) {
      logger.warn('upload purge failed', errorFields(e));
    }
  };
  const timer = setInterval(() => void purge(), hour);
  // Never keeps the process alive by itself.
  (timer as { unref?: () => void }).unref?.();
  void purge();
  return () => clearInterval(timer);
}
