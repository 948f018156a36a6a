import { formatDigest, type Digest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory, ManifestRecord } from '../registry/inventory.ts';

export const manifestKey = (name: string, digest: Digest): string => `${name}@${formatDigest(digest)}`;

/** A manifest's own digest and the blobs it references: what it keeps on storage. */
export const needsOf = (record: ManifestRecord): string[] => [formatDigest(record.digest), ...record.blobs.map((b) => formatDigest(b.digest))];

/** Which repositories a sweep marks in, and what it already knows of their manifests. */
export interface MarkScope {
  repositories: (name: string) => boolean;
  /** What manifests reference, by `name@digest`, when the policy read it already. */
  known?: ReadonlyMap<string, readonly string[]> | undefined;
}

/** A manifest link whose manifest cannot be pulled whole: its bytes, or something it references, is missing here. */
export interface Suspect {
  name: string;
  record: ManifestRecord;
}

/** What the mark phase found. */
export interface Marks {
  /** Digests kept: referenced by a manifest, or linked after the cutoff. */
  marked: Set<string>;
  /** Manifests (`name@digest`) whose references were read: any other found later is new. */
  seen: Set<string>;
  /** Manifests written before the cutoff that look broken; the sweep unlinks those that still are. */
  suspects: Suspect[];
  /** Blob links written before the cutoff to bytes the store did not list. */
  dangling: Array<{ name: string; digest: Digest }>;
  /** Sizes of what the manifests read reference (their own bytes too), as their descriptors give them. */
  sizes: Map<string, number>;
}

export interface MarkOptions {
  keepAfter: number;
  signal?: AbortSignal | undefined;
  onRepository?: () => void;
}

/**
 * Marks, one repository at a time, what the scope's remaining manifests reference (except those in
 * `gone`) and blobs linked after `keepAfter` (a push whose manifest has not arrived yet). With
 * `present`, the digests the store listed before marking began, it also finds what refers to
 * missing bytes: manifests (`suspects`, whose references are then not marked) and links (`dangling`).
 * What was written after `keepAfter` is never suspect: it may be a push under way.
 */
export async function mark(inventory: Inventory, scope: MarkScope, gone: ReadonlySet<string>, present: ReadonlySet<string> | undefined, opts: MarkOptions): Promise<Marks> {
  const marks: Marks = { marked: new Set(), seen: new Set(), suspects: [], dangling: [], sizes: new Map() };
  const { marked, seen } = marks;
  const young = (at: Date | undefined): boolean => at !== undefined && at.getTime() > opts.keepAfter;
  for await (const name of inventory.repositories()) {
    if (!scope.repositories(name)) continue;
    opts.signal?.throwIfAborted();
    opts.onRepository?.();
    // Links first: a manifest's references were linked before it was written.
    const links = await inventory.blobLinks(name);
    const manifests = await inventory.manifests(name);
    const linked = new Set(links.map(formatDigest));
    const listed = new Set(manifests.map(formatDigest));
    const whole = (r: ManifestRecord): boolean =>
      r.size !== undefined &&
      r.blobs.every(({ digest }) => linked.has(formatDigest(digest)) && present!.has(formatDigest(digest))) &&
      r.manifests.every((d) => listed.has(formatDigest(d)));
    await forEachBounded(manifests, async (digest) => {
      const key = manifestKey(name, digest);
      if (gone.has(key)) return;
      let needs = scope.known?.get(key);
      if (needs === undefined) {
        const record = await inventory.manifest(name, digest);
        if (!record) return;
        if (present && !young(record.linked) && !whole(record)) {
          seen.add(key);
          marks.suspects.push({ name, record });
          return;
        }
        needs = needsOf(record);
        if (record.size !== undefined) marks.sizes.set(formatDigest(record.digest), record.size);
        for (const b of record.blobs) marks.sizes.set(formatDigest(b.digest), b.size);
      }
      seen.add(key);
      for (const d of needs) marked.add(d);
    });
    // A link already marked by a manifest needs no look at its time, unless its bytes are missing.
    await forEachBounded(links, async (digest) => {
      const key = formatDigest(digest);
      const missing = present !== undefined && !present.has(key);
      if (marked.has(key) && !missing) return;
      const isYoung = young(await inventory.blobLinked(name, digest));
      if (isYoung) marked.add(key);
      else if (missing) marks.dangling.push({ name, digest });
    });
  }
  return marks;
}
