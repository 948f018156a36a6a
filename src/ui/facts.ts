/**
 * Facts the pages show that the registry's API does not carry (or carries elsewhere), behind one
 * interface, so a page fills in when its source appears. `availableFacts` gives what exists: tag
 * push and pull times from the stored registry, this process's maintenance runs and the mirror
 * cache its last sweep measured (src/maintenance/history.ts), quota usage, totals from the metrics; what is missing answers "not recorded", which the pages
 * say in so many words.
 */
import { statfs } from 'node:fs/promises';
import { formatDigest } from '../oci/digest.ts';
import type { MaintenanceHistory, MaintenanceRun, MirrorCache, StoredContent } from '../maintenance/history.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { StoredRegistry } from '../registry/registry.ts';
import type { QuotaUsage } from '../registry/quotas.ts';
import { lastPulled } from '../registry/usage.ts';
import { mapLimit } from './parts.ts';

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
  /** Bytes of content the registry's manifests reference, as this process's last gc counted them. */
  storedBytes(): Promise<StoredContent | undefined>;
  /** The disk holding the data directory (local storage only). */
  volume(): Promise<Volume | undefined>;
  /** Each of `quotas.limits` with what its repositories hold (counted now when not yet); [] without quotas. */
  quotas(): Promise<QuotaUsage[]>;
}

/** Where the facts come from, besides the metrics: each missing source leaves its facts unrecorded. */
export interface FactSources {
  /** The data directory (local storage), whose disk the storage page shows. */
  dataDir?: string | undefined;
  /** Tag push times (their writes) and pull times (the pull records). */
  stored?: StoredRegistry | undefined;
  /** Names the mirror stores, whose tags' writes are fetches, not pushes. */
  mirrored?: ((name: string) => boolean) | undefined;
  /** This process's maintenance runs and the mirror cache its last sweep measured. */
  history?: MaintenanceHistory | undefined;
  quotas?: { usage(count: boolean): Promise<QuotaUsage[]> } | undefined;
}

const counterValue = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> =>
  (await counter.get()).values.reduce((n, v) => n + v.value, 0);

/** The facts these sources give: totals from the metrics, and whatever else `sources` has. */
export function availableFacts(metrics: Metrics, sources: FactSources = {}): UiFacts {
  const { dataDir, stored, mirrored, history, quotas } = sources;
  return {
    async tagTimes(name, tags) {
      const out = new Map<string, TagTimes>();
      if (!stored) return out;
      const pulls = await stored.pulls.read(name);
      const fetched = mirrored?.(name) ?? false;
      await mapLimit(tags, 16, async (tag) => {
        const [target, written] = await Promise.all([stored.tags.resolve(name, tag), fetched ? undefined : stored.tags.writtenAt(name, tag)]);
        const pulled = lastPulled(pulls, tag, target === undefined ? undefined : formatDigest(target));
        const times: TagTimes = {};
        if (written) times.pushed = written;
        if (pulled !== undefined) times.lastPulled = new Date(pulled);
        out.set(tag, times);
      });
      return out;
    },
    maintenanceRuns: async () => history?.runs() ?? [],
    async maintenanceTotals() {
      const [gcRuns, gcBytesFreed, uploadsPurged] = await Promise.all([counterValue(metrics.gcRuns), counterValue(metrics.gcBytes), counterValue(metrics.uploadsPurged)]);
      return { gcRuns, gcBytesFreed, uploadsPurged };
    },
    mirrorCache: async () => history?.mirrorCache(),
    storedBytes: async () => history?.storedContent(),
    quotas: async () => (quotas ? quotas.usage(true) : []),
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
