import type { Duration } from '../config/duration.ts';
import { errorFields, type Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Inventory } from '../registry/inventory.ts';
import { collectGarbage } from './gc.ts';
import { expireMirrored, type RetentionPolicy, type Usage } from './retention.ts';
import { figuresOf, type MaintenanceHistory, type NextEviction } from './history.ts';
import { Scheduler, type Task } from './scheduler.ts';
import { purgeUploads } from './uploads.ts';

const hour = 3_600_000;

/** What mirror retention needs from the mirror: what was used, which names are mirrored, the policy. */
export interface MirrorRetention {
  usage: Usage;
  mirrored: (name: string) => boolean;
  policy: RetentionPolicy;
  everyMs: number;
}

/** The settings maintenance reads (the `uploads` and `gc` blocks). */
export interface MaintenanceConfig {
  uploads: { purgeAfter: Duration };
  gc: { interval: Duration; grace: Duration; deleteUntagged: boolean };
}

export interface MaintenanceParts {
  logger: Logger;
  metrics: Metrics;
  /** Mirror retention, when the mirror has a policy. */
  retention?: MirrorRetention | undefined;
  /** Where runs are recorded for the web UI, when it is on. */
  history?: MaintenanceHistory | undefined;
}

/**
 * The passes a serving registry runs for its configuration: abandoned upload sessions hourly
 * (and at start), garbage collection when `gc.interval` asks for it, and mirror retention when
 * the mirror has a policy, all through one scheduler. Nothing runs before `start()`.
 */
export function maintenanceFor(inventory: Inventory, config: MaintenanceConfig, parts: MaintenanceParts): Scheduler {
  const { logger, metrics, retention, history } = parts;
  const finished = (kind: string, report: object | undefined): void => history?.record({ kind, finishedAt: new Date(), ok: report !== undefined, figures: report ? figuresOf(report) : [] });
  const tasks: Task[] = [
    {
      name: 'upload purge',
      everyMs: hour,
      atStart: true,
      run: async (signal) => {
        const purged = await purgeUploads(inventory, config.uploads.purgeAfter, { signal });
        metrics.uploadsPurged.inc(purged);
        finished('upload purge', { purged });
        if (purged > 0) logger.info('purged stale uploads', { purged });
      },
    },
  ];
  if (config.gc.interval > 0) {
    tasks.push({
      name: 'garbage collection',
      everyMs: config.gc.interval,
      run: async (signal) => {
        const report = await collectGarbage(inventory, { graceMs: config.gc.grace, deleteUntagged: config.gc.deleteUntagged, signal });
        metrics.gcRuns.inc();
        metrics.gcBytes.inc(report.bytesFreed);
        finished('garbage collection', report);
        logger.info('garbage collected', { ...report });
      },
    });
  }
  if (retention) {
    tasks.push({
      name: 'mirror retention sweep',
      everyMs: retention.everyMs,
      run: async (signal) => {
        let next: NextEviction[] = [];
        const report = await expireMirrored(inventory, retention.usage, retention.mirrored, retention.policy, { signal, planned: (n) => (next = n) });
        finished('mirror retention sweep', report);
        history?.measuredMirror({ bytes: report.bytesAfter, measuredAt: new Date(), nextEvictions: next });
        logger.info('mirror retention sweep', { ...report });
      },
    });
  }
  return new Scheduler(tasks, (task, e) => {
    finished(task.name, undefined);
    logger.warn(`${task.name} failed`, errorFields(e));
  });
}
