import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { manifestKind } from '../oci/media-types.ts';
import type { Driver } from '../storage/driver.ts';
import { Blobs } from './blobs.ts';
import { Collections } from './collections.ts';
import { Inventory } from './inventory.ts';
import { layout, repositoryMarkers } from './layout.ts';
import { Manifests } from './manifests.ts';
import { pageOfSorted, type Page, type PageRequest } from './paging.ts';
import { isDescriptorLike, pageOfReferrers, Referrers, referrersTag } from './referrers.ts';
import type { Served } from './served.ts';
import { walkRepositories } from './repositories.ts';
import { Tags } from './tags.ts';
import { Uploads } from './uploads.ts';
import { PullRecords } from './usage.ts';

/** What kind of record a storage key holds (`blob`, `tag`, ...), for traces that must not name keys. */
export { keyKind, repositoryOfKey } from './layout.ts';

/** A page of referrers; a layer around the registry (the mirror) may say how it answered (`Served`). */
export interface ReferrersResult extends Page<Descriptor>, Served {
  /** The filters applied, for `OCI-Filters-Applied`. */
  filters: string[];
}

const text = new TextDecoder();

export type RegistryBlobs = Pick<Blobs, 'stat' | 'find' | 'read' | 'open' | 'localFile' | 'url' | 'redirect' | 'delete' | 'mount' | 'visibleSource'>;
export type RegistryUploads = Pick<Uploads, 'start' | 'status' | 'append' | 'finish' | 'cancel'>;
/** A tag listing may come from a layer that could not confirm it (the mirror's, when its upstream cannot list). */
export type RegistryTags = Pick<Tags, 'resolve' | 'delete'> & { list(name: string, request: PageRequest): Promise<Page<string> & Served> };
export type RegistryManifests = Pick<Manifests, 'resolve' | 'stat' | 'get' | 'put' | 'delete'>;

/**
 * The registry as every layer above it uses it (HTTP, auth, the UI): repositories of blobs,
 * manifests, tags and referrers. `StoredRegistry` implements it on a storage driver; the mirror
 * implements it around a `StoredRegistry` it holds.
 */
export interface Registry {
  readonly blobs: RegistryBlobs;
  readonly uploads: RegistryUploads;
  readonly tags: RegistryTags;
  readonly manifests: RegistryManifests;
  repositoryExists(name: string): Promise<boolean>;
  /** Repositories holding at least one manifest, in lexical order. */
  catalog(request: PageRequest): Promise<Page<string>>;
  listReferrers(name: string, subject: Digest, request: PageRequest & { artifactType?: string }): Promise<ReferrersResult>;
}

/** The registry's domain on one driver, the only code that knows the storage layout. */
export class StoredRegistry implements Registry {
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  readonly tags: Tags;
  readonly referrers: Referrers;
  readonly manifests: Manifests;
  /** What maintenance reads and deletes (src/maintenance). */
  readonly inventory: Inventory;
  /** When tags and manifests were last pulled, noted in memory and written in batches. */
  readonly pulls: PullRecords;
  readonly #driver: Driver;

  /** `shared`: other processes use this storage too (replicas on one bucket). */
  constructor(driver: Driver, opts: { shared?: boolean } = {}) {
    this.#driver = driver;
    const collections = new Collections(driver);
    this.blobs = new Blobs(driver, collections);
    this.uploads = new Uploads(driver, this.blobs, opts);
    this.tags = new Tags(driver);
    this.referrers = new Referrers(driver);
    this.manifests = new Manifests(driver, { blobs: this.blobs, tags: this.tags, referrers: this.referrers, collections });
    this.inventory = new Inventory(driver, { manifests: this.manifests, tags: this.tags, collections });
    this.pulls = new PullRecords(driver);
  }

  async repositoryExists(name: string): Promise<boolean> {
    const entries = await this.#driver.list(layout.repository(name));
    return entries.some((e) => repositoryMarkers.has(e));
  }

  async catalog(request: PageRequest): Promise<Page<string>> {
    return pageOfSorted(walkRepositories(this.#driver, (entries) => entries.includes('_manifests'), request.last), request);
  }

  /**
   * The referrers of `subject`: those recorded when their manifests were pushed, plus those listed
   * in a referrers-tag-schema index (spec: Enabling the Referrers API), optionally filtered.
   */
  async listReferrers(name: string, subject: Digest, request: PageRequest & { artifactType?: string }): Promise<ReferrersResult> {
    const [recorded, fromTag] = await Promise.all([this.referrers.list(name, subject), this.#tagSchemaReferrers(name, subject)]);
    const found = await pageOfReferrers(recorded, fromTag, request);
    return { ...found, filters: request.artifactType === undefined ? [] : ['artifactType'] };
  }

  async #tagSchemaReferrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const index = await this.manifests.resolve(name, { tag: referrersTag(subject) });
    if (!index || manifestKind(index.mediaType) !== 'index') return [];
    const bytes = await this.manifests.bytes(index.digest);
    if (!bytes) return [];
    try {
      const doc = JSON.parse(text.decode(bytes)) as { manifests?: unknown };
      return Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]).filter(isDescriptorLike) : [];
    } catch {
      return [];
    }
  }
}

