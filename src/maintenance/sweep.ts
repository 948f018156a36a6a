import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory, ManifestRecord } from '../registry/inventory.ts';
import { sweepBytes, type ByteScope } from './bytes.ts';
import { manifestKey } from './marks.ts';

export type { ByteScope } from './bytes.ts';
export { manifestKey, needsOf } from './marks.ts';

/** What a policy decided has expired: links and sessions, deleted before any byte is. */
export interface Expired {
  /** Deleted first: a reader must never find a tag whose manifest link is gone. */
  tags: Array<{ name: string; tag: string }>;
  manifests: Array<{ name: string; record: Pick<ManifestRecord, 'digest' | 'subject'> }>;
  uploads: string[];
}

export const nothingExpired = (): Expired => ({ tags: [], manifests: [], uploads: [] });

export interface SweepOptions {
  /** Anything written after this (ms since the epoch) is kept: it may belong to a push or a fill under way. */
  keepAfter: number;
  /** Count what would go, delete nothing. */
  dryRun?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((phase: string, done: number) => void) | undefined;
}

export interface SweepReport {
  tagsDeleted: number;
  /** Expired manifest links, and those that could not be pulled whole (gc) that no tag reaches. */
  manifestsDeleted: number;
  uploadsDeleted: number;
  /** Repositories whose manifests were marked. */
  repositories: number;
  blobsKept: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** Links in the scope's repositories to bytes the sweep freed or found missing. */
  linksDeleted: number;
  /** Bytes the kept manifests reference, each digest once (their own bytes, configs, layers). */
  bytesReferenced: number;
}

/**
 * The one way maintenance deletes. First the links policies expired (tags, then manifest links
 * with their referrer entries) and stale upload sessions; then, within `bytes`, what nothing keeps
 * (bytes.ts). Links go before bytes and bytes before the links to them, so a reader racing the
 * sweep finds at worst a link without bytes, which reads as missing (a mirror fetches it again),
 * never a tag without its manifest. At most a few storage operations run at once (the inventory's
 * bound), and memory holds the marks.
 */
export async function sweep(inventory: Inventory, expired: Expired, bytes: ByteScope | undefined, opts: SweepOptions): Promise<SweepReport> {
  const report: SweepReport = { tagsDeleted: 0, manifestsDeleted: 0, uploadsDeleted: 0, repositories: 0, blobsKept: 0, blobsDeleted: 0, bytesFreed: 0, linksDeleted: 0, bytesReferenced: 0 };
  const { dryRun = false, signal } = opts;
  const each = <T>(items: Iterable<T>, fn: (item: T) => Promise<void>): Promise<void> =>
    forEachBounded(items, async (item) => {
      signal?.throwIfAborted();
      await fn(item);
    });

  await each(expired.tags, async ({ name, tag }) => {
    if (dryRun || (await inventory.deleteTag(name, tag))) report.tagsDeleted++;
  });
  await each(expired.manifests, async ({ name, record }) => {
    if (!dryRun) await inventory.unlinkManifest(name, record);
    report.manifestsDeleted++;
  });
  await each(expired.uploads, async (id) => {
    if (!dryRun) await inventory.deleteUpload(id);
    report.uploadsDeleted++;
  });
  if (!bytes) return report;
  const gone = new Set(expired.manifests.map(({ name, record }) => manifestKey(name, record.digest)));
  await sweepBytes(inventory, bytes, gone, opts, report);
  return report;
}
