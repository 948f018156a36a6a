import type { Config } from '../schema.ts';
import { errorFields, type Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import { collectGarbage, purgeUploads } from '../registry/gc.ts';
import type { Driver } from '../storage/driver.ts';

const hour = 3_600_000;

function every(ms: number, task: () => Promise<void>): () => void {
  const timer = setInterval(() => void task(), ms);
  // Never keeps the process alive by itself.
  (timer as { unref?: () => void }).unref?.();
  return () => clearInterval(timer);
}

/**
 * Background chores of a serving registry: purging abandoned upload sessions hourly, and garbage
 * collection when `gc.interval` asks for it.
 */
export function startMaintenance(driver: Driver, config: Config, logger: Logger, metrics: Metrics): () => void {
  const purge = async (): Promise<void> => {
    try {
      const purged = await purgeUploads(driver, config.uploads.purgeAfter);
      metrics.uploadsPurged.inc(purged);
      if (purged > 0) logger.info('purged stale uploads', { purged });
    } catch (e) {
      logger.warn('upload purge failed', errorFields(e));
    }
  };
  const gc = async (): Promise<void> => {
    try {
      const report = await collectGarbage(driver, { graceMs: config.gc.grace, deleteUntagged: config.gc.deleteUntagged });
      metrics.gcRuns.inc();
      metrics.gcBytes.inc(report.bytesFreed);
      logger.info('garbage collected', { ...report });
    } catch (e) {
      logger.warn('garbage collection failed', errorFields(e));
    }
  };
  const stops = [every(hour, purge)];
  if (config.gc.interval > 0) stops.push(every(config.gc.interval, gc));
  void purge();
  return () => stops.forEach((stop) => stop());
}
