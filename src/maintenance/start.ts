import { formatDuration, type Duration } from '../config/duration.ts';
import { errorFields, type Logger } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { ImmutableTags } from '../registry/immutable.ts';
import type { Inventory } from '../registry/inventory.ts';
import type { PullRecords } from '../registry/usage.ts';
import { applyRetentionRules } from './apply-rules.ts';
import { collectGarbage } from './gc.ts';
import { expireMirrored, type Pinned, type RetentionPolicy, type Usage } from './retention.ts';
import type { Decision } from './rules.ts';
import type { RetentionRule } from './schema.ts';
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
  /** Tags whose images never expire: what `mirror.prefetch` selects. */
  pinned?: Pinned | undefined;
}

/** The settings maintenance reads (the `uploads`, `gc` and `retention` blocks). */
export interface MaintenanceConfig {
  uploads: { purgeAfter: Duration };
  gc: { interval: Duration; grace: Duration; deleteUntagged: boolean };
  retention: { rules: RetentionRule[]; interval: Duration; dryRun: boolean; pullsFlushInterval: Duration };
}

export interface MaintenanceParts {
  logger: Logger;
  metrics: Metrics;
  /** Pull times noted in memory, which maintenance writes out and retention reads. */
  pulls: PullRecords;
  /** Tags retention must never delete. */
  immutable?: ImmutableTags | undefined;
  /** Mirror retention, when the mirror has a policy. */
  retention?: MirrorRetention | undefined;
  /** Names the mirror stores: retention rules leave them to mirror retention. */
  mirrored?: ((name: string) => boolean) | undefined;
  /** Where runs are recorded for the web UI, when it is on. */
  history?: MaintenanceHistory | undefined;
  /** Told of each tag and manifest the scheduled retention rules deleted, once deleted (events). */
  deleted?: ((d: Decision) => void) | undefined;
}

/** The scheduler running a registry's passes, and the pull times it writes out. */
export interface Maintenance {
  scheduler: Scheduler;
  /** Writes the pull times still in memory (as the registry stops, after the scheduler). */
  flushPulls(): Promise<void>;
}

/**
 * The passes a serving registry runs for its configuration, all through one scheduler: abandoned
 * upload sessions hourly (and at start), pull times written every `retention.pullsFlushInterval`,
 * garbage collection when `gc.interval` asks for it, retention rules every `retention.interval`,
 * and mirror retention when the mirror has a policy. Nothing runs before `scheduler.start()`.
 */
export function maintenanceFor(inventory: Inventory, config: MaintenanceConfig, parts: MaintenanceParts): Maintenance {
  const { logger, metrics, retention, pulls, history } = parts;
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
    {
      name: 'pull times flush',
      everyMs: config.retention.pullsFlushInterval,
      run: async (signal) => {
        await pulls.flush(signal);
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
        history?.measuredStore({ bytes: report.bytesReferenced, measuredAt: new Date() });
        logger.info('garbage collected', { ...report });
      },
    });
  }
  const { rules, interval, dryRun } = config.retention;
  if (interval > 0 && rules.length > 0) {
    tasks.push({
      name: 'retention rules',
      everyMs: interval,
      run: async (signal) => {
        const report = await applyRetentionRules(inventory, {
          rules,
          pulls,
          immutable: parts.immutable,
          skip: parts.mirrored,
          graceMs: config.gc.grace,
          dryRun,
          signal,
          onDecision: (d) => logger.info(dryRun ? 'retention would delete' : 'retention deleted', { ...d }),
        });
        if (!dryRun) for (const d of report.decisions) if (d.delete) parts.deleted?.(d);
        const { decisions: _, ...figures } = report;
        logger.info('retention rules applied', { ...figures, dryRun, interval: formatDuration(interval) });
        finished(
          'retention rules',
          dryRun
            ? { tagsThatWouldGo: report.tagsDeleted, manifestsThatWouldGo: report.manifestsDeleted, bytesThatWouldBeFreed: report.bytesFreed, repositories: report.repositories }
            : { tagsDeleted: report.tagsDeleted, manifestsDeleted: report.manifestsDeleted, bytesFreed: report.bytesFreed, repositories: report.repositories },
        );
      },
    });
  }
  if (retention) {
    tasks.push({
      name: 'mirror retention sweep',
      everyMs: retention.everyMs,
      run: async (signal) => {
        let next: NextEviction[] = [];
        const report = await expireMirrored(inventory, retention.usage, retention.mirrored, retention.policy, {
          signal,
          planned: (n) => (next = n),
          ...(retention.pinned ? { pinned: retention.pinned } : {}),
        });
        finished('mirror retention sweep', report);
        history?.measuredMirror({ bytes: report.bytesAfter, measuredAt: new Date(), nextEvictions: next });
        logger.info('mirror retention sweep', { ...report });
        // Pinned images stay whatever the limit: the operator asked for more than the cache holds.
        if (retention.policy.maxBytes > 0 && report.bytesPinned > retention.policy.maxBytes) {
          logger.warn('mirror prefetch set exceeds retention maxSize', { bytesPinned: report.bytesPinned, maxSize: retention.policy.maxBytes, bytesAfter: report.bytesAfter });
        }
      },
    });
  }
  const scheduler = new Scheduler(tasks, (task, e) => {
    finished(task.name, undefined);
    logger.warn(`${task.name} failed`, errorFields(e));
  });
  return {
    scheduler,
    flushPulls: async () => {
      try {
        await pulls.flush();
      } catch (e) {
        logger.warn('pull times flush failed', errorFields(e));
      }
    },
  };
}
