import { LRUCache } from 'lru-cache';
import { formatDigest, isAlgorithm, parseDigest, type Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import type { Driver } from '../storage/driver.ts';
import { storageFanOut } from './bounded.ts';
import { fanOut } from './fan-out.ts';
import { layout } from './layout.ts';
import { maxPageSize, type Page, type PageRequest } from './paging.ts';

const text = new TextDecoder();

/** A referrer as a listing finds it: its digest now, its descriptor when asked (a read, unless known). */
export interface ListedReferrer {
  digest: string;
  descriptor(): Promise<Descriptor | undefined>;
}

/**
 * Bytes of descriptor JSON the process keeps. A descriptor is a few hundred bytes, so this holds
 * the referrers of the busiest subjects; one with huge annotations is never worth a quarter of it.
 */
const knownBytes = 8 * 1024 * 1024;

/**
 * The referrers index: one small object per (subject, referrer) pair holding the referrer's
 * descriptor. A listing is one LIST of the subject's entries on every request, so a referrer
 * added or deleted through any replica is seen at once; the descriptors behind the entries are
 * read only for the page being answered, and are kept in memory by referrer: a descriptor is
 * derived from the referrer's bytes, which its digest fixes, so a kept one is never stale on any
 * replica.
 */
export class Referrers {
  readonly #driver: Driver;
  readonly #known = new LRUCache<string, Descriptor>({ maxSize: knownBytes, maxEntrySize: knownBytes / 4 });

  constructor(driver: Driver) {
    this.#driver = driver;
  }

  async add(name: string, subject: Digest, descriptor: Descriptor): Promise<void> {
    const json = JSON.stringify(descriptor);
    await this.#driver.put(layout.referrer(name, subject, parseDigest(descriptor.digest)), json);
    this.#known.set(knownKey(name, descriptor.digest), descriptor, { size: json.length });
  }

  async remove(name: string, subject: Digest, referrer: Digest): Promise<void> {
    await this.#driver.delete(layout.referrer(name, subject, referrer));
    this.#known.delete(knownKey(name, formatDigest(referrer)));
  }

  /** Every referrer recorded for `subject`, ordered by digest: one LIST, no reads until asked. */
  async list(name: string, subject: Digest): Promise<ListedReferrer[]> {
    const dir = layout.referrers(name, subject);
    const listed: ListedReferrer[] = [];
    for (const entry of await this.#driver.list(dir)) {
      const referrer = parseReferrerEntry(entry);
      if (!referrer) continue;
      const digest = formatDigest(referrer);
      listed.push({ digest, descriptor: () => this.#descriptor(name, digest, `${dir}/${entry}`) });
    }
    return listed;
  }

  async #descriptor(name: string, digest: string, key: string): Promise<Descriptor | undefined> {
    const known = this.#known.get(knownKey(name, digest));
    if (known) return known;
    const raw = await this.#driver.get(key);
    if (!raw) return undefined; // deleted since the LIST
    let descriptor: unknown;
    try {
      descriptor = JSON.parse(text.decode(raw));
    } catch {
      return undefined; // unreadable: one bad entry must not fail the subject's every listing
    }
    if (!isDescriptorLike(descriptor) || descriptor.digest !== digest) return undefined;
    this.#known.set(knownKey(name, digest), descriptor, { size: raw.byteLength });
    return descriptor;
  }
}

// By repository too: a manifest whose body names no media type takes the Content-Type it was
// pushed with, which two repositories may have chosen differently.
const knownKey = (name: string, digest: string): string => `${name}@${digest}`;

export const isDescriptorLike = (d: unknown): d is Descriptor =>
  typeof d === 'object' && d !== null && typeof (d as Descriptor).digest === 'string' && typeof (d as Descriptor).mediaType === 'string';

/**
 * One page of referrers, by digest, after `request.last`, optionally of one `artifactType`: those
 * recorded, plus `alsoListed` (known without a read, such as a referrers-tag-schema index's).
 * Descriptors are read in digest order, a few at a time, only until the page is full and one
 * more match shows that a next page exists.
 */
export async function pageOfReferrers(
  recorded: readonly ListedReferrer[],
  alsoListed: readonly Descriptor[],
  request: PageRequest & { artifactType?: string },
): Promise<Page<Descriptor>> {
  const { last, artifactType } = request;
  const size = Math.min(request.n ?? maxPageSize, maxPageSize);
  if (size === 0) return { items: [] };
  const candidates = new Map(recorded.map((r) => [r.digest, r.descriptor]));
  for (const d of alsoListed) if (!candidates.has(d.digest)) candidates.set(d.digest, () => Promise.resolve(d));
  const order = [...candidates.keys()].filter((digest) => last === undefined || digest > last).sort();
  const items: Descriptor[] = [];
  let more = false;
  for (let at = 0; at < order.length && !more; ) {
    const take = Math.max(storageFanOut, size + 1 - items.length);
    const window = order.slice(at, at + take);
    at += take;
    for (const d of await fanOut.map(window, (digest) => candidates.get(digest)!())) {
      if (!d || (artifactType !== undefined && d.artifactType !== artifactType)) continue;
      if (items.length === size) {
        more = true;
        break;
      }
      items.push(d);
    }
  }
  return more ? { items, next: items.at(-1)!.digest } : { items };
}

/** The referrers tag schema's tag for a subject: `<alg>-<hex>`, hex cut to 64 characters (spec: Referrers Tag Schema). */
export const referrersTag = (subject: Digest): string => `${subject.algorithm}-${subject.hex.slice(0, 64)}`;

/** The referrer digest an entry under `_referrers/<alg>/<hex>/` names (`<alg>-<hex>`), if well formed. */
export function parseReferrerEntry(entry: string): Digest | undefined {
  const dash = entry.indexOf('-');
  const algorithm = entry.slice(0, dash);
  const hex = entry.slice(dash + 1);
  return dash > 0 && isAlgorithm(algorithm) && /^[a-f0-9]+$/.test(hex) ? { algorithm, hex } : undefined;
}
