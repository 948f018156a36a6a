import type { Inventory } from '../registry/inventory.ts';
import { nothingExpired, sweep } from './sweep.ts';
import { untaggedManifests } from './untagged.ts';

export interface GcOptions {
  /** Report what would go, change nothing. */
  dryRun?: boolean;
  /** Also delete manifests no tag reaches (directly, through an index, or as a referrer of one). */
  deleteUntagged?: boolean;
  /**
   * Anything written more recently than this is kept whatever the marks say: it may belong to a
   * push still under way (blobs come before the manifest that references them).
   */
  graceMs: number;
  onProgress?: (phase: string, done: number) => void;
  now?: number;
  signal?: AbortSignal;
}

export interface GcReport {
  repositories: number;
  manifestsDeleted: number;
  blobsKept: number;
  blobsDeleted: number;
  bytesFreed: number;
  linksDeleted: number;
  /** Bytes the kept manifests reference, each digest once: the content the store holds for them. */
  bytesReferenced: number;
  /** Temporary files left by writes a crash cut short. */
  temporariesDeleted: number;
}

/**
 * Garbage collection: unreferenced bytes expire. The sweep marks everything a manifest of any
 * repository references (and, with `deleteUntagged`, first unlinks the manifests no tag reaches),
 * then deletes every blob in the store that is neither marked nor younger than the grace period,
 * and the links left pointing at nothing. Safe beside a serving registry: what a push in progress
 * has written is young, and a manifest's blobs exist before the manifest does.
 */
export async function collectGarbage(inventory: Inventory, opts: GcOptions): Promise<GcReport> {
  const keepAfter = (opts.now ?? Date.now()) - opts.graceMs;
  const temporariesDeleted = opts.dryRun ? 0 : await inventory.temporaries();
  const signal = opts.signal;
  const expired = opts.deleteUntagged ? { ...nothingExpired(), manifests: await untaggedManifests(inventory, keepAfter, signal) } : nothingExpired();
  const report = await sweep(inventory, expired, { repositories: () => true, candidates: 'store' }, { keepAfter, dryRun: opts.dryRun, signal, onProgress: opts.onProgress });
  const { repositories, manifestsDeleted, blobsKept, blobsDeleted, bytesFreed, linksDeleted, bytesReferenced } = report;
  return { repositories, manifestsDeleted, blobsKept, blobsDeleted, bytesFreed, linksDeleted, bytesReferenced, temporariesDeleted };
}
