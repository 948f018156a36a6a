import { formatDigest, type Digest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory, ManifestRecord } from '../registry/inventory.ts';
import type { ByteScope, Confirmed, Doomed } from './bytes.ts';
import { manifestKey, needsOf, type Marks, type Suspect } from './marks.ts';

/**
 * The second look, once the tombstones are written: from here on a push relying on a doomed
 * digest is refused, so what this finds is all that was written in between. It spares what a
 * manifest written since the mark references, what a link written after the cutoff (or any link
 * outside the scope) names, a suspect manifest that is whole now or that a tag points at, and
 * bytes a dangling link names that are there now. Returns the suspects and dangling links that go.
 */
export async function recheck(
  inventory: Inventory,
  bytes: ByteScope,
  marks: Marks,
  doomed: Doomed,
  spare: (key: string) => Promise<void>,
  opts: { keepAfter: number; signal?: AbortSignal | undefined },
): Promise<Confirmed> {
  const young = (at: Date | undefined): boolean => at !== undefined && at.getTime() > opts.keepAfter;
  const isDoomed = (key: string): boolean => doomed.all.has(key) && !doomed.spared.has(key);
  const spareAll = async (keys: Iterable<string>): Promise<void> => {
    for (const key of keys) if (isDoomed(key)) await spare(key);
  };

  for await (const name of inventory.repositories()) {
    opts.signal?.throwIfAborted();
    const inScope = bytes.repositories(name);
    await forEachBounded(await inventory.manifests(name), async (digest) => {
      const key = manifestKey(name, digest);
      if (!inScope) return spareAll([formatDigest(digest)]);
      if (marks.seen.has(key)) return;
      const record = await inventory.manifest(name, digest);
      if (record) await spareAll(needsOf(record));
    });
    await forEachBounded(await inventory.blobLinks(name), async (digest) => {
      const key = formatDigest(digest);
      if (!isDoomed(key)) return;
      if (!inScope || young(await inventory.blobLinked(name, digest))) await spare(key);
    });
  }

  const confirmed: Confirmed = { suspects: [], dangling: new Set() };
  const tagged = taggedIn(inventory);
  await forEachBounded(marks.suspects, async ({ name, record }) => {
    opts.signal?.throwIfAborted();
    const now = isDoomed(formatDigest(record.digest)) ? await inventory.manifest(name, record.digest) : undefined;
    if (now && !young(now.linked) && !(await whole(inventory, name, now)) && !(await tagged(name)).has(formatDigest(now.digest))) {
      confirmed.suspects.push({ name, record: now } satisfies Suspect);
      return;
    }
    await spareAll(needsOf(now ?? record));
  });
  await forEachBounded(marks.dangling, async ({ name, digest }) => {
    const key = formatDigest(digest);
    if (!isDoomed(key)) return;
    if (await inventory.blob(digest)) await spare(key);
    else confirmed.dangling.add(manifestKey(name, digest));
  });
  return confirmed;
}

/** Whether the manifest can be pulled whole from `name`: its bytes, and every blob and child it references. */
async function whole(inventory: Inventory, name: string, record: ManifestRecord): Promise<boolean> {
  if (record.size === undefined) return false;
  let missing = false;
  const check = async (found: () => Promise<boolean>): Promise<void> => {
    if (!missing && !(await found())) missing = true;
  };
  await forEachBounded(record.blobs, ({ digest }) =>
    check(async () => (await inventory.blobLinked(name, digest)) !== undefined && (await inventory.blob(digest)) !== undefined),
  );
  await forEachBounded(record.manifests, (digest: Digest) => check(() => inventory.manifestLinked(name, digest)));
  return !missing;
}

/** The digests tags point at, per repository, read once and only where a suspect asks. */
function taggedIn(inventory: Inventory): (name: string) => Promise<Set<string>> {
  const byName = new Map<string, Promise<Set<string>>>();
  return (name) => {
    let targets = byName.get(name);
    if (!targets) {
      targets = (async () => {
        const found = new Set<string>();
        await forEachBounded(await inventory.tags(name), async (tag) => {
          const target = await inventory.tagTarget(name, tag);
          if (target) found.add(formatDigest(target));
        });
        return found;
      })();
      byName.set(name, targets);
    }
    return targets;
  };
}
