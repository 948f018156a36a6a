/**
 * Facts the pages show that the registry's API does not carry yet (or carries elsewhere), behind
 * one interface, so a page fills in when its source appears. `availableFacts` gives what exists
 * today; everything else answers "not recorded", which the pages say in so many words.
 */
import { statfs } from 'node:fs/promises';
import type { MaintenanceHistory, MaintenanceRun, MirrorCache } from '../maintenance/history.ts';
import type { Metrics } from '../observability/metrics.ts';

export type { MaintenanceRun, MirrorCache } from '../maintenance/history.ts';

export interface TagTimes {
  pushed?: Date;
  lastPulled?: Date;
}

export interface Volume {
  total: number;
  free: number;
}

/** Totals since this process started, from the metrics. */
export interface MaintenanceTotals {
  gcRuns: number;
  gcBytesFreed: number;
  uploadsPurged: number;
}

export interface UiFacts {
  /** Push and last-pull times of tags, where recorded (missing entries: not recorded). */
  tagTimes(name: string, tags: readonly string[]): Promise<Map<string, TagTimes>>;
  /** The latest maintenance runs, newest first; [] when none are recorded. */
  maintenanceRuns(): Promise<MaintenanceRun[]>;
  maintenanceTotals(): Promise<MaintenanceTotals>;
  /** The mirror cache's size and what retention expires next, when measured. */
  mirrorCache(): Promise<MirrorCache | undefined>;
  /** Bytes of content the registry stores, when it keeps that figure. */
  storedBytes(): Promise<number | undefined>;
  /** The disk holding the data directory (local storage only). */
  volume(): Promise<Volume | undefined>;
}

const counterValue = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> =>
  (await counter.get()).values.reduce((n, v) => n + v.value, 0);

/**
 * What exists today: process totals from the metrics, this process's maintenance runs and the
 * mirror cache its last retention sweep measured, and the data directory's disk.
 */
export function availableFacts(metrics: Metrics, dataDir: string | undefined, history: MaintenanceHistory | undefined): UiFacts {
  return {
    tagTimes: async () => new Map(),
    maintenanceRuns: async () => history?.runs() ?? [],
    async maintenanceTotals() {
      const [gcRuns, gcBytesFreed, uploadsPurged] = await Promise.all([counterValue(metrics.gcRuns), counterValue(metrics.gcBytes), counterValue(metrics.uploadsPurged)]);
      return { gcRuns, gcBytesFreed, uploadsPurged };
    },
    mirrorCache: async () => history?.mirrorCache(),
    storedBytes: async () => undefined,
    async volume() {
      if (dataDir === undefined) return undefined;
      try {
        const s = await statfs(dataDir);
        return { total: s.blocks * s.bsize, free: s.bavail * s.bsize };
      } catch {
        return undefined;
      }
    },
  };
}
