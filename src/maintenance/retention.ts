import { formatDigest, parseDigest, type Digest } from '../oci/digest.ts';
import { forEachBounded } from '../registry/bounded.ts';
import type { Inventory } from '../registry/inventory.ts';
import type { NextEviction } from './history.ts';
import { manifestKey, nothingExpired, sweep, type Expired } from './sweep.ts';

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
  /** Bytes the images `pinned` keeps occupy (counted as `maxSize` counts them); past `maxBytes`, nothing else is kept. */
  bytesPinned: number;
}

/**
 * The tags of a mirrored repository that must keep their images whatever their age or the cache's
 * size (prefetch's selection), given the tags stored there; undefined for a repository none are.
 */
export type Pinned = (name: string) => ((tags: readonly string[]) => readonly string[]) | undefined;

/** Which mirrored manifests were served since the last look, and when each was last served (the mirror's UsageLog). */
export interface Usage {
  drain(): Array<{ name: string; digest: Digest; at: number }>;
  has(name: string, digest: Digest): boolean;
  /** Recorded last uses of the repository's manifests (`sha256:...` → ms), across restarts and replicas. */
  lastUsed(name: string): Promise<ReadonlyMap<string, number>>;
}

/** One mirrored manifest as the policy found it. */
interface Held {
  name: string;
  digest: Digest;
  subject: Digest | undefined;
  key: string;
  /** Its last use: when it was last served, as recorded, else when its link was written (fetched). */
  lastUsed: number;
  /** Served since the last sweep (or during this one): never expired by size. */
  recent: boolean;
  /** A pinned tag points at it: its image never expires. */
  pinned: boolean;
  /** Digests it keeps on storage: its own bytes, its config and its layers. */
  needs: string[];
  /** Digests an index lists; those stored in the same repository count as part of it. */
  listed: string[];
}

interface Scan {
  held: Map<string, Held>;
  /** Bytes per digest, from the descriptors that name it (a manifest's own: its length). */
  sizes: Map<string, number>;
  /** Blob digests linked in mirrored repositories. */
  blobLinks: Set<string>;
}

/**
 * The mirror's cache size policy: mirrored images unused for `maxAgeMs` expire, and while mirrored
 * content occupies more than `maxBytes`, the least recently used images expire until it fits. An
 * image is a manifest that no stored index of its repository lists, with everything such an index
 * lists that is stored there; it is used when any of its manifests is. The sweep then takes the
 * tags pointing at expired images, their manifest links, and the bytes only expired content used:
 * never a blob that a remaining mirrored manifest references, that a local repository links, or
 * that was written since the pass began. What expired is fetched from the upstream again the next
 * time a client asks for it. Images a `pinned` tag points at (what prefetch keeps warm) expire
 * neither way: evicted, they would be downloaded again by the next prefetch run. When they alone
 * exceed `maxBytes`, they all stay and everything else that may go goes (`bytesPinned` says so).
 */
export async function expireMirrored(
  inventory: Inventory,
  usage: Usage,
  mirrored: (name: string) => boolean,
  policy: RetentionPolicy,
  opts: {
    now?: number;
    signal?: AbortSignal;
    /** Told what the next sweep would expire first, as this one leaves things. */
    planned?: (next: NextEviction[]) => void;
    /** Tags whose images stay (prefetch's): neither age nor size expires them. */
    pinned?: Pinned;
  } = {},
): Promise<RetentionReport> {
  const startedAt = Date.now();
  const now = opts.now ?? startedAt;
  const report: RetentionReport = { touched: 0, manifestsExpired: 0, tagsExpired: 0, bytesBefore: 0, bytesAfter: 0, blobsDeleted: 0, bytesFreed: 0, bytesPinned: 0 };
  const touched = new Map(usage.drain().map(({ name, digest, at }) => [manifestKey(name, digest), at] as const));

  let localLinked: Promise<Set<string>> | undefined;
  /** Digests local repositories link (blobs and manifests): theirs, never the mirror's to count or delete. */
  const localDigests = (): Promise<Set<string>> => (localLinked ??= linkedOutside(inventory, mirrored));

  const scan = await scanMirrored(inventory, usage, mirrored, touched, now, opts.pinned);
  report.touched = [...scan.held.values()].filter((h) => h.recent).length;
  for (const h of scan.held.values()) if (usage.has(h.name, h.digest)) h.recent = true;
  const own = new Set([...scan.held.values()].map((h) => formatDigest(h.digest)));
  const localSet = policy.maxBytes > 0 ? await localDigests() : new Set<string>();
  const counted = (d: string): boolean => (own.has(d) || scan.blobLinks.has(d)) && !localSet.has(d);
  const plan = planExpiry(scan, counted, policy, now);
  report.bytesBefore = plan.bytesBefore;
  report.bytesAfter = plan.bytesAfter;
  report.bytesPinned = plan.bytesPinned;
  opts.planned?.(plan.next.map((n) => ({ repository: n.name, digest: formatDigest(n.digest), bytes: n.bytes, lastUsed: new Date(n.lastUsed) })));

  const expired = await expiredLinks(inventory, scan, plan.expired);
  const candidates = new Set([...scan.blobLinks, ...[...plan.expired].map((key) => formatDigest(scan.held.get(key)!.digest))]);
  const known = new Map([...scan.held.values()].map((h) => [h.key, h.needs] as const));
  const swept = await sweep(
    inventory,
    expired,
    { repositories: mirrored, candidates: [...candidates].map(parseDigest), protect: localDigests, known },
    // S3 times are whole seconds, hence the margin: a fill that landed as the pass began stays.
    { keepAfter: startedAt - 1_000, signal: opts.signal },
  );
  report.manifestsExpired = swept.manifestsDeleted;
  report.tagsExpired = swept.tagsDeleted;
  report.blobsDeleted = swept.blobsDeleted;
  report.bytesFreed = swept.bytesFreed;
  return report;
}

/** The expired manifests' links, and the tags pointing at them, which go first. */
async function expiredLinks(inventory: Inventory, scan: Scan, keys: ReadonlySet<string>): Promise<Expired> {
  const expired = nothingExpired();
  const byRepo = new Map<string, Held[]>();
  for (const key of keys) {
    const h = scan.held.get(key)!;
    byRepo.set(h.name, [...(byRepo.get(h.name) ?? []), h]);
  }
  for (const [name, held] of byRepo) {
    await forEachBounded(await inventory.tags(name), async (tag) => {
      const target = await inventory.tagTarget(name, tag);
      if (target && keys.has(manifestKey(name, target))) expired.tags.push({ name, tag });
    });
    for (const h of held) expired.manifests.push({ name, record: { digest: h.digest, subject: h.subject } });
  }
  return expired;
}

async function scanMirrored(
  inventory: Inventory,
  usage: Usage,
  mirrored: (name: string) => boolean,
  touched: Map<string, number>,
  now: number,
  pinned: Pinned | undefined,
): Promise<Scan> {
  const scan: Scan = { held: new Map(), sizes: new Map(), blobLinks: new Set() };
  for await (const name of inventory.repositories()) {
    if (!mirrored(name)) continue;
    const used = await usage.lastUsed(name);
    const pins = await pinnedManifests(inventory, name, pinned);
    await forEachBounded(await inventory.manifests(name), async (digest) => {
      const h = await readHeld(inventory, name, digest, scan.sizes);
      if (!h) return;
      const touchedAt = touched.get(h.key);
      const usedAt = Math.max(touchedAt ?? -Infinity, used.get(formatDigest(digest)) ?? -Infinity);
      if (usedAt > h.lastUsed) h.lastUsed = Math.min(usedAt, now);
      if (touchedAt !== undefined) h.recent = true;
      h.pinned = pins.has(formatDigest(digest));
      scan.held.set(h.key, h);
    });
    for (const digest of await inventory.blobLinks(name)) scan.blobLinks.add(formatDigest(digest));
  }
  return scan;
}

/** The manifests (`sha256:...`) the repository's pinned tags point at. */
async function pinnedManifests(inventory: Inventory, name: string, pinned: Pinned | undefined): Promise<Set<string>> {
  const select = pinned?.(name);
  const out = new Set<string>();
  if (!select) return out;
  await forEachBounded([...select(await inventory.tags(name))], async (tag) => {
    const target = await inventory.tagTarget(name, tag);
    if (target) out.add(formatDigest(target));
  });
  return out;
}

/** A manifest link and what its manifest references; undefined when the link is gone. */
async function readHeld(inventory: Inventory, name: string, digest: Digest, sizes: Map<string, number>): Promise<Held | undefined> {
  const record = await inventory.manifest(name, digest);
  if (!record) return undefined;
  const own = formatDigest(digest);
  const h: Held = { name, digest, subject: record.subject, key: manifestKey(name, digest), lastUsed: record.linked.getTime(), recent: false, pinned: false, needs: [own], listed: [] };
  if (record.size === undefined) return h;
  sizes.set(own, record.size);
  for (const b of record.blobs) {
    const d = formatDigest(b.digest);
    h.needs.push(d);
    if (!sizes.has(d)) sizes.set(d, b.size);
  }
  h.listed = record.manifests.map(formatDigest);
  return h;
}

/** Digests the repositories outside the scope link, as blobs or as manifests. */
async function linkedOutside(inventory: Inventory, inScope: (name: string) => boolean): Promise<Set<string>> {
  const out = new Set<string>();
  for await (const name of inventory.repositories()) {
    if (inScope(name)) continue;
    for (const digest of [...(await inventory.blobLinks(name)), ...(await inventory.manifests(name))]) out.add(formatDigest(digest));
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
function planExpiry(
  scan: Scan,
  counted: (digest: string) => boolean,
  policy: RetentionPolicy,
  now: number,
): { expired: Set<string>; bytesBefore: number; bytesAfter: number; bytesPinned: number; next: Array<{ name: string; digest: Digest; lastUsed: number; bytes: number }> } {
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
      return {
        key: root.key,
        members: all,
        lastUsed: Math.max(...all.map((m) => m.lastUsed)),
        recent: all.some((m) => m.recent),
        pinned: all.some((m) => m.pinned),
      };
    });

  const memberRefs = new Map<string, number>();
  for (const image of images) for (const m of image.members) memberRefs.set(m.key, (memberRefs.get(m.key) ?? 0) + 1);
  const digestRefs = new Map<string, number>();
  for (const h of held.values()) if (memberRefs.has(h.key)) for (const d of new Set(h.needs)) digestRefs.set(d, (digestRefs.get(d) ?? 0) + 1);
  let bytes = 0;
  for (const d of digestRefs.keys()) if (counted(d)) bytes += sizes.get(d) ?? 0;
  const bytesBefore = bytes;
  const pinnedDigests = new Set(images.filter((i) => i.pinned).flatMap((i) => i.members.flatMap((m) => m.needs)));
  let bytesPinned = 0;
  for (const d of pinnedDigests) if (counted(d)) bytesPinned += sizes.get(d) ?? 0;

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
  if (policy.maxAgeMs > 0) for (const image of images) if (!image.recent && !image.pinned && now - image.lastUsed > policy.maxAgeMs) expire(image);
  if (policy.maxBytes > 0 && bytes > policy.maxBytes) {
    const lru = images.filter((i) => !i.recent && !i.pinned && !gone.has(i.key)).sort((a, b) => a.lastUsed - b.lastUsed || a.key.localeCompare(b.key));
    for (const image of lru) {
      if (bytes <= policy.maxBytes) break;
      expire(image);
    }
  }
  // What goes first next time: the images left, least recently used first (what is recent now will
  // not be then), each with the bytes only it holds.
  const next = images
    .filter((i) => !gone.has(i.key) && !i.pinned)
    .sort((a, b) => a.lastUsed - b.lastUsed || a.key.localeCompare(b.key))
    .slice(0, nextShown)
    .map((image) => {
      const root = held.get(image.key)!;
      const own = new Set(image.members.filter((m) => memberRefs.get(m.key) === 1).flatMap((m) => m.needs));
      let alone = 0;
      for (const d of own) if (digestRefs.get(d) === 1 && counted(d)) alone += sizes.get(d) ?? 0;
      return { name: root.name, digest: root.digest, lastUsed: image.lastUsed, bytes: alone };
    });
  return { expired, bytesBefore, bytesAfter: bytes, bytesPinned, next };
}

/** How many of the next images to expire a sweep reports (the web UI's mirror page). */
const nextShown = 10;
