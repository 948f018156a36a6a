import { formatDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Collection } from '../registry/collections.ts';
import type { Inventory } from '../registry/inventory.ts';
import { mark, manifestKey, type Suspect } from './marks.ts';
import { recheck } from './recheck.ts';
import type { SweepOptions, SweepReport } from './sweep.ts';

/** Which bytes a sweep may free, once the expired links are gone. */
export interface ByteScope {
  /** Repositories whose manifests keep bytes, and whose links to freed bytes go with them. */
  repositories: (name: string) => boolean;
  /**
   * The blobs that may go unless something keeps them: every blob in the store (which also
   * repairs what refers to missing bytes: links, and manifests no tag reaches), or these.
   */
  candidates: 'store' | Iterable<Digest>;
  /** Digests kept whatever the marks say (what another scope links); asked for once, when first needed. */
  protect?: () => Promise<ReadonlySet<string>>;
  /** What manifests reference (their own digest, config, layers), by `name@digest`, when the policy read it already. */
  known?: ReadonlyMap<string, readonly string[]>;
}

/** What a sweep is about to delete, each under a tombstone (src/registry/collections.ts). */
export interface Doomed {
  /** Every digest with a tombstone, by its text. */
  all: Map<string, Digest>;
  /** Candidates whose bytes go, with their size (undefined: already missing, only links go). */
  bytes: Map<string, number | undefined>;
  /** Taken back: something was found to use them after all. */
  spared: Set<string>;
}

/**
 * Mark and sweep within a scope, safe beside pushes in this process, other processes and other
 * replicas. It marks what the scope's manifests reference and what was linked after the cutoff;
 * announces what it is about to delete with tombstones (a push that relies on one of them from
 * then on is refused: src/registry/collections.ts); looks again for what was written meanwhile and
 * spares what that uses (`recheck`); and only then deletes: manifest links that cannot be pulled
 * whole and no tag reaches, unmarked bytes, then the scope's links to what is gone.
 */
export async function sweepBytes(inventory: Inventory, bytes: ByteScope, gone: ReadonlySet<string>, opts: SweepOptions, report: SweepReport): Promise<void> {
  const { dryRun = false, signal, keepAfter } = opts;
  const each = <T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>): Promise<void> =>
    forEachBounded(items, async (item) => {
      signal?.throwIfAborted();
      await fn(item);
    });
  const present = bytes.candidates === 'store' ? await listed(inventory, signal) : undefined;
  const onRepository = (): void => {
    report.repositories++;
    opts.onProgress?.('mark', report.repositories);
  };
  const marks = await mark(inventory, bytes, gone, present, { keepAfter, signal, onRepository });
  for (const key of marks.marked) report.bytesReferenced += marks.sizes.get(key) ?? 0;

  const doomed: Doomed = { all: new Map(), bytes: new Map(), spared: new Set() };
  let protecting: Promise<ReadonlySet<string>> | undefined;
  const candidates = bytes.candidates === 'store' ? digestsOf(present ?? []) : bytes.candidates;
  await each(candidates, async (digest) => {
    const key = formatDigest(digest);
    if (marks.marked.has(key)) {
      report.blobsKept++;
      return;
    }
    protecting ??= bytes.protect?.() ?? Promise.resolve(new Set());
    if ((await protecting).has(key)) return;
    const info = await inventory.blob(digest);
    if (info && info.modified.getTime() > keepAfter) {
      // Its links stay too, so the next sweep looks at it again.
      report.blobsKept++;
      return;
    }
    doomed.all.set(key, digest);
    doomed.bytes.set(key, info?.size);
    opts.onProgress?.('sweep', doomed.bytes.size + report.blobsKept);
  });
  for (const { record } of marks.suspects) doomed.all.set(formatDigest(record.digest), record.digest);
  for (const { digest } of marks.dangling) doomed.all.set(formatDigest(digest), digest);
  if (doomed.all.size === 0) return;

  const run = dryRun ? undefined : await inventory.beginCollection();
  try {
    if (run) {
      await each(doomed.all.values(), (digest) => run.doom(digest));
      await run.settled();
    }
    const spare = async (key: string): Promise<void> => {
      const digest = doomed.all.get(key);
      if (!digest || doomed.spared.has(key)) return;
      doomed.spared.add(key);
      if (doomed.bytes.has(key)) report.blobsKept++;
      await run?.spare(digest);
    };
    const confirmed = await recheck(inventory, bytes, marks, doomed, spare, { keepAfter, signal });
    await remove(inventory, run, bytes, doomed, confirmed, { dryRun, signal, report, onProgress: opts.onProgress });
  } finally {
    await run?.end();
  }
}

/** Every blob the store holds, by its text: listed before marking, so nothing stored later is a candidate. */
async function listed(inventory: Inventory, signal: AbortSignal | undefined): Promise<Set<string>> {
  const present = new Set<string>();
  for await (const digest of inventory.blobs()) {
    signal?.throwIfAborted();
    present.add(formatDigest(digest));
  }
  return present;
}

/** What `recheck` found still broken or dangling under the tombstones: it goes. */
export interface Confirmed {
  suspects: Suspect[];
  /** `name@digest` of links to bytes that are still missing. */
  dangling: Set<string>;
}

/** Deletes what is doomed and not spared: broken manifest links, then bytes, then the scope's links to them. */
async function remove(
  inventory: Inventory,
  run: Collection | undefined,
  bytes: ByteScope,
  doomed: Doomed,
  confirmed: Confirmed,
  opts: { dryRun: boolean; signal: AbortSignal | undefined; report: SweepReport; onProgress: SweepOptions['onProgress'] },
): Promise<void> {
  const { report, signal } = opts;
  const each = <T>(items: Iterable<T> | AsyncIterable<T>, fn: (item: T) => Promise<void>): Promise<void> =>
    forEachBounded(items, async (item) => {
      signal?.throwIfAborted();
      run?.assertLive();
      await fn(item);
    });
  await each(confirmed.suspects, async ({ name, record }) => {
    if (!opts.dryRun) await inventory.unlinkManifest(name, record);
    report.manifestsDeleted++;
  });
  const freed = new Set<string>();
  await each(doomed.bytes, async ([key, size]) => {
    if (doomed.spared.has(key)) return;
    freed.add(key);
    if (size === undefined) return;
    if (!opts.dryRun) await inventory.deleteBlob(doomed.all.get(key)!);
    report.blobsDeleted++;
    report.bytesFreed += size;
    opts.onProgress?.('sweep', report.blobsDeleted + report.blobsKept);
  });
  if (freed.size === 0 && confirmed.dangling.size === 0) return;
  await each(inventory.repositories(), async (name) => {
    if (!bytes.repositories(name)) return;
    for (const digest of await inventory.blobLinks(name)) {
      const key = formatDigest(digest);
      if (!freed.has(key) && !confirmed.dangling.has(manifestKey(name, digest))) continue;
      run?.assertLive();
      if (!opts.dryRun) await inventory.unlinkBlob(name, digest);
      report.linksDeleted++;
    }
  });
  opts.onProgress?.('done', report.blobsDeleted);
}

function* digestsOf(keys: Iterable<string>): Generator<Digest> {
  for (const key of keys) yield parseDigest(key);
}
