import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/manifest.ts';
import { manifestKind } from '../oci/media-types.ts';
import type { Driver } from '../storage/driver.ts';
import { Blobs } from './blobs.ts';
import { layout, repositoryMarkers } from './layout.ts';
import { Manifests } from './manifests.ts';
import { pageOfNames, type Page, type PageRequest } from './paging.ts';
import { isDescriptorLike, pageOfReferrers, Referrers, referrersTag } from './referrers.ts';
import { findRepositories } from './repositories.ts';
import { Tags } from './tags.ts';
import { Uploads } from './uploads.ts';

export interface ReferrersResult extends Page<Descriptor> {
  /** The filters applied, for `OCI-Filters-Applied`. */
  filters: string[];
}

const text = new TextDecoder();

/** The registry's domain: repositories of blobs, manifests, tags and referrers on one driver. */
export class Registry {
  readonly driver: Driver;
  readonly blobs: Blobs;
  readonly uploads: Uploads;
  readonly tags: Tags;
  readonly referrers: Referrers;
  readonly manifests: Manifests;

  constructor(driver: Driver) {
    this.driver = driver;
    this.blobs = new Blobs(driver);
    this.uploads = new Uploads(driver, this.blobs);
    this.tags = new Tags(driver);
    this.referrers = new Referrers(driver);
    this.manifests = new Manifests(driver, { blobs: this.blobs, tags: this.tags, referrers: this.referrers });
  }

  async repositoryExists(name: string): Promise<boolean> {
    const entries = await this.driver.list(layout.repository(name));
    return entries.some((e) => repositoryMarkers.has(e));
  }

  /** Repositories holding at least one manifest, in lexical order. */
  async catalog(request: PageRequest): Promise<Page<string>> {
    return pageOfNames(await findRepositories(this.driver, (entries) => entries.includes('_manifests')), request);
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
    const bytes = await this.driver.get(layout.blob(index.digest));
    if (!bytes) return [];
    try {
      const doc = JSON.parse(text.decode(bytes)) as { manifests?: unknown };
      return Array.isArray(doc.manifests) ? (doc.manifests as Descriptor[]).filter(isDescriptorLike) : [];
    } catch {
      return [];
    }
  }
}

