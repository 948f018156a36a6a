import { formatDigest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory, ManifestRecord } from '../registry/inventory.ts';
import type { Expired } from './sweep.ts';

/**
 * The `gc.deleteUntagged` policy: manifests no tag reaches, directly, as a child of a reached
 * index, or as a referrer of a reached manifest; those linked after `keepAfter` stay (a push of
 * an index sends its children first). One repository is held in memory at a time.
 */
export async function untaggedManifests(inventory: Inventory, keepAfter: number, signal?: AbortSignal): Promise<Expired['manifests']> {
  const expired: Expired['manifests'] = [];
  for await (const name of inventory.repositories()) {
    signal?.throwIfAborted();
    const digests = await inventory.manifests(name);
    if (digests.length === 0) continue;
    const records = new Map<string, ManifestRecord>();
    await forEachBounded(digests, async (digest) => {
      const record = await inventory.manifest(name, digest);
      if (record) records.set(formatDigest(digest), record);
    });
    const reached = new Set<string>();
    await forEachBounded(await inventory.tags(name), async (tag) => {
      const target = await inventory.tagTarget(name, tag);
      if (target) reached.add(formatDigest(target));
    });
    for (const [key, record] of records) if (record.linked.getTime() > keepAfter) reached.add(key);

    const referrers = new Map<string, string[]>();
    for (const [key, record] of records) {
      if (!record.subject) continue;
      const subject = formatDigest(record.subject);
      referrers.set(subject, [...(referrers.get(subject) ?? []), key]);
    }
    const queue = [...reached];
    for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
      const children = records.get(key)?.manifests.map(formatDigest) ?? [];
      for (const next of [...children, ...(referrers.get(key) ?? [])]) {
        if (reached.has(next)) continue;
        reached.add(next);
        queue.push(next);
      }
    }
    for (const [key, record] of records) if (!reached.has(key)) expired.push({ name, record: { digest: record.digest, subject: record.subject } });
  }
  return expired;
}
