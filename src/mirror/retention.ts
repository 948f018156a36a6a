import { formatDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { parseManifest } from '../oci/manifest.ts';
import { digestsUnder } from '../registry/gc.ts';
import { layout } from '../registry/layout.ts';
import { readManifestOnDisk } from '../registry/manifests.ts';
import { findRepositories } from '../registry/repositories.ts';
import type { Tags } from '../registry/tags.ts';
import type { Driver } from '../storage/driver.ts';
import type { Router } from './router.ts';

export interface RetentionPolicy {
  /** Images unused this long expire; 0: no age limit. */
  maxAgeMs: number;
  /** Bytes mirrored content may occupy; past it the least recently used images expire. 0: no limit. */
  maxBytes: number;
}

export interface RetentionReport {
  touched: number;
  manifestsExpired: number;
  tagsExpired: number;
  /** Bytes mirrored content occupied before and after this sweep, counted as `maxSize` counts them. */
  bytesBefore: number;
  bytesAfter: number;
  /** Blobs (layers, configs, manifests' own bytes) deleted because nothing kept uses them any more. */
  blobsDeleted: number;
  bytesFreed: number;
}

const keyOf = (name: string, digest: Digest): string => `${name}@${formatDigest(digest)}`;

/**
 * Which mirrored manifests were served since the last sweep. The sweep rewrites their links, so a
 * link's modification time is its last use to within one interval, across restarts and replicas.
 */
export class UsageLog {
  readonly #used = new Map<string, { name: string; digest: Digest; at: number }>();

  note(name: string, digest: Digest, at = Date.now()): void {
    this.#used.set(keyOf(name, digest), { name, digest, at });
  }

  /** Whether the manifest was served since the last drain (while a sweep runs, say). */
  has(name: string, digest: Digest): boolean {
    return this.#used.has(keyOf(name, digest));
  }

  drain(): Array<{ name: string; digest: Digest; at: number }> {
    const out = [...this.#used.values()];
    this.#used.clear();
    return out;
  }
}

/** One mirrored manifest as the sweep found it. */
interface Held {
  name: string;
  digest: Digest;
  key: string;
  /** Its last use: when it was served since the last sweep, else its link's modification time. */
  lastUsed: number;
  /** Served since the last sweep (or during this one): never expired by size. */
  recent: boolean;
  /** Digests it keeps on disk: its own bytes, its config and its layers. */
  needs: string[];
  /** Digests an index lists; those stored in the same repository count as part of it. */
  listed: string[];
}

interface Scan {
  held: Map<string, Held>;
  /** Bytes per digest, from the descriptors that name it (a manifest's own: its length). */
  sizes: Map<string, number>;
  /** Blob digests linked in mirrored repositories, and which repositories link each. */
  blobLinks: Map<string, string[]>;
}

/**
 * The cache size policy, applied by one background sweep: mirrored images unused for `maxAgeMs`
 * expire, and while mirrored content occupies more than `maxBytes`, the least recently used images
 * expire until it fits. An image is a manifest that no stored index of its repository lists, with
 * everything such an index lists that is stored there; it is used when any of its manifests is.
 * Expiring takes the tags pointing at it first, then its manifest links. The sweep then deletes the
 * bytes only expired content used: never a blob that a remaining mirrored manifest references, that
 * a local repository links, or that was written while the sweep ran. What expired is fetched from
 * the upstream again the next time a client asks for it.
 */
export async function sweepMirrored(driver: Driver, tags: Tags, router: Router, usage: UsageLog, policy: RetentionPolicy, now = Date.now()): Promise<RetentionReport> {
  const startedAt = Date.now();
  const report: RetentionReport = { touched: 0, manifestsExpired: 0, tagsExpired: 0, bytesBefore: 0, bytesAfter: 0, blobsDeleted: 0, bytesFreed: 0 };
  const touched = new Map<string, number>();
  for (const { name, digest, at } of usage.drain()) {
    const link = await driver.get(layout.manifestLink(name, digest));
    if (!link) continue;
    await driver.put(layout.manifestLink(name, digest), link);
    touched.set(keyOf(name, digest), at);
    report.touched++;
  }

  const prefixes = router.upstreams.map((u) => `${u.prefix}/`);
  const repos = await findRepositories(driver, (entries) => entries.some((e) => e.startsWith('_')));
  const mirrored = repos.filter((n) => prefixes.some((p) => n.startsWith(p)));
  const local = repos.filter((n) => !prefixes.some((p) => n.startsWith(p)));
  let localLinked: Promise<Set<string>> | undefined;
  /** Digests local repositories link (blobs and manifests): theirs, never the mirror's to count or delete. */
  const localDigests = (): Promise<Set<string>> => (localLinked ??= linkedBy(driver, local));

  const scan = await scanMirrored(driver, mirrored, touched, now);
  for (const h of scan.held.values()) if (usage.has(h.name, h.digest)) h.recent = true;
  const own = new Set([...scan.held.values()].map((h) => formatDigest(h.digest)));
  const localSet = policy.maxBytes > 0 ? await localDigests() : new Set<string>();
  const counted = (d: string): boolean => (own.has(d) || scan.blobLinks.has(d)) && !localSet.has(d);
  const plan = planExpiry(scan, counted, policy, now);
  report.bytesBefore = plan.bytesBefore;
  report.bytesAfter = plan.bytesAfter;

  // Tags first: a reader must never find a tag whose manifest link is gone.
  const expiredByRepo = new Map<string, Held[]>();
  for (const key of plan.expired) {
    const h = scan.held.get(key)!;
    expiredByRepo.set(h.name, [...(expiredByRepo.get(h.name) ?? []), h]);
  }
  for (const [name, expired] of expiredByRepo) {
    const keys = new Set(expired.map((h) => h.key));
    for (const tag of await tags.all(name)) {
      const target = await tags.resolve(name, tag);
      if (target && keys.has(keyOf(name, target)) && (await tags.delete(name, tag))) report.tagsExpired++;
    }
    for (const h of expired) {
      await driver.delete(layout.manifestLink(name, h.digest));
      report.manifestsExpired++;
    }
  }

  // What stays needs: every kept manifest's bytes, config and layers, including manifests that
  // arrived in these repositories while the sweep ran.
  const marked = new Set<string>();
  for (const h of scan.held.values()) if (!plan.expired.has(h.key)) for (const d of h.needs) marked.add(d);
  for (const name of mirrored) {
    for (const digest of await digestsUnder(driver, layout.manifestLinks(name))) {
      if (scan.held.has(keyOf(name, digest))) continue;
      const arrived = await readHeld(driver, name, digest, new Map());
      for (const d of arrived?.needs ?? []) marked.add(d);
    }
  }
  const candidates = new Set([...scan.blobLinks.keys(), ...[...plan.expired].map((key) => formatDigest(scan.held.get(key)!.digest))]);
  const unneeded = [...candidates].filter((d) => !marked.has(d));
  if (unneeded.length === 0) return report;
  const protectedByLocal = await localDigests();
  for (const d of unneeded) {
    if (protectedByLocal.has(d)) continue;
    const digest = parseDigest(d);
    const info = await driver.stat(layout.blob(digest));
    // Written after the sweep began (S3 times are whole seconds, hence the margin): a fill that
    // just landed. Its link stays too, so the next sweep looks at it again.
    if (info && info.modified.getTime() > startedAt - 1_000) continue;
    if (info) {
      await driver.delete(layout.blob(digest));
      report.blobsDeleted++;
      report.bytesFreed += info.size;
    }
    // After the bytes, as gc does: a link without bytes reads as a miss and is filled again.
    for (const name of scan.blobLinks.get(d) ?? []) await driver.delete(layout.blobLink(name, digest));
  }
  return report;
}

async function scanMirrored(driver: Driver, repos: string[], touched: Map<string, number>, now: number): Promise<Scan> {
  const scan: Scan = { held: new Map(), sizes: new Map(), blobLinks: new Map() };
  for (const name of repos) {
    for (const digest of await digestsUnder(driver, layout.manifestLinks(name))) {
      const h = await readHeld(driver, name, digest, scan.sizes);
      if (!h) continue;
      const usedAt = touched.get(h.key);
      if (usedAt !== undefined) {
        h.lastUsed = Math.min(usedAt, now);
        h.recent = true;
      }
      scan.held.set(h.key, h);
    }
    for (const digest of await digestsUnder(driver, `${layout.repository(name)}/_blobs`)) {
      const d = formatDigest(digest);
      scan.blobLinks.set(d, [...(scan.blobLinks.get(d) ?? []), name]);
    }
  }
  return scan;
}

/** A manifest link and what its manifest references; undefined when the link is gone. */
async function readHeld(driver: Driver, name: string, digest: Digest, sizes: Map<string, number>): Promise<Held | undefined> {
  const stored = await readManifestOnDisk(driver, name, digest);
  if (!stored) return undefined;
  const { bytes, mediaType } = stored;
  const own = formatDigest(digest);
  const h: Held = { name, digest, key: keyOf(name, digest), lastUsed: stored.modified.getTime(), recent: false, needs: [own], listed: [] };
  if (!bytes) return h;
  sizes.set(own, bytes.byteLength);
  try {
    const info = parseManifest(bytes, mediaType);
    for (const b of info.blobs) {
      const d = formatDigest(b.digest);
      h.needs.push(d);
      if (!sizes.has(d)) sizes.set(d, b.size);
    }
    h.listed = info.manifests.map((m) => formatDigest(m.digest));
  } catch {
    // Unreadable bytes reference nothing; the manifest itself still counts.
  }
  return h;
}

/** Digests the repositories link, as blobs or as manifests. */
async function linkedBy(driver: Driver, repos: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const name of repos) {
    for (const prefix of [`${layout.repository(name)}/_blobs`, layout.manifestLinks(name)]) {
      for (const digest of await digestsUnder(driver, prefix)) out.add(formatDigest(digest));
    }
  }
  return out;
}

/**
 * Which manifests expire. Images (a manifest no stored index of its repository lists, with what it
 * lists there) expire whole: by age when unused for `maxAgeMs`, then, least recently used first,
 * while the bytes still needed exceed `maxBytes`. A manifest two images list stays while either
 * does; a digest (a layer two images share, say) counts once and is freed only when nothing kept
 * needs it. Images used since the last sweep are never expired by size.
 */
function planExpiry(scan: Scan, counted: (digest: string) => boolean, policy: RetentionPolicy, now: number): { expired: Set<string>; bytesBefore: number; bytesAfter: number } {
  const { held, sizes } = scan;
  const childrenOf = (h: Held): Held[] => h.listed.flatMap((d) => held.get(`${h.name}@${d}`) ?? []);
  const listedSomewhere = new Set<string>();
  for (const h of held.values()) for (const c of childrenOf(h)) listedSomewhere.add(c.key);
  const images = [...held.values()]
    .filter((h) => !listedSomewhere.has(h.key))
    .map((root) => {
      const members = new Map<string, Held>([[root.key, root]]);
      const queue = [root];
      for (let h = queue.pop(); h; h = queue.pop()) {
        for (const c of childrenOf(h)) if (!members.has(c.key)) (members.set(c.key, c), queue.push(c));
      }
      const all = [...members.values()];
      return { key: root.key, members: all, lastUsed: Math.max(...all.map((m) => m.lastUsed)), recent: all.some((m) => m.recent) };
    });

  const memberRefs = new Map<string, number>();
  for (const image of images) for (const m of image.members) memberRefs.set(m.key, (memberRefs.get(m.key) ?? 0) + 1);
  const digestRefs = new Map<string, number>();
  for (const h of held.values()) if (memberRefs.has(h.key)) for (const d of new Set(h.needs)) digestRefs.set(d, (digestRefs.get(d) ?? 0) + 1);
  let bytes = 0;
  for (const d of digestRefs.keys()) if (counted(d)) bytes += sizes.get(d) ?? 0;
  const bytesBefore = bytes;

  const expired = new Set<string>();
  const gone = new Set<string>();
  const expire = (image: (typeof images)[number]): void => {
    gone.add(image.key);
    for (const m of image.members) {
      const left = (memberRefs.get(m.key) ?? 1) - 1;
      memberRefs.set(m.key, left);
      if (left > 0) continue;
      expired.add(m.key);
      for (const d of new Set(m.needs)) {
        const refs = (digestRefs.get(d) ?? 1) - 1;
        digestRefs.set(d, refs);
        if (refs === 0 && counted(d)) bytes -= sizes.get(d) ?? 0;
      }
    }
  };
  if (policy.maxAgeMs > 0) for (const image of images) if (!image.recent && now - image.lastUsed > policy.maxAgeMs) expire(image);
  if (policy.maxBytes > 0 && bytes > policy.maxBytes) {
    const lru = images.filter((i) => !i.recent && !gone.has(i.key)).sort((a, b) => a.lastUsed - b.lastUsed || a.key.localeCompare(b.key));
    for (const image of lru) {
      if (bytes <= policy.maxBytes) break;
      expire(image);
    }
  }
  return { expired, bytesBefore, bytesAfter: bytes };
}
