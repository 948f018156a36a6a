import { digestBytes, formatDigest, looksLikeDigest, parseDigest, sameDigest, type Digest } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import { parseManifest, type Descriptor, type ManifestInfo } from '../oci/manifest.ts';
import { validateTag } from '../oci/names.ts';
import type { Driver } from '../storage/driver.ts';
import type { Blobs } from './blobs.ts';
import { Collections } from './collections.ts';
import { fanOut } from './fan-out.ts';
import { layout } from './layout.ts';
import { parsedOnce } from './parsed.ts';
import type { Served } from './served.ts';
import type { Referrers } from './referrers.ts';
import type { Tags } from './tags.ts';

export type Reference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/** A tag or a digest, as it appears in `/manifests/<reference>`. */
export function parseReference(reference: string): Reference {
  return looksLikeDigest(reference) ? { digest: parseDigest(reference) } : { tag: validateTag(reference) };
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  size: number;
}

/** A manifest as served; `bytes` only from `get`. */
export type ServedManifest = StoredManifest & Served & { bytes?: Uint8Array<ArrayBuffer> | undefined };

export interface PushedManifest {
  digest: Digest;
  info: ManifestInfo;
  tags: string[];
}

interface ManifestLink {
  mediaType: string;
  size: number;
}

const text = new TextDecoder();
/** A manifest link's record; throws on one that is not JSON. */
export const parseLink = parsedOnce((raw): ManifestLink => JSON.parse(text.decode(raw)) as ManifestLink);

/** How many missing references a MANIFEST_BLOB_UNKNOWN names. */
const maxListedMissing = 10;

export const manifestUnknown = (reference: string): OciError =>
  new OciError('MANIFEST_UNKNOWN', 'manifest unknown to registry', { detail: { reference } });

/**
 * Manifests: bytes stored once under `blobs/`, a link per repository recording the media type,
 * plus the tag and referrer entries that point at them.
 */
export class Manifests {
  readonly #driver: Driver;
  readonly #blobs: Blobs;
  readonly #tags: Tags;
  readonly #referrers: Referrers;
  readonly #collections: Collections;

  constructor(driver: Driver, parts: { blobs: Blobs; tags: Tags; referrers: Referrers; collections: Collections }) {
    this.#driver = driver;
    this.#blobs = parts.blobs;
    this.#tags = parts.tags;
    this.#referrers = parts.referrers;
    this.#collections = parts.collections;
  }

  async resolve(name: string, ref: Reference): Promise<StoredManifest | undefined> {
    const digest = ref.digest ?? (await this.#tags.resolve(name, ref.tag));
    if (!digest) return undefined;
    const raw = await this.#driver.get(layout.manifestLink(name, digest));
    if (!raw) return undefined;
    const link = parseLink(raw);
    return { digest, mediaType: link.mediaType, size: link.size };
  }

  /** `accept` (the client's `Accept`) matters only to a mirror, which may ask its upstream with it. */
  async stat(name: string, ref: Reference, _accept?: string): Promise<ServedManifest> {
    const found = await this.resolve(name, ref);
    if (!found) throw manifestUnknown(ref.tag ?? formatDigest(ref.digest));
    return found;
  }

  async get(name: string, ref: Reference, _accept?: string): Promise<ServedManifest & { bytes: Uint8Array<ArrayBuffer> }> {
    const found = await this.resolve(name, ref);
    if (!found) throw manifestUnknown(ref.tag ?? formatDigest(ref.digest));
    const bytes = await this.#driver.get(layout.blob(found.digest));
    if (!bytes) throw manifestUnknown(formatDigest(found.digest));
    return { digest: found.digest, mediaType: found.mediaType, size: found.size, bytes };
  }

  /** A manifest's bytes by digest, whichever repository links it: for callers that resolved it first. */
  bytes(digest: Digest): Promise<Uint8Array<ArrayBuffer> | undefined> {
    return this.#driver.get(layout.blob(digest));
  }

  /**
   * Stores a manifest after checking it: structure, digest (when pushed by digest), and that
   * everything it references is already in the repository; then makes sure no garbage collection
   * deletes any of it under the push (`#survives`). Tags are written last, so a reader never finds
   * a tag whose manifest is not there yet, nor one whose content a collection is taking away.
   */
  async put(name: string, ref: Reference, bytes: Uint8Array, contentType: string | undefined, extraTags: string[]): Promise<PushedManifest> {
    const tags = [...new Set([...(ref.tag === undefined ? [] : [ref.tag]), ...extraTags.map(validateTag)])];
    const info = parseManifest(bytes, contentType);
    const digest = digestBytes(bytes, ref.digest?.algorithm);
    if (ref.digest && !sameDigest(digest, ref.digest)) {
      throw new OciError('DIGEST_INVALID', 'manifest digest does not match the reference', {
        detail: { reference: formatDigest(ref.digest), actual: formatDigest(digest) },
      });
    }
    const started = Collections.started();
    await this.#checkReferences(name, info);
    await this.store(name, digest, bytes, info);
    await this.#survives(name, digest, info, started);
    for (const tag of tags) await this.#tags.set(name, tag, digest);
    return { digest, info, tags };
  }

  /**
   * Records a manifest whose bytes were checked against `digest` and parsed as `info`: the bytes
   * (once for all repositories), this repository's link, and its referrer entry. A push comes here
   * after `put`'s checks; a mirror stores what it fetched, whose blobs it fetches only when asked.
   */
  async store(name: string, digest: Digest, bytes: Uint8Array, info: ManifestInfo): Promise<void> {
    if (!(await this.#driver.stat(layout.blob(digest)))) await this.#driver.put(layout.blob(digest), bytes);
    const link: ManifestLink = { mediaType: info.mediaType, size: bytes.byteLength };
    await this.#driver.put(layout.manifestLink(name, digest), JSON.stringify(link));
    if (info.subject) await this.#referrers.add(name, info.subject.parsed, referrerDescriptor(digest, bytes.byteLength, info));
  }

  /**
   * `store` for a mirror, which keeps what it fetched whatever its blobs. False when a garbage
   * collection is deleting the manifest's bytes under it: the link goes again (a link without its
   * bytes would answer a HEAD but not a GET), the caller serves what it fetched and writes no tag,
   * and the next pull stores it anew.
   */
  async keep(name: string, digest: Digest, bytes: Uint8Array, info: ManifestInfo): Promise<boolean> {
    const started = Collections.started();
    await this.store(name, digest, bytes, info);
    const held = await this.#collections.holds(started, [digest], async () => (await this.#driver.stat(layout.blob(digest))) !== undefined);
    if (!held) await this.#driver.delete(layout.manifestLink(name, digest));
    return held;
  }

  /**
   * Each distinct blob and child manifest is checked once, a few at a time: a manifest may list
   * tens of thousands (4 MiB of descriptors), and a check per item at once would open as many
   * files or S3 requests and hold a pending operation for each.
   */
  async #checkReferences(name: string, info: ManifestInfo): Promise<void> {
    // Keyed by hex, which already exists (the algorithms' lengths differ, so it cannot collide),
    // and holding the parsed entries themselves: no allocation per descriptor beyond the Map's.
    const blobs = new Map<string, { digest: Digest; size: number }>();
    // One digest listed with two sizes cannot match both.
    const conflicting = new Set<string>();
    for (const blob of info.blobs) {
      const seen = blobs.get(blob.digest.hex);
      if (seen === undefined) blobs.set(blob.digest.hex, blob);
      else if (seen.size !== blob.size) conflicting.add(blob.digest.hex);
    }
    const children = new Map(info.manifests.map(({ digest }) => [digest.hex, digest]));
    const missing: string[] = [];
    await fanOut.forEach(blobs.values(), async ({ digest, size }) => {
      const found = await this.#blobs.find(name, digest);
      if (!found || found.size !== size || conflicting.has(digest.hex)) missing.push(formatDigest(digest));
    });
    await fanOut.forEach(children.values(), async (digest) => {
      if (!(await this.resolve(name, { digest }))) missing.push(formatDigest(digest));
    });
    if (missing.length > 0) {
      missing.sort();
      throw new OciError('MANIFEST_BLOB_UNKNOWN', 'manifest references content unknown to this repository', {
        // The first few name the problem; all of them could make the answer as big as the manifest.
        detail: { missing: missing.slice(0, maxListedMissing), count: missing.length },
      });
    }
  }

  /**
   * After `store`: refuses the push (MANIFEST_BLOB_UNKNOWN, before any tag is written) when a
   * garbage collection is deleting the manifest's bytes or anything it references, or when the
   * checks, run again, fail (collections.ts). The link stays; a later collection removes it.
   */
  async #survives(name: string, digest: Digest, info: ManifestInfo, started: number): Promise<void> {
    const relied = new Map<string, Digest>([[digest.hex, digest]]);
    for (const { digest: d } of [...info.blobs, ...info.manifests]) relied.set(d.hex, d);
    const held = await this.#collections.holds(started, [...relied.values()], async () => {
      await this.#checkReferences(name, info);
      const [own, link] = await Promise.all([this.#driver.stat(layout.blob(digest)), this.#driver.stat(layout.manifestLink(name, digest))]);
      return own !== undefined && link !== undefined;
    });
    if (!held) {
      throw new OciError('MANIFEST_BLOB_UNKNOWN', 'garbage collection is deleting content this manifest references; push it again', {
        detail: { digest: formatDigest(digest) },
      });
    }
  }

  /** Deletes a manifest by digest with its tags and its referrer entry. */
  async delete(name: string, digest: Digest): Promise<void> {
    const found = await this.resolve(name, { digest });
    if (!found) throw manifestUnknown(formatDigest(digest));
    const bytes = await this.bytes(digest);
    const subject = bytes ? subjectOf(bytes, found.mediaType) : undefined;
    for (const tag of await this.#tags.pointingAt(name, digest)) await this.#tags.delete(name, tag);
    await this.unlink(name, digest, subject);
  }

  /** Removes the repository's link and the referrer entry of its subject; tags are the caller's business. */
  async unlink(name: string, digest: Digest, subject: Digest | undefined): Promise<void> {
    if (subject) await this.#referrers.remove(name, subject, digest);
    await this.#driver.delete(layout.manifestLink(name, digest));
  }
}

function subjectOf(bytes: Uint8Array, mediaType: string): Digest | undefined {
  try {
    return parseManifest(bytes, mediaType).subject?.parsed;
  } catch {
    return undefined;
  }
}

/** The descriptor the referrers API lists for a manifest (spec: Listing Referrers). */
function referrerDescriptor(digest: Digest, size: number, info: ManifestInfo): Descriptor {
  const d: Descriptor = { mediaType: info.mediaType, digest: formatDigest(digest), size };
  if (info.artifactType !== undefined) d.artifactType = info.artifactType;
  if (info.annotations) d.annotations = info.annotations;
  return d;
}
