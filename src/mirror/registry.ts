import type { Algorithm } from '../oci/digest.ts';
import { OciError } from '../oci/errors.ts';
import type { Page, PageRequest } from '../registry/paging.ts';
import { Registry } from '../registry/registry.ts';
import { Tags } from '../registry/tags.ts';
import { Uploads, type UploadSession } from '../registry/uploads.ts';
import type { Driver } from '../storage/driver.ts';
import { MirrorBlobs, notThere } from './blobs.ts';
import { MirrorManifests } from './manifests.ts';
import { mirroredNamespace } from './refuse.ts';
import type { UsageLog } from './retention.ts';
import type { Router } from './router.ts';

/** Tags of mirrored repositories: listed by the upstream, never deleted here. */
class MirrorTags extends Tags {
  readonly #router: Router;

  constructor(driver: Driver, router: Router) {
    super(driver);
    this.#router = router;
  }

  override async delete(name: string, tag: string): Promise<boolean> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return super.delete(name, tag);
  }

  override async list(name: string, request: PageRequest): Promise<Page<string>> {
    const route = this.#router.route(name);
    if (!route) return super.list(name, request);
    const query = new URLSearchParams();
    if (request.n !== undefined) query.set('n', String(request.n));
    if (request.last !== undefined) query.set('last', request.last);
    try {
      const res = await route.upstream.fetch({ method: 'GET', repository: route.remote, path: `tags/list?${query}`, accept: 'application/json' });
      const text = res.body ? await new Response(res.body).text() : '';
      if (notThere(res.status)) throw new OciError('NAME_UNKNOWN', 'repository name not known to the upstream', { detail: { name } });
      if (res.status === 200) {
        const tags = (JSON.parse(text) as { tags?: unknown }).tags;
        const items = Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
        // The upstream's Link is not passed on; a short page means the end, a full one invites `last`.
        return request.n !== undefined && items.length >= request.n && items.length > 0 ? { items, next: items[items.length - 1] } : { items };
      }
    } catch (e) {
      if (e instanceof OciError && e.code === 'NAME_UNKNOWN') throw e;
    }
    // The upstream cannot list: what this mirror holds is the next best answer.
    return super.list(route.local, request);
  }
}

/** Uploads refused in mirrored repositories. */
class MirrorUploads extends Uploads {
  readonly #router: Router;

  constructor(driver: Driver, blobs: MirrorBlobs, router: Router) {
    super(driver, blobs);
    this.#router = router;
  }

  override async start(name: string, algorithm: Algorithm, owner?: string): Promise<UploadSession> {
    const route = this.#router.route(name);
    if (route) throw mirroredNamespace(name, route);
    return super.start(name, algorithm, owner);
  }
}

/**
 * The Registry decorated with the mirror (DESIGN: a Registry decorator): repositories the router
 * sends to an upstream are read-through caches of it; every other name is a plain push repository.
 */
export class MirrorRegistry extends Registry {
  declare readonly blobs: MirrorBlobs;
  declare readonly tags: Tags;
  declare readonly uploads: Uploads;
  declare readonly manifests: MirrorManifests;
  readonly router: Router;

  constructor(driver: Driver, router: Router, maxManifestBytes: number, usage: UsageLog) {
    super(driver);
    this.router = router;
    this.blobs = new MirrorBlobs(driver, router);
    this.tags = new MirrorTags(driver, router);
    this.uploads = new MirrorUploads(driver, this.blobs, router);
    this.manifests = new MirrorManifests(driver, { blobs: this.blobs, tags: this.tags, referrers: this.referrers }, router, maxManifestBytes, usage);
  }

  /** A mirrored repository exists as far as the upstream says; its listing asks it. */
  override async repositoryExists(name: string): Promise<boolean> {
    return this.router.route(name) !== undefined || super.repositoryExists(name);
  }
}
