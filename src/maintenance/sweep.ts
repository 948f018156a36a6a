import { formatDigest, type Digest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory, ManifestRecord } from '../registry/inventory.ts';

/** What a policy decided has expired: links and sessions, deleted before any byte is. */
export interface Expired {
  /** Deleted first: a reader must never find a tag whose manifest link is gone. */
  tags: Array<{ name: string; tag: string }>;
  manifests: Array<{ name: string; record: Pick<ManifestRecord, 'digest' | 'subject'> }>;
  uploads: string[];
}

export const nothingExpired = (): Expired => ({ tags: [], manifests: [], uploads: [] });

/** Which bytes a sweep may free, once the expired links are gone. */
export interface ByteScope {
  /** Repositories whose manifests keep bytes, and whose links to freed bytes go with them. */
  repositories: (name: string) => boolean;
  /** The blobs that may go unless something keeps them: every blob in the store, or these. */
  candidates: 'store' | Iterable<Digest>;
  /** Digests kept whatever the marks say (what another scope links); asked for once, when first needed. */
  protect?: () => Promise<ReadonlySet<string>>;
  /** What manifests reference (their own digest, config, layers), by `name@digest`, when the policy read it already. */
  known?: ReadonlyMap<string, readonly string[]>;
}

export interface SweepOptions {
  /** Anything written after this (ms since the epoch) is kept: it may belong to a push or a fill under way. */
  keepAfter: number;
  /** Count what would go, delete nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (phase: string, done: number) => void;
}

export interface SweepReport {
  tagsDeleted: number;
  manifestsDeleted: number;
  uploadsDeleted: number;
  /** Repositories whose manifests were marked. */
  repositories: number;
  blobsKept: number;
  blobsDeleted: number;
  bytesFreed: number;
  /** Links in the scope's repositories to bytes the sweep freed (or found gone). */
  linksDeleted: number;
}

export const manifestKey = (name: string, digest: Digest): string => `${name}@${formatDigest(digest)}`;

/** A manifest's own digest and the blobs it references: what it keeps on storage. */
export const needsOf = (record: ManifestRecord): string[] => [formatDigest(record.digest), ...record.blobs.map((b) => formatDigest(b.digest))];

/**
 * The one way maintenance deletes. First the links policies expired (tags, then manifest links
 * with their referrer entries) and stale upload sessions; then, within `bytes`, mark and sweep:
 * everything a remaining manifest of the scope references is marked, as is every blob linked after
 * `keepAfter` (a push whose manifest has not arrived yet); candidates neither marked, protected
 * nor written after `keepAfter` are deleted, and then the scope's links to them. Links go before
 * bytes and bytes before the links to them, so a reader racing the sweep finds at worst a link
 * without bytes, which reads as missing (a mirror fetches it again), never a tag without its manifest.
 * At most a few storage operations run at once (the inventory's bound), and memory holds the marks.
 */
export async function sweep(inventory: Inventory, expired: Expired, bytes: ByteScope | undefined, opts: SweepOptions): Promise<SweepReport> {
  const report: SweepReport = { tagsDeleted: 0, manifestsDeleted: 0, uploadsDeleted: 0, repositories: 0, blobsKept: 0, blobsDeleted: 0, bytesFreed: 0, linksDeleted: 0 };
  const { dryRun = false, signal } = opts;
  const each = <T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>): Promise<void> =>
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
  const marked = await mark(inventory, bytes, gone, opts, report);

  let protecting: Promise<ReadonlySet<string>> | undefined;
  const freed = new Set<string>();
  const candidates = bytes.candidates === 'store' ? inventory.blobs() : bytes.candidates;
  await each(candidates, async (digest) => {
    const key = formatDigest(digest);
    if (marked.has(key)) {
      report.blobsKept++;
      return;
    }
    protecting ??= bytes.protect?.() ?? Promise.resolve(new Set());
    if ((await protecting).has(key)) return;
    const info = await inventory.blob(digest);
    if (info && info.modified.getTime() > opts.keepAfter) {
      // Its links stay too, so the next sweep looks at it again.
      report.blobsKept++;
      return;
    }
    freed.add(key);
    if (!info) return;
    if (!dryRun) await inventory.deleteBlob(digest);
    report.blobsDeleted++;
    report.bytesFreed += info.size;
    opts.onProgress?.('sweep', report.blobsDeleted + report.blobsKept);
  });
  if (freed.size === 0) return report;

  await each(inScope(inventory, bytes), async (name) => {
    for (const digest of await inventory.blobLinks(name)) {
      if (!freed.has(formatDigest(digest))) continue;
      if (!dryRun) await inventory.unlinkBlob(name, digest);
      report.linksDeleted++;
    }
  });
  opts.onProgress?.('done', report.blobsDeleted);
  return report;
}

async function* inScope(inventory: Inventory, bytes: ByteScope): AsyncGenerator<string> {
  for await (const name of inventory.repositories()) if (bytes.repositories(name)) yield name;
}

/** Digests the scope keeps: what its remaining manifests reference, and blobs linked after `keepAfter`. */
async function mark(inventory: Inventory, bytes: ByteScope, gone: ReadonlySet<string>, opts: SweepOptions, report: SweepReport): Promise<Set<string>> {
  const marked = new Set<string>();
  const { signal } = opts;
  // One repository at a time, its manifests and then its links a few at once: a link already
  // marked by a manifest needs no look at its time.
  for await (const name of inScope(inventory, bytes)) {
    signal?.throwIfAborted();
    report.repositories++;
    opts.onProgress?.('mark', report.repositories);
    await forEachBounded(await inventory.manifests(name), async (digest) => {
      const key = manifestKey(name, digest);
      if (gone.has(key)) return;
      let needs = bytes.known?.get(key);
      if (needs === undefined) {
        const record = await inventory.manifest(name, digest);
        needs = record ? needsOf(record) : [];
      }
      for (const d of needs) marked.add(d);
    });
    await forEachBounded(await inventory.blobLinks(name), async (digest) => {
      const key = formatDigest(digest);
      if (marked.has(key)) return;
      const linked = await inventory.blobLinked(name, digest);
      if (linked && linked.getTime() > opts.keepAfter) marked.add(key);
    });
  }
  return marked;
}
